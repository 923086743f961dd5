package pgvalue

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// null stands for a NULL field in copyCases.
const null = "\x00NULL"

var copyCases = []struct {
	line string
	want []string // nil: an error
}{
	{"a\tb\tc", []string{"a", "b", "c"}},
	{"", []string{""}},
	{"\t", []string{"", ""}},
	{"\t\t", []string{"", "", ""}},
	{`\N`, []string{null}},
	{`\N` + "\t" + `\N`, []string{null, null}},
	{"a\t" + `\N` + "\tb", []string{"a", null, "b"}},
	{`\N` + "\t", []string{null, ""}},
	{`\Nx`, []string{"Nx"}},
	{`a\N`, []string{"aN"}},
	{`\\N`, []string{`\N`}},
	{`\b\f\n\r\t\v\\`, []string{"\b\f\n\r\t\v\\"}},
	{`tab\there` + "\t" + `nl\nhere`, []string{"tab\there", "nl\nhere"}},
	{`\101\0\7`, []string{"A\x00\x07"}},
	{`\1012`, []string{"A2"}},
	{`\777`, []string{"\xff"}},
	{`\08`, []string{"\x008"}},
	{`\x41\x4`, []string{"A\x04"}},
	{`\x414`, []string{"A4"}},
	{`\xg`, []string{"xg"}},
	{`\x`, []string{"x"}},
	{`\xfF`, []string{"\xff"}},
	{`\q\"\.`, []string{`q".`}},
	{"a\\\tb\tc", []string{"a\tb", "c"}}, // an escaped tab delimiter is data
	{"ünï 😀\t{1,\"a b\"}", []string{"ünï 😀", `{1,"a b"}`}},
	{"plain\t" + `esc\\aped` + "\tplain", []string{"plain", `esc\aped`, "plain"}},
	{"a\nb", nil},
	{"a\n", nil},
	{`abc\`, nil},
	{"a\t\\", nil},
}

func TestSplitCopyRow(t *testing.T) {
	var fields [][]byte
	var nulls []bool
	var buf []byte
	for _, c := range copyCases {
		var err error
		fields, nulls, buf, err = SplitCopyRow([]byte(c.line), fields[:0], nulls[:0], buf[:0])
		if c.want == nil {
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("%q: error %v, want ErrSyntax", c.line, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.line, err)
			continue
		}
		if got := copyFieldStrings(fields, nulls); !equalStrings(got, c.want) {
			t.Errorf("%q:\n got %q\nwant %q", c.line, got, c.want)
		}
	}
}

func copyFieldStrings(fields [][]byte, nulls []bool) []string {
	var s []string
	for i, f := range fields {
		switch {
		case nulls[i] && f == nil:
			s = append(s, null)
		case nulls[i] || f == nil:
			s = append(s, "\x00INCONSISTENT")
		default:
			s = append(s, string(f))
		}
	}
	return s
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// appendCopyField appends a field as Postgres' COPY TO writes it
// (CopyAttributeOutText): NULL as \N, and \b \f \n \r \t \v \\ escaped.
func appendCopyField(dst []byte, f []byte, isNull bool) []byte {
	if isNull {
		return append(dst, `\N`...)
	}
	for _, c := range f {
		switch c {
		case '\b':
			dst = append(dst, `\b`...)
		case '\f':
			dst = append(dst, `\f`...)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\t':
			dst = append(dst, `\t`...)
		case '\v':
			dst = append(dst, `\v`...)
		case '\\':
			dst = append(dst, `\\`...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// TestSplitCopyRowRoundTrip splits rows of random fields written as
// COPY TO writes them.
func TestSplitCopyRowRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab\\\t\n\r\b\f\vN0x7 \"{},ü")
	var fields [][]byte
	var nulls []bool
	var buf []byte
	for range 20000 {
		n := 1 + rng.IntN(6)
		var want []string
		var line []byte
		for i := range n {
			if i > 0 {
				line = append(line, '\t')
			}
			if rng.IntN(5) == 0 {
				want = append(want, null)
				line = appendCopyField(line, nil, true)
				continue
			}
			f := make([]byte, rng.IntN(8))
			for k := range f {
				f[k] = alphabet[rng.IntN(len(alphabet))]
			}
			want = append(want, string(f))
			line = appendCopyField(line, f, false)
		}
		var err error
		fields, nulls, buf, err = SplitCopyRow(line, fields[:0], nulls[:0], buf[:0])
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if got := copyFieldStrings(fields, nulls); !equalStrings(got, want) {
			t.Fatalf("%q:\n got %q\nwant %q", line, got, want)
		}
	}
}

// TestSplitCopyRowAliasing checks that fields do not overlap: appending
// to one cannot overwrite the next.
func TestSplitCopyRowAliasing(t *testing.T) {
	line := []byte(`a\tb` + "\tcd\t" + `e\nf`)
	fields, _, _, err := SplitCopyRow(line, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range fields {
		if cap(f) != len(f) {
			t.Errorf("field %d %q: capacity %d beyond its length", i, f, cap(f))
		}
	}
	if !bytes.Equal(line, []byte(`a\tb`+"\tcd\t"+`e\nf`)) {
		t.Errorf("line modified: %q", line)
	}
}

func TestSplitCopyRowAllocs(t *testing.T) {
	line := []byte("123\tsome text\t" + `with\ttab\\` + "\t" + `\N` + "\t2026-11-26 05:48:19+00\t{1,2}")
	fields, nulls, buf, _ := SplitCopyRow(line, nil, nil, nil)
	if n := testing.AllocsPerRun(100, func() {
		fields, nulls, buf, _ = SplitCopyRow(line, fields[:0], nulls[:0], buf[:0])
	}); n != 0 {
		t.Errorf("%v allocations per row", n)
	}
}
