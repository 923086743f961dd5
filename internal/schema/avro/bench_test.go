package avro

import (
	"testing"

	hamba "github.com/hamba/avro/v2"
)

func reportPerRecord(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkValidate: the strict check of one typical 10-field record.
func BenchmarkValidate(b *testing.B) {
	s := mustParse(b, tenFields)
	bin := encode(b, s, tenFieldsJSON)
	b.SetBytes(int64(len(bin)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate(bin); err != nil {
			b.Fatal(err)
		}
	}
	reportPerRecord(b)
}

// BenchmarkHambaUnmarshal is the alternative Validate replaced: decoding
// the record into a map with hamba/avro.
func BenchmarkHambaUnmarshal(b *testing.B) {
	s := mustParse(b, tenFields)
	bin := encode(b, s, tenFieldsJSON)
	b.SetBytes(int64(len(bin)))
	b.ReportAllocs()
	for b.Loop() {
		var v any
		if err := hamba.Unmarshal(s.Avro(), bin, &v); err != nil {
			b.Fatal(err)
		}
	}
	reportPerRecord(b)
}

// BenchmarkEncodeJSON: one typical 10-field JSON document to Avro binary.
func BenchmarkEncodeJSON(b *testing.B) {
	s := mustParse(b, tenFields)
	doc := []byte(tenFieldsJSON)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		var err error
		if dst, err = AppendJSON(dst[:0], s, doc); err != nil {
			b.Fatal(err)
		}
	}
	reportPerRecord(b)
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(tenFields, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompatible(b *testing.B) {
	old := mustParse(b, tenFields)
	new := mustParse(b, tenFields)
	b.ReportAllocs()
	for b.Loop() {
		if msgs := Format().Compatible(new, old); len(msgs) > 0 {
			b.Fatal(msgs)
		}
	}
}
