package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/engine"
	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
	"github.com/tide-data/tide/internal/transport/kafkatransport"
)

// deadLetters are five dead letters of topic "orders": three that failed
// to decode, two a webhook refused.
func deadLetters() []*transport.Record {
	var recs []*transport.Record
	for i := range 5 {
		code, stage, msg := "22P02", "decode", "invalid input syntax for type integer"
		if i >= 3 {
			code, stage, msg = "http_400", "sink", "connector http: POST http://x/: 400 Bad Request"
		}
		recs = append(recs, &transport.Record{
			Topic: "orders.dlq", Partition: int32(i % 2), Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, `{"id":%d}`, i),
			Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i)),
			Headers: []transport.Header{
				{Key: "traceparent", Value: fmt.Appendf(nil, "00-%032x-%016x-01", i+1, i+1)},
				{Key: engine.HeaderError, Value: []byte(msg)},
				{Key: engine.HeaderStage, Value: []byte(stage)},
				{Key: engine.HeaderPipeline, Value: []byte("clean")},
				{Key: engine.HeaderTopic, Value: []byte("orders")},
				{Key: engine.HeaderPartition, Value: []byte("0")},
				{Key: engine.HeaderOffset, Value: fmt.Appendf(nil, "%d", i)},
				{Key: engine.HeaderErrorCode, Value: []byte(code)},
			},
		})
	}
	return recs
}

// produceToDataDir writes recs to a data directory through the embedded
// transport (the CLI's produce has no headers).
func produceToDataDir(t *testing.T, dir string, recs []*transport.Record) {
	t.Helper()
	withDataDir(t, dir, func(ctx context.Context, tr *embedded.Transport) error { return tr.Produce(ctx, recs) })
}

