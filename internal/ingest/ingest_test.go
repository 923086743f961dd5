package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
	"github.com/tide-data/tide/internal/vfs"
)

// node is the ingest handler over an embedded transport over a real log
// in a temp dir, served by an httptest server.
type node struct {
	t      *testing.T
	dir    string
	log    *log.Log
	groups *group.Coordinator
	tr     *embedded.Transport
	h      *Handler
	srv    *httptest.Server
	closed bool
}

func openNode(t *testing.T, dir string, fsys vfs.FS, cfg Config) *node {
	t.Helper()
	opts := []log.Option{}
	if fsys != nil {
		opts = append(opts, log.WithFS(fsys))
	}
	l, err := log.Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := group.NewCoordinator(l, group.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := embedded.New(l, groups)
	cfg.Transport = tr
	h, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/topics/{topic}/records", h)
	n := &node{t: t, dir: dir, log: l, groups: groups, tr: tr, h: h, srv: httptest.NewServer(mux)}
	t.Cleanup(n.close)
	return n
}

func (n *node) close() {
	if n.closed {
		return
	}
	n.closed = true
	n.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = n.h.Close(ctx)
	_ = n.tr.Close()
	_ = n.groups.Close()
	_ = n.log.Close()
}

func (n *node) createTopic(name string, partitions int32) {
	n.t.Helper()
	if err := n.tr.CreateTopic(context.Background(), transport.TopicSpec{Name: name, Partitions: partitions}); err != nil {
		n.t.Fatal(err)
	}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) code() string {
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

func (r reply) message() string {
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Message
}

type offsetsAnswer struct {
	Offsets []struct {
		Partition int32 `json:"partition"`
		Offset    int64 `json:"offset"`
		Duplicate bool  `json:"duplicate"`
	} `json:"offsets"`
}

func (r reply) offsets(t *testing.T) offsetsAnswer {
	t.Helper()
	var a offsetsAnswer
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
	return a
}

func (n *node) post(path, contentType, body string, headers ...string) reply {
	n.t.Helper()
	req, err := http.NewRequest(http.MethodPost, n.srv.URL+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// read consumes want records of topic from the start.
func (n *node) read(topic string, want int) []*transport.Record {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := n.tr.NewConsumer(ctx, transport.ConsumerOptions{Group: "reader-" + topic + fmt.Sprint(time.Now().UnixNano()), Topics: []string{topic}, Start: transport.StartEarliest})
	if err != nil {
		n.t.Fatal(err)
	}
	defer c.Close(context.Background())
	var out []*transport.Record
	for len(out) < want {
		recs, err := c.Poll(ctx)
		if err != nil {
			n.t.Fatalf("read %s: %d of %d: %v", topic, len(out), want, err)
		}
		out = append(out, recs...)
	}
	return out
}

func (n *node) count(topic string) int64 {
	ends, err := n.tr.EndOffsets(context.Background(), topic)
	if err != nil {
		n.t.Fatal(err)
	}
	var total int64
	for _, e := range ends {
		total += e
	}
	return total
}

func TestBodyFormsAndOffsets(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir(), nil, Config{})
	n.createTopic("events", 1)
	for _, tc := range []struct {
		name, ct, body string
		values         []string
	}{
		{"object", MediaJSON, `{"a":1}`, []string{`{"a":1}`}},
		{"array", "application/json; charset=UTF-8", ` [ {"a":2}, 3, "x", [1,2] ] `, []string{`{"a":2}`, `3`, `"x"`, `[1,2]`}},
		{"empty array", MediaJSON, `[]`, nil},
		{"ndjson", MediaNDJSON, "{\"a\":4}\n\n  \r\n[5]\r\n{\"b\": \"c\"}", []string{`{"a":4}`, `[5]`, `{"b": "c"}`}},
	} {
		before := n.count("events")
		a := n.post("/v1/topics/events/records", tc.ct, tc.body).offsets(t)
		if len(a.Offsets) != len(tc.values) {
			t.Fatalf("%s: %d offsets, want %d", tc.name, len(a.Offsets), len(tc.values))
		}
		for i, o := range a.Offsets {
			if o.Partition != 0 || o.Offset != before+int64(i) {
				t.Errorf("%s: offset %d = %+v, want 0/%d", tc.name, i, o, before+int64(i))
			}
		}
		recs := n.read("events", int(before)+len(tc.values))
		for i, v := range tc.values {
			if got := string(recs[int(before)+i].Value); got != v {
				t.Errorf("%s: record %d = %s, want %s", tc.name, i, got, v)
			}
		}
	}
}

func TestKeysAndEnvelope(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir(), nil, Config{})
	n.createTopic("keyed", 4)
	body := `[{"user":"alice","n":1},{"user":42,"n":2},{"user":{"x":1},"n":3},{"user":"a\u00e9\"b","n":4}]`
	a := n.post("/v1/topics/keyed/records?key=user", MediaJSON, body).offsets(t)
	wantKeys := []string{"alice", "42", `{"x":1}`, `aé"b`}
	recs := n.read("keyed", 4)
	byPos := map[[2]int64]*transport.Record{}
	for _, r := range recs {
		byPos[[2]int64{int64(r.Partition), r.Offset}] = r
	}
	for i, o := range a.Offsets {
		r := byPos[[2]int64{int64(o.Partition), o.Offset}]
		if r == nil || string(r.Key) != wantKeys[i] {
			t.Errorf("element %d at %+v: %v, want key %q", i, o, r, wantKeys[i])
		}
	}

	// Envelope: key, value, headers; a null or missing value is a null value.
	n.createTopic("env", 1)
	env := "{\"key\":\"k1\",\"value\":{\"v\":1},\"headers\":{\"traceparent\":\"00-abc\",\"src\":\"x\"}}\n" +
		"{\"key\":\"k2\",\"value\":[1]}\n{\"key\":7,\"value\":null}\n{\"value\":{\"id\":\"fromvalue\"}}\n"
	n.post("/v1/topics/env/records?envelope=true&key=id", MediaNDJSON, env).offsets(t)
	got := n.read("env", 4)
	if string(got[0].Key) != "k1" || string(got[0].Value) != `{"v":1}` || len(got[0].Headers) != 2 ||
		got[0].Headers[0].Key != "traceparent" || string(got[0].Headers[0].Value) != "00-abc" {
		t.Errorf("envelope 0: %+v", got[0])
	}
	if string(got[1].Key) != "k2" || string(got[1].Value) != "[1]" {
		t.Errorf("envelope 1: %+v", got[1])
	}
	if string(got[2].Key) != "7" || got[2].Value != nil {
		t.Errorf("envelope 2 (tombstone): key %q value %q", got[2].Key, got[2].Value)
	}
	if string(got[3].Key) != "fromvalue" {
		t.Errorf("envelope 3: key from the value's field: %q", got[3].Key)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir(), nil, Config{MaxBodyBytes: 1000, HMACSecrets: map[string]string{"signed": "s3cret"}})
	n.createTopic("t", 1)
	n.createTopic("signed", 1)
	big := `[` + strings.Repeat(`1,`, 600) + `1]`
	for _, tc := range []struct {
		name, path, ct, body string
		status               int
		code                 string
		msg                  string
	}{
		{"malformed object", "/v1/topics/t/records", MediaJSON, "{\"a\":1,\n \"b\": tru}", 400, "malformed_json", "line 2, column 10, element 0"},
		{"malformed array element", "/v1/topics/t/records", MediaJSON, `[{"a":1}, {"a":}]`, 400, "malformed_json", "element 1"},
		{"malformed ndjson line", "/v1/topics/t/records", MediaNDJSON, "{\"a\":1}\n\n{\"a\":\n}", 400, "malformed_json", "line 3, column 6, element 1"},
		{"trailing data", "/v1/topics/t/records", MediaJSON, `{} {}`, 400, "malformed_json", "line 1, column 4"},
		{"empty body", "/v1/topics/t/records", MediaJSON, ``, 400, "malformed_json", "empty body"},
		{"bad utf-8", "/v1/topics/t/records", MediaJSON, "[\"\xff\"]", 400, "malformed_json", "UTF-8"},
		{"missing key field", "/v1/topics/t/records?key=id", MediaJSON, `[{"id":1},{"other":2}]`, 400, "missing_key_field", "element 1"},
		{"null key field", "/v1/topics/t/records?key=id", MediaJSON, `{"id":null}`, 400, "missing_key_field", ""},
		{"bad envelope", "/v1/topics/t/records?envelope=true", MediaJSON, `[{"value":1,"extra":2}]`, 400, "invalid_envelope", "extra"},
		{"bad envelope header", "/v1/topics/t/records?envelope=true", MediaJSON, `{"headers":{"a":1}}`, 400, "invalid_envelope", ""},
		{"unknown topic", "/v1/topics/nope/records", MediaJSON, `{}`, 404, "unknown_topic", "nope"},
		{"internal topic", "/v1/topics/__consumer_offsets/records", MediaJSON, `{}`, 400, "invalid_topic", ""},
		{"too large", "/v1/topics/t/records", MediaJSON, big, 413, "request_too_large", "1000"},
		{"unsupported type", "/v1/topics/t/records", "text/plain", `{}`, 415, "unsupported_media_type", ""},
		{"no type", "/v1/topics/t/records", "", `{}`, 415, "unsupported_media_type", ""},
		{"unsigned", "/v1/topics/signed/records", MediaJSON, `{}`, 401, "invalid_signature", ""},
	} {
		r := n.post(tc.path, tc.ct, tc.body)
		if r.status != tc.status || r.code() != tc.code || !strings.Contains(r.message(), tc.msg) {
			t.Errorf("%s: %d %s, want %d %s containing %q", tc.name, r.status, r.body, tc.status, tc.code, tc.msg)
		}
	}
	if c := n.count("t"); c != 0 {
		t.Errorf("rejected requests wrote %d records", c)
	}
	// A chunked body over the limit is refused too.
	req, _ := http.NewRequest(http.MethodPost, n.srv.URL+"/v1/topics/t/records", io.MultiReader(strings.NewReader(big)))
	req.Header.Set("Content-Type", MediaJSON)
	req.ContentLength = -1
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked too large: %d", resp.StatusCode)
	}
}

func TestAutoCreate(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir(), nil, Config{AutoCreateTopics: true, DefaultPartitions: 3})
	n.post("/v1/topics/fresh/records", MediaJSON, `{"a":1}`).offsets(t)
	info, err := n.tr.Topic(context.Background(), "fresh")
	if err != nil || info.Partitions != 3 {
		t.Fatalf("auto-created topic: %+v, %v", info, err)
	}
}

