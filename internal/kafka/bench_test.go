package kafka

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkConsume measures reading through the listener with one franz-go
// consumer: b.N records of 1 KiB over 6 partitions, produced first.
func BenchmarkConsume(b *testing.B) {
	t := &testing.T{}
	ts := startServer(t, b.TempDir())
	b.Cleanup(ts.stop)
	adm := kadm.NewClient(ts.client())
	ctx := context.Background()
	if _, err := adm.CreateTopic(ctx, 6, 1, nil, "bench"); err != nil {
		b.Fatal(err)
	}
	pool := make([]byte, 1<<20)
	_, _ = rand.Read(pool)
	p := ts.client(kgo.DefaultProduceTopic("bench"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := range b.N {
		off := (i * 4099) % (len(pool) - 1024)
		p.Produce(ctx, &kgo.Record{Value: pool[off : off+1024]}, nil)
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	c := ts.client(kgo.ConsumeTopics("bench"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
	got := 0
	for got < b.N {
		fs := c.PollFetches(ctx)
		got += fs.NumRecords()
	}
	b.ReportMetric(float64(got)/time.Since(start).Seconds(), "records/s")
	b.SetBytes(1024)
}
