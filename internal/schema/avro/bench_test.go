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

// The six-field, 200-byte event of `tide bench ingest --schema avro`
// (internal/bench), whose conversion is on HTTP ingestion's path.
const (
	benchEventSchema = `{"type":"record","name":"BenchEvent","namespace":"tide.bench","fields":[` +
		`{"name":"id","type":"long"},{"name":"user_id","type":"string"},{"name":"type","type":"string"},` +
		`{"name":"amount","type":"double"},{"name":"ts","type":"string"},{"name":"pad","type":"string"}]}`
	benchEventJSON = `{"id":1,"user_id":"user-1","type":"page_view","amount":1.01,"ts":"2026-11-26T10:00:00.000Z","pad":"` +
		`xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`
	// The same members in another order than the schema's.
	benchEventShuffledJSON = `{"ts":"2026-11-26T10:00:00.000Z","amount":1.01,"pad":"` +
		`xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",` +
		`"type":"page_view","id":1,"user_id":"user-1"}`
)

// BenchmarkEncodeJSONEvent: the ingest benchmark's event, its members in
// the schema's order and shuffled.
func BenchmarkEncodeJSONEvent(b *testing.B) {
	s := mustParse(b, benchEventSchema)
	for _, c := range []struct{ name, doc string }{{"ordered", benchEventJSON}, {"shuffled", benchEventShuffledJSON}} {
		b.Run(c.name, func(b *testing.B) {
			doc := []byte(c.doc)
			if len(doc) != 200 {
				b.Fatalf("the event has %d bytes", len(doc))
			}
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
		})
	}
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
