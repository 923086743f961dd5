package expr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/btree"

	"github.com/tide-data/tide/internal/sql/types"
)

// AggFunc is an aggregate function.
type AggFunc uint8

// The aggregate functions.
const (
	AggCount AggFunc = iota + 1
	AggSum
	AggAvg
	AggMin
	AggMax
)

var aggNames = map[string]AggFunc{"count": AggCount, "sum": AggSum, "avg": AggAvg, "min": AggMin, "max": AggMax}

func (f AggFunc) String() string {
	for name, g := range aggNames {
		if g == f {
			return name
		}
	}
	return fmt.Sprintf("AggFunc(%d)", uint8(f))
}

// IsAggregate reports whether name (lower case) is an aggregate function.
func IsAggregate(name string) bool {
	_, ok := aggNames[strings.ToLower(name)]
	return ok
}

// Aggregate is one aggregate call resolved for its argument's type, with
// Postgres' result type:
//
//	count(*), count(x)        bigint, 0 over no rows
//	sum(smallint | integer)   bigint
//	sum(bigint | numeric)     numeric
//	sum(double precision)     double precision
//	sum(interval)             interval
//	avg(integers | numeric)   numeric (the quotient's scale as numeric '/' picks it)
//	avg(double precision)     double precision
//	avg(interval)             interval
//	min(x), max(x)            x's type, any type with an order
//
// NULL arguments are skipped; every function but count is NULL over no
// (non-NULL) rows. DISTINCT keeps each value once (count(DISTINCT x)).
type Aggregate struct {
	Func     AggFunc
	Star     bool // count(*)
	Distinct bool
	Arg      types.Kind
	Result   types.Kind
	// Retracting: the accumulators keep what Retract needs beyond a
	// running result (retractable.go): min and max every value with its
	// count, DISTINCT each value's count.
	Retracting bool
}

// NewAggregate resolves an aggregate call; the error says which argument
// types the function takes.
func NewAggregate(name string, star, distinct bool, arg types.Kind) (Aggregate, error) {
	f, ok := aggNames[strings.ToLower(name)]
	if !ok {
		return Aggregate{}, types.Errorf(codeUndefinedFunction, "%s is not an aggregate function", name)
	}
	a := Aggregate{Func: f, Star: star, Distinct: distinct, Arg: arg}
	if star {
		if f != AggCount || distinct {
			return a, types.Errorf(codeSyntaxError, "%s(*) is not allowed; only count(*)", name)
		}
		a.Arg, a.Result = types.KindNull, types.KindInt8
		return a, nil
	}
	bad := func(takes string) (Aggregate, error) {
		return a, types.Errorf(codeUndefinedFunction, "function %s(%s) does not exist; %s takes %s", f, arg, f, takes)
	}
	switch f {
	case AggCount:
		a.Result = types.KindInt8
	case AggSum:
		switch arg {
		case types.KindInt2, types.KindInt4:
			a.Result = types.KindInt8
		case types.KindInt8, types.KindNumeric:
			a.Result = types.KindNumeric
		case types.KindFloat8, types.KindInterval:
			a.Result = arg
		default:
			return bad("numbers and intervals")
		}
	case AggAvg:
		switch {
		case arg.IsInteger() || arg == types.KindNumeric:
			a.Result = types.KindNumeric
		case arg == types.KindFloat8 || arg == types.KindInterval:
			a.Result = arg
		default:
			return bad("numbers and intervals")
		}
	case AggMin, AggMax:
		if arg == types.KindJSON || arg == types.KindNull {
			return bad("a type with an order (not json)")
		}
		a.Result = arg
	}
	return a, nil
}

// Accumulator is one group's state of an aggregate. Not safe for
// concurrent use.
type Accumulator struct {
	agg   *Aggregate
	count int64
	// sum holds sum and avg's running total (int for integer sums, f
	// for double, d for numeric, the interval parts for interval), and
	// min/max's current value.
	i, months, days int64
	f               float64
	d               apd.Decimal
	v               types.Value
	// For DISTINCT: the keys of the values seen (distinctKey), sorted,
	// and the values, in arrival order.
	distinct [][]byte
	values   []types.Value
	// counted holds a Retracting min's, max's or DISTINCT's values with
	// their counts (retractable.go); nil otherwise, or before a value.
	counted *btree.BTreeG[*countedValue]
	held    int64 // what counted's entries take in memory
	keys    int64 // a counted DISTINCT's distinct values (count(DISTINCT))
	// specials counts the NaN, +Infinity and -Infinity values of a sum or
	// avg of doubles or numerics, kept out of the running total: taken
	// back, Infinity - Infinity would leave NaN in a total of finite
	// values. The result is NaN with a NaN or both infinities, else the
	// infinity there is (Postgres' sum).
	specials [3]int64
}

