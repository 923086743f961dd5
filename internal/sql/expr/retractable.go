package expr

import (
	"slices"
	"strings"

	"github.com/tide-data/tide/internal/sql/types"
)

// A Retracting min, max or DISTINCT aggregate keeps each value it was
// given with how many times (Flink's retractable min/max keep a map of
// value to count the same way): taking back the extreme leaves the next
// one, and a DISTINCT value leaves when its last row does. min and max
// keep values in order (types.Compare: values Postgres holds equal
// share an entry); DISTINCT keeps them by distinctKey, values and counts
// parallel to the keys. The state grows with the distinct values of a
// group, not its rows.

// addCounted adds a non-NULL value of a Retracting min, max or DISTINCT.
func (acc *Accumulator) addCounted(v types.Value) error {
	i, found, err := acc.findCounted(v)
	if err != nil {
		return err
	}
	if found {
		acc.counts[i]++
	} else {
		if acc.agg.Distinct {
			acc.distinct = slices.Insert(acc.distinct, i, distinctKey(v))
		}
		acc.values = slices.Insert(acc.values, i, v)
		acc.counts = slices.Insert(acc.counts, i, 1)
	}
	if !acc.agg.Distinct {
		acc.count++
	}
	return nil
}

// retractCounted takes a non-NULL value back; one never added is
// corrupt state.
func (acc *Accumulator) retractCounted(v types.Value) error {
	i, found, err := acc.findCounted(v)
	if err != nil {
		return err
	}
	if !found {
		return errState
	}
	if acc.counts[i]--; acc.counts[i] == 0 {
		if acc.agg.Distinct {
			acc.distinct = slices.Delete(acc.distinct, i, i+1)
		}
		acc.values = slices.Delete(acc.values, i, i+1)
		acc.counts = slices.Delete(acc.counts, i, i+1)
	}
	if !acc.agg.Distinct {
		acc.count--
	}
	return nil
}

// findCounted is where v is, or goes, among the values kept.
func (acc *Accumulator) findCounted(v types.Value) (int, bool, error) {
	if acc.agg.Distinct {
		key := distinctKey(v)
		i, found := slices.BinarySearchFunc(acc.distinct, key, func(x, k []byte) int { return strings.Compare(string(x), string(k)) })
		return i, found, nil
	}
	var cmpErr error
	i, found := slices.BinarySearchFunc(acc.values, v, func(x, y types.Value) int {
		c, err := types.Compare(x, y)
		if err != nil {
			cmpErr = err
		}
		return c
	})
	return i, found, cmpErr
}

// extreme is a Retracting min's or max's result over the values kept
// (the caller has checked there are some).
func (acc *Accumulator) extreme() types.Value {
	if acc.agg.Func == AggMin {
		return acc.values[0]
	}
	return acc.values[len(acc.values)-1]
}
