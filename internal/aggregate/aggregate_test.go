package aggregate

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/types"
)

type event struct {
	key string
	ts  int64
	v   types.Value // bigint or NULL
}

// specs are the aggregates every test computes over the event's value:
// count(*), count(v), sum(v), avg(v), min(v), max(v), count(DISTINCT v).
func specs(t testing.TB) []expr.Aggregate {
	t.Helper()
	var out []expr.Aggregate
	for _, c := range []struct {
		name           string
		star, distinct bool
	}{{"count", true, false}, {"count", false, false}, {"sum", false, false}, {"avg", false, false},
		{"min", false, false}, {"max", false, false}, {"count", false, true}} {
		a, err := expr.NewAggregate(c.name, c.star, c.distinct, types.KindInt8)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func events(r *rand.Rand, n int, disorder int64) []event {
	var out []event
	base := int64(0)
	for range n {
		base += r.Int64N(20)
		ts := base - r.Int64N(disorder+1)
		v := types.Null(types.KindInt8)
		if r.IntN(6) > 0 {
			v = types.NewInt8(r.Int64N(10) - 3)
		}
		out = append(out, event{key: fmt.Sprintf("k%d", r.IntN(4)), ts: ts, v: v})
	}
	return out
}

// oracle computes one window's row by brute force over the events.
func oracle(t *testing.T, aggs []expr.Aggregate, evs []event) []types.Value {
	t.Helper()
	var vals []types.Value
	for i := range aggs {
		acc := aggs[i].NewAccumulator()
		for _, e := range evs {
			if err := acc.Add(e.v); err != nil {
				t.Fatal(err)
			}
		}
		v, err := acc.Result()
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, v)
	}
	return vals
}

func rowString(r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %v", r.Key, r.Window)
	for _, v := range r.Values {
		b.WriteString(" " + v.String())
	}
	return b.String()
}

// TUMBLE and HOP over out-of-order events with a watermark that lags
// the greatest time seen: every window fires once, with exactly the
// events that were not late, and an event is late exactly when all its
// windows had fired when it came. Checked against a brute-force
// evaluation over the events kept.
func TestWindowedAgainstOracle(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 99))
		spec := eventtime.Spec{Kind: eventtime.Tumble, Size: r.Int64N(60) + 5}
		if seed%2 == 1 {
			spec = eventtime.Spec{Kind: eventtime.Hop, Slide: r.Int64N(20) + 5}
			spec.Size = spec.Slide * (r.Int64N(3) + 1)
		}
		aggs := specs(t)
		op, err := New(Spec{Window: &spec, Aggs: aggs})
		if err != nil {
			t.Fatal(err)
		}
		delay := r.Int64N(30)
		evs := events(r, 400, 40)
		var got []string
		kept := map[string][]event{} // window key -> events the oracle counts
		maxTS := int64(eventtime.NoWatermark)
		fired := int64(eventtime.NoWatermark)
		late := 0
		for _, e := range evs {
			args := []types.Value{e.v, e.v, e.v, e.v, e.v, e.v, e.v}
			_, err := op.Add(e.key, e.ts, args)
			allClosed := true
			for _, w := range spec.Assign(nil, e.ts) {
				if !eventtime.Late(w, fired) {
					allClosed = false
					id := e.key + " " + w.String()
					kept[id] = append(kept[id], e)
				}
			}
			switch {
			case errors.Is(err, ErrLate):
				late++
				if !allClosed {
					t.Fatalf("seed %d: event %+v refused as late but a window was open", seed, e)
				}
			case err != nil:
				t.Fatal(err)
			case allClosed:
				t.Fatalf("seed %d: event %+v accepted though all its windows fired", seed, e)
			}
			maxTS = max(maxTS, e.ts)
			if r.IntN(5) == 0 {
				fired = max(fired, maxTS-delay)
				rows, err := op.Fire(fired)
				if err != nil {
					t.Fatal(err)
				}
				for _, row := range rows {
					got = append(got, rowString(row))
				}
			}
		}
		rows, err := op.Fire(1 << 62)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			got = append(got, rowString(row))
		}
		if op.Open() != 0 {
			t.Errorf("seed %d: %d windows left open", seed, op.Open())
		}
		var want []string
		for id, es := range kept {
			key, win, _ := strings.Cut(id, " ")
			var w eventtime.Window
			fmt.Sscanf(win, "[%d, %d)", &w.Start, &w.End)
			want = append(want, rowString(Result{Key: key, Window: w, Values: oracle(t, aggs, es)}))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d (%+v, delay %d, %d late):\n got %d rows\nwant %d rows\nfirst got  %v\nfirst want %v", seed, spec, delay, late, len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
		}
	}
}

