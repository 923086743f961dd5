package record

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchRecords returns n records of a 16-byte key and a size-byte value of
// JSON-like, moderately compressible text.
func benchRecords(n, size int) []Record {
	rng := rand.New(rand.NewPCG(30, 31))
	recs := make([]Record, n)
	for i := range recs {
		v := make([]byte, 0, size)
		for len(v) < size {
			v = fmt.Appendf(v, `{"id":%d,"user":"u%d","amount":%d.%02d,"ok":true},`, rng.IntN(1e9), rng.IntN(1e5), rng.IntN(1e4), rng.IntN(100))
		}
		recs[i] = Record{
			Timestamp: 1_700_000_000_000 + int64(i),
			Key:       fmt.Appendf(nil, "key-%012d", rng.IntN(1e12)),
			Value:     v[:size],
		}
	}
	return recs
}

// 1 MiB of 1 KiB records, the shape of a full default-sized batch.
const benchRecordCount, benchRecordSize = 1024, 1024

func BenchmarkValidate(b *testing.B) {
	recs := benchRecords(benchRecordCount, benchRecordSize)
	for _, codec := range []Codec{CodecNone, CodecZstd} {
		b.Run(codec.String(), func(b *testing.B) {
			batch := mustAppend(b, recs, BatchOptions{Codec: codec})
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Validate(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*benchRecordCount/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkParseHeader(b *testing.B) {
	batch := mustAppend(b, benchRecords(1, 100), BatchOptions{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHeader(batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendBatch(b *testing.B) {
	recs := benchRecords(benchRecordCount, benchRecordSize)
	raw := int64(len(mustAppend(b, recs, BatchOptions{})))
	for _, codec := range allCodecs {
		b.Run(codec.String(), func(b *testing.B) {
			var dst []byte
			b.SetBytes(raw) // uncompressed bytes in
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = AppendBatch(dst[:0], recs, BatchOptions{Codec: codec}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*benchRecordCount/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(len(dst))/float64(raw), "ratio")
		})
	}
}

func BenchmarkDecodeRecords(b *testing.B) {
	recs := benchRecords(benchRecordCount, benchRecordSize)
	raw := int64(len(mustAppend(b, recs, BatchOptions{})))
	for _, codec := range allCodecs {
		b.Run(codec.String(), func(b *testing.B) {
			batch := mustAppend(b, recs, BatchOptions{Codec: codec})
			b.SetBytes(raw) // uncompressed bytes out
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := DecodeRecords(batch, 4<<20); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*benchRecordCount/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkPartitionForKey(b *testing.B) {
	key := []byte("customer-00001234")
	b.SetBytes(int64(len(key)))
	for b.Loop() {
		PartitionForKey(key, 64)
	}
}
