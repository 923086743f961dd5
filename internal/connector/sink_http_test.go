package connector

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// receiver is an in-test webhook receiver: respond decides each answer,
// from the request's body and how many times that body arrived.
type receiver struct {
	mu       sync.Mutex
	requests []received
	tries    map[string]int
	respond  func(w http.ResponseWriter, body string, try int)
}

type received struct {
	body   string
	header http.Header
}

func newReceiver(t *testing.T, respond func(w http.ResponseWriter, body string, try int)) (*receiver, *httptest.Server) {
	r := &receiver{tries: map[string]int{}, respond: respond}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, received{body: string(b), header: req.Header.Clone()})
		r.tries[string(b)]++
		try := r.tries[string(b)]
		r.mu.Unlock()
		r.respond(w, string(b), try)
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.requests...)
}

// newTestHTTPSink builds an http sink whose retry delays are recorded
// rather than slept.
func newTestHTTPSink(t *testing.T, opts map[string]string) (*httpSink, *[]time.Duration) {
	t.Helper()
	s, err := NewHTTP(opts, Env{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	hs := s.(*httpSink)
	var mu sync.Mutex
	delays := &[]time.Duration{}
	hs.sleep = func(ctx context.Context, d time.Duration) bool {
		mu.Lock()
		*delays = append(*delays, d)
		mu.Unlock()
		return ctx.Err() == nil
	}
	return hs, delays
}

func outputs(values ...string) []Output {
	outs := make([]Output, len(values))
	for i, v := range values {
		outs[i] = Output{Key: []byte("k" + v), Value: []byte(v), Origin: Origin{Topic: "in", Partition: 0, Offset: int64(i)}}
	}
	return outs
}

func rejections(t *testing.T, err error) []Rejection {
	t.Helper()
	var re *RejectedError
	if !errors.As(err, &re) {
		t.Fatalf("want a *RejectedError, got %v", err)
	}
	return re.Rejected
}

func TestHTTPSinkRetriesServerErrorsWithBackoff(t *testing.T) {
	rec, srv := newReceiver(t, func(w http.ResponseWriter, _ string, try int) {
		if try <= 4 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s, delays := newTestHTTPSink(t, map[string]string{"url": srv.URL, "backoff.initial": "100ms", "backoff.max": "250ms"})
	if err := s.Write(testContext(t), outputs(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.all()); n != 5 {
		t.Fatalf("%d requests, want 5", n)
	}
	// Full jitter: the n-th delay lies in [0, min(max, initial*2^(n-1))).
	bounds := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}
	if len(*delays) != len(bounds) {
		t.Fatalf("delays %v, want %d", *delays, len(bounds))
	}
	for i, d := range *delays {
		if d < 0 || d >= bounds[i] {
			t.Errorf("delay %d = %s, want in [0, %s)", i, d, bounds[i])
		}
	}
}

func TestHTTPSinkHonoursRetryAfter(t *testing.T) {
	date := time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)
	_, srv := newReceiver(t, func(w http.ResponseWriter, body string, try int) {
		switch {
		case body == "seconds" && try == 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case body == "date" && try == 1:
			w.Header().Set("Retry-After", date)
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	s, delays := newTestHTTPSink(t, map[string]string{"url": srv.URL})
	if err := s.Write(testContext(t), outputs("seconds", "date")); err != nil {
		t.Fatal(err)
	}
	if len(*delays) != 2 || (*delays)[0] != 7*time.Second || (*delays)[1] < time.Second || (*delays)[1] > 3*time.Second {
		t.Fatalf("delays %v, want [7s ~3s]", *delays)
	}

	// With the real clock: the retry waits as asked.
	_, srv2 := newReceiver(t, func(w http.ResponseWriter, _ string, try int) {
		if try == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	real, err := NewHTTP(map[string]string{"url": srv2.URL}, Env{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := real.Write(testContext(t), outputs("x")); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("retried after %s, want >= 1s", el)
	}
	// A Retry-After beyond retry-after.max is cut to it.
	_, srv3 := newReceiver(t, func(w http.ResponseWriter, _ string, try int) {
		if try == 1 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	s3, delays3 := newTestHTTPSink(t, map[string]string{"url": srv3.URL, "retry-after.max": "2s"})
	if err := s3.Write(testContext(t), outputs("x")); err != nil {
		t.Fatal(err)
	}
	if len(*delays3) != 1 || (*delays3)[0] != 2*time.Second {
		t.Fatalf("delays %v, want [2s]", *delays3)
	}
}

func TestHTTPSinkRejections(t *testing.T) {
	_, srv := newReceiver(t, func(w http.ResponseWriter, body string, _ int) {
		switch body {
		case "bad":
			http.Error(w, "field x is required", http.StatusBadRequest)
		case "down":
			w.WriteHeader(http.StatusBadGateway)
		case "slow":
			time.Sleep(300 * time.Millisecond)
		case "gone":
			w.WriteHeader(http.StatusGone)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	})
	s, delays := newTestHTTPSink(t, map[string]string{"url": srv.URL, "max.attempts": "3", "timeout": "100ms"})
	err := s.Write(testContext(t), outputs("ok1", "bad", "down", "ok2", "slow", "gone"))
	rej := rejections(t, err)
	want := []struct {
		index    int
		code     string
		attempts int
		msg      string
	}{
		{1, "http_400", 1, "field x is required"},
		{2, "http_502", 3, "502"},
		{4, "http_timeout", 3, "no answer within 100ms"},
		{5, "http_410", 1, "410"},
	}
	if len(rej) != len(want) {
		t.Fatalf("rejections %+v, want %d", rej, len(want))
	}
	for i, w := range want {
		r := rej[i]
		if r.Index != w.index || r.Code != w.code || r.Attempts != w.attempts || !strings.Contains(r.Err.Error(), w.msg) {
			t.Errorf("rejection %d = {%d %s %d %v}, want {%d %s %d ...%s...}", i, r.Index, r.Code, r.Attempts, r.Err, w.index, w.code, w.attempts, w.msg)
		}
	}
	if len(*delays) != 4 { // two retries each for "down" and "slow"
		t.Errorf("delays %v, want 4", *delays)
	}

	// Nobody listening: connection errors.
	srv.Close()
	s2, _ := newTestHTTPSink(t, map[string]string{"url": srv.URL, "max.attempts": "2"})
	rej = rejections(t, s2.Write(testContext(t), outputs("x")))
	if len(rej) != 1 || rej[0].Code != "http_connection" || rej[0].Attempts != 2 {
		t.Fatalf("got %+v, want one http_connection after 2 attempts", rej)
	}
}

func TestHTTPSinkStopsWithContext(t *testing.T) {
	_, srv := newReceiver(t, func(w http.ResponseWriter, _ string, _ int) { w.WriteHeader(http.StatusServiceUnavailable) })
	s, err := NewHTTP(map[string]string{"url": srv.URL, "backoff.initial": "10s", "backoff.max": "10s", "max.attempts": "100"}, Env{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	err = s.Write(ctx, outputs("x"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled (not a rejection: the batch is not written)", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("stopped after %s", el)
	}
}

func TestHTTPSinkHeaders(t *testing.T) {
	rec, srv := newReceiver(t, func(w http.ResponseWriter, _ string, _ int) { w.WriteHeader(http.StatusOK) })
	s, _ := newTestHTTPSink(t, map[string]string{
		"url": srv.URL, "hmac.secret": "s3cret", "headers.authorization": "Bearer abc", "content.type": "application/vnd.x+json",
	})
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	outs := []Output{
		{Key: []byte("order-1"), Value: []byte(`{"id":1}`), Headers: []transport.Header{{Key: "traceparent", Value: []byte(tp)}},
			Origin: Origin{Topic: "orders", Partition: 2, Offset: 41}},
		{Key: []byte{0xff, 0x00}, Value: []byte(`{"id":2}`)},
	}
	if err := s.Write(testContext(t), outs); err != nil {
		t.Fatal(err)
	}
	reqs := rec.all()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, r := range reqs {
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write([]byte(r.body))
		if got, want := r.header.Get("X-Tide-Signature"), "sha256="+hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(got), []byte(want)) {
			t.Errorf("signature %q, want %q", got, want)
		}
		if r.header.Get("Authorization") != "Bearer abc" || r.header.Get("Content-Type") != "application/vnd.x+json" {
			t.Errorf("headers %v", r.header)
		}
	}
	h := reqs[0].header
	if h.Get("traceparent") != tp || h.Get("X-Tide-Key") != "order-1" || h.Get("Idempotency-Key") != "orders/2/41" {
		t.Errorf("first request's headers %v", h)
	}
	h = reqs[1].header
	if h.Get("traceparent") != "" || h.Get("X-Tide-Key") != "" || h.Get("X-Tide-Key-Base64") != "/wA=" || h.Get("Idempotency-Key") != "" {
		t.Errorf("second request's headers %v", h)
	}
}

func TestHTTPSinkBatches(t *testing.T) {
	rec, srv := newReceiver(t, func(w http.ResponseWriter, body string, try int) {
		if strings.Contains(body, "fail") && try == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if strings.Contains(body, "bad") {
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	s, _ := newTestHTTPSink(t, map[string]string{"url": srv.URL, "batch": "true", "batch.max": "2", "hmac.secret": "k"})
	err := s.Write(testContext(t), outputs(`{"a":1}`, `"fail"`, `{"a":3}`, `"bad"`, `{"a":5}`))
	rej := rejections(t, err)
	if len(rej) != 2 || rej[0].Index != 2 || rej[1].Index != 3 || rej[0].Code != "http_422" {
		t.Fatalf("rejections %+v, want the second request's outputs 2 and 3", rej)
	}
	var bodies []string
	for _, r := range rec.all() {
		bodies = append(bodies, r.body)
		if r.header.Get("Content-Type") != "application/x-ndjson" || r.header.Get("X-Tide-Key") != "" {
			t.Errorf("headers %v", r.header)
		}
	}
	want := []string{"{\"a\":1}\n\"fail\"\n", "{\"a\":1}\n\"fail\"\n", "{\"a\":3}\n\"bad\"\n", "{\"a\":5}\n"}
	if strings.Join(bodies, "|") != strings.Join(want, "|") {
		t.Fatalf("bodies %q, want %q", bodies, want)
	}

	rec2, srv2 := newReceiver(t, func(w http.ResponseWriter, _ string, _ int) { w.WriteHeader(http.StatusOK) })
	s2, _ := newTestHTTPSink(t, map[string]string{"url": srv2.URL, "batch": "true", "batch.format": "array"})
	if err := s2.Write(testContext(t), outputs(`{"a":1}`, `{"a":2}`)); err != nil {
		t.Fatal(err)
	}
	if r := rec2.all(); len(r) != 1 || r[0].body != `[{"a":1},{"a":2}]` || r[0].header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %+v", r)
	}
}

func TestHTTPSinkOptions(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{}, "option 'url' is required"},
		{map[string]string{"url": "ftp://x"}, "http:// or https://"},
		{map[string]string{"url": "http://x", "max.attempts": "0"}, "max.attempts"},
		{map[string]string{"url": "http://x", "batch.format": "csv"}, "batch.format"},
		{map[string]string{"url": "http://x", "headers.bad header": "v"}, "not a valid HTTP header"},
		{map[string]string{"url": "http://x", "retries": "3"}, "unknown option 'retries'"},
	} {
		_, err := NewHTTP(tc.opts, Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.opts, err, tc.want)
		}
	}
	if err := CheckSink("http", map[string]string{"url": "https://example.com/hook", "timeout": "2s"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TIDE_TEST_HOOK_SECRET", "from-env")
	s, err := NewHTTP(map[string]string{"url": "http://x", "hmac.secret.env": "TIDE_TEST_HOOK_SECRET"}, Env{})
	if err != nil || string(s.(*httpSink).secret) != "from-env" {
		t.Fatalf("hmac.secret.env: %v", err)
	}
	for _, opts := range []map[string]string{
		{"url": "http://x", "hmac.secret.env": "TIDE_TEST_UNSET_VARIABLE"},
		{"url": "http://x", "hmac.secret.env": "TIDE_TEST_HOOK_SECRET", "hmac.secret": "x"},
	} {
		if _, err := NewHTTP(opts, Env{}); err == nil {
			t.Errorf("%v: no error", opts)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              -1,
		"12":                            12 * time.Second,
		"0":                             0,
		"-3":                            -1,
		"soon":                          -1,
		"Fri, 02 Jan 2026 03:04:15 GMT": 10 * time.Second,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

// Many attempts must not overflow the doubling backoff (a panic in a task
// would take the server down): delays stay within [0, backoff.max].
func TestHTTPSinkManyAttemptsDoNotOverflowBackoff(t *testing.T) {
	_, srv := newReceiver(t, func(w http.ResponseWriter, _ string, _ int) {
		w.WriteHeader(http.StatusBadGateway)
	})
	s, delays := newTestHTTPSink(t, map[string]string{"url": srv.URL, "max.attempts": "100", "backoff.initial": "1s", "backoff.max": "30s"})
	rej := rejections(t, s.Write(context.Background(), outputs("a")))
	if len(rej) != 1 || rej[0].Attempts != 100 {
		t.Fatalf("rejections %+v, want one after 100 attempts", rej)
	}
	for i, d := range *delays {
		if d < 0 || d > 30*time.Second {
			t.Fatalf("delay %d is %v, want within [0, 30s]", i, d)
		}
	}
}
