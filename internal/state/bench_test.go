package state

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// BenchmarkRestore measures a task's state restore from its changelog on
// the embedded log: 100,000 keys of 16 bytes with 200-byte values (a
// window entry of a few aggregates is about 100 to 300 bytes), replayed
// into a new store. The figure the issue asks for, restore time per GiB
// of changelog, is reported as s/GiB.
func BenchmarkRestore(b *testing.B) {
	const keys, valueSize = 100_000, 200
	n := changelogNode(b)
	tr := n.Transport
	ctx := context.Background()
	value := make([]byte, valueSize)
	var total int64
	batch := make([]*transport.Record, 0, 5000)
	for i := range keys {
		for j := range value {
			value[j] = byte('a' + (i+j)%26)
		}
		key := fmt.Appendf(nil, "key-%012d", i)
		batch = append(batch, &transport.Record{Topic: testChangelog.Topic, Partition: testChangelog.Partition, Key: key, Value: append([]byte(nil), value...)})
		total += int64(len(key) + len(value))
		if len(batch) == cap(batch) || i == keys-1 {
			if err := tr.Produce(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.SetBytes(total)
	b.ResetTimer()
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		s := open(b, b.TempDir())
		b.StartTimer()
		began := time.Now()
		stats, err := s.Restore(ctx, tr, testChangelog)
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(began)
		b.StopTimer()
		if stats.Records != keys {
			b.Fatalf("restored %d records", stats.Records)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	secs := elapsed.Seconds() / float64(b.N)
	b.ReportMetric(keys/secs, "records/s")
	b.ReportMetric(secs*float64(1<<30)/float64(total), "s/GiB")
}