// The indexes of Accumulator.specials.
const (
	specialNaN = iota
	specialPosInf
	specialNegInf
)

// specialIndex returns which special value v (a double or a numeric) is, or
// -1 for a finite one.
func specialIndex(v types.Value) int {
	switch v.Kind() {
	case types.KindFloat8:
		switch f := v.Float(); {
		case math.IsNaN(f):
			return specialNaN
		case math.IsInf(f, 1):
			return specialPosInf
		case math.IsInf(f, -1):
			return specialNegInf
		}
	case types.KindNumeric:
		switch d := v.Decimal(); d.Form {
		case apd.NaN, apd.NaNSignaling:
			return specialNaN
		case apd.Infinite:
			if d.Negative {
				return specialNegInf
			}
			return specialPosInf
		}
	}
	return -1
}

// specialResult is the sum's value when it holds special values: NaN,
// or an infinity, as a value of the sum's type; ok false when it holds
// none.
func (acc *Accumulator) specialResult() (v types.Value, ok bool) {
	sp := acc.specials
	if sp == [3]int64{} {
		return types.Value{}, false
	}
	var f float64
	switch {
	case sp[specialNaN] > 0 || sp[specialPosInf] > 0 && sp[specialNegInf] > 0:
		f = math.NaN()
	case sp[specialPosInf] > 0:
		f = math.Inf(1)
	default:
		f = math.Inf(-1)
	}
	if acc.agg.Arg == types.KindFloat8 {
		return types.NewFloat8(f), true
	}
	d := &apd.Decimal{Form: apd.Infinite, Negative: f < 0}
	if math.IsNaN(f) {
		d = &apd.Decimal{Form: apd.NaN}
	}
	return types.NewNumeric(d), true
}

// NewAccumulator returns an empty accumulator of a.
func (a *Aggregate) NewAccumulator() *Accumulator { return &Accumulator{agg: a} }

// Add folds one argument value in (ignored for count(*), which counts
// rows: pass any value).
func (acc *Accumulator) Add(v types.Value) error {
	a := acc.agg
	if a.Star {
		acc.count++
		return nil
	}
	if v.IsNull() {
		return nil
	}
	if acc.isCounted() {
		acc.addCounted(v, 1)
		return nil
	}
	if a.Distinct {
		// Kept, and folded in value order by Result, as Postgres sorts
		// for DISTINCT (a double's sum depends on the order).
		key := distinctKey(v)
		i, found := slices.BinarySearchFunc(acc.distinct, key, func(x, k []byte) int { return strings.Compare(string(x), string(k)) })
		if !found {
			acc.distinct = slices.Insert(acc.distinct, i, key)
			acc.values = append(acc.values, v)
		}
		return nil
	}
	return acc.fold(v)
}

// fold adds a non-NULL value to the running result.
func (acc *Accumulator) fold(v types.Value) error {
	a := acc.agg
	switch a.Func {
	case AggCount:
	case AggSum, AggAvg:
		if err := acc.addSum(v); err != nil {
			return err
		}
	case AggMin, AggMax:
		if acc.count == 0 {
			acc.v = v
			break
		}
		c, err := types.Compare(v, acc.v)
		if err != nil {
			return err
		}
		if (a.Func == AggMin && c < 0) || (a.Func == AggMax && c > 0) {
			acc.v = v
		}
	}
	acc.count++
	return nil
}

func (acc *Accumulator) addSum(v types.Value) error {
	switch acc.agg.Arg {
	case types.KindInt2, types.KindInt4:
		if acc.agg.Func == AggSum {
			s := acc.i + v.Int()
			if (v.Int() > 0 && s < acc.i) || (v.Int() < 0 && s > acc.i) {
				return types.ErrBigintRange
			}
			acc.i = s
			return nil
		}
		fallthrough
	case types.KindInt8:
		_, err := types.NumericContext.Add(&acc.d, &acc.d, apd.New(v.Int(), 0))
		return err
	case types.KindNumeric, types.KindFloat8:
		if i := specialIndex(v); i >= 0 {
			acc.specials[i]++
			return nil
		}
		if acc.agg.Arg == types.KindFloat8 {
			acc.f += v.Float()
			return nil
		}
		r, err := numericOp("+", &acc.d, v.Decimal())
		if err != nil {
			return err
		}
		acc.d.Set(r)
	case types.KindInterval:
		m, d, us := v.Interval()
		acc.months += int64(m)
		acc.days += int64(d)
		s := acc.i + us
		if (us > 0 && s < acc.i) || (us < 0 && s > acc.i) || acc.months != int64(int32(acc.months)) || acc.days != int64(int32(acc.days)) {
			return types.ErrIntervalRange
		}
		acc.i = s
	}
	return nil
}

