package connector

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
)

// Two topic sources of one group read a multi-partition topic
// with small fetches (memory reused often); batches are acknowledged by
// workers out of order after random delays, some released; the second
// source joins midway (a rebalance: onRevoked waits, pending records of
// revoked partitions are dropped). Every message must hold, at ack time,
// the key, value and header it was written with.
func TestTopicSourceReuseUnderRebalance(t *testing.T) {
	tr := newEmbedded(t, embedded.WithFetchBytes(2048), embedded.WithHeartbeatInterval(20*time.Millisecond))
	ctx := testContext(t)
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "t", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	const n = 20000
	for i := 0; i < n; i += 40 {
		recs := make([]*transport.Record, 40)
		for j := range recs {
			k := i + j
			recs[j] = &transport.Record{Topic: "t", Partition: int32(k % 4), Key: fmt.Appendf(nil, "k%d", k),
				Value: fmt.Appendf(nil, `{"i":%d}`, k), Headers: []transport.Header{{Key: "h", Value: fmt.Appendf(nil, "h%d", k)}}}
		}
		if err := tr.Produce(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	var bad atomic.Int64
	var firstBad atomic.Value
	check := func(b Batch) {
		for _, m := range b.Messages {
			var k int
			if _, err := fmt.Sscanf(string(m.Key), "k%d", &k); err != nil ||
				string(m.Value) != fmt.Sprintf(`{"i":%d}`, k) || len(m.Headers) != 1 || string(m.Headers[0].Value) != fmt.Sprintf("h%d", k) {
				if bad.Add(1) == 1 {
					firstBad.Store(fmt.Sprintf("offset %d of p%d: key %q value %q headers %v", m.Origin.Offset, m.Origin.Partition, m.Key, m.Value, m.Headers))
				}
			}
		}
	}
	env := Env{Transport: tr, Group: "g-reuse"}
	runSource := func(ctx context.Context, src Source, read *atomic.Int64) {
		work := make(chan Batch, 32)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for b := range work {
					time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
					check(b)
					if rand.IntN(200) == 0 {
						b.Release()
						check(b) // a task that gave up may still look
						continue
					}
					b.Ack()
				}
			})
		}
		for ctx.Err() == nil {
			b, err := src.Read(ctx)
			if err != nil {
				break
			}
			check(b)
			read.Add(int64(len(b.Messages)))
			work <- b
		}
		close(work)
		wg.Wait()
	}
	src1, err := NewSource("topic", nil, map[string]string{"topic": "t"}, env)
	if err != nil {
		t.Fatal(err)
	}
	src2, err := NewSource("topic", nil, map[string]string{"topic": "t"}, env)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	var read1, read2 atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() { runSource(runCtx, src1, &read1) })
	time.Sleep(100 * time.Millisecond)
	wg.Go(func() { runSource(runCtx, src2, &read2) })
	for runCtx.Err() == nil && read1.Load()+read2.Load() < n {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	closeCtx, cc := context.WithTimeout(context.Background(), 10*time.Second)
	defer cc()
	_ = src1.Close(closeCtx)
	_ = src2.Close(closeCtx)
	t.Logf("read %d + %d messages", read1.Load(), read2.Load())
	if b := bad.Load(); b > 0 {
		t.Fatalf("%d messages changed before their batch was acknowledged; first: %v", b, firstBad.Load())
	}
}
