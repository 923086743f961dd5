package types

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/cockroachdb/apd/v3"
)

// TestValueFitsInRegisters pins what keeps a Value in registers through
// the expression closures: at most four fields in at most 32 bytes
// (cmd/compile's CanSSA). A fifth field or a wider one makes every
// expression several times slower; see Value.
func TestValueFitsInRegisters(t *testing.T) {
	if size := unsafe.Sizeof(Value{}); size > 32 {
		t.Errorf("Value is %d bytes; at most 32 stay in registers", size)
	}
	if n := reflect.TypeFor[Value]().NumField(); n > 4 {
		t.Errorf("Value has %d fields; at most 4 stay in registers", n)
	}
}

// TestValueAccessors checks every kind reads back what it was made of,
// the shared fields included, and that the accessors of other kinds read
// nothing of them.
func TestValueAccessors(t *testing.T) {
	d, _, _ := apd.NewFromString("-12.340")
	checks := []struct {
		v    Value
		kind Kind
		ok   func(Value) bool
	}{
		{NewBool(true), KindBool, func(v Value) bool { return v.Bool() }},
		{NewInt8(-7), KindInt8, func(v Value) bool { return v.Int() == -7 }},
		{NewInt4(1 << 30), KindInt4, func(v Value) bool { return v.Int() == 1<<30 }},
		{NewFloat8(-0.5), KindFloat8, func(v Value) bool { return v.Float() == -0.5 }},
		{NewNumeric(d), KindNumeric, func(v Value) bool { return v.Decimal() == d && v.Text() == "" }},
		{NewText("héllo"), KindText, func(v Value) bool { return v.Text() == "héllo" && v.Decimal() == nil }},
		{NewText(""), KindText, func(v Value) bool { return v.Text() == "" && !v.IsNull() }},
		{NewBytea([]byte{0, 1, 255}), KindBytea, func(v Value) bool { return v.Bytes() == "\x00\x01\xff" }},
		{NewJSON(`{"a":1}`), KindJSON, func(v Value) bool { return v.Text() == `{"a":1}` }},
		{NewTimestampTZ(-1), KindTimestampTZ, func(v Value) bool { return v.Micros() == -1 }},
		{NewDate(-3), KindDate, func(v Value) bool { return v.Days() == -3 }},
		{NewInterval(-2, 3, -4), KindInterval, func(v Value) bool {
			m, dd, us := v.Interval()
			return m == -2 && dd == 3 && us == -4 && v.Text() == "" && v.Decimal() == nil
		}},
		{Null(KindText), KindText, func(v Value) bool { return v.IsNull() && v.Text() == "" }},
	}
	for _, c := range checks {
		if c.v.Kind() != c.kind || !c.ok(c.v) {
			t.Errorf("%s value %s does not read back", c.kind, c.v)
		}
		// The binary form round-trips every kind through the shared fields.
		back, rest, err := ReadBinary(AppendBinary(nil, c.v))
		if err != nil || len(rest) != 0 || back.Kind() != c.kind || back.IsNull() != c.v.IsNull() {
			t.Errorf("%s: binary round trip: %v %v", c.kind, back, err)
			continue
		}
		if !c.v.IsNull() {
			if cmp, err := Compare(back, c.v); err != nil || cmp != 0 {
				t.Errorf("%s: binary round trip: %s, want %s (%v)", c.kind, back, c.v, err)
			}
		}
	}
}
