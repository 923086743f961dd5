package embedded

import (
	"testing"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/transport"
)

// BenchmarkDecode decodes one fetch of 1 MiB: batches of 256 records of
// 200 bytes, as a pipeline reading a backlog gets them.
func BenchmarkDecode(b *testing.B) {
	value := make([]byte, 200)
	var buf []byte
	offset := int64(0)
	for len(buf) < 1<<20 {
		recs := make([]record.Record, 256)
		for i := range recs {
			recs[i] = record.Record{Offset: offset, Timestamp: 1_700_000_000_000, Key: []byte("k"), Value: value}
			offset++
		}
		var err error
		if buf, err = record.AppendBatch(buf, recs, record.BatchOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	tp := transport.TopicPartition{Topic: "t", Partition: 0}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		recs, _, _, err := decode(buf, 0, tp)
		if err != nil || len(recs) != int(offset) {
			b.Fatal(err, len(recs))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(offset), "ns/record")
}
