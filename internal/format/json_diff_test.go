package format

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/types"
)

// The differential tests hold the single-pass decoder (json_decode.go,
// json_scan.go) to the fastjson-based one it replaced (refDecoder, in
// json_decode_ref_test.go): on every input, valid or not, both must give
// the same values, or the same error with the same code and message.

// diffColumns are columns of every kind, with names that need escaping
// or unescaping, and names alike in length and first bytes.
var diffColumns = []Column{
	{Name: "id", Type: types.KindInt8},
	{Name: "n", Type: types.KindInt2},
	{Name: "i4", Type: types.KindInt4},
	{Name: "f", Type: types.KindFloat8},
	{Name: "amount", Type: types.KindNumeric},
	{Name: "name", Type: types.KindText},
	{Name: "nbme", Type: types.KindText},
	{Name: "ok", Type: types.KindBool},
	{Name: "at", Type: types.KindTimestampTZ},
	{Name: "ts", Type: types.KindTimestamp},
	{Name: "day", Type: types.KindDate},
	{Name: "ttl", Type: types.KindInterval},
	{Name: "raw", Type: types.KindBytea},
	{Name: "doc", Type: types.KindJSON},
	{Name: `we"ird\`, Type: types.KindText},
	{Name: "é", Type: types.KindInt4},
	{Name: "quantity", Type: types.KindInt4},           // 8 bytes, and 9 with the quote
	{Name: "created_at_ms", Type: types.KindTimestamp}, // two overlapping words
	{Name: "fifteen_chars_x", Type: types.KindText},
	{Name: "sixteen_chars_xy", Type: types.KindFloat8},
	{Name: "a_rather_long_column_name", Type: types.KindText},
}

// diffColumnsWide has more columns than refByNameThreshold, so the
// reference looks names up in its map.
var diffColumnsWide = func() []Column {
	cols := append([]Column(nil), diffColumns...)
	for i := range 6 {
		cols = append(cols, Column{Name: "x" + itoa(i), Type: allKinds[i%len(allKinds)]})
	}
	return cols
}()

var diffOptions = []map[string]string{
	nil,
	{"json.fail-on-missing-field": "true"},
	{"json.ignore-parse-errors": "true"},
}

// diffPair is one column set under one set of options, decoded both ways.
type diffPair struct {
	cols []Column
	opts map[string]string
	dec  Decoder
	ref  *refDecoder
}

func diffPairs(t testing.TB) []diffPair {
	t.Helper()
	var pairs []diffPair
	for _, cols := range [][]Column{diffColumns, diffColumnsWide, diffColumns[:1]} {
		for _, opts := range diffOptions {
			ref, err := newRefDecoder(cols, opts)
			if err != nil {
				t.Fatal(err)
			}
			pairs = append(pairs, diffPair{cols: cols, opts: opts, dec: mustDecoder(t, cols, opts), ref: ref})
		}
	}
	return pairs
}

// checkSame decodes data with both decoders of p and fails on any
// difference.
func checkSame(t testing.TB, p diffPair, data []byte) {
	t.Helper()
	n := len(p.cols)
	got, want := make(types.Row, n), make(types.Row, n)
	input := append([]byte(nil), data...)
	err := p.dec.Decode(input, got)
	if string(input) != string(data) {
		t.Fatalf("%q: Decode modified its input", data)
	}
	refErr := p.ref.Decode(data, want)
	if (err == nil) != (refErr == nil) {
		t.Fatalf("%q (options %v): error %v, reference %v", data, p.opts, err, refErr)
	}
	if err != nil {
		if errors.Is(refErr, ErrSkip) != errors.Is(err, ErrSkip) {
			t.Fatalf("%q (options %v): error %v, reference %v", data, p.opts, err, refErr)
		}
		var te, refTE *types.Error
		if errors.As(refErr, &refTE) {
			if !errors.As(err, &te) || te.Code != refTE.Code || te.Message != refTE.Message {
				t.Fatalf("%q (options %v): error %#v, reference %#v", data, p.opts, err, refErr)
			}
		}
		return
	}
	for i := range n {
		if !sameValue(got[i], want[i]) || got[i].String() != want[i].String() {
			t.Fatalf("%q (options %v): column %q is %s, reference %s", data, p.opts, p.cols[i].Name, show(got[i]), show(want[i]))
		}
	}
}

// genRecord builds a random record: usually an object with some of the
// columns' fields and some unknown ones, values of any type (often the
// wrong one), with fastjson's leniencies and JSON's corner cases.
func genRecord(rng *rand.Rand) []byte {
	var b []byte
	if rng.IntN(20) == 0 {
		return genValue(rng, b, 0)
	}
	b = append(b, ws(rng)...)
	b = append(b, '{')
	for k := range rng.IntN(8) {
		if k > 0 {
			b = append(b, ws(rng)...)
			b = append(b, ',')
		}
		b = append(b, ws(rng)...)
		if rng.IntN(2) == 0 { // a column's field with a value of its type
			c := diffColumnsWide[rng.IntN(len(diffColumnsWide))]
			b = appendString(b, c.Name, false)
			b = append(b, ws(rng)...)
			b = append(b, ':')
			b = append(b, ws(rng)...)
			if v := randomValue(rng, c.Type); rng.IntN(4) == 0 {
				b = append(b, `"`+v.String()+`"`...) // Postgres' text of it, quoted as it is
			} else {
				b, _ = appendJSONValue(b, &v)
			}
			continue
		}
		b = append(b, genKey(rng)...)
		b = append(b, ws(rng)...)
		b = append(b, ':')
		b = append(b, ws(rng)...)
		b = genValue(rng, b, 1)
	}
	b = append(b, ws(rng)...)
	b = append(b, '}')
	return append(b, ws(rng)...)
}

func ws(rng *rand.Rand) string {
	switch rng.IntN(40) {
	case 0:
		return []string{"\f", "\v", "\x00", "\u00a0"}[rng.IntN(4)] // not JSON whitespace
	case 1, 2, 3, 4, 5, 6, 7, 8, 9, 10:
		return []string{" ", "\n", "\t\r ", "\r\n  "}[rng.IntN(4)]
	}
	return ""
}

func genKey(rng *rand.Rand) string {
	switch rng.IntN(10) {
	case 0:
		return []string{`"we\"ird\\"`, `"\u00e9"`, `"\u00E9"`, `"é"`, `"n\u0061me"`, `"i\4"`, `""`, `"\"`, `"nam\e"`}[rng.IntN(9)]
	case 1:
		return `"` + randomKeyText(rng) + `"`
	case 2: // a near miss
		name := diffColumnsWide[rng.IntN(len(diffColumnsWide))].Name
		switch rng.IntN(3) {
		case 0:
			return `"` + name + `x"`
		case 1:
			return `"` + name[:len(name)-1] + `"`
		}
		return `"x` + name[1:] + `"`
	}
	return `"` + diffColumnsWide[rng.IntN(len(diffColumnsWide))].Name + `"`
}

