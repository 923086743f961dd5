package jsonschema

import (
	"fmt"
	"testing"

	"github.com/tide-data/tide/internal/schema"
)

// benchEventSchema and benchEventPayload are the schema and a 200 B
// event of `tide bench ingest --schema json` (internal/bench): six
// properties, all required, no additional ones.
const benchEventSchema = `{"type":"object","properties":{` +
	`"id":{"type":"integer"},"user_id":{"type":"string"},"type":{"type":"string"},` +
	`"amount":{"type":"number"},"ts":{"type":"string"},"pad":{"type":"string"}},` +
	`"required":["id","user_id","type","amount","ts","pad"],"additionalProperties":false}`

func benchEventPayload(i, size int) []byte {
	b := fmt.Appendf(nil, `{"id":%d,"user_id":"user-%d","type":"page_view","amount":%d.%02d,"ts":"2026-11-26T10:00:00.000Z","pad":"`, i, i%1000, i%500, i%100)
	for len(b) < size-2 {
		b = append(b, 'x')
	}
	return append(b, '"', '}')
}

// BenchmarkValidateBenchEvent validates the ingest benchmark's event:
// what strict validation costs per event on the HTTP ingestion path.
func BenchmarkValidateBenchEvent(b *testing.B) {
	p := mustParse(b, benchEventSchema, nil)
	payload := benchEventPayload(4242, 200)
	v := Format().(schema.Validator)
	if err := v.Validate(p, payload); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Validate(p, payload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkValidateRejected is the price of a refused event: the fast
// path's rejection and the library run that explains it.
func BenchmarkValidateRejected(b *testing.B) {
	p := mustParse(b, benchEventSchema, nil)
	payload := []byte(`{"id":"x","user_id":"u","type":"t","amount":1,"ts":"t","pad":"p"}`)
	v := Format().(schema.Validator)
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Validate(p, payload); err == nil {
			b.Fatal("accepted")
		}
	}
}
