package connector

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Windowed results fired by one checkpoint share their origin: each gets
// an Idempotency-Key of its own (the n-th output of the origin), so a
// receiver that drops repeats keeps them all.
func TestHTTPSinkIdempotencyKeyPerOutput(t *testing.T) {
	rec, srv := newReceiver(t, func(w http.ResponseWriter, _ string, _ int) { w.WriteHeader(http.StatusOK) })
	s, _ := newTestHTTPSink(t, map[string]string{"url": srv.URL})
	origin := Origin{Topic: "sink-repartition", Partition: 0, Offset: 41}
	outs := []Output{
		{Key: []byte("w1"), Value: []byte(`{"window":1,"n":3}`), Origin: origin},
		{Key: []byte("w2"), Value: []byte(`{"window":2,"n":5}`), Origin: origin},
	}
	if err := s.Write(testContext(t), outs); err != nil {
		t.Fatal(err)
	}
	reqs := rec.all()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	k0, k1 := reqs[0].header.Get(HTTPHeaderIdempotency), reqs[1].header.Get(HTTPHeaderIdempotency)
	if k0 == k1 {
		t.Fatalf("two different events were sent with the same Idempotency-Key %q: a deduplicating receiver drops the second", k0)
	}
}

// A redirect is not followed (a 301-303 would be re-sent as a GET without
// the body, whose 2xx would count as delivered): it is a permanent
// failure, and the event goes to the dead-letter topic.
func TestHTTPSinkRedirectIsPermanent(t *testing.T) {
	var mu sync.Mutex
	var got []string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(target.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/moved", http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	s, _ := newTestHTTPSink(t, map[string]string{"url": redirector.URL, "max.attempts": "1"})
	err := s.Write(testContext(t), outputs(`{"a":1}`))
	mu.Lock()
	defer mu.Unlock()
	if err == nil {
		t.Fatalf("a 302 answer counted as delivered (the event reached nobody: the redirect target got %v), want a rejection (dead letter)", got)
	}
}

// Two sinks share a directory with prefixes "events" and "events-eu": the
// recovery of "events" finishes only its own .inprogress files, not the
// one "events-eu" is writing.
func TestFileSinkRecoveryKeepsToItsPrefix(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	eu, err := NewFile(map[string]string{"path": dir, "prefix": "events-eu"}, Env{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := NewFile(map[string]string{"path": dir, "prefix": "events"}, Env{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := eu.Write(ctx, outputs(`{"eu":1}`)); err != nil {
		t.Fatal(err)
	}
	_, inProgress := dirFiles(t, dir)
	if len(inProgress) != 1 {
		t.Fatalf("in progress: %v", inProgress)
	}
	if err := all.Write(ctx, outputs(`{"all":1}`)); err != nil {
		t.Fatal(err)
	}
	finished, inProgress := dirFiles(t, dir)
	for _, f := range finished {
		if strings.HasPrefix(f, "events-eu-") {
			t.Errorf("sink 'events' finished sink 'events-eu''s live file %s (in progress now: %v)", f, inProgress)
		}
	}
	if err := eu.Write(ctx, outputs(`{"eu":2}`)); err != nil {
		t.Errorf("events-eu write after the theft: %v", err)
	}
	if err := eu.Close(ctx); err != nil {
		t.Errorf("events-eu close: %v", err)
	}
	_ = all.Close(ctx)
	_ = os.RemoveAll(dir)
}

// HTTP trims a header value's leading and trailing blanks: a key with
// them goes as X-Tide-Key-Base64.
func TestHTTPSinkKeyWithEdgeSpaces(t *testing.T) {
	rec, srv := newReceiver(t, func(w http.ResponseWriter, _ string, _ int) { w.WriteHeader(http.StatusOK) })
	s, _ := newTestHTTPSink(t, map[string]string{"url": srv.URL})
	if err := s.Write(testContext(t), []Output{{Key: []byte(" user 7 "), Value: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	h := rec.all()[0].header
	if got, ok := h[http.CanonicalHeaderKey(HTTPHeaderKey)]; ok && got[0] != " user 7 " {
		t.Errorf("receiver read key %q from X-Tide-Key, the record's key is %q (and no X-Tide-Key-Base64)", got[0], " user 7 ")
	}
}
