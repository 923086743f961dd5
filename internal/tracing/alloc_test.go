package tracing

import (
	"context"
	"testing"
	"time"
)

// Starting a span, with its attributes, allocates nothing once the pool
// holds spans; nor does ending one into a queue with room.
func TestSpanAllocs(t *testing.T) {
	tr, err := New(Options{Endpoint: "http://127.0.0.1:1/v1/traces", SampleRatio: 1, QueueSize: 1 << 20, BatchSize: 1 << 20, BatchTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { // abandon the export to nowhere
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = tr.Shutdown(ctx)
	}()
	parent, _ := Parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	now := time.Now()
	tr.release(tr.Start(parent, "warm", KindConsumer, now))
	if n := testing.AllocsPerRun(1000, func() {
		s := tr.Start(parent, "process p", KindConsumer, now, String("tide.topic", "orders"), Int("tide.partition", 3), Int("tide.offset", 42))
		s.SetAttributes(Bool("tide.filtered", true))
		tr.release(s)
	}); n != 0 {
		t.Errorf("Start: %v allocations", n)
	}
	tr.queue.spans = make([]*Span, 0, 4096)
	spans := make([]*Span, 1000)
	for i := range spans {
		spans[i] = tr.Start(parent, "s", KindConsumer, now)
	}
	i := 0
	if n := testing.AllocsPerRun(999, func() { spans[i].End(now); i++ }); n != 0 {
		t.Errorf("End: %v allocations", n)
	}
}