// Count is how many rows the accumulator holds: for count(*) every row,
// for the others (but DISTINCT) those with a non-NULL argument.
func (acc *Accumulator) Count() int64 { return acc.count }

// Retractable reports whether Retract can take rows back out of the
// aggregate's accumulators: count, count(*), sum and avg, without
// DISTINCT, always; min, max and DISTINCT when Retracting.
func (a *Aggregate) Retractable() bool {
	return a.Retracting || !a.Distinct && (a.Func == AggCount || a.Func == AggSum || a.Func == AggAvg)
}

// errNotRetractable is Retract's answer for an aggregate that cannot
// take rows back; planners refuse such queries first.
var errNotRetractable = errors.New("expr: the aggregate cannot take rows back")

// Retract takes one argument value back out (a row an updating input
// took back): the inverse of Add. The caller retracts only values it
// added; a count falling below zero is reported as corrupt state.
func (acc *Accumulator) Retract(v types.Value) error {
	a := acc.agg
	if !a.Retractable() {
		return errNotRetractable
	}
	if !a.Star && v.IsNull() {
		return nil
	}
	if acc.isCounted() {
		return acc.retractCounted(v)
	}
	if acc.count == 0 {
		return errState
	}
	if a.Func != AggCount {
		if err := acc.subSum(v); err != nil {
			return err
		}
	}
	acc.count--
	return nil
}

// subSum takes a non-NULL value out of sum and avg's running total.
func (acc *Accumulator) subSum(v types.Value) error {
	switch acc.agg.Arg {
	case types.KindInt2, types.KindInt4:
		if acc.agg.Func == AggSum {
			s := acc.i - v.Int()
			if (v.Int() < 0 && s < acc.i) || (v.Int() > 0 && s > acc.i) {
				return types.ErrBigintRange
			}
			acc.i = s
			return nil
		}
		fallthrough
	case types.KindInt8:
		_, err := types.NumericContext.Sub(&acc.d, &acc.d, apd.New(v.Int(), 0))
		return err
	case types.KindNumeric, types.KindFloat8:
		if i := specialIndex(v); i >= 0 {
			if acc.specials[i] == 0 {
				return errState
			}
			acc.specials[i]--
			return nil
		}
		if acc.agg.Arg == types.KindFloat8 {
			acc.f -= v.Float()
			return nil
		}
		r, err := numericOp("-", &acc.d, v.Decimal())
		if err != nil {
			return err
		}
		acc.d.Set(r)
	case types.KindInterval:
		m, d, us := v.Interval()
		acc.months -= int64(m)
		acc.days -= int64(d)
		s := acc.i - us
		if (us < 0 && s < acc.i) || (us > 0 && s > acc.i) || acc.months != int64(int32(acc.months)) || acc.days != int64(int32(acc.days)) {
			return types.ErrIntervalRange
		}
		acc.i = s
	}
	return nil
}

// Merge folds other's state (of the same Aggregate) into acc, as when two
// session windows become one.
func (acc *Accumulator) Merge(other *Accumulator) error {
	a := acc.agg
	if acc.isCounted() {
		acc.mergeCounted(other)
		return nil
	}
	if a.Distinct {
		for _, v := range other.values {
			if err := acc.Add(v); err != nil {
				return err
			}
		}
		return nil
	}
	if other.count == 0 {
		return nil
	}
	switch {
	case a.Star || a.Func == AggCount:
	case a.Func == AggMin || a.Func == AggMax:
		if acc.count == 0 {
			acc.v = other.v
			break
		}
		c, err := types.Compare(other.v, acc.v)
		if err != nil {
			return err
		}
		if (a.Func == AggMin && c < 0) || (a.Func == AggMax && c > 0) {
			acc.v = other.v
		}
	default: // sum, avg: add the other's running total
		switch a.Arg {
		case types.KindInt2, types.KindInt4:
			if a.Func == AggSum {
				s := acc.i + other.i
				if (other.i > 0 && s < acc.i) || (other.i < 0 && s > acc.i) {
					return types.ErrBigintRange
				}
				acc.i = s
				break
			}
			fallthrough
		case types.KindInt8, types.KindNumeric:
			r, err := numericOp("+", &acc.d, &other.d)
			if err != nil {
				return err
			}
			acc.d.Set(r)
		case types.KindFloat8:
			acc.f += other.f
		case types.KindInterval:
			if err := acc.addSum(types.NewInterval(int32(other.months), int32(other.days), other.i)); err != nil {
				return err
			}
		}
		for i, n := range other.specials {
			acc.specials[i] += n
		}
	}
	acc.count += other.count
	return nil
}

