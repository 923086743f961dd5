package nexmark

import (
	"math"
	"math/bits"
)

// The random draws of one event come from a PCG (math/rand/v2) whose
// 128-bit state is a hash of the seed and the event number, so an event
// is a pure function of the two, as the reference's per-event
// java.util.Random(eventId) makes it of the event id alone.

// mix64 is a bijective 64-bit finalizer (SplitMix64's), spreading nearby
// inputs (consecutive event numbers) to unrelated outputs.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// Domains of seeding: events, the hot channels' URLs, the other
// channels' URLs.
const (
	domainEvent   = 0x6e65786d61726b01
	domainHotURL  = 0x6e65786d61726b02
	domainChannel = 0x6e65786d61726b03
)

// streamKey is the key of one domain's streams under seed.
func streamKey(seed, domain uint64) uint64 { return mix64(mix64(seed) ^ domain) }

// reseed starts the stream numbered n under key.
func (g *Generator) reseed(key uint64, n int64) {
	hi := mix64(uint64(n) ^ key)
	g.pcg.Seed(hi, mix64(hi+key))
}

// intn returns a uniform integer in [0, n), n > 0 (Lemire's method).
func (g *Generator) intn(n int64) int64 {
	un := uint64(n)
	hi, lo := bits.Mul64(g.pcg.Uint64(), un)
	if lo < un {
		thresh := -un % un
		for lo < thresh {
			hi, lo = bits.Mul64(g.pcg.Uint64(), un)
		}
	}
	return int64(hi)
}

// float64 returns a uniform float64 in [0, 1).
func (g *Generator) float64() float64 {
	return float64(g.pcg.Uint64()>>11) * 0x1p-53
}

// price is a price in cents, log-uniform between 1.00 and 1,000,000.00 as
// the reference's round(10^(6u) * 100).
func (g *Generator) price() int64 {
	return int64(math.Round(pow1e6(g.float64()) * 100))
}

// pow1e6 returns 10^(6u), 0 <= u < 1, as e^(k h) e^r with 6u ln 10 = k h
// + r, 0 <= r < h: e^(k h) from a table, e^r from its Taylor series, to
// within a few units in the last place (a quarter of math.Pow's time).
func pow1e6(u float64) float64 {
	y := u * expSteps // 6u ln 10 / h
	k := int(y)
	r := (y - float64(k)) * expStep
	// e^r to the 6th power: the rest, r^7/7! < 2e-17, is below an ulp.
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720))))))
	return expTable[k&(expSteps-1)] * p
}

const (
	expSteps = 1024
	expStep  = 6 * math.Ln10 / expSteps
)

// expTable[k] is e^(k × expStep) = 10^(6k/expSteps).
var expTable = func() (t [expSteps]float64) {
	for k := range t {
		t[k] = math.Pow(10, 6*float64(k)/expSteps)
	}
	return t
}()

// The string helpers take several uniform digits from one 64-bit draw by
// repeated multiplication of the draw read as a fraction in [0, 1): each
// digit is the integer part of fraction × base, the rest stays for the
// next. Taking at most letterPairsPerDraw pairs of letters (or charsPerDraw
// letter-or-special characters) leaves every digit's bias below 1e-5.
const (
	letterPairsPerDraw = 5 // base 26×26
	charsPerDraw       = 5 // base 13×26
)

// letterPairs[2i:2i+2] is the i-th of the 676 two-letter strings.
var letterPairs = func() (t [2 * 26 * 26]byte) {
	for i := range 26 * 26 {
		t[2*i], t[2*i+1] = 'a'+byte(i/26), 'a'+byte(i%26)
	}
	return t
}()

// appendLetters appends n random letters a-z (the reference's
// nextExactString).
func (g *Generator) appendLetters(b []byte, n int) []byte {
	start := len(b)
	b = grow(b, n)
	out := b[start : start+n]
	// Two draws at a time, so their multiplication chains overlap.
	const block = 2 * 2 * letterPairsPerDraw
	for len(out) >= block {
		x, y := g.pcg.Uint64(), g.pcg.Uint64()
		o := out[:block]
		for i := range letterPairsPerDraw {
			var d, e uint64
			d, x = bits.Mul64(x, 26*26)
			e, y = bits.Mul64(y, 26*26)
			o[2*i], o[2*i+1] = letterPairs[2*d], letterPairs[2*d+1]
			o[block/2+2*i], o[block/2+2*i+1] = letterPairs[2*e], letterPairs[2*e+1]
		}
		out = out[block:]
	}
	for len(out) >= 2*letterPairsPerDraw {
		x := g.pcg.Uint64()
		for i := range letterPairsPerDraw {
			var d uint64
			d, x = bits.Mul64(x, 26*26)
			out[2*i], out[2*i+1] = letterPairs[2*d], letterPairs[2*d+1]
		}
		out = out[2*letterPairsPerDraw:]
	}
	if len(out) > 0 {
		x := g.pcg.Uint64()
		for i := range out {
			var d uint64
			d, x = bits.Mul64(x, 26)
			out[i] = 'a' + byte(d)
		}
	}
	return b
}

// appendString appends a random string of 3 to maxLen-1 characters, each
// special with probability 1/13 and otherwise a letter a-z; a space
// special is trimmed from both ends (the reference's nextString).
func (g *Generator) appendString(b []byte, maxLen int, special byte) []byte {
	n := 3 + int(g.intn(int64(maxLen-3)))
	start := len(b)
	b = grow(b, n)
	out := b[start : start+n]
	for len(out) > 0 {
		x := g.pcg.Uint64()
		k := min(len(out), charsPerDraw)
		for i := range out[:k] {
			var d uint64
			d, x = bits.Mul64(x, 13*26)
			if d < 26 { // probability 26/338 = 1/13
				out[i] = special
			} else {
				out[i] = 'a' + byte(d%26)
			}
		}
		out = out[k:]
	}
	if special == ' ' {
		for len(b) > start && b[len(b)-1] == ' ' {
			b = b[:len(b)-1]
		}
		lead := 0
		for start+lead < len(b) && b[start+lead] == ' ' {
			lead++
		}
		if lead > 0 {
			b = b[:start+copy(b[start:], b[start+lead:])]
		}
	}
	return b
}

// appendExtra appends padding bringing an event of currentSize bytes to
// avgSize on average: uniform in [d-δ, d+δ) letters, d = avgSize -
// currentSize, δ = round(d/5) (the reference's nextExtra).
func (g *Generator) appendExtra(b []byte, currentSize, avgSize int64) []byte {
	if currentSize > avgSize {
		return b
	}
	d := avgSize - currentSize
	delta := (2*d + 5) / 10 // round(0.2 d)
	n := d - delta
	if delta > 0 {
		n += g.intn(2 * delta)
	}
	return g.appendLetters(b, int(n))
}

// appendDigits4 appends v, 0 <= v < 10000, as four digits.
func appendDigits4(b []byte, v int64) []byte {
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// grow extends b by n bytes, reallocating with room to spare.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}
