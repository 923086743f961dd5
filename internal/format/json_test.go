package format

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"

	"github.com/tide-data/tide/internal/sql/types"
)

func mustDecoder(t testing.TB, cols []Column, opts map[string]string) Decoder {
	t.Helper()
	d, err := NewDecoder("json", cols, opts, Env{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustEncoder(t testing.TB, cols []Column) Encoder {
	t.Helper()
	e, err := NewEncoder("json", cols, nil, Env{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func numeric(t testing.TB, s string) types.Value {
	t.Helper()
	d, err := types.ParseNumeric(s)
	if err != nil {
		t.Fatal(err)
	}
	return types.NewNumeric(d)
}

func parse(t testing.TB, k types.Kind, s string) types.Value {
	t.Helper()
	v, err := types.ParseText(k, s)
	if err != nil {
		t.Fatalf("ParseText(%s, %q): %v", k, s, err)
	}
	return v
}

// sameValue compares two values by kind, nullness and Postgres text.
func sameValue(a, b types.Value) bool {
	if a.Kind() != b.Kind() || a.IsNull() != b.IsNull() {
		return false
	}
	return string(a.AppendText(nil)) == string(b.AppendText(nil))
}

func show(v types.Value) string {
	return v.Kind().String() + ":" + v.String()
}

// TestJSONEveryKind encodes one value of each kind, checks the text
// against what Postgres' to_json gives, and decodes it back.
func TestJSONEveryKind(t *testing.T) {
	cases := []struct {
		v    types.Value
		json string
	}{
		{types.NewBool(true), `true`},
		{types.NewBool(false), `false`},
		{types.NewInt(types.KindInt2, -32768), `-32768`},
		{types.NewInt4(2147483647), `2147483647`},
		{types.NewInt8(math.MinInt64), `-9223372036854775808`},
		{types.NewFloat8(1.5), `1.5`},
		{types.NewFloat8(1e20), `1e+20`},
		{types.NewFloat8(123456789012345), `123456789012345`},
		{types.NewFloat8(0.0001), `0.0001`},
		{types.NewFloat8(1e-5), `1e-05`},
		{types.NewFloat8(math.Copysign(0, -1)), `-0`},
		{types.NewFloat8(math.NaN()), `"NaN"`},
		{types.NewFloat8(math.Inf(1)), `"Infinity"`},
		{types.NewFloat8(math.Inf(-1)), `"-Infinity"`},
		{numeric(t, "12.50"), `12.50`},
		{numeric(t, "-0.000001"), `-0.000001`},
		{numeric(t, "NaN"), `"NaN"`},
		{numeric(t, "-Infinity"), `"-Infinity"`},
		{types.NewText(`a"b\c` + "\n\t<&>\u2028é"), `"a\"b\\c\n\t\u003c\u0026\u003e\u2028é"`},
		{types.NewText(""), `""`},
		{types.NewBytea([]byte{1, 2, 0xab}), `"\\x0102ab"`},
		{types.NewBytea(nil), `"\\x"`},
		{parse(t, types.KindTimestamp, "2024-01-02 03:04:05.123456"), `"2024-01-02T03:04:05.123456"`},
		{parse(t, types.KindTimestamp, "2024-01-02 03:04:05.12"), `"2024-01-02T03:04:05.12"`},
		{parse(t, types.KindTimestamp, "1969-12-31 23:59:59"), `"1969-12-31T23:59:59"`},
		{parse(t, types.KindTimestampTZ, "2024-01-02 03:04:05.123456+00"), `"2024-01-02T03:04:05.123456+00:00"`},
		{parse(t, types.KindTimestampTZ, "2024-01-02 05:04:05+02"), `"2024-01-02T03:04:05+00:00"`},
		{parse(t, types.KindTimestamp, "infinity"), `"infinity"`},
		{parse(t, types.KindTimestampTZ, "-infinity"), `"-infinity"`},
		{parse(t, types.KindTimestamp, "0044-03-15 12:00:00 BC"), `"0044-03-15T12:00:00 BC"`},
		{parse(t, types.KindTimestampTZ, "0044-03-15 12:00:00+00 BC"), `"0044-03-15T12:00:00+00:00 BC"`},
		{parse(t, types.KindTimestamp, "20000-01-01 00:00:00"), `"20000-01-01T00:00:00"`},
		{parse(t, types.KindDate, "2024-02-29"), `"2024-02-29"`},
		{parse(t, types.KindDate, "infinity"), `"infinity"`},
		{parse(t, types.KindDate, "0001-01-01 BC"), `"0001-01-01 BC"`},
		{parse(t, types.KindInterval, "1 day 2 hours"), `"1 day 02:00:00"`},
		{parse(t, types.KindInterval, "-1 year 2 mons 3 days 00:00:00.5"), `"-10 mons +3 days 00:00:00.5"`},
		{parse(t, types.KindJSON, `{"b": [1, 2.50, null], "a": "x"}`), `{"a": "x", "b": [1, 2.50, null]}`},
		{types.Null(types.KindInt4), `null`},
		{types.Null(types.KindJSON), `null`},
	}
	for _, c := range cases {
		cols := []Column{{Name: "v", Type: c.v.Kind()}}
		enc := mustEncoder(t, cols)
		out, err := enc.Encode(nil, types.Row{c.v})
		if err != nil {
			t.Errorf("%s: %v", show(c.v), err)
			continue
		}
		if want := `{"v":` + c.json + `}`; string(out) != want {
			t.Errorf("%s: encoded %s, want %s", show(c.v), out, want)
		}
		if !json.Valid(out) {
			t.Errorf("%s: %s is not valid JSON", show(c.v), out)
		}
		row := make(types.Row, 1)
		if err := mustDecoder(t, cols, nil).Decode(out, row); err != nil {
			t.Errorf("%s: decode %s: %v", show(c.v), out, err)
			continue
		}
		if !sameValue(row[0], c.v) {
			t.Errorf("%s: decoded back as %s", show(c.v), show(row[0]))
		}
	}
}

func TestJSONDecodeConversions(t *testing.T) {
	type tc struct {
		kind  types.Kind
		field string // the JSON value; "" = field missing
		want  string // Postgres text of the value, "NULL", or "error: ..." (substring)
		code  string // SQLSTATE of the error
	}
	cases := []tc{
		{types.KindInt4, `42`, "42", ""},
		{types.KindInt4, `-7.0`, "-7", ""},
		{types.KindInt8, `1e3`, "1000", ""},
		{types.KindInt8, `9223372036854775807`, "9223372036854775807", ""},
		{types.KindInt8, `9223372036854775808`, `error: column "v": bigint out of range`, "22003"},
		{types.KindInt8, `1e19`, `error: column "v": bigint out of range`, "22003"},
		{types.KindInt8, `1e999999999999`, `error: column "v": bigint out of range`, "22003"},
		{types.KindInt4, `2147483648`, `error: column "v": integer out of range`, "22003"},
		{types.KindInt2, `-32769`, `error: column "v": smallint out of range`, "22003"},
		{types.KindInt4, `1.5`, `error: column "v": invalid input syntax for type integer: "1.5"`, "22P02"},
		{types.KindInt4, `"abc"`, `error: column "v": expected number for integer, found string "abc"`, "22P02"},
		{types.KindInt4, `"12"`, `error: column "v": expected number for integer, found string "12"`, "22P02"},
		{types.KindInt4, `true`, `error: expected number for integer, found boolean true`, "22P02"},
		{types.KindInt4, `NaN`, `error: column "v": invalid input syntax for type json`, "22P02"},
		{types.KindInt4, `01`, `error: invalid input syntax for type json`, "22P02"},
		{types.KindInt4, `null`, "NULL", ""},
		{types.KindInt4, ``, "NULL", ""},
		{types.KindFloat8, `1.25`, "1.25", ""},
		{types.KindFloat8, `-1e-300`, "-1e-300", ""},
		{types.KindFloat8, `"NaN"`, "NaN", ""},
		{types.KindFloat8, `"-Infinity"`, "-Infinity", ""},
		{types.KindFloat8, `1e400`, `error: column "v": "1e400" is out of range for type double precision`, "22003"},
		{types.KindFloat8, `1e-400`, `error: out of range`, "22003"},
		{types.KindFloat8, `0e-400`, "0", ""},
		{types.KindFloat8, `"1.5"`, `error: expected number for double precision, found string "1.5"`, "22P02"},
		{types.KindNumeric, `123.4500`, "123.4500", ""},
		{types.KindNumeric, `1e3`, "1000", ""},
		{types.KindNumeric, `-0`, "0", ""},
		{types.KindNumeric, `"Infinity"`, "Infinity", ""},
		{types.KindNumeric, `[1]`, `error: expected number for numeric, found array`, "22P02"},
		{types.KindText, `"héllo\n\u00e9"`, "héllo\né", ""},
		{types.KindText, `1.50`, "1.50", ""},
		{types.KindText, `true`, "true", ""},
		{types.KindText, `{"b":1, "a":[true]}`, `{"a": [true], "b": 1}`, ""},
		{types.KindBool, `true`, "t", ""},
		{types.KindBool, `"true"`, `error: expected boolean for boolean, found string "true"`, "22P02"},
		{types.KindTimestamp, `"2024-01-02T03:04:05.5Z"`, "2024-01-02 03:04:05.5", ""},
		{types.KindTimestamp, `"2024-01-02 03:04:05+05:30"`, "2024-01-02 03:04:05", ""},
		{types.KindTimestampTZ, `"2024-01-02T03:04:05+05:30"`, "2024-01-01 21:34:05+00", ""},
		{types.KindTimestampTZ, `"2024-01-02T03:04:05"`, "2024-01-02 03:04:05+00", ""},
		{types.KindTimestampTZ, `"2024-01-02T03:04:05.1234567Z"`, "2024-01-02 03:04:05.123457+00", ""},
		{types.KindTimestampTZ, `" 2024-01-02 03:04:05 "`, "2024-01-02 03:04:05+00", ""},
		{types.KindTimestampTZ, `1704164645123`, "2024-01-02 03:04:05.123+00", ""},
		{types.KindTimestamp, `-1`, "1969-12-31 23:59:59.999", ""},
		{types.KindTimestamp, `9223372036854775807`, `error: timestamp out of range`, "22008"},
		{types.KindTimestamp, `"2024-13-01T00:00:00"`, `error: column "v": `, ""},
		{types.KindTimestamp, `"yesterday-ish"`, `error: column "v": invalid input syntax for type timestamp`, ""},
		{types.KindTimestamp, `{}`, `error: expected string or number for timestamp without time zone, found object`, "22P02"},
		{types.KindDate, `"2024-02-29"`, "2024-02-29", ""},
		{types.KindDate, `"2023-02-29"`, `error: column "v": `, ""},
		{types.KindDate, `86399999`, "1970-01-01", ""},
		{types.KindDate, `-1`, "1969-12-31", ""},
		{types.KindInterval, `"1 day 02:00:00"`, "1 day 02:00:00", ""},
		{types.KindInterval, `"P1DT2H"`, "1 day 02:00:00", ""},
		{types.KindInterval, `3600`, `error: expected string for interval, found number 3600`, "22P02"},
		{types.KindBytea, `"\\x0102AB"`, `\x0102ab`, ""},
		{types.KindBytea, `"abc"`, `\x616263`, ""}, // Postgres' escape format
		{types.KindBytea, `"\\x0"`, `error: column "v": `, ""},
		{types.KindJSON, `{"b" : [1 , 2], "a":"\u00e9"}`, `{"a": "é", "b": [1, 2]}`, ""},
		{types.KindJSON, `"s"`, `"s"`, ""},
		{types.KindJSON, `12.0`, `12.0`, ""},
	}
	for _, c := range cases {
		cols := []Column{{Name: "other", Type: types.KindInt4}, {Name: "v", Type: c.kind}}
		doc := `{"other":1}`
		if c.field != "" {
			doc = `{"other":1,"v":` + c.field + `}`
		}
		row := make(types.Row, 2)
		err := mustDecoder(t, cols, nil).Decode([]byte(doc), row)
		if wantErr, isErr := strings.CutPrefix(c.want, "error: "); isErr {
			var te *types.Error
			switch {
			case err == nil:
				t.Errorf("%s from %s: got %s, want error %q", c.kind, c.field, show(row[1]), wantErr)
			case !errors.As(err, &te):
				t.Errorf("%s from %s: error %v is not a *types.Error", c.kind, c.field, err)
			case !strings.Contains(err.Error(), wantErr):
				t.Errorf("%s from %s: error %q, want %q", c.kind, c.field, err, wantErr)
			case c.code != "" && te.Code != c.code:
				t.Errorf("%s from %s: code %s, want %s", c.kind, c.field, te.Code, c.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s from %s: %v", c.kind, c.field, err)
			continue
		}
		if row[1].Kind() != c.kind {
			t.Errorf("%s from %s: kind %s", c.kind, c.field, row[1].Kind())
		}
		if got := row[1].String(); got != c.want {
			t.Errorf("%s from %s: got %q, want %q", c.kind, c.field, got, c.want)
		}
	}
}

func TestJSONDecodeRecordErrors(t *testing.T) {
	cols := []Column{{Name: "a", Type: types.KindInt4}, {Name: "b", Type: types.KindText}}
	row := make(types.Row, 2)
	for _, doc := range []string{``, `[1]`, `"x"`, `{"a":1`, `{"a":1}x`, `null`} {
		err := mustDecoder(t, cols, nil).Decode([]byte(doc), row)
		var te *types.Error
		if !errors.As(err, &te) || te.Code != "22P02" {
			t.Errorf("%q: error %v, want a 22P02 *types.Error", doc, err)
		}
		err = mustDecoder(t, cols, map[string]string{"json.ignore-parse-errors": "true"}).Decode([]byte(doc), row)
		if !errors.Is(err, ErrSkip) {
			t.Errorf("%q ignoring parse errors: %v, want ErrSkip", doc, err)
		}
	}

	// Ignoring parse errors: a bad field is NULL, the others are kept.
	d := mustDecoder(t, cols, map[string]string{"json.ignore-parse-errors": "TRUE"})
	if err := d.Decode([]byte(`{"a":"x","b":"kept"}`), row); err != nil {
		t.Fatal(err)
	}
	if !row[0].IsNull() || row[1].Text() != "kept" {
		t.Errorf("got %s, %s", show(row[0]), show(row[1]))
	}

	// Missing fields.
	d = mustDecoder(t, cols, map[string]string{"json.fail-on-missing-field": "true"})
	if err := d.Decode([]byte(`{"a":1,"b":null}`), row); err != nil {
		t.Errorf("null is not missing: %v", err)
	}
	err := d.Decode([]byte(`{"a":1}`), row)
	if err == nil || !strings.Contains(err.Error(), `column "b": field missing`) {
		t.Errorf("missing b: %v", err)
	}

	// Field names are exact, the first of repeated names wins, unknown
	// fields and order do not matter.
	d = mustDecoder(t, cols, nil)
	if err := d.Decode([]byte(`{"B":"no","x":{"a":2},"b":"first","a":3,"b":"second"}`), row); err != nil {
		t.Fatal(err)
	}
	if row[0].Int() != 3 || row[1].Text() != "first" {
		t.Errorf("got %s, %s", show(row[0]), show(row[1]))
	}
	if err := d.Decode([]byte(`{"a":1}`), row[:1]); err == nil {
		t.Error("a short row is an error")
	}
}

func TestOptions(t *testing.T) {
	cols := []Column{{Name: "a", Type: types.KindInt4}}
	_, err := NewDecoder("json", cols, map[string]string{"json.fail-on-missing-field": "false", "json.bogus": "1", "format.x": "y"}, Env{})
	if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "'format.x', 'json.bogus'") ||
		!strings.Contains(err.Error(), "valid: 'json.fail-on-missing-field', 'json.ignore-parse-errors'") {
		t.Errorf("unknown options: %v", err)
	}
	if _, err := NewDecoder("json", cols, map[string]string{"json.ignore-parse-errors": "yes"}, Env{}); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("bad boolean: %v", err)
	}
	if _, err := NewDecoder("json", cols, map[string]string{"json.ignore-parse-errors": "true", "json.fail-on-missing-field": "true"}, Env{}); err == nil {
		t.Error("contradictory options accepted")
	}
	if _, err := NewEncoder("protobuf", cols, nil, Env{}); !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "known: avro, json, json_sr") {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := NewEncoder("json", []Column{{Name: "a", Type: types.KindInt4}, {Name: "a", Type: types.KindText}}, nil, Env{}); err == nil {
		t.Error("duplicate column accepted")
	}
	if _, err := NewEncoder("json", []Column{{Name: "a"}}, nil, Env{}); err == nil {
		t.Error("column without a type accepted")
	}
	for key, want := range map[string]bool{"json.x": true, "format.x": true, "format": false, "topic": false, "scan.startup.mode": false, "avro.x": true, "protobuf.x": false} {
		if IsOption(key) != want {
			t.Errorf("IsOption(%q) = %v", key, !want)
		}
	}
	if got := Names(); strings.Join(got, ",") != "avro,json,json_sr" {
		t.Errorf("Names() = %v", got)
	}
}

func TestEncodeErrors(t *testing.T) {
	enc := mustEncoder(t, []Column{{Name: "a", Type: types.KindInt4}, {Name: "b", Type: types.KindInt4}})
	if _, err := enc.Encode(nil, types.Row{types.NewInt4(1)}); err == nil {
		t.Error("short row encoded")
	}
	out, err := mustEncoder(t, nil).Encode([]byte("x"), nil)
	if err != nil || string(out) != "x{}" {
		t.Errorf("no columns: %q %v", out, err)
	}
	// Column names are escaped once, like values.
	out, _ = mustEncoder(t, []Column{{Name: `we"ird<`, Type: types.KindInt4}}).Encode(nil, types.Row{types.NewInt4(1)})
	if string(out) != `{"we\"ird\u003c":1}` {
		t.Errorf("got %s", out)
	}
}

// TestAppendStringMatchesEncodingJSON checks the string escaper against
// encoding/json on random and tricky strings.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	tricky := []string{"", "plain", "\x00\x01\x1f\x7f", "\b\f\n\r\t", `"\/`, "<>&", "\u2028\u2029", "\xff", "a\xc3", "\xed\xa0\x80", "é€😀", "\ufffd"}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "\"", "\\", "\n", "\x00", "\x19", "<", "é", "\xff", "\xe2\x80", "\u2028", "😀", "\xf0\x9f"}
	for range 2000 {
		var sb strings.Builder
		for range rng.IntN(12) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		tricky = append(tricky, sb.String())
	}
	for _, s := range tricky {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s, true); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
		var buf strings.Builder
		e := json.NewEncoder(&buf)
		e.SetEscapeHTML(false)
		_ = e.Encode(s)
		if got := appendString(nil, []byte(s), false); string(got) != strings.TrimSuffix(buf.String(), "\n") {
			t.Errorf("%q without HTML escaping: got %s, want %s", s, got, buf.String())
		}
	}
}

// TestTimeFastPathsMatchParseText checks the ISO timestamp and date
// parsers and writers against types.ParseText and AppendText.
func TestTimeFastPathsMatchParseText(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	zones := []string{"", "Z", "+00", "-03", "+0530", "+05:30", "-11:45", "+14:00"}
	fracs := []string{"", ".5", ".123", ".000001", ".999999", ".100000"}
	for range 5000 {
		y, m, d := 1+rng.IntN(9999), 1+rng.IntN(12), 1+rng.IntN(31)
		date := pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
		s := date + []string{"T", " "}[rng.IntN(2)] + pad(rng.IntN(24), 2) + ":" + pad(rng.IntN(60), 2) + ":" +
			pad(rng.IntN(60), 2) + fracs[rng.IntN(len(fracs))] + zones[rng.IntN(len(zones))]
		for _, k := range []types.Kind{types.KindTimestamp, types.KindTimestampTZ} {
			checkFastPath(t, k, s)
		}
		checkFastPath(t, types.KindDate, date)
	}
}

func pad(n, width int) string {
	s := strings.Repeat("0", width) + itoa(n)
	return s[len(s)-width:]
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(dst []byte, n int) []byte {
	if n >= 10 {
		dst = appendInt(dst, n/10)
	}
	return append(dst, byte('0'+n%10))
}

func checkFastPath(t *testing.T, k types.Kind, s string) {
	t.Helper()
	want, wantErr := types.ParseText(k, s)
	cols := []Column{{Name: "v", Type: k}}
	row := make(types.Row, 1)
	err := mustDecoder(t, cols, nil).Decode([]byte(`{"v":"`+s+`"}`), row)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%s %q: decode error %v, ParseText error %v", k, s, err, wantErr)
	}
	if err != nil {
		return
	}
	if !sameValue(row[0], want) {
		t.Fatalf("%s %q: decoded %s, ParseText %s", k, s, show(row[0]), show(want))
	}
	// The writer: to_json's text is AppendText's with 'T' (and "+00:00").
	out, err := mustEncoder(t, cols).Encode(nil, row)
	if err != nil {
		t.Fatal(err)
	}
	text := string(want.AppendText(nil))
	text = strings.Replace(text, " ", "T", 1)
	if k == types.KindTimestampTZ {
		text += ":00"
	}
	if string(out) != `{"v":"`+text+`"}` {
		t.Fatalf("%s %q: encoded %s, want %s", k, s, out, text)
	}
}

// randomValue returns a random value of kind k, NULL now and then.
func randomValue(rng *rand.Rand, k types.Kind) types.Value {
	if rng.IntN(10) == 0 {
		return types.Null(k)
	}
	switch k {
	case types.KindBool:
		return types.NewBool(rng.IntN(2) == 0)
	case types.KindInt2:
		return types.NewInt(k, int64(int16(rng.Uint32())))
	case types.KindInt4:
		return types.NewInt4(int32(rng.Uint32()))
	case types.KindInt8:
		return types.NewInt8(int64(rng.Uint64()))
	case types.KindFloat8:
		switch rng.IntN(8) {
		case 0:
			return types.NewFloat8([]float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64}[rng.IntN(7)])
		case 1:
			return types.NewFloat8(float64(rng.IntN(1000)))
		}
		for {
			if f := math.Float64frombits(rng.Uint64()); !math.IsNaN(f) && !math.IsInf(f, 0) {
				return types.NewFloat8(f)
			}
		}
	case types.KindNumeric:
		d := apd.New(rng.Int64N(1e15)-5e14, -int32(rng.IntN(10)))
		if rng.IntN(20) == 0 {
			d = &apd.Decimal{Form: apd.NaN}
		}
		return types.NewNumeric(d)
	case types.KindText:
		return types.NewText(randomString(rng))
	case types.KindBytea:
		b := make([]byte, rng.IntN(8))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return types.NewBytea(b)
	case types.KindTimestamp:
		return types.NewTimestamp(rng.Int64N(400*365*types.MicrosPerDay) - 200*365*types.MicrosPerDay)
	case types.KindTimestampTZ:
		return types.NewTimestampTZ(rng.Int64N(400*365*types.MicrosPerDay) - 200*365*types.MicrosPerDay)
	case types.KindDate:
		return types.NewDate(int32(rng.IntN(2000000) - 1000000))
	case types.KindInterval:
		return types.NewInterval(int32(rng.IntN(1000)-500), int32(rng.IntN(1000)-500), rng.Int64N(1e12)-5e11)
	case types.KindJSON:
		v, err := types.ParseJSON(`{"k": [1, "` + strings.ReplaceAll(randomString(rng), `"`, "") + `", null]}`)
		if err != nil {
			return types.NewJSON(`{"k": 1}`)
		}
		return v
	}
	panic(k)
}

// randomString returns valid UTF-8 (invalid bytes cannot round-trip:
// they are written as U+FFFD), with the characters escaping cares about.
func randomString(rng *rand.Rand) string {
	alphabet := []string{"a", "Z", " ", "\"", "\\", "\n", "\x01", "<", "&", "é", "€", "\u2028", "😀", "/"}
	var sb strings.Builder
	for range rng.IntN(10) {
		sb.WriteString(alphabet[rng.IntN(len(alphabet))])
	}
	return sb.String()
}

var allKinds = []types.Kind{
	types.KindBool, types.KindInt2, types.KindInt4, types.KindInt8, types.KindFloat8, types.KindNumeric,
	types.KindText, types.KindBytea, types.KindTimestamp, types.KindTimestampTZ, types.KindDate,
	types.KindInterval, types.KindJSON,
}

// TestJSONRoundTripProperty: random rows of random columns, encoded,
// are valid JSON and decode to the same row.
func TestJSONRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for iter := range 3000 {
		n := 1 + rng.IntN(20) // above byNameThreshold now and then
		cols := make([]Column, n)
		for i := range cols {
			cols[i] = Column{Name: "c" + itoa(i) + randomString(rng), Type: allKinds[rng.IntN(len(allKinds))]}
		}
		enc := mustEncoder(t, cols)
		dec := mustDecoder(t, cols, nil)
		var buf []byte
		for range 3 {
			row := make(types.Row, n)
			for i, c := range cols {
				row[i] = randomValue(rng, c.Type)
			}
			var err error
			buf, err = enc.Encode(buf[:0], row)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(buf) || !utf8.Valid(buf) {
				t.Fatalf("iteration %d: invalid JSON %s", iter, buf)
			}
			got := make(types.Row, n+1)
			if err := dec.Decode(buf, got); err != nil {
				t.Fatalf("iteration %d: decode %s: %v", iter, buf, err)
			}
			for i := range cols {
				if !sameValue(got[i], row[i]) {
					t.Fatalf("iteration %d column %d (%s): wrote %s, read %s from %s", iter, i, cols[i].Type, show(row[i]), show(got[i]), buf)
				}
			}
		}
	}
}

func TestEncodeAllocations(t *testing.T) {
	cols, row := benchColumns(t)
	enc := mustEncoder(t, cols)
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = enc.Encode(buf[:0], row)
	})
	if allocs != 0 {
		t.Errorf("Encode allocates %.1f times per row, want 0", allocs)
	}
	dec := mustDecoder(t, cols, nil)
	out := make(types.Row, len(cols))
	allocs = testing.AllocsPerRun(100, func() {
		if err := dec.Decode(buf, out); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 { // the row's one string
		t.Errorf("Decode allocates %.1f times per row, want at most 1", allocs)
	}
}

func FuzzJSONDecode(f *testing.F) {
	f.Add([]byte(`{"id":1,"name":"x","amount":1.5,"at":"2024-01-02T03:04:05Z","tags":[1,{"a":null}],"ok":true}`))
	f.Add([]byte(`{"id":1e400,"name":{"x":[]},"amount":"NaN","at":1704164645123,"raw":"\\x00ff","day":"2024-02-30"}`))
	f.Add([]byte(`{"id":"1","amount":-0,"at":"infinity","ttl":"1 day","day":-1,"doc":"\ud800"}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"name":"\u0000","doc":nan,"id":01}`))
	cols := []Column{
		{Name: "id", Type: types.KindInt8}, {Name: "name", Type: types.KindText}, {Name: "amount", Type: types.KindNumeric},
		{Name: "price", Type: types.KindFloat8}, {Name: "at", Type: types.KindTimestampTZ}, {Name: "ts", Type: types.KindTimestamp},
		{Name: "day", Type: types.KindDate}, {Name: "ttl", Type: types.KindInterval}, {Name: "raw", Type: types.KindBytea},
		{Name: "doc", Type: types.KindJSON}, {Name: "ok", Type: types.KindBool}, {Name: "tags", Type: types.KindText},
		{Name: "n", Type: types.KindInt2},
	}
	strict := mustDecoder(f, cols, nil)
	lenient := mustDecoder(f, cols, map[string]string{"json.ignore-parse-errors": "true"})
	enc := mustEncoder(f, cols)
	f.Fuzz(func(t *testing.T, data []byte) {
		row := make(types.Row, len(cols))
		if err := strict.Decode(data, row); err == nil {
			// What decodes re-encodes to valid JSON that decodes the same.
			out, err := enc.Encode(nil, row)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(out) {
				t.Fatalf("invalid JSON %s", out)
			}
			again := make(types.Row, len(cols))
			if err := strict.Decode(out, again); err != nil {
				t.Fatalf("re-decoding %s: %v", out, err)
			}
			for i := range cols {
				if !sameValue(row[i], again[i]) {
					t.Fatalf("column %s: %s then %s", cols[i].Name, show(row[i]), show(again[i]))
				}
			}
		} else {
			var te *types.Error
			if !errors.As(err, &te) {
				t.Fatalf("error %v is not a *types.Error", err)
			}
		}
		if err := lenient.Decode(data, row); err != nil && !errors.Is(err, ErrSkip) {
			t.Fatalf("lenient decode: %v", err)
		}
	})
}

func TestAppendJSONFloatMatchesFloat8out(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	special := []float64{0, math.Copysign(0, -1), 1e-4, math.Nextafter(1e-4, 0), 1e15, math.Nextafter(1e15, 0), 123456789012345, 0.1, 1e20, 5e-324, math.MaxFloat64}
	for i := range 100000 {
		var f float64
		if i < len(special) {
			f = special[i]
		} else if i%2 == 0 {
			f = math.Float64frombits(rng.Uint64())
		} else {
			f = float64(rng.Int64N(1e18)) / math.Pow(10, float64(rng.IntN(25)))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		for _, g := range []float64{f, -f} {
			if got, want := string(appendJSONFloat(nil, g)), string(types.AppendFloat(nil, g)); got != want {
				t.Fatalf("%v: got %s, float8out %s", g, got, want)
			}
		}
	}
}
