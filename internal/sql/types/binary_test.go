package types

import (
	"math"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

func TestBinaryRoundTrip(t *testing.T) {
	d, _, _ := apd.NewFromString("-12.3400")
	vals := []Value{
		{}, Null(KindInt8), NewBool(true), NewBool(false), NewInt(KindInt2, -7), NewInt4(1 << 30), NewInt8(-1 << 62),
		NewFloat8(3.25), NewNumeric(d), NewText(""), NewText("héllo"), NewBytea([]byte{0, 1, 2}),
		NewTimestamp(-5), NewTimestampTZ(1_700_000_000_000_000), NewDate(-3), NewInterval(-2, 3, 4_000_001), NewJSON(`{"a":[1]}`),
	}
	var buf []byte
	for _, v := range vals {
		buf = AppendBinary(buf, v)
	}
	row := make(Row, len(vals))
	rest, err := ReadBinaryRow(buf, row)
	if err != nil || len(rest) != 0 {
		t.Fatalf("ReadBinaryRow: %v, %d bytes left", err, len(rest))
	}
	for i, v := range vals {
		got := row[i]
		if got.Kind() != v.Kind() || got.IsNull() != v.IsNull() || got.String() != v.String() {
			t.Errorf("value %d: got %s %q, want %s %q", i, got.Kind(), got.String(), v.Kind(), v.String())
		}
	}
	for n := range len(buf) { // every truncation is an error, never a panic
		if _, err := ReadBinaryRow(buf[:n], make(Row, len(vals))); err == nil {
			t.Fatalf("truncated at %d: no error", n)
		}
	}
}

func TestGroupKeyCanonical(t *testing.T) {
	a, _, _ := apd.NewFromString("1.50")
	b, _, _ := apd.NewFromString("1.5")
	if string(AppendGroupKey(nil, NewNumeric(a))) != string(AppendGroupKey(nil, NewNumeric(b))) {
		t.Error("1.50 and 1.5 group apart")
	}
	if string(AppendGroupKey(nil, NewFloat8(0))) != string(AppendGroupKey(nil, NewFloat8(math.Copysign(0, -1)))) {
		t.Error("0 and -0 group apart")
	}
	if string(AppendGroupKey(nil, NewInt8(1))) == string(AppendGroupKey(nil, NewInt4(1))) {
		t.Error("kinds must stay apart in keys")
	}
}

func FuzzReadBinary(f *testing.F) {
	f.Add(AppendBinary(AppendBinary(nil, NewText("x")), NewFloat8(1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			v, rest, err := ReadBinary(b)
			if err != nil {
				return
			}
			_ = v.String()
			b = rest
		}
	})
}