// withDataDir runs fn with an embedded transport over a data directory,
// closed after it.
func withDataDir(t *testing.T, dir string, fn func(context.Context, *embedded.Transport) error) {
	t.Helper()
	l, err := openLog(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	coord, err := group.NewCoordinator(l, group.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := embedded.New(l, coord)
	err = fn(context.Background(), tr)
	if err := errors.Join(err, tr.Close(), coord.Close(), l.Close()); err != nil {
		t.Fatal(err)
	}
}

type jsonRecord struct {
	Key     string
	Value   string
	Headers []struct{ Key, Value string }
}

func parseRecords(t *testing.T, out string) []jsonRecord {
	t.Helper()
	var recs []jsonRecord
	for _, line := range lines(out) {
		var r jsonRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// checkReplayed checks that recs are the dead letters' originals: key,
// value and traceparent, no tide.* header.
func checkReplayed(t *testing.T, recs []jsonRecord, want int) {
	t.Helper()
	if len(recs) != want {
		t.Fatalf("%d records replayed, want %d", len(recs), want)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		var id int
		if _, err := fmt.Sscanf(r.Value, `{"id":%d}`, &id); err != nil || r.Key != fmt.Sprintf("k%d", id) {
			t.Fatalf("replayed %+v", r)
		}
		if seen[r.Value] {
			t.Fatalf("%s replayed twice", r.Value)
		}
		seen[r.Value] = true
		if len(r.Headers) != 1 || r.Headers[0].Key != "traceparent" || r.Headers[0].Value != fmt.Sprintf("00-%032x-%016x-01", id+1, id+1) {
			t.Fatalf("replayed headers %+v, want only the traceparent", r.Headers)
		}
	}
}

func checkList(t *testing.T, r result, pending int) {
	t.Helper()
	rows := table(r.stdout, 2)
	if got := rows["22P02 decode"]; len(got) < 3 || got[2] != "3" {
		t.Fatalf("list:\n%s", r.stdout)
	}
	if got := rows["http_400 sink"]; len(got) < 3 || got[2] != "2" || !strings.Contains(r.stdout, "400 Bad Request") {
		t.Fatalf("list:\n%s", r.stdout)
	}
	if want := fmt.Sprintf("5 dead letters in orders.dlq; %d not replayed yet", pending); !strings.Contains(r.stderr, want) {
		t.Fatalf("stderr %q, want %q", r.stderr, want)
	}
}

func TestDLQOnDataDir(t *testing.T) {
	dir := newDataDir(t, map[string]int32{"orders": 1, "orders.dlq": 2, "retry": 1})
	produceToDataDir(t, dir, deadLetters())
	dd := func(args ...string) []string { return append(args, "--data-dir", dir) }

	checkList(t, tide(t, "", dd("dlq", "list", "orders.dlq")...).ok(t), 5)

	r := tide(t, "", dd("dlq", "replay", "orders.dlq", "--dry-run")...).ok(t)
	if len(lines(r.stdout)) != 5 || !strings.HasPrefix(r.stdout, "would replay orders.dlq/") || offsets(t, dir, "orders")[0] != 0 {
		t.Fatalf("dry run: %q, orders at %v", r.stdout, offsets(t, dir, "orders"))
	}

	// Two, then the rest: the second run continues where the first stopped.
	r = tide(t, "", dd("dlq", "replay", "orders.dlq", "--max", "2")...).ok(t)
	if len(lines(r.stdout)) != 2 || !strings.Contains(r.stderr, "replayed 2 records (orders: 2)") {
		t.Fatalf("replay --max 2: %+v", r)
	}
	checkList(t, tide(t, "", dd("dlq", "list", "orders.dlq")...).ok(t), 3)
	r = tide(t, "", dd("dlq", "replay", "orders.dlq")...).ok(t)
	if len(lines(r.stdout)) != 3 || !strings.Contains(r.stdout, "-> orders (sink http_400)") {
		t.Fatalf("replay: %+v", r)
	}
	r = tide(t, "", dd("dlq", "replay", "orders.dlq")...).ok(t)
	if r.stdout != "" || !strings.Contains(r.stderr, "replayed 0 records") {
		t.Fatalf("replay again: %+v", r)
	}
	checkReplayed(t, parseRecords(t, tide(t, "", dd("consume", "orders", "--format", "json")...).ok(t).stdout), 5)

	// --from-beginning replays everything again, here to another topic.
	r = tide(t, "", dd("dlq", "replay", "orders.dlq", "--to", "retry", "--from-beginning")...).ok(t)
	if len(lines(r.stdout)) != 5 || !strings.Contains(r.stderr, "(retry: 5)") {
		t.Fatalf("replay --to: %+v", r)
	}
	checkReplayed(t, parseRecords(t, tide(t, "", dd("consume", "retry", "--format", "json")...).ok(t).stdout), 5)
	checkList(t, tide(t, "", dd("dlq", "list", "orders.dlq")...).ok(t), 0)

	// --from-offset 2: partition 0 holds letters 0, 2, 4 and partition 1
	// letters 1, 3; only letter 4 is at offset 2.
	r = tide(t, "", dd("dlq", "replay", "orders.dlq", "--to", "retry", "--from-offset", "2")...).ok(t)
	if len(lines(r.stdout)) != 1 || !strings.Contains(r.stdout, "orders.dlq/0/2 -> retry") {
		t.Fatalf("replay --from-offset: %+v", r)
	}

	// A dead letter that says not where it came from needs --to.
	produceToDataDir(t, dir, []*transport.Record{{Topic: "orders.dlq", Partition: 0, Value: []byte("x")}})
	r = tide(t, "", dd("dlq", "replay", "orders.dlq")...)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "give --to") {
		t.Fatalf("no origin: %+v", r)
	}
	// Bad input.
	for _, args := range [][]string{
		{"dlq", "list", "nope"},
		{"dlq", "replay", "orders.dlq", "--from-offset", "1", "--from-beginning"},
		{"dlq", "replay", "orders.dlq", "--to", "missing-topic"},
	} {
		if r := tide(t, "", dd(args...)...); r.code != ExitUsage {
			t.Errorf("%v: exit %d (%s), want 2", args, r.code, r.stderr)
		}
	}
}

func TestDLQOverKafka(t *testing.T) {
	ts := startServer(t)
	ts.tide(t, "", "topic", "create", "orders").ok(t)
	ts.tide(t, "", "topic", "create", "retry").ok(t)
	ts.tide(t, "", "topic", "create", "orders.dlq", "--partitions", "2").ok(t)
	ctx := context.Background()
	tr, err := kafkatransport.New(ctx, kafkatransport.Config{Brokers: []string{ts.addr}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Produce(ctx, deadLetters()); err != nil {
		t.Fatal(err)
	}
	_ = tr.Close()

	checkList(t, ts.tide(t, "", "dlq", "list", "orders.dlq").ok(t), 5)
	r := ts.tide(t, "", "dlq", "replay", "orders.dlq", "--max", "3").ok(t)
	if len(lines(r.stdout)) != 3 {
		t.Fatalf("replay --max 3: %+v", r)
	}
	// The progress is an ordinary consumer group.
	if d := ts.tide(t, "", "group", "describe", replayGroup("orders.dlq")).ok(t); !strings.Contains(d.stdout, "orders.dlq") {
		t.Fatalf("group describe:\n%s", d.stdout)
	}
	r = ts.tide(t, "", "dlq", "replay", "orders.dlq").ok(t)
	if len(lines(r.stdout)) != 2 {
		t.Fatalf("replay: %+v", r)
	}
	checkReplayed(t, parseRecords(t, ts.tide(t, "", "consume", "orders", "--format", "json").ok(t).stdout), 5)
	checkList(t, ts.tide(t, "", "dlq", "list", "orders.dlq").ok(t), 0)

	r = ts.tide(t, "", "dlq", "replay", "orders.dlq", "--to", "retry", "--from-beginning").ok(t)
	if len(lines(r.stdout)) != 5 {
		t.Fatalf("replay --to: %+v", r)
	}
	checkReplayed(t, parseRecords(t, ts.tide(t, "", "consume", "retry", "--format", "json").ok(t).stdout), 5)
	if r := ts.tide(t, "", "dlq", "list", "nope"); r.code != ExitUsage {
		t.Fatalf("unknown topic: exit %d (%s)", r.code, r.stderr)
	}
}
