package expr

import (
	"cmp"
	"strings"

	"github.com/google/btree"

	"github.com/tide-data/tide/internal/sql/types"
)

// A Retracting min, max or DISTINCT aggregate ("counted") keeps every
// value it was given with how many rows have it, as Flink's retractable
// min and max keep a map of value to count: taking back the extreme
// leaves the next one, and a DISTINCT value leaves with its last row.
// Each exact form is an entry of its own (1.0 and 1.00, '1 day' and '24
// hours' compare equal but print apart), so a result is always printed as
// a row still held has it. Entries are in a B-tree: a group's update costs
// a logarithm of its distinct values, not a shift of them. The state grows
// with a group's distinct values, not its rows.

// countedValue is one exact form of a counted aggregate's values.
type countedValue struct {
	v    types.Value
	key  string // DISTINCT's distinctKey: equal values share it
	text string // the exact form (appendValue), ordering equal values
	n    int64  // rows that have it
}

// countedOverhead is what an entry holds in memory beyond its strings:
// the struct, its pointer in the tree's nodes.
const countedOverhead = 112

// isCounted reports whether the accumulator keeps its values counted.
func (acc *Accumulator) isCounted() bool {
	a := acc.agg
	return a.Retracting && (a.Distinct || a.Func == AggMin || a.Func == AggMax)
}

// less orders a counted aggregate's entries: DISTINCT by key, min and max
// by value (types.Compare), then by exact form.
func (acc *Accumulator) less(x, y *countedValue) bool {
	var c int
	if acc.agg.Distinct {
		c = strings.Compare(x.key, y.key)
	} else {
		// Values of one aggregate share its argument's kind: Compare
		// cannot fail on them.
		c, _ = types.Compare(x.v, y.v)
	}
	return cmp.Or(c, strings.Compare(x.text, y.text)) < 0
}

// entry is v's entry to look up or insert.
func (acc *Accumulator) entry(v types.Value) *countedValue {
	e := &countedValue{v: v, text: string(appendValue(nil, v))}
	if acc.agg.Distinct {
		e.key = string(distinctKey(v))
	}
	return e
}

// addCounted adds n rows of a non-NULL value.
func (acc *Accumulator) addCounted(v types.Value, n int64) {
	if acc.counted == nil {
		acc.counted = btree.NewG(16, acc.less)
	}
	e := acc.entry(v)
	if old, ok := acc.counted.Get(e); ok {
		old.n += n
	} else {
		e.n = n
		acc.counted.ReplaceOrInsert(e)
		acc.held += e.size()
		if acc.agg.Distinct && !acc.sharesKey(e) {
			acc.keys++
		}
	}
	acc.count += n
}

// retractCounted takes back a non-NULL value; one never added is
// corrupt state.
func (acc *Accumulator) retractCounted(v types.Value) error {
	if acc.counted == nil {
		return errState
	}
	e, ok := acc.counted.Get(acc.entry(v))
	if !ok || e.n <= 0 {
		return errState
	}
	if e.n--; e.n == 0 {
		acc.counted.Delete(e)
		acc.held -= e.size()
		if acc.agg.Distinct && !acc.sharesKey(e) {
			acc.keys--
		}
	}
	acc.count--
	return nil
}

// countedResult is a counted aggregate's result: min's or max's extreme,
// or DISTINCT's aggregate over one form of each distinct value.
func (acc *Accumulator) countedResult() (types.Value, error) {
	a := acc.agg
	if acc.counted == nil || acc.counted.Len() == 0 {
		if a.Func == AggCount {
			return types.NewInt8(0), nil
		}
		return types.Null(a.Result), nil
	}
	switch {
	case a.Distinct && a.Func == AggCount:
		return types.NewInt8(acc.keys), nil // kept as entries come and go: no walk
	case a.Distinct:
		folded := &Accumulator{agg: &Aggregate{Func: a.Func, Arg: a.Arg, Result: a.Result}}
		var err error
		last := ""
		acc.counted.Ascend(func(e *countedValue) bool {
			if e.key == last && folded.count > 0 {
				return true // another form of a value folded already
			}
			last = e.key
			err = folded.fold(e.v)
			return err == nil
		})
		if err != nil {
			return types.Value{}, err
		}
		if a.Func == AggCount {
			return types.NewInt8(folded.count), nil
		}
		return folded.Result()
	case a.Func == AggMin:
		e, _ := acc.counted.Min()
		return e.v, nil
	default:
		e, _ := acc.counted.Max()
		return e.v, nil
	}
}

// sharesKey reports whether an entry next to e (in the tree or where it
// was) has e's DISTINCT key: another form of the same value.
func (acc *Accumulator) sharesKey(e *countedValue) bool {
	shared := false
	next := func(x *countedValue) bool {
		if x == e {
			return true // e itself, still in the tree
		}
		shared = x.key == e.key
		return false
	}
	if acc.counted.DescendLessOrEqual(e, next); !shared {
		acc.counted.AscendGreaterOrEqual(e, next)
	}
	return shared
}

// countedEntries are a counted aggregate's entries in order.
func (acc *Accumulator) countedEntries() []*countedValue {
	if acc.counted == nil {
		return nil
	}
	out := make([]*countedValue, 0, acc.counted.Len())
	acc.counted.Ascend(func(e *countedValue) bool {
		out = append(out, e)
		return true
	})
	return out
}

// loadCounted rebuilds a counted aggregate's entries from its state's
// values and counts, which must be in order, each form once, and add up
// to its row count.
func (acc *Accumulator) loadCounted(values []types.Value, counts []int64) error {
	if len(values) != len(counts) {
		return errState
	}
	rows := acc.count
	acc.count, acc.counted, acc.held, acc.keys = 0, nil, 0, 0
	var prev *countedValue
	for i, v := range values {
		if counts[i] <= 0 {
			return errState
		}
		e := acc.entry(v)
		if prev != nil && !acc.less(prev, e) {
			return errState
		}
		prev = e
		acc.addCounted(v, counts[i])
	}
	if acc.count != rows {
		return errState
	}
	return nil
}

// mergeCounted folds other's entries into acc's.
func (acc *Accumulator) mergeCounted(other *Accumulator) {
	for _, e := range other.countedEntries() {
		acc.addCounted(e.v, e.n)
	}
}

// Held estimates what the accumulator holds in memory beyond its state's
// encoding: a counted aggregate's entries.
func (acc *Accumulator) Held() int64 { return acc.held }

// size is what an entry takes in memory.
func (e *countedValue) size() int64 {
	return countedOverhead + int64(len(e.key)+len(e.text))
}
