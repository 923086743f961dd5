package types

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

// randomValue returns a random non-NULL value of kind k.
func randomValue(r *rand.Rand, k Kind) Value {
	switch k {
	case KindBool:
		return NewBool(r.IntN(2) == 1)
	case KindInt2:
		return NewInt(k, int64(int16(r.Uint32())))
	case KindInt4:
		return NewInt(k, int64(int32(r.Uint32())))
	case KindInt8:
		return NewInt8(int64(r.Uint64()))
	case KindFloat8:
		switch r.IntN(10) {
		case 0:
			return NewFloat8(math.Inf(1 - 2*r.IntN(2)))
		case 1:
			return NewFloat8(math.NaN())
		}
		return NewFloat8(math.Float64frombits(r.Uint64()&^(0x7ff<<52) | uint64(r.IntN(0x7fe)+1)<<52))
	case KindNumeric:
		return NewNumeric(apd.New(r.Int64N(1e15)-5e14, -int32(r.IntN(10))))
	case KindText:
		return NewText(string([]rune{rune(r.IntN(0xd000) + 1), 'a', rune(r.IntN(128) + 1)}))
	case KindBytea:
		b := make([]byte, r.IntN(8))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return NewBytea(b)
	case KindTimestamp, KindTimestampTZ:
		return Value{h: head{kind: k}, i: r.Int64N(400*365*MicrosPerDay) - 200*365*MicrosPerDay}
	case KindDate:
		return NewDate(int32(r.IntN(2000000) - 1000000))
	case KindInterval:
		return NewInterval(int32(r.IntN(2000)-1000), int32(r.IntN(2000)-1000), r.Int64N(1e12)-5e11)
	}
	v, _ := ParseJSON(`{"a": [1, 2.5, "x"], "b": null}`)
	return v
}

// TestTextRoundTrip: for random values v of each kind, ParseText(k,
// v.AppendText()) == v.
func TestTextRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for k := KindBool; k <= KindJSON; k++ {
		for range 2000 {
			v := randomValue(r, k)
			s := v.String()
			w, err := ParseText(k, s)
			if err != nil {
				t.Fatalf("%s: ParseText(%q): %v", k, s, err)
			}
			c, err := Compare(v, w)
			if err != nil || c != 0 || w.String() != s {
				t.Fatalf("%s: %q read back as %q", k, s, w.String())
			}
		}
	}
}

func FuzzParseText(f *testing.F) {
	for _, s := range []string{"42", " -1.5e3 ", "NaN", "2024-01-02T03:04:05.123+05:30", "1 day 02:00:00", "P1DT2H", `\x0102`, `{"a":[1]}`, "t", "-infinity", "@ 1 hour ago", "0044-03-15 BC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for k := KindBool; k <= KindJSON; k++ {
			v, err := ParseText(k, s)
			if err != nil {
				if _, ok := err.(*Error); !ok { //nolint:errorlint // the contract is a bare *Error
					t.Fatalf("%s %q: error %T", k, s, err)
				}
				continue
			}
			_ = v.String()
		}
	})
}