// Result is the aggregate over what was added.
func (acc *Accumulator) Result() (types.Value, error) {
	a := acc.agg
	if acc.isCounted() {
		return acc.countedResult()
	}
	if a.Distinct {
		sorted := slices.Clone(acc.values)
		var cmpErr error
		slices.SortStableFunc(sorted, func(x, y types.Value) int {
			c, err := types.Compare(x, y)
			if err != nil {
				cmpErr = err
			}
			return c
		})
		if cmpErr != nil {
			return types.Value{}, cmpErr
		}
		folded := &Accumulator{agg: &Aggregate{Func: a.Func, Arg: a.Arg, Result: a.Result}}
		for _, v := range sorted {
			if err := folded.fold(v); err != nil {
				return types.Value{}, err
			}
		}
		return folded.Result()
	}
	if a.Func == AggCount {
		return types.NewInt8(acc.count), nil
	}
	if acc.count == 0 {
		return types.Null(a.Result), nil
	}
	if v, ok := acc.specialResult(); ok && (a.Func == AggSum || a.Func == AggAvg) {
		return v, nil // NaN or an infinity, whatever the finite values add up to
	}
	switch a.Func {
	case AggMin, AggMax:
		return acc.v, nil
	case AggSum:
		switch a.Arg {
		case types.KindInt2, types.KindInt4:
			return types.NewInt8(acc.i), nil
		case types.KindFloat8:
			return types.NewFloat8(acc.f), nil
		case types.KindInterval:
			return types.NewInterval(int32(acc.months), int32(acc.days), acc.i), nil
		}
		return numVal(new(apd.Decimal).Set(&acc.d), nil)
	}
	// avg
	switch a.Arg {
	case types.KindFloat8:
		return types.NewFloat8(acc.f / float64(acc.count)), nil
	case types.KindInterval:
		return intervalDiv(types.NewInterval(int32(acc.months), int32(acc.days), acc.i), float64(acc.count))
	}
	return numVal(numericOp("/", &acc.d, apd.New(acc.count, 0)))
}

// AppendState appends the accumulator's state, for a state store or a
// changelog; LoadState reads it back into an accumulator of the same
// Aggregate.
func (acc *Accumulator) AppendState(dst []byte) []byte {
	dst = binary.AppendVarint(dst, acc.count)
	dst = binary.AppendVarint(dst, acc.i)
	dst = binary.AppendVarint(dst, acc.months)
	dst = binary.AppendVarint(dst, acc.days)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(acc.f))
	dst = appendString(dst, acc.d.String())
	if acc.agg.Func == AggMin || acc.agg.Func == AggMax {
		dst = appendValue(append(dst, 1), acc.v) // a counted min's or max's is NULL: its entries hold it
	} else {
		dst = append(dst, 0)
	}
	if acc.isCounted() {
		entries := acc.countedEntries()
		dst = binary.AppendUvarint(dst, uint64(len(entries)))
		for _, e := range entries {
			dst = appendValue(dst, e.v)
		}
		dst = append(dst, stateCounts)
		for _, e := range entries {
			dst = binary.AppendVarint(dst, e.n)
		}
	} else {
		dst = binary.AppendUvarint(dst, uint64(len(acc.values)))
		for _, v := range acc.values {
			dst = appendValue(dst, v)
		}
	}
	if acc.specials != [3]int64{} { // only then, so that earlier states read alike
		dst = append(dst, stateSpecials)
		for _, n := range acc.specials {
			dst = binary.AppendVarint(dst, n)
		}
	}
	return dst
}

// stateSpecials marks the special values' counts at the end of a state,
// stateCounts a counted aggregate's counts of its values before them.
const (
	stateSpecials = 's'
	stateCounts   = 'c'
)

// errState is the error of a state that does not decode.
var errState = errors.New("expr: corrupt aggregate state")