func TestHMAC(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir(), nil, Config{HMACSecrets: map[string]string{"hooks": "topsecret"}, SignatureHeader: "X-Hub-Signature-256"})
	n.createTopic("hooks", 1)
	body := `{"event":"push"}`
	good := Sign("topsecret", []byte(body))
	if r := n.post("/v1/topics/hooks/records", MediaJSON, body, "X-Hub-Signature-256", good); r.status != 200 {
		t.Fatalf("good signature: %d %s", r.status, r.body)
	}
	for name, sig := range map[string]string{
		"missing":      "",
		"wrong secret": Sign("other", []byte(body)),
		"other body":   Sign("topsecret", []byte(body+" ")),
		"no prefix":    strings.TrimPrefix(good, "sha256="),
		"not hex":      "sha256=zz",
	} {
		if r := n.post("/v1/topics/hooks/records", MediaJSON, body, "X-Hub-Signature-256", sig); r.status != 401 || r.code() != "invalid_signature" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if c := n.count("hooks"); c != 1 {
		t.Errorf("%d records, want 1", c)
	}
}

func TestIdempotencyKeyAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := openNode(t, dir, nil, Config{})
	n.createTopic("orders", 2)
	body := `[{"id":1},{"id":2},{"id":3}]`
	first := n.post("/v1/topics/orders/records", MediaJSON, body, "Idempotency-Key", "k-1")
	first.offsets(t)
	if first.header.Get("Idempotent-Replay") != "" {
		t.Error("first answer marked as a replay")
	}
	again := n.post("/v1/topics/orders/records", MediaJSON, body, "Idempotency-Key", "k-1")
	if again.status != 200 || !bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replay") != "true" {
		t.Fatalf("repeat: %d %s %v, want %s", again.status, again.body, again.header, first.body)
	}
	// Another body under the same key is refused.
	if r := n.post("/v1/topics/orders/records", MediaJSON, `[{"id":9}]`, "Idempotency-Key", "k-1"); r.status != 422 || r.code() != "idempotency_key_reused" {
		t.Errorf("reused key: %d %s", r.status, r.body)
	}
	if c := n.count("orders"); c != 3 {
		t.Fatalf("%d records after the repeat, want 3", c)
	}
	n.close()

	n2 := openNode(t, dir, nil, Config{})
	after := n2.post("/v1/topics/orders/records", MediaJSON, body, "Idempotency-Key", "k-1")
	if after.status != 200 || !bytes.Equal(after.body, first.body) || after.header.Get("Idempotent-Replay") != "true" {
		t.Fatalf("after restart: %d %s, want %s", after.status, after.body, first.body)
	}
	// The same key on another topic is another key.
	n2.createTopic("other", 1)
	n2.post("/v1/topics/other/records", MediaJSON, body, "Idempotency-Key", "k-1").offsets(t)
	if c := n2.count("orders"); c != 3 {
		t.Fatalf("%d records after restart and repeat, want 3", c)
	}
}

