package embedded

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/tide-data/tide/internal/transport"
)

// Memory given back by PollRecycle's done is read into again: over many
// polls a few buffers serve, where Poll would take a new one each time.
// Records whose memory was not given back are never overwritten.
func TestPollRecycleReusesMemory(t *testing.T) {
	tr, _, _ := open(t, WithFetchBytes(2048))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	const n = 10000
	recs := make([]*transport.Record, n)
	for i := range recs {
		recs[i] = &transport.Record{Topic: "t", Partition: 0, Value: fmt.Appendf(nil, "value-%06d", i)}
	}
	// Many small produces: many batches, so many fetches.
	for i := 0; i < n; i += 10 {
		if err := tr.Produce(ctx, recs[i:i+10]); err != nil {
			t.Fatal(err)
		}
	}
	c, err := tr.NewConsumer(ctx, transport.ConsumerOptions{Group: "g", Topics: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rc := c.(transport.RecyclingConsumer)

	buffers := map[*byte]bool{}
	var kept []*transport.Record // never given back: must stay as read
	polls := 0
	for read := 0; read < n; {
		got, done, err := rc.PollRecycle(ctx)
		if err != nil {
			t.Fatal(err)
		}
		polls++
		for _, r := range got {
			if want := fmt.Sprintf("value-%06d", r.Offset); string(r.Value) != want {
				t.Fatalf("record %d: %q, want %q", r.Offset, r.Value, want)
			}
			// The first record's value is at a fixed place in its
			// read's buffer: the same place, the same buffer.
			if r == got[0] {
				buffers[unsafe.SliceData(r.Value)] = true
			}
		}
		read += len(got)
		if polls%10 == 0 {
			kept = append(kept, got...)
			continue
		}
		done()
	}
	for _, r := range kept {
		if want := fmt.Sprintf("value-%06d", r.Offset); string(r.Value) != want {
			t.Fatalf("record %d, not given back, became %q", r.Offset, r.Value)
		}
	}
	if polls < 50 {
		t.Fatalf("only %d polls: the test proves little", polls)
	}
	// The kept polls' buffers, those in flight and the free ones.
	if limit := polls/10 + 2*freeFetchMemory; len(buffers) > limit {
		t.Errorf("%d polls read into %d buffers (at most %d with reuse)", polls, len(buffers), limit)
	}
	t.Logf("%d polls, %d buffers", polls, len(buffers))
}

// A consumer that polls with Poll never gives memory back: each read
// allocates what it reads, not a buffer of fetch.max.bytes (a tailing
// consumer reads a few records at a time).
func TestPollReadsIntoBuffersOfWhatItReads(t *testing.T) {
	tr, _, _ := open(t, WithFetchBytes(1<<20))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	c, err := tr.NewConsumer(ctx, transport.ConsumerOptions{Group: "g", Topics: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const polls = 20
	for i := range polls {
		if err := tr.Produce(ctx, []*transport.Record{{Topic: "t", Partition: 0, Value: fmt.Appendf(nil, "v%d", i)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	// A MiB a poll would be 20 MiB; what a poll reads is a hundred bytes.
	if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
		t.Fatalf("%d polls of one small record allocated %d bytes", polls, n)
	}
}
