package jsonschema

import (
	"bytes"
	"math/big"
	"math/bits"
)

// decimal is an exact decimal number, 0.digits × 10^exp, negative when
// neg. digits are ASCII digits without leading or trailing zeros, so
// every value has one spelling; zero has no digits and is not negative.
// The library compares numbers as big.Rat made from their literals; a
// literal is a finite decimal, so comparing decimals decides the same
// without building a big.Rat.
type decimal struct {
	neg    bool
	digits []byte
	exp    int
}

// decimalOf returns the value of lit, a JSON number literal whose
// exponent exponentIsSmall accepted. The digits are written into buf, which
// the result refers to.
func decimalOf(lit []byte, buf *[maxNumberText]byte) decimal {
	var d decimal
	i := 0
	if lit[0] == '-' {
		d.neg = true
		i++
	}
	n, intDigits, exp := 0, -1, 0
	for ; i < len(lit); i++ {
		c := lit[i]
		if c >= '0' && c <= '9' {
			buf[n] = c
			n++
			continue
		}
		if c == '.' {
			intDigits = n
			continue
		}
		exp = smallExponent(lit[i+1:]) // c is 'e' or 'E'
		break
	}
	if intDigits < 0 {
		intDigits = n
	}
	digits := buf[:n]
	lead := 0
	for lead < len(digits) && digits[lead] == '0' {
		lead++
	}
	digits = digits[lead:]
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return decimal{}
	}
	d.digits = digits
	d.exp = intDigits - lead + exp
	return d
}

// smallExponent parses an exponent ("+5", "-07", "12") known to be
// within ±maxNumberExponent.
func smallExponent(b []byte) int {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	e := 0
	for _, c := range b {
		e = e*10 + int(c-'0')
	}
	if neg {
		return -e
	}
	return e
}

// exponentIsSmall is numberIsSmall's test of the exponent of a literal
// ("+5", "-07", "12"): within ±maxNumberExponent. (strconv.Atoi fails
// there only on overflow, which is out of range too.)
func exponentIsSmall(b []byte) bool {
	if b[0] == '+' || b[0] == '-' {
		b = b[1:]
	}
	e := 0
	for _, c := range b {
		e = e*10 + int(c-'0')
		if e > maxNumberExponent {
			return false
		}
	}
	return true
}

func (d decimal) isZero() bool { return len(d.digits) == 0 }

// isInteger is big.Rat.IsInt: no digit after the point.
func (d decimal) isInteger() bool { return len(d.digits) <= d.exp || d.isZero() }

// sign is -1, 0 or 1.
func (d decimal) sign() int {
	switch {
	case d.isZero():
		return 0
	case d.neg:
		return -1
	}
	return 1
}

// cmp compares d and e as big.Rat.Cmp does.
func (d decimal) cmp(e decimal) int {
	sd, se := d.sign(), e.sign()
	if sd != se {
		if sd < se {
			return -1
		}
		return 1
	}
	if sd == 0 {
		return 0
	}
	m := 0
	switch {
	case d.exp < e.exp:
		m = -1
	case d.exp > e.exp:
		m = 1
	default:
		// Without trailing zeros, digit strings compare as the numbers:
		// 0.19 < 0.2 and 0.1 < 0.12.
		m = bytes.Compare(d.digits, e.digits)
	}
	return m * sd
}

// maxBoundBits bounds the size of a schema's numbers the fast path takes
// on: converting 1e-1000000 to a decimal would take minutes. A schema
// with such a number is left to the library.
const maxBoundBits = 4096

// decimalOfRat returns r as a decimal, false when r is not a finite
// decimal (its denominator has a prime factor other than 2 and 5, which
// a number literal never gives) or is too large to convert cheaply.
func decimalOfRat(r *big.Rat) (decimal, bool) {
	num, den := new(big.Int).Abs(r.Num()), new(big.Int).Set(r.Denom())
	if num.BitLen() > maxBoundBits || den.BitLen() > maxBoundBits {
		return decimal{}, false
	}
	if num.Sign() == 0 {
		return decimal{}, true
	}
	twos := int(den.TrailingZeroBits())
	den.Rsh(den, uint(twos))
	fives := 0
	five, q, m := big.NewInt(5), new(big.Int), new(big.Int)
	for den.Cmp(big.NewInt(1)) != 0 {
		q.QuoRem(den, five, m)
		if m.Sign() != 0 {
			return decimal{}, false
		}
		den.Set(q)
		fives++
	}
	// r = num / (2^twos 5^fives) = num 2^(k-twos) 5^(k-fives) / 10^k.
	k := max(twos, fives)
	num.Mul(num, new(big.Int).Lsh(big.NewInt(1), uint(k-twos)))
	num.Mul(num, new(big.Int).Exp(five, big.NewInt(int64(k-fives)), nil))
	text := []byte(num.String())
	d := decimal{neg: r.Sign() < 0, exp: len(text) - k}
	for len(text) > 0 && text[len(text)-1] == '0' {
		text = text[:len(text)-1]
	}
	d.digits = text
	return d, true
}

// multiple is a multipleOf divisor, mantissa × 10^exp with a mantissa
// that fits a uint64 and has no trailing zeros.
type multiple struct {
	mantissa uint64
	exp      int
}

// multipleOfRat returns a positive r as a multiple, false when it does not
// fit.
func multipleOfRat(r *big.Rat) (multiple, bool) {
	d, ok := decimalOfRat(r)
	if !ok || d.sign() <= 0 || len(d.digits) > 19 {
		return multiple{}, false
	}
	var m uint64
	for _, c := range d.digits {
		m = m*10 + uint64(c-'0')
	}
	return multiple{mantissa: m, exp: d.exp - len(d.digits)}, true
}

// divides reports whether d / m is an integer, as the library's
// big.Rat quotient decides; known is false when d has too many digits to
// tell here.
func (m multiple) divides(d decimal) (divides, known bool) {
	if d.isZero() {
		return true, true
	}
	if len(d.digits) > 19 {
		return false, false
	}
	var v uint64
	for _, c := range d.digits {
		v = v*10 + uint64(c-'0')
	}
	// d = v × 10^vexp. d/m = (v/mantissa) × 10^k. With k < 0 the
	// quotient needs 10^-k to divide v, which has no trailing zeros.
	k := d.exp - len(d.digits) - m.exp
	if k < 0 {
		return false, true
	}
	return mulMod(v%m.mantissa, pow10Mod(k, m.mantissa), m.mantissa) == 0, true
}

func mulMod(a, b, m uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return bits.Rem64(hi, lo, m)
}

// pow10Mod is 10^k mod m.
func pow10Mod(k int, m uint64) uint64 {
	result, base := uint64(1)%m, uint64(10)%m
	for ; k > 0; k >>= 1 {
		if k&1 == 1 {
			result = mulMod(result, base, m)
		}
		base = mulMod(base, base, m)
	}
	return result
}