func TestIdempotencyWindowExpires(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	n := openNode(t, t.TempDir(), nil, Config{IdempotencyWindow: time.Hour, Now: clock})
	n.createTopic("w", 1)
	n.post("/v1/topics/w/records", MediaJSON, `{}`, "Idempotency-Key", "a").offsets(t)
	mu.Lock()
	now = now.Add(59 * time.Minute)
	mu.Unlock()
	if r := n.post("/v1/topics/w/records", MediaJSON, `{}`, "Idempotency-Key", "a"); r.header.Get("Idempotent-Replay") != "true" {
		t.Fatal("repeat inside the window not replayed")
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if r := n.post("/v1/topics/w/records", MediaJSON, `{}`, "Idempotency-Key", "a"); r.status != 200 || r.header.Get("Idempotent-Replay") != "" {
		t.Fatalf("repeat after the window: %d %v", r.status, r.header)
	}
	if c := n.count("w"); c != 2 {
		t.Fatalf("%d records, want 2", c)
	}
}

func TestConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir(), nil, Config{})
	n.createTopic("c", 1)
	const clients = 16
	bodies := make([][]byte, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			r := n.post("/v1/topics/c/records", MediaNDJSON, "{\"a\":1}\n{\"a\":2}\n", "Idempotency-Key", "same")
			if r.status != 200 {
				t.Errorf("client %d: %d %s", i, r.status, r.body)
			}
			bodies[i] = r.body
		})
	}
	wg.Wait()
	for i := range bodies {
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Errorf("client %d got %s, client 0 %s", i, bodies[i], bodies[0])
		}
	}
	if c := n.count("c"); c != 2 {
		t.Fatalf("%d records from %d concurrent duplicates, want 2", c, clients)
	}
}

