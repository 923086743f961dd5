package format

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// The fast paths of the codec, each against the general code it
// shortcuts.

func TestAppendShortDecimalMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	check := func(f float64) {
		t.Helper()
		want := strconv.AppendFloat(nil, f, 'f', -1, 64)
		got, ok := appendShortDecimal(nil, f)
		if ok && string(got) != string(want) {
			t.Fatalf("%v: got %s, strconv %s", f, got, want)
		}
		if a := math.Abs(f); !ok && a >= 1e-4 && a < 1e9 && len(strings.TrimLeft(strings.Replace(string(want), ".", "", 1), "-0")) <= 15 {
			if _, frac, _ := strings.Cut(string(want), "."); len(frac) <= 6 {
				t.Fatalf("%v (%s): fast path missed it", f, want)
			}
		}
	}
	for _, f := range []float64{1e-4, 0.1, 0.2, 0.3, 0.1 + 0.2, 1, 129.99, 999999999.999999, 123456789.123456, 1e9 - 1e-6, 0.000123, 5e-324, 1.5} {
		check(f)
		check(-f)
	}
	for range 300000 {
		var f float64
		switch rng.IntN(3) {
		case 0: // a short decimal, as people write them
			f, _ = strconv.ParseFloat(strconv.FormatInt(rng.Int64N(1e15), 10)+"e-"+strconv.Itoa(rng.IntN(12)), 64)
		case 1:
			f = float64(rng.Int64N(1e12)) / math.Pow(10, float64(rng.IntN(10)))
		default:
			f = math.Float64frombits(rng.Uint64())
		}
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			check(f)
		}
	}
}

func TestShortDecimalMatchesParseFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	inputs := []string{"0", "-0", "0.0", "1", "-1", "129.99", "0.1", "9007199254740993", "900719925474099.3", "1.", ".5", "01", "1e2", "-", "", "0.0000000000000001", "123456789012345", "1234567890123456"}
	for range 100000 {
		s := strconv.FormatInt(rng.Int64N(1e17)-5e16, 10)
		if k := rng.IntN(len(s) + 1); k > 0 && k < len(s) && s[k-1] != '-' {
			s = s[:k] + "." + s[k:]
		}
		inputs = append(inputs, s)
	}
	for _, s := range inputs {
		got, ok := shortDecimal([]byte(s))
		if !ok {
			continue
		}
		if !validNumber([]byte(s)) {
			t.Fatalf("%q: taken, but not a JSON number", s)
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%q: got %v, ParseFloat %v (%v)", s, got, want, err)
		}
	}
}

func TestSmallIntegerMatchesParseDigits(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	inputs := []string{"0", "-0", "00", "-", "", "01", "1.0", "999999999999999999", "-999999999999999999", "1000000000000000000", "9223372036854775807"}
	for range 100000 {
		inputs = append(inputs, strconv.FormatInt(rng.Int64()>>rng.IntN(63), 10))
	}
	for _, s := range inputs {
		got, ok := smallInteger([]byte(s))
		if !ok {
			continue
		}
		want, wantOK := parseDigits([]byte(s))
		if !wantOK || !validNumber([]byte(s)) || got != want {
			t.Fatalf("%q: got %d, parseDigits %d %v", s, got, want, wantOK)
		}
	}
}

func TestNeedsEscapeMatchesAppendString(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	alphabet := []byte("aZ09 ~\x7f\x00\x1f\x20\"\\<>&'=\x80\xc3\xa9\xff/!#%")
	for range 200000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = byte('a' + rng.IntN(26))
			}
		}
		s := string(b)
		// Any non-ASCII byte sends a string to appendString, which
		// keeps valid UTF-8 as it is.
		got, want := needsEscape(s), string(appendString(nil, s, true)) != `"`+s+`"`
		if got != want && (!got || isASCII(s)) {
			t.Fatalf("%q: needsEscape %v, appendString changes it: %v", s, got, want)
		}
	}
}

// TestScanStringMatchesByteLoop checks the eight-bytes-at-a-time string
// scanner against the obvious loop.
func TestScanStringMatchesByteLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	alphabet := []byte("ab\"\\\x00\x1f\x7f\x80\xff ")
	for range 200000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			if rng.IntN(3) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = 'x'
			}
		}
		start := 0
		if len(b) > 0 {
			start = rng.IntN(len(b))
		}
		end, escaped, plain := scanString(b, start)
		wantEnd, wantEscaped, wantPlain := -1, false, false
		special := false
		for i := start; i < len(b); i++ {
			c := b[i]
			if c == '"' {
				wantEnd, wantPlain = i, !wantEscaped && !special
				break
			}
			if c == '\\' {
				wantEscaped = true
				i++
				continue
			}
			if c < 0x20 || c >= 0x80 {
				special = true
			}
		}
		if end != wantEnd || (end >= 0 && (escaped != wantEscaped || plain != wantPlain)) {
			t.Fatalf("%q from %d: got %d %v %v, want %d %v %v", b, start, end, escaped, plain, wantEnd, wantEscaped, wantPlain)
		}
	}
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