func randomKeyText(rng *rand.Rand) string {
	alphabet := []string{"a", "n", "m", "e", "i", "d", "x", "0", "_", "é"}
	var sb strings.Builder
	for range rng.IntN(6) {
		sb.WriteString(alphabet[rng.IntN(len(alphabet))])
	}
	return sb.String()
}

// interestingScalars are values worth trying in every column.
var interestingScalars = []string{
	`0`, `-0`, `1`, `-1`, `42`, `1.0`, `1.5`, `-7.0`, `1e3`, `1E+2`, `1e-2`, `01`, `-`, `+1`, `.5`, `1.`, `1.2.3`, `1e`, `--1`, `1-`,
	`9223372036854775807`, `9223372036854775808`, `-9223372036854775808`, `-9223372036854775809`, `1e19`, `1e999999999999`,
	`32767`, `32768`, `2147483648`, `1e400`, `1e-400`, `0e-400`, `123.4500`, `1704164645123`, `86399999`, `e`, `E5`,
	`nan`, `NaN`, `nAn`, `-nan`, `+NaN`, `inf`, `-Inf`, `+INF`, `Infinity`, `-Infinity`, `infinity`, `nul`, `tru`, `fals`,
	`true`, `false`, `null`, `True`, `NULL`,
	`""`, `"abc"`, `"12"`, `"NaN"`, `"-Infinity"`, `"+inf"`, `"true"`, `"héllo\n\u00e9"`, `"\u0000"`, `"a\u0000b"`,
	`"\ud800"`, `"\ud83d\ude00"`, `"\ud83d\u0041"`, `"\ud83d"`, `"\ud83d\"`, `"\uZZZZ"`, `"\u12"`, `"\q"`, `"\/"`, `"\\"`,
	`"\""`, `"a\\\"b"`, "\"\x80\"", "\"\xff\xfe\"", "\"tab\there\"", "\"nl\nraw\"", `"\b\f\n\r\t"`,
	`"2024-01-02T03:04:05.5Z"`, `"2024-01-02 03:04:05+05:30"`, `"2024-01-02T03:04:05.1234567Z"`, `" 2024-01-02 03:04:05 "`,
	`"2024-13-01T00:00:00"`, `"2024-02-29"`, `"2023-02-29"`, `"infinity"`, `"-infinity"`, `"0044-03-15 12:00:00 BC"`,
	`"2024-01-02T03:04:05\u002b01:00"`, `"1 day 02:00:00"`, `"P1DT2H"`, `"\\x0102AB"`, `"\\x0"`, `"\\x"`, `"\\xzz"`, `"a\\\\b"`,
	`[]`, `{}`, `[1, 2]`, `[1,]`, `{"a":1,}`, `{"b" : [1 , 2], "a":"\u00e9"}`, `[nan]`, `{"x":1.2.3}`, `[[[]]]`, `{"a":{"b":null}}`,
	`{"a":1,"a":2}`, `[true,false,null,"s",-0.0]`, `[1 2]`, `{"a" 1}`, `{1:2}`, `[`, `{`, `]`, `}`, `"`, `"unterminated`,
}