func TestEventIDField(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{IdempotencyFields: map[string]string{"ev": "event_id"}}
	n := openNode(t, dir, nil, cfg)
	n.createTopic("ev", 1)
	a := n.post("/v1/topics/ev/records", MediaNDJSON, "{\"event_id\":\"a\"}\n{\"event_id\":\"b\"}\n").offsets(t)
	if len(a.Offsets) != 2 || a.Offsets[1].Offset != 1 || a.Offsets[0].Duplicate {
		t.Fatalf("first: %+v", a)
	}
	// b seen before, c new, c repeated within the request.
	b := n.post("/v1/topics/ev/records", MediaJSON, `[{"event_id":"b"},{"event_id":"c"},{"event_id":"c"}]`).offsets(t)
	want := []struct {
		off int64
		dup bool
	}{{1, true}, {2, false}, {2, true}}
	for i, w := range want {
		if b.Offsets[i].Offset != w.off || b.Offsets[i].Duplicate != w.dup {
			t.Errorf("second, element %d: %+v, want offset %d duplicate %v", i, b.Offsets[i], w.off, w.dup)
		}
	}
	if r := n.post("/v1/topics/ev/records", MediaJSON, `[{"event_id":"d"},{"nope":1}]`); r.status != 400 || r.code() != "missing_event_id" {
		t.Errorf("missing id: %d %s", r.status, r.body)
	}
	n.close()
	n2 := openNode(t, dir, nil, cfg)
	c := n2.post("/v1/topics/ev/records", MediaJSON, `[{"event_id":"a"},{"event_id":"d"}]`).offsets(t)
	if !c.Offsets[0].Duplicate || c.Offsets[0].Offset != 0 || c.Offsets[1].Duplicate || c.Offsets[1].Offset != 3 {
		t.Errorf("after restart: %+v", c)
	}
	if got := n2.count("ev"); got != 4 {
		t.Errorf("%d records, want 4 (a b c d)", got)
	}
}

