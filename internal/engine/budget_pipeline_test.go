package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// A pipeline over many partitions whose sink stalls holds at most its
// byte budget of input, not 4 batches per partition: the reading stops
// (the backlog stays in the log, as lag), and once the sink recovers
// everything is delivered.
func TestPipelineBufferBudget(t *testing.T) {
	const (
		partitions = 32
		perRound   = 32 * 128 // records per round: 128 per partition
		budget     = 1 << 20  // 8 partitions' batches of one round
	)
	pad := strings.Repeat("x", 1000)

	hook := newStuckReceiver(t)

	n := openNode(t, t.TempDir())
	defer n.close(t)
	ctx := context.Background()
	if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: "events", Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
	e := openEngineWith(t, n, func(c *Config) { c.PipelineBufferBytes = budget })
	defer closeEngine(t, e)
	defer hook.unblock() // before the engine closes: its tasks are in the stuck requests
	mustExec(t, e, fmt.Sprintf(`
		CREATE SOURCE events (id bigint, pad text) WITH (connector = 'topic', topic = 'events');
		CREATE SINK hook WITH (connector = 'http', url = '%s', batch = 'true', batch.max = '1000', max.conns = '64', timeout = '5m')
		AS SELECT id FROM events;`, hook.srv.URL))
	e.mu.Lock()
	p := e.mu.pipelines["hook"]
	e.mu.Unlock()

	produce := func(from int) {
		t.Helper()
		recs := make([]*transport.Record, 0, perRound)
		for i := from; i < from+perRound; i++ {
			recs = append(recs, &transport.Record{Topic: "events", Partition: int32(i % partitions),
				Value: fmt.Appendf(nil, `{"id":%d,"pad":"%s"}`, i, pad)})
		}
		if err := n.tr.Produce(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	// lag is the pipeline's consumer lag over all partitions.
	lag := func() int64 {
		t.Helper()
		ends, err := n.tr.EndOffsets(ctx, "events")
		if err != nil {
			t.Fatal(err)
		}
		committed := n.groups.CommittedOffsets(p.group)["events"]
		var sum int64
		for part, end := range ends {
			sum += end - committed[part]
		}
		return sum
	}
	checkBound := func(when string) {
		t.Helper()
		if s := p.buffer.stats(); s.Held > s.Limit || s.Peak > s.Limit {
			t.Fatalf("%s: the pipeline holds %d bytes of input, at most %d, over a budget of %d", when, s.Held, s.Peak, s.Limit)
		}
	}

	produce(0) // 4 MiB: four times the budget
	waitFor(t, "the reading to wait for the budget", func() bool { return p.buffer.stats().Waiting })
	checkBound("stalled")
	held := p.buffer.stats().Held
	if held < budget/2 {
		t.Errorf("stalled with only %d bytes held of a %d budget", held, budget)
	}
	time.Sleep(200 * time.Millisecond)
	if s := p.buffer.stats(); !s.Waiting || s.Held != held {
		t.Fatalf("the stalled pipeline went on reading: %+v, held %d before", s, held)
	}
	if got := lag(); got != perRound {
		t.Fatalf("lag %d while stalled, want %d (nothing acknowledged)", got, perRound)
	}
	produce(perRound) // the backlog grows in the log, not in memory
	time.Sleep(200 * time.Millisecond)
	checkBound("stalled, with more to read")
	if got := lag(); got != 2*perRound {
		t.Fatalf("lag %d while stalled, want %d", got, 2*perRound)
	}
	if in := p.stats.in.Load(); in*int64(len(pad)) > budget {
		t.Fatalf("%d records processed while stalled: more than the budget holds", in)
	}

	hook.unblock()
	waitFor(t, "every record delivered", func() bool { return len(hook.delivered()) == 2*perRound })
	for id, times := range hook.delivered() {
		if id < 0 || id >= 2*perRound || times != 1 {
			t.Errorf("id %d delivered %d times", id, times)
		}
	}
	waitFor(t, "the lag to reach 0", func() bool { return lag() == 0 })
	waitFor(t, "the budget to be given back", func() bool { return p.buffer.stats().Held == 0 })
	checkBound("after the stall")
	t.Logf("budget %d bytes: peak held %d bytes; %d records of %d bytes over %d partitions",
		budget, p.buffer.stats().Peak, 2*perRound, len(pad)+20, partitions)
}

// Stopping a pipeline whose reading waits for the budget (the sink stuck)
// does not hang: the drain gives up at the caller's deadline, the batch
// the reader holds is released with the queued ones (a batch dropped
// silently would hold the source's close for its whole timeout), every
// byte is given back, and a new pipeline delivers everything.
func TestStopWhileWaitingForBudget(t *testing.T) {
	const partitions, total = 8, 8 * 64
	pad := strings.Repeat("x", 1000)
	hook := newStuckReceiver(t)
	n := openNode(t, t.TempDir())
	defer n.close(t)
	ctx := context.Background()
	if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: "events", Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
	e := openEngineWith(t, n, func(c *Config) { c.PipelineBufferBytes = 100 << 10 })
	defer closeEngine(t, e)
	defer hook.unblock()
	sink := fmt.Sprintf(`CREATE SINK hook WITH (connector = 'http', url = '%s', batch = 'true', batch.max = '1000', timeout = '5m')
		AS SELECT id FROM events;`, hook.srv.URL)
	mustExec(t, e, `CREATE SOURCE events (id bigint, pad text) WITH (connector = 'topic', topic = 'events');`+sink)
	e.mu.Lock()
	p := e.mu.pipelines["hook"]
	e.mu.Unlock()
	recs := make([]*transport.Record, 0, total)
	for i := range total {
		recs = append(recs, &transport.Record{Topic: "events", Partition: int32(i % partitions),
			Value: fmt.Appendf(nil, `{"id":%d,"pad":"%s"}`, i, pad)})
	}
	if err := n.tr.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reading to wait for the budget", func() bool { return p.buffer.stats().Waiting })

	dropCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	start := time.Now()
	if _, err := e.Execute(dropCtx, "DROP SINK hook", ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("DROP SINK took %v with the reader waiting for the budget", took)
	}
	if s := p.buffer.stats(); s.Held != 0 || s.Peak > s.Limit {
		t.Fatalf("after the drop: %+v", s)
	}

	hook.unblock()
	mustExec(t, e, sink) // a new group: it reads the topic from the start
	waitFor(t, "every record delivered", func() bool { return len(hook.delivered()) == total })
}

// stuckReceiver is a webhook for NDJSON batches of {"id": n} that answers
// nothing until unblock is called.
type stuckReceiver struct {
	srv     *httptest.Server
	unblock func()
	mu      sync.Mutex
	ids     map[int64]int // id -> deliveries
}

func newStuckReceiver(t *testing.T) *stuckReceiver {
	gate := make(chan struct{})
	h := &stuckReceiver{unblock: sync.OnceFunc(func() { close(gate) }), ids: map[int64]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		sc := bufio.NewScanner(r.Body)
		var ids []int64
		for sc.Scan() {
			var v struct{ ID int64 }
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			ids = append(ids, v.ID)
		}
		h.mu.Lock()
		for _, id := range ids {
			h.ids[id]++
		}
		h.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(func() {
		h.unblock()
		h.srv.Close()
	})
	return h
}

// delivered returns a copy of what was delivered: id -> times.
func (h *stuckReceiver) delivered() map[int64]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.ids)
}