// LoadState replaces the accumulator's state with one AppendState wrote.
func (acc *Accumulator) LoadState(b []byte) error {
	*acc = Accumulator{agg: acc.agg}
	r := stateReader{b: b}
	acc.count, acc.i, acc.months, acc.days = r.varint(), r.varint(), r.varint(), r.varint()
	acc.f = math.Float64frombits(r.uint64())
	if s := r.str(); s != "0" || r.err != nil {
		if _, _, err := acc.d.SetString(s); err != nil {
			return errState
		}
	}
	counted := acc.isCounted()
	if r.byte() == 1 {
		if acc.v = r.value(); !counted && acc.count > 0 && (acc.v.IsNull() || acc.v.Kind() != acc.agg.Arg) {
			return errState
		}
	}
	n := r.uvarint()
	if n > uint64(len(b)) {
		return errState
	}
	for range n {
		v := r.value()
		if r.err != nil || v.IsNull() || v.Kind() != acc.agg.Arg {
			return errState
		}
		if acc.agg.Distinct && !counted {
			key := distinctKey(v)
			i, _ := slices.BinarySearchFunc(acc.distinct, key, func(x, k []byte) int { return strings.Compare(string(x), string(k)) })
			acc.distinct = slices.Insert(acc.distinct, i, key)
		}
		acc.values = append(acc.values, v)
	}
	if counted {
		var counts []int64
		if r.err == nil && r.i < len(b) && b[r.i] == stateCounts {
			r.i++
			counts = make([]int64, len(acc.values))
			for i := range counts {
				counts[i] = r.varint()
			}
		}
		if r.err != nil || acc.loadCounted(acc.values, counts) != nil {
			return errState
		}
		acc.values = nil
	}
	if r.err == nil && r.i < len(b) && b[r.i] == stateSpecials {
		r.i++
		for i := range acc.specials {
			if acc.specials[i] = r.varint(); acc.specials[i] < 0 {
				return errState
			}
		}
	}
	if r.err != nil || r.i != len(b) {
		return errState
	}
	return nil
}

// distinctKey encodes v so that values Postgres holds equal encode
// alike: numerics without trailing zeros (1.0 = 1.00), -0 as 0, and an
// interval by its span ('1 day' = '24 hours').
func distinctKey(v types.Value) []byte {
	switch v.Kind() {
	case types.KindNumeric:
		var r apd.Decimal
		r.Reduce(v.Decimal())
		if r.IsZero() {
			r.Negative = false
		}
		return appendString([]byte{byte(types.KindNumeric)}, r.String())
	case types.KindFloat8:
		if v.Float() == 0 {
			return appendValue(nil, types.NewFloat8(0))
		}
	case types.KindInterval:
		hi, lo := types.IntervalSpan(v.Interval())
		b := binary.BigEndian.AppendUint64([]byte{byte(types.KindInterval)}, uint64(hi))
		return binary.BigEndian.AppendUint64(b, lo)
	}
	return appendValue(nil, v)
}

// appendValue encodes a value as its kind and its Postgres text (exact for
// every kind: doubles print the shortest text that reads back).
func appendValue(dst []byte, v types.Value) []byte {
	if v.IsNull() {
		return append(dst, byte(v.Kind()), 0)
	}
	dst = append(dst, byte(v.Kind()), 1)
	return appendString(dst, v.String())
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

type stateReader struct {
	b   []byte
	i   int
	err error
}

func (r *stateReader) fail() { r.err, r.i = errState, len(r.b) }

func (r *stateReader) varint() int64 {
	v, n := binary.Varint(r.b[r.i:])
	if n <= 0 {
		r.fail()
		return 0
	}
	r.i += n
	return v
}

func (r *stateReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.i:])
	if n <= 0 {
		r.fail()
		return 0
	}
	r.i += n
	return v
}

func (r *stateReader) uint64() uint64 {
	if len(r.b)-r.i < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.i:])
	r.i += 8
	return v
}

func (r *stateReader) byte() byte {
	if r.i >= len(r.b) {
		r.fail()
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

func (r *stateReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)-r.i) {
		r.fail()
		return ""
	}
	s := string(r.b[r.i : r.i+int(n)])
	r.i += int(n)
	return s
}

func (r *stateReader) value() types.Value {
	k := types.Kind(r.byte())
	if r.byte() == 0 {
		return types.Null(k)
	}
	v, err := types.ParseText(k, r.str())
	if err != nil {
		r.fail()
	}
	return v
}