// gatedFS is the real filesystem whose fsyncs block while the gate is
// closed: a disk that stalls.
type gatedFS struct {
	vfs.FS
	mu   sync.Mutex
	gate chan struct{} // nil: open
}

func (g *gatedFS) close() { g.mu.Lock(); g.gate = make(chan struct{}); g.mu.Unlock() }
func (g *gatedFS) open() {
	g.mu.Lock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
	g.mu.Unlock()
}

func (g *gatedFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	f, err := g.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &gatedFile{File: f, fs: g}, nil
}

type gatedFile struct {
	vfs.File
	fs *gatedFS
}

func (f *gatedFile) Sync() error {
	f.fs.mu.Lock()
	gate := f.fs.gate
	f.fs.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return f.File.Sync()
}

func TestBackpressureAndSlowDisk(t *testing.T) {
	t.Parallel()
	disk := &gatedFS{FS: vfs.Default}
	n := openNode(t, t.TempDir(), disk, Config{MaxInFlightBytes: 4096, Timeout: 200 * time.Millisecond})
	n.createTopic("bp", 1)
	defer disk.open()
	disk.close()
	event := `{"pad":"` + strings.Repeat("x", 900) + `"}`
	// The disk stalls: writes time out (503 with Retry-After) but stay in
	// flight, holding their bytes, until the limit answers 429.
	var saw503, saw429 bool
	for i := 0; i < 20 && !saw429; i++ {
		r := n.post("/v1/topics/bp/records", MediaJSON, event)
		switch r.status {
		case 503:
			saw503 = r.code() == "unavailable" && r.header.Get("Retry-After") != ""
		case 429:
			saw429 = r.code() == "too_many_requests" && r.header.Get("Retry-After") != ""
		default:
			t.Fatalf("stalled disk: %d %s", r.status, r.body)
		}
		if held := n.h.InFlightBytes(); held > 4096+int64(len(event)) {
			t.Fatalf("%d bytes in flight over a 4096-byte limit", held)
		}
	}
	if !saw503 || !saw429 {
		t.Fatalf("503 seen %v, 429 seen %v", saw503, saw429)
	}
	// The disk recovers: the stalled writes land, the bytes drain, and
	// requests succeed again.
	disk.open()
	deadline := time.Now().Add(5 * time.Second)
	for n.h.InFlightBytes() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if held := n.h.InFlightBytes(); held != 0 {
		t.Fatalf("%d bytes still in flight", held)
	}
	n.post("/v1/topics/bp/records", MediaJSON, event).offsets(t)
}

