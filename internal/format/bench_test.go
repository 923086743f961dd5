package format

import (
	"testing"

	"github.com/valyala/fastjson"

	"github.com/tide-data/tide/internal/sql/types"
)

// event200B is a realistic ~200-byte click-stream event with 9 fields.
const event200B = `{"event_id":918273645,"user_id":4711,"action":"add_to_cart","page":"/products/blue-widget","price":129.99,` +
	`"quantity":3,"ts":"2024-06-01T12:34:56.789Z","country":"DE","session":"3f2a9c1e-8b7d-4e21-a9f0-5c6d7e8f9a0b"}`

func benchColumns(t testing.TB) ([]Column, types.Row) {
	t.Helper()
	cols := []Column{
		{Name: "event_id", Type: types.KindInt8},
		{Name: "user_id", Type: types.KindInt8},
		{Name: "action", Type: types.KindText},
		{Name: "page", Type: types.KindText},
		{Name: "price", Type: types.KindFloat8},
		{Name: "quantity", Type: types.KindInt4},
		{Name: "ts", Type: types.KindTimestampTZ},
		{Name: "country", Type: types.KindText},
		{Name: "session", Type: types.KindText},
	}
	row := make(types.Row, len(cols))
	if err := mustDecoder(t, cols, nil).Decode([]byte(event200B), row); err != nil {
		t.Fatal(err)
	}
	return cols, row
}

func reportRecords(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodeEncode200B is the format's share of a pipeline's work
// per record: decode the event into a row, encode the row back.
func BenchmarkDecodeEncode200B(b *testing.B) {
	cols, _ := benchColumns(b)
	dec := mustDecoder(b, cols, nil)
	enc := mustEncoder(b, cols)
	data := []byte(event200B)
	row := make(types.Row, len(cols))
	buf := make([]byte, 0, 512)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := dec.Decode(data, row); err != nil {
			b.Fatal(err)
		}
		var err error
		if buf, err = enc.Encode(buf[:0], row); err != nil {
			b.Fatal(err)
		}
	}
	reportRecords(b)
}

// BenchmarkCeilingFastjson200B is what decode+encode is measured
// against: fastjson parsing the same event and writing it back, with no
// types and no checks. The target is >= 70% of its throughput.
func BenchmarkCeilingFastjson200B(b *testing.B) {
	var p fastjson.Parser
	data := []byte(event200B)
	buf := make([]byte, 0, 512)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		v, err := p.ParseBytes(data)
		if err != nil {
			b.Fatal(err)
		}
		buf = v.MarshalTo(buf[:0])
	}
	reportRecords(b)
}

func BenchmarkDecode200B(b *testing.B) {
	cols, _ := benchColumns(b)
	dec := mustDecoder(b, cols, nil)
	data := []byte(event200B)
	row := make(types.Row, len(cols))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := dec.Decode(data, row); err != nil {
			b.Fatal(err)
		}
	}
	reportRecords(b)
}

func BenchmarkEncode200B(b *testing.B) {
	cols, row := benchColumns(b)
	enc := mustEncoder(b, cols)
	buf := make([]byte, 0, 512)
	b.SetBytes(int64(len(event200B)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = enc.Encode(buf[:0], row); err != nil {
			b.Fatal(err)
		}
	}
	reportRecords(b)
}
