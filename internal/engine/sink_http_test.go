package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/tide-data/tide/internal/transport"
)

// A pipeline into a flaky webhook: everything the receiver accepts
// arrives (some after several 500s, 429s and 503s), and what it refuses
// — a 400, or 500s until the attempts run out — is in the dead-letter
// topic with the sink's error code and attempt count, so nothing is lost.
func TestHTTPSinkPipelineDeliversOrDeadLetters(t *testing.T) {
	const total = 200
	var (
		mu        sync.Mutex
		tries     = map[int64]int{}
		delivered = map[int64]int{}
		traces    = map[int64]string{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var v struct{ ID, Amount int64 }
		if err := json.Unmarshal(b, &v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		tries[v.ID]++
		switch {
		case v.ID%50 == 7: // refused for good
			http.Error(w, "amount rejected", http.StatusBadRequest)
		case v.ID%50 == 13: // broken for good: the attempts run out
			w.WriteHeader(http.StatusInternalServerError)
		case tries[v.ID] == 1 && v.ID%3 == 0:
			w.WriteHeader(http.StatusInternalServerError)
		case tries[v.ID] == 1 && v.ID%3 == 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		case tries[v.ID] == 2 && v.ID%5 == 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			delivered[v.ID]++
			traces[v.ID] = r.Header.Get("traceparent")
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()

	n := openNode(t, t.TempDir())
	defer n.close(t)
	ctx := context.Background()
	if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: "orders", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, ordersSource+fmt.Sprintf(`
		CREATE SINK hook WITH (connector = 'http', url = '%s', max.attempts = '4', backoff.initial = '5ms', backoff.max = '20ms')
		AS SELECT id, amount FROM orders;`, srv.URL))

	var recs []*transport.Record
	for i := range total {
		recs = append(recs, &transport.Record{Topic: "orders", Partition: -1, Key: fmt.Appendf(nil, "k%d", i),
			Value:   fmt.Appendf(nil, `{"id":%d,"amount":%d}`, i, i%100),
			Headers: []transport.Header{{Key: "traceparent", Value: fmt.Appendf(nil, "00-%032x-%016x-01", i+1, i+1)}}})
	}
	if err := n.tr.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}

	const refused, broken = 4, 4 // ids 7, 57, 107, 157 and 13, 63, 113, 163
	dead := readAll(t, n.tr, "hook.dlq", refused+broken)
	waitFor(t, "every accepted event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == total-refused-broken
	})

	mu.Lock()
	for id := range int64(total) {
		switch {
		case id%50 == 7 || id%50 == 13:
			if delivered[id] != 0 {
				t.Errorf("id %d delivered although refused", id)
			}
		case delivered[id] != 1:
			t.Errorf("id %d delivered %d times", id, delivered[id])
		case traces[id] != fmt.Sprintf("00-%032x-%016x-01", id+1, id+1):
			t.Errorf("id %d: traceparent %q", id, traces[id])
		}
	}
	mu.Unlock()

	for _, r := range dead {
		h := map[string]string{}
		for _, kv := range r.Headers {
			h[kv.Key] = string(kv.Value)
		}
		var v struct{ ID int64 }
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		wantCode, wantAttempts := "http_400", "1"
		if v.ID%50 == 13 {
			wantCode, wantAttempts = "http_500", "4"
		}
		if h[HeaderStage] != "sink" || h[HeaderErrorCode] != wantCode || h[HeaderAttempts] != wantAttempts ||
			h[HeaderTopic] != "orders" || h[HeaderPipeline] != "hook" || h[HeaderError] == "" || h["traceparent"] == "" {
			t.Errorf("dead letter of id %d: headers %v, want stage sink, code %s, attempts %s", v.ID, h, wantCode, wantAttempts)
		}
		if string(r.Key) != fmt.Sprintf("k%d", v.ID) {
			t.Errorf("dead letter of id %d: key %q", v.ID, r.Key)
		}
	}
	waitFor(t, "the sink's counters", func() bool {
		row := showRow(t, e, "SINKS", "hook")
		return row != nil && row["records_out"] == fmt.Sprint(total-refused-broken) && row["dead_lettered"] == fmt.Sprint(refused+broken)
	})
}