// The limit counts the records' memory, not only the body's bytes: small
// events cost more as records than as text, so bodies far below the limit
// are refused once their records fill it.
func TestBackpressureCountsRecords(t *testing.T) {
	t.Parallel()
	disk := &gatedFS{FS: vfs.Default}
	const limit = 64 << 10
	n := openNode(t, t.TempDir(), disk, Config{MaxInFlightBytes: limit, Timeout: 100 * time.Millisecond})
	n.createTopic("small", 1)
	defer disk.open()
	disk.close()
	body := strings.Repeat(`{"a":1}`+"\n", 500) // 4,000 bytes; 500 records
	// A request of records over the limit is let through alone; its write
	// stalls with the disk (503) and keeps its room.
	if r := n.post("/v1/topics/small/records", MediaNDJSON, body); r.status != 503 {
		t.Fatalf("first request: %d %s", r.status, r.code())
	}
	held := n.h.InFlightBytes()
	if want := int64(len(body)) + 500*recordMemory; held != want {
		t.Fatalf("%d bytes in flight for one request of 500 records, want %d", held, want)
	}
	// A second one does not fit, though the two bodies are 8 KB of 64 KiB.
	if r := n.post("/v1/topics/small/records", MediaNDJSON, body); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("second request: %d %s", r.status, r.body)
	}
	// A malformed body gives back all it took, the estimate included.
	disk.open()
	deadline := time.Now().Add(5 * time.Second)
	for n.h.InFlightBytes() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r := n.post("/v1/topics/small/records", MediaJSON, `[1,2,3,}`); r.status != 400 {
		t.Fatalf("malformed: %d %s", r.status, r.body)
	}
	if held := n.h.InFlightBytes(); held != 0 {
		t.Fatalf("%d bytes still in flight", held)
	}
	n.post("/v1/topics/small/records", MediaNDJSON, body).offsets(t)
}

func TestMaxElements(t *testing.T) {
	for _, tc := range []struct {
		body string
		form bodyForm
		want int
	}{
		{`{"a":1,"b":2}`, formJSON, 1},
		{` [{"a":1,"b":2},{"a":3}]`, formJSON, 3}, // an upper bound: commas inside values count
		{`[]`, formJSON, 1},
		{"{\"a\":1}\n{\"a\":2}\n", formNDJSON, 3},
		{`{"a":1}`, formNDJSON, 1},
	} {
		if got := maxElements([]byte(tc.body), tc.form); got != tc.want {
			t.Errorf("maxElements(%q) = %d, want %d", tc.body, got, tc.want)
		}
	}
}

func TestWriteFailure(t *testing.T) {
	t.Parallel()
	disk := vfs.NewFaultFS(vfs.Default)
	n := openNode(t, t.TempDir(), disk, Config{})
	n.createTopic("f", 1)
	disk.SetSyncError(errors.New("injected: the disk is gone"))
	r := n.post("/v1/topics/f/records", MediaJSON, `[{"a":1}]`, "Idempotency-Key", "retry-me")
	if r.status != 503 || r.code() != "unavailable" || r.header.Get("Retry-After") == "" || !strings.Contains(r.message(), "may have been written") {
		t.Fatalf("failed write: %d %v %s", r.status, r.header, r.body)
	}
}