// SESSION windows, events in any order within the watermark's delay (so
// none is late): the rows equal the sessions of each key's sorted
// events, aggregated by brute force.
func TestSessionsAgainstOracle(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 7))
		spec := eventtime.Spec{Kind: eventtime.Session, Gap: r.Int64N(40) + 1}
		aggs := specs(t)
		op, err := New(Spec{Window: &spec, Aggs: aggs})
		if err != nil {
			t.Fatal(err)
		}
		evs := events(r, 300, 30)
		const delay = 31 + 40 // more than the disorder plus a gap: nothing is late
		var got []string
		maxTS := int64(eventtime.NoWatermark)
		for _, e := range evs {
			if _, err := op.Add(e.key, e.ts, []types.Value{e.v, e.v, e.v, e.v, e.v, e.v, e.v}); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			maxTS = max(maxTS, e.ts)
			rows, err := op.Fire(maxTS - delay)
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range rows {
				got = append(got, rowString(row))
			}
		}
		rows, _ := op.Fire(1 << 62)
		for _, row := range rows {
			got = append(got, rowString(row))
		}
		byKey := map[string][]event{}
		for _, e := range evs {
			byKey[e.key] = append(byKey[e.key], e)
		}
		var want []string
		for key, es := range byKey {
			slices.SortStableFunc(es, func(a, b event) int { return int(a.ts - b.ts) })
			var cur []event
			var w eventtime.Window
			flush := func() {
				if len(cur) > 0 {
					want = append(want, rowString(Result{Key: key, Window: w, Values: oracle(t, aggs, cur)}))
				}
			}
			for _, e := range es {
				if len(cur) > 0 && e.ts <= w.End {
					cur = append(cur, e)
					w.End = max(w.End, e.ts+spec.Gap)
					continue
				}
				flush()
				cur, w = []event{e}, eventtime.Window{Start: e.ts, End: e.ts + spec.Gap}
			}
			flush()
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d gap %d:\n got %v\nwant %v", seed, spec.Gap, got, want)
		}
	}
}

// Without a window, every event returns its group's new row; the last
// row of each group equals the brute-force aggregate of its events.
func TestUpdatingAgainstOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	aggs := specs(t)
	op, err := New(Spec{Aggs: aggs})
	if err != nil {
		t.Fatal(err)
	}
	evs := events(r, 500, 0)
	last := map[string]string{}
	byKey := map[string][]event{}
	for _, e := range evs {
		row, err := op.Add(e.key, 0, []types.Value{e.v, e.v, e.v, e.v, e.v, e.v, e.v})
		if err != nil || row == nil || row.Key != e.key {
			t.Fatalf("add: %v %+v", err, row)
		}
		last[e.key] = rowString(*row)
		byKey[e.key] = append(byKey[e.key], e)
	}
	for key, es := range byKey {
		if want := rowString(Result{Key: key, Values: oracle(t, aggs, es)}); last[key] != want {
			t.Errorf("%s: %s, want %s", key, last[key], want)
		}
	}
	if op.Open() != len(byKey) {
		t.Errorf("%d groups open, want %d", op.Open(), len(byKey))
	}
}

// Early gives, at random points, the current row of exactly the open
// windows that changed since the last call — each row what a brute-force
// evaluation of the window's events so far gives — while Fire still gives
// every window's final row once; eviction (state on disk) changes
// nothing.
func TestEarlyResults(t *testing.T) {
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 77))
		spec := eventtime.Spec{Kind: eventtime.Tumble, Size: r.Int64N(60) + 5}
		if seed%2 == 1 {
			spec = eventtime.Spec{Kind: eventtime.Hop, Slide: r.Int64N(20) + 5}
			spec.Size = spec.Slide * (r.Int64N(3) + 1)
		}
		aggs := specs(t)
		store := map[string][]byte{}
		s := Spec{Window: &spec, Aggs: aggs, Early: true}
		if seed%3 == 0 {
			s.Spill, s.MaxMemory = mapSpill(store), 0
		}
		op, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		delay := r.Int64N(30)
		kept := map[string][]event{}  // window -> its events so far
		changed := map[string]bool{}  // windows changed since the last Early
		firedRows := map[string]int{} // window -> final rows
		maxTS := int64(eventtime.NoWatermark)
		early := 0
		for i, e := range events(r, 400, 40) {
			args := []types.Value{e.v, e.v, e.v, e.v, e.v, e.v, e.v}
			if _, err := op.Add(e.key, e.ts, args); err != nil && !errors.Is(err, ErrLate) {
				t.Fatal(err)
			}
			for _, w := range spec.Assign(nil, e.ts) {
				if !eventtime.Late(w, op.fired) {
					id := e.key + " " + w.String()
					kept[id] = append(kept[id], e)
					changed[id] = true
				}
			}
			maxTS = max(maxTS, e.ts)
			if r.IntN(5) == 0 {
				rows, err := op.Fire(maxTS - delay)
				if err != nil {
					t.Fatal(err)
				}
				for _, row := range rows {
					id := row.Key + " " + row.Window.String()
					firedRows[id]++
					delete(changed, id)
				}
			}
			if r.IntN(7) == 0 {
				rows, err := op.Early()
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]bool{}
				for _, row := range rows {
					id := row.Key + " " + row.Window.String()
					got[id] = true
					want := oracle(t, aggs, kept[id])
					if g, w := rowString(row), rowString(Result{Key: row.Key, Window: row.Window, Values: want}); g != w {
						t.Fatalf("seed %d event %d: early row %s, want %s", seed, i, g, w)
					}
				}
				if !maps.Equal(got, changed) {
					t.Fatalf("seed %d event %d: early rows for %v, changed %v", seed, i, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(changed)))
				}
				early += len(rows)
				clear(changed)
			}
			if s.Spill != nil && r.IntN(10) == 0 {
				checkpoint(t, op, store)
				op.Evict()
			}
		}
		rows, err := op.Fire(math.MaxInt64 - 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			firedRows[row.Key+" "+row.Window.String()]++
		}
		for id := range kept {
			if firedRows[id] != 1 {
				t.Fatalf("seed %d: window %s fired %d times", seed, id, firedRows[id])
			}
		}
		if early == 0 {
			t.Fatalf("seed %d: no early rows", seed)
		}
	}
	if _, err := New(Spec{Aggs: specs(t), Early: true}); err == nil {
		t.Error("early results accepted without a window")
	}
	if _, err := New(Spec{Window: &eventtime.Spec{Kind: eventtime.Session, Gap: 5}, Aggs: specs(t), Early: true}); err == nil {
		t.Error("early results accepted for sessions")
	}
}
