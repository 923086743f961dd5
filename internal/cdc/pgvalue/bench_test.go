package pgvalue

import (
	"encoding/json"
	"strings"
	"testing"
)

type benchValue struct {
	oid  uint32
	text []byte
}

// typicalRow is a change of a typical table: id, name, amount, time, flag.
var typicalRow = []benchValue{
	{oidInt8, []byte("1234567890")},
	{oidText, []byte("Jane Q. Customer <jane@example.com>")},
	{oidNumeric, []byte("1234.56")},
	{oidTimestampTZ, []byte("2026-11-26 05:48:19.123456+00")},
	{oidBool, []byte("t")},
}

// BenchmarkAppendJSON converts a typical row (one op), and values of
// heavier types.
func BenchmarkAppendJSON(b *testing.B) {
	b.Run("row", func(b *testing.B) { benchRow(b, typicalRow) })
	jsonDoc := `{"id": 12345, "name": "some customer name", "tags": ["a", "b", "c"], "address": ` +
		`{"street": "Main Street 1", "city": "Springfield", "zip": "12345"}, "active": true, "score": 12.5}`
	for _, c := range []struct {
		name string
		v    benchValue
	}{
		{"int4[]", benchValue{oidInt4Array, []byte("{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}")}},
		{"text[]", benchValue{oidTextArray, []byte(`{alpha,"beta gamma","with \"quote\"",NULL,delta}`)}},
		{"jsonb", benchValue{oidJSONB, []byte(jsonDoc)}},
		{"bytea", benchValue{oidBytea, []byte(`\x` + strings.Repeat("0123456789abcdef", 64))}},
		{"timestamptz+05:30", benchValue{oidTimestampTZ, []byte("2026-11-26 05:48:19.123456+05:30")}},
	} {
		b.Run(c.name, func(b *testing.B) { benchRow(b, []benchValue{c.v}) })
	}
}

func benchRow(b *testing.B, row []benchValue) {
	r := NewRegistry()
	var size int64
	for _, v := range row {
		size += int64(len(v.text))
	}
	dst := make([]byte, 0, 4096)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		dst = dst[:0]
		for _, v := range row {
			var err error
			if dst, err = r.AppendJSON(dst, v.oid, v.text); err != nil {
				b.Fatal(err)
			}
			dst = append(dst, ',')
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSplitCopyRow splits the COPY line of the typical row.
func BenchmarkSplitCopyRow(b *testing.B) {
	var line []byte
	for i, v := range typicalRow {
		if i > 0 {
			line = append(line, '\t')
		}
		line = appendCopyField(line, v.text, false)
	}
	line = append(line, "\t\\N\tline\\nbreak"...)
	var fields [][]byte
	var nulls []bool
	var buf []byte
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		fields, nulls, buf, _ = SplitCopyRow(line, fields[:0], nulls[:0], buf[:0])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkValidJSON compares validJSON with encoding/json.Valid.
func BenchmarkValidJSON(b *testing.B) {
	doc := []byte(`{"id": 12345, "name": "some customer name", "tags": ["a", "b", "c"], "address": ` +
		`{"street": "Main Street 1", "city": "Springfield", "zip": "12345"}, "active": true, "score": 12.5, "notes": "` +
		strings.Repeat("lorem ipsum ", 40) + `"}`)
	b.Run("pgvalue", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if !validJSON(doc) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if !json.Valid(doc) {
				b.Fatal("invalid")
			}
		}
	})
}