func genValue(rng *rand.Rand, b []byte, depth int) []byte {
	switch r := rng.IntN(12); {
	case r < 7 || depth > 4:
		return append(b, interestingScalars[rng.IntN(len(interestingScalars))]...)
	case r < 8:
		return append(b, `"`+randomString(rng)+`"`...)
	case r < 10:
		b = append(b, '[')
		for k := range rng.IntN(4) {
			if k > 0 {
				b = append(b, ',')
			}
			b = append(b, ws(rng)...)
			b = genValue(rng, b, depth+1)
		}
		return append(b, ']')
	default:
		b = append(b, '{')
		for k := range rng.IntN(4) {
			if k > 0 {
				b = append(b, ',')
			}
			b = append(b, genKey(rng)...)
			b = append(b, ':')
			b = append(b, ws(rng)...)
			b = genValue(rng, b, depth+1)
		}
		return append(b, '}')
	}
}

// mutate damages a record now and then: a byte dropped, inserted,
// replaced, or the record cut short.
func mutate(rng *rand.Rand, b []byte) []byte {
	if len(b) == 0 || rng.IntN(3) == 0 {
		return b
	}
	pos := rng.IntN(len(b))
	alphabet := []byte("{}[]:,\"\\ \n0-+.eEnatfuli\x00\x80x")
	switch rng.IntN(4) {
	case 0:
		return append(b[:pos:pos], b[pos+1:]...)
	case 1:
		return append(b[:pos:pos], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[pos:]...)...)
	case 2:
		out := append([]byte(nil), b...)
		out[pos] = alphabet[rng.IntN(len(alphabet))]
		return out
	}
	return b[:pos]
}

func TestDecodeDifferential(t *testing.T) {
	pairs := diffPairs(t)
	rng := rand.New(rand.NewPCG(11, 12))
	n := 10000 // FuzzDecodeDifferential goes further
	if testing.Short() {
		n = 1000
	}
	for range n {
		data := mutate(rng, genRecord(rng))
		for _, p := range pairs {
			checkSame(t, p, data)
		}
	}
	// Every scalar in every column, alone and among others.
	for _, p := range pairs {
		for _, c := range p.cols {
			for _, v := range interestingScalars {
				checkSame(t, p, []byte(`{"`+strings.ReplaceAll(strings.ReplaceAll(c.Name, `\`, `\\`), `"`, `\"`)+`":`+v+`}`))
				checkSame(t, p, []byte(`{"zz":`+v+`, "id": 7}`))
				checkSame(t, p, []byte(v))
			}
		}
	}
}

// TestDecodeDifferentialDepth checks the nesting limit, fastjson's 300
// values deep, in a read field and in a skipped one.
func TestDecodeDifferentialDepth(t *testing.T) {
	pairs := diffPairs(t)[:len(diffOptions)] // fastjson's messages of deep records cost time squared
	for _, key := range []string{"doc", "name", "unknown"} {
		for depth := 299; depth <= 301; depth++ {
			for _, inner := range []string{"", "1"} {
				doc := `{"` + key + `":` + strings.Repeat("[", depth) + inner + strings.Repeat("]", depth) + `}`
				for _, p := range pairs {
					checkSame(t, p, []byte(doc))
				}
				obj := `{"` + key + `":` + strings.Repeat(`{"k":`, depth) + "0" + strings.Repeat("}", depth) + `}`
				for _, p := range pairs {
					checkSame(t, p, []byte(obj))
				}
			}
		}
	}
}

func FuzzDecodeDifferential(f *testing.F) {
	rng := rand.New(rand.NewPCG(13, 14))
	for range 200 {
		f.Add(genRecord(rng))
	}
	f.Add([]byte(event200B))
	f.Add([]byte(`{"id":1,"name":"x","amount":1.5,"at":"2024-01-02T03:04:05Z","doc":[1,{"a":null}],"ok":true}`))
	f.Add([]byte(`{"doc":nAn}`))
	f.Add([]byte(` [1,2] `))
	pairs := diffPairs(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range pairs {
			checkSame(t, p, data)
		}
	})
}
