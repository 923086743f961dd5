package pgvalue

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzOIDs are the types FuzzAppendJSON converts to: one of every kind,
// arrays of several, and user types.
var fuzzOIDs = []uint32{
	oidBool, oidInt4, oidFloat8, oidNumeric, oidText, oidJSON, oidJSONB, oidBytea, oidDate,
	oidTimestamp, oidTimestampTZ, oidTime, oidInterval, oidUnknown,
	oidInt4Array, oidTextArray, oidBoolArray, oidFloat8Array, oidJSONBArray, oidByteaArray,
	oidTimestampTZArray, oidBoxArray, oidMoodArray, oidPosIntArray, oidIntList, oidIntListArray,
}

// FuzzAppendJSON checks that AppendJSON never panics, writes valid JSON
// or an ErrSyntax, keeps what dst held, and leaves it so on error.
func FuzzAppendJSON(f *testing.F) {
	for _, c := range valueCases {
		for i, oid := range fuzzOIDs {
			if oid == c.oid {
				f.Add(uint8(i), []byte(c.text))
			}
		}
	}
	f.Add(uint8(0), []byte(strings.Repeat("[", 20000)))
	r := testRegistry()
	f.Fuzz(func(t *testing.T, sel uint8, text []byte) {
		oid := fuzzOIDs[int(sel)%len(fuzzOIDs)]
		prefix := []byte(`{"k":`)
		out, err := r.AppendJSON(prefix, oid, text)
		if !bytes.Equal(out[:len(prefix)], prefix) {
			t.Fatalf("prefix lost: %q", out)
		}
		out = out[len(prefix):]
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("%s %q: error %v is not ErrSyntax", typeName(r, oid), text, err)
			}
			if len(out) != 0 {
				t.Fatalf("%s %q: error %v after writing %q", typeName(r, oid), text, err, out)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%s %q: invalid JSON %q", typeName(r, oid), text, out)
		}
	})
}

// FuzzValidJSON checks validJSON against encoding/json.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{
		`{"a": [1, 2.50, "x"], "b": null}`, ` [ ] `, `"\u00e9\n"`, `-0.5e-3`, `{"a":{"b":[true,false]}}`,
		`{`, `{"a":1,}`, `[1,]`, `01`, `1.`, `"\x"`, "\"\x01\"", `nul`, `{"a" 1}`, `[1 2]`, `{1:2}`,
		strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth),
		strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
		strings.Repeat(`{"a":`, 300) + "1" + strings.Repeat("}", 300),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

func TestValidJSONDepth(t *testing.T) {
	for _, depth := range []int{1, 63, 64, 65, 256, 257, maxJSONDepth, maxJSONDepth + 1} {
		for _, open := range []string{"[", `{"k":`} {
			closing := "]"
			if open != "[" {
				closing = "}"
			}
			b := []byte(strings.Repeat(open, depth) + "0" + strings.Repeat(closing, depth))
			if got, want := validJSON(b), json.Valid(b); got != want {
				t.Errorf("%s nested %d deep: %v, encoding/json says %v", open, depth, got, want)
			}
		}
	}
	// Mixed nesting past the first words of the stack of container kinds.
	var b strings.Builder
	for i := range 300 {
		if i%3 == 0 {
			b.WriteString(`{"k":`)
		} else {
			b.WriteString("[")
		}
	}
	b.WriteString("1")
	for i := 299; i >= 0; i-- {
		if i%3 == 0 {
			b.WriteString("}")
		} else {
			b.WriteString("]")
		}
	}
	if !validJSON([]byte(b.String())) {
		t.Errorf("mixed nesting 300 deep: not valid")
	}
}

// FuzzSplitCopyRow checks that SplitCopyRow never panics and that what it
// splits, written again as COPY writes it, splits the same.
func FuzzSplitCopyRow(f *testing.F) {
	for _, c := range copyCases {
		f.Add([]byte(c.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		fields, nulls, _, err := SplitCopyRow(line, nil, nil, nil)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("%q: error %v is not ErrSyntax", line, err)
			}
			return
		}
		var again []byte
		for i, f := range fields {
			if i > 0 {
				again = append(again, '\t')
			}
			again = appendCopyField(again, f, nulls[i])
		}
		fields2, nulls2, _, err := SplitCopyRow(again, nil, nil, nil)
		if err != nil {
			t.Fatalf("%q, written again as %q: %v", line, again, err)
		}
		if got, want := copyFieldStrings(fields2, nulls2), copyFieldStrings(fields, nulls); !equalStrings(got, want) {
			t.Fatalf("%q split as %q; written again as %q, as %q", line, want, again, got)
		}
	})
}

// FuzzTextArray writes strings as array_out does and checks that
// AppendJSON reads them back.
func FuzzTextArray(f *testing.F) {
	f.Add([]byte("a b\x00c\"d\x00\x00NULL\x00e\\f\x00{x}\x00 lead\x00ünï"))
	f.Add([]byte("null"))
	r := NewRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		elems := strings.Split(string(data), "\x00")
		text := appendArrayText(nil, elems)
		out, err := r.AppendJSON(nil, oidTextArray, text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		var got []string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q gave %q: %v", text, out, err)
		}
		want := make([]string, len(elems))
		for i, s := range elems {
			want[i] = validUTF8(s)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %q, want %q", text, got, want)
		}
	})
}

// validUTF8 replaces each byte of s that is not UTF-8 with U+FFFD, as
// JSON strings do.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // utf8.RuneError for an invalid byte, of size 1
		i += size
	}
	return b.String()
}

// appendArrayText appends a one-dimensional text array as array_out
// writes it: elements quoted when empty, "NULL" in any case, or holding
// white space, '"', '\\', '{', '}' or the delimiter; '"' and '\\' escaped.
func appendArrayText(dst []byte, elems []string) []byte {
	dst = append(dst, '{')
	for i, s := range elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		quote := s == "" || strings.EqualFold(s, "NULL") || strings.ContainsAny(s, "\"\\{},") ||
			strings.ContainsFunc(s, func(r rune) bool { return r < 0x80 && isArraySpace(byte(r)) })
		if !quote {
			dst = append(dst, s...)
			continue
		}
		dst = append(dst, '"')
		for k := 0; k < len(s); k++ {
			if s[k] == '"' || s[k] == '\\' {
				dst = append(dst, '\\')
			}
			dst = append(dst, s[k])
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}
