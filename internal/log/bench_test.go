package log

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/record"
)

// benchBatch is one batch of n records of size bytes each.
func benchBatch(b *testing.B, n, size int) []byte {
	b.Helper()
	rs := make([]record.Record, n)
	for i := range rs {
		rs[i] = record.Record{Value: make([]byte, size)}
	}
	batch, err := record.AppendBatch(nil, rs, record.BatchOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return batch
}

// BenchmarkAppend is one op per append of one batch to one partition: the
// append path's own cost with fsync=never (records of 100 bytes, batches
// of 1 and 100 records), and with fsync=always from 16 writers sharing
// fsyncs.
func BenchmarkAppend(b *testing.B) {
	for _, records := range []int{1, 100} {
		b.Run(fmt.Sprintf("fsync=never/records=%d", records), func(b *testing.B) {
			p := benchPartition(b, FsyncNever)
			batch := benchBatch(b, records, 100)
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := p.Append(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
		})
	}
	for _, observed := range []bool{false, true} {
		name := "fsync=always/records=10/writers=16"
		var opts []Option
		if observed {
			// What the server's histogram costs, about: an atomic add.
			var sum atomic.Int64
			name += "/observer"
			opts = append(opts, WithFsyncObserver(func(d time.Duration) { sum.Add(int64(d)) }))
		}
		b.Run(name, func(b *testing.B) { benchAppendAlways(b, opts...) })
	}
}

// benchAppendAlways appends 10-record batches with fsync=always from 16
// writers, which share fsyncs.
func benchAppendAlways(b *testing.B, opts ...Option) {
	p := benchPartition(b, FsyncAlways, opts...)
	b.SetParallelism(8) // 16 writers on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		batch := benchBatch(b, 10, 100)
		for pb.Next() {
			if _, err := p.Append(batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchPartition(b *testing.B, mode FsyncMode, opts ...Option) *Partition {
	b.Helper()
	l, err := Open(filepath.Join(b.TempDir(), "data"), append([]Option{WithCleanerInterval(0)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close() })
	t, err := l.CreateTopic("bench", 1, map[string]string{ConfigFsync: string(mode)})
	if err != nil {
		b.Fatal(err)
	}
	return t.Partitions()[0]
}
