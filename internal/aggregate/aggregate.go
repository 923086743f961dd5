package aggregate

import (
	"container/heap"
	"errors"
	"slices"
	"strings"

	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/types"
)

// ErrLate is Add's answer for an event whose windows have all fired.
var ErrLate = errors.New("aggregate: late event: its windows have been emitted")

// Spec is what an operator computes.
type Spec struct {
	// Window is the window function; nil for an updating GROUP BY.
	Window *eventtime.Spec
	Aggs   []expr.Aggregate
}

// Result is one row of output: the group's key as the caller encoded it,
// its window (zero without one) and one value per aggregate.
type Result struct {
	Key    string
	Window eventtime.Window
	Values []types.Value
}

// Operator holds the groups' state.
type Operator struct {
	spec   Spec
	groups map[string]*group
	// ends orders the open windows by end, for Fire; entries of windows
	// that merged away or fired stay until they surface (lazy deletion).
	ends  endHeap
	fired int64 // the watermark of the last Fire
	win   []eventtime.Window
	open  int

	// The changes since the last checkpoint (state.go): tracked once the
	// operator is checkpointed or loaded, so one that never is keeps
	// nothing for a checkpoint.
	tracking   bool
	dirty      []*window // each at most once (window.dirty)
	firedDirty bool      // fired moved since the last Changes
}

type group struct {
	windows []*window // sorted by start; sessions never overlap
	updates *window   // the accumulators of an updating GROUP BY
}

type window struct {
	key  string // the group's
	w    eventtime.Window
	accs []*expr.Accumulator
	// Checkpoint bookkeeping (state.go): dirty while in Operator.dirty;
	// stored once a checkpoint wrote it; dropped once fired or merged
	// away, so its entry must be deleted if it was stored.
	dirty, stored, dropped bool
}

// New returns an empty operator.
func New(spec Spec) (*Operator, error) {
	if spec.Window != nil {
		if err := spec.Window.Check(); err != nil {
			return nil, err
		}
	}
	return &Operator{spec: spec, groups: map[string]*group{}, fired: eventtime.NoWatermark}, nil
}

func (o *Operator) newWindow(key string, w eventtime.Window) *window {
	win := &window{key: key, w: w, accs: make([]*expr.Accumulator, len(o.spec.Aggs))}
	for i := range o.spec.Aggs {
		win.accs[i] = o.spec.Aggs[i].NewAccumulator()
	}
	return win
}

// Open reports how many windows (or groups, without a window) are held.
func (o *Operator) Open() int { return o.open }

// Add folds one event into its group: args holds one value per
// aggregate (any value for count(*)), ts its event time (ignored without
// a window). Without a window it returns the group's new row; with one,
// nil — rows come from Fire.
func (o *Operator) Add(key string, ts int64, args []types.Value) (*Result, error) {
	g := o.groups[key]
	if g == nil {
		g = &group{}
		o.groups[key] = g
	}
	if o.spec.Window == nil {
		if g.updates == nil {
			g.updates = o.newWindow(key, eventtime.Window{})
			o.open++
		}
		o.touch(g.updates)
		if err := addAll(g.updates.accs, args); err != nil {
			return nil, err
		}
		vals, err := results(g.updates.accs)
		if err != nil {
			return nil, err
		}
		return &Result{Key: key, Values: vals}, nil
	}
	o.win = o.spec.Window.Assign(o.win[:0], ts)
	if o.spec.Window.Kind == eventtime.Session {
		return nil, o.addSession(key, g, o.win[0], args)
	}
	added := false
	for _, w := range o.win {
		if eventtime.Late(w, o.fired) {
			continue
		}
		i, found := slices.BinarySearchFunc(g.windows, w.Start, func(x *window, start int64) int { return cmp64(x.w.Start, start) })
		if !found {
			g.windows = slices.Insert(g.windows, i, o.newWindow(key, w))
			heap.Push(&o.ends, endEntry{end: w.End, start: w.Start, key: key})
			o.open++
		}
		o.touch(g.windows[i])
		if err := addAll(g.windows[i].accs, args); err != nil {
			return nil, err
		}
		added = true
	}
	if !added {
		if len(g.windows) == 0 {
			delete(o.groups, key)
		}
		return nil, ErrLate
	}
	return nil, nil
}

// addSession merges the event's session into the key's open ones.
func (o *Operator) addSession(key string, g *group, w eventtime.Window, args []types.Value) error {
	if eventtime.Late(w, o.fired) {
		if len(g.windows) == 0 {
			delete(o.groups, key)
		}
		return ErrLate
	}
	spans := make([]eventtime.Window, len(g.windows))
	for i, s := range g.windows {
		spans[i] = s.w
	}
	merged, absorbed := eventtime.MergeSession(spans, w)
	target := o.newWindow(key, merged)
	for _, i := range absorbed {
		for j, acc := range g.windows[i].accs {
			if err := target.accs[j].Merge(acc); err != nil {
				return err
			}
		}
	}
	if err := addAll(target.accs, args); err != nil {
		return err
	}
	o.open += 1 - len(absorbed)
	for i := len(absorbed) - 1; i >= 0; i-- {
		old := g.windows[absorbed[i]]
		if old.w.Start == merged.Start {
			// The same key: the merged session's entry overwrites this
			// one's rather than deleting it first.
			target.stored, old.stored = old.stored, false
		}
		o.drop(old)
		g.windows = slices.Delete(g.windows, absorbed[i], absorbed[i]+1)
	}
	i, _ := slices.BinarySearchFunc(g.windows, merged.Start, func(x *window, start int64) int { return cmp64(x.w.Start, start) })
	g.windows = slices.Insert(g.windows, i, target)
	o.touch(target)
	heap.Push(&o.ends, endEntry{end: merged.End, start: merged.Start, key: key})
	return nil
}

// Fire emits, and forgets, every window that ends at or before the
// watermark wm, ordered by end, then key, then start.
func (o *Operator) Fire(wm int64) ([]Result, error) {
	if o.spec.Window == nil || wm == eventtime.NoWatermark {
		return nil, nil
	}
	if wm > o.fired {
		o.fired, o.firedDirty = wm, true
	}
	var out []Result
	for len(o.ends) > 0 && o.ends[0].end <= wm {
		e := heap.Pop(&o.ends).(endEntry)
		g := o.groups[e.key]
		if g == nil {
			continue
		}
		i, found := slices.BinarySearchFunc(g.windows, e.start, func(x *window, start int64) int { return cmp64(x.w.Start, start) })
		if !found || g.windows[i].w.End != e.end {
			continue // merged into a larger session, or fired already
		}
		vals, err := results(g.windows[i].accs)
		if err != nil {
			return out, err
		}
		out = append(out, Result{Key: e.key, Window: g.windows[i].w, Values: vals})
		o.drop(g.windows[i])
		g.windows = slices.Delete(g.windows, i, i+1)
		o.open--
		if len(g.windows) == 0 {
			delete(o.groups, e.key)
		}
	}
	return out, nil
}

func addAll(accs []*expr.Accumulator, args []types.Value) error {
	for i, acc := range accs {
		if err := acc.Add(args[i]); err != nil {
			return err
		}
	}
	return nil
}

func results(accs []*expr.Accumulator) ([]types.Value, error) {
	vals := make([]types.Value, len(accs))
	for i, acc := range accs {
		v, err := acc.Result()
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	return vals, nil
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// endEntry is a window in the firing order.
type endEntry struct {
	end, start int64
	key        string
}

type endHeap []endEntry

func (h endHeap) Len() int { return len(h) }
func (h endHeap) Less(i, j int) bool {
	if h[i].end != h[j].end {
		return h[i].end < h[j].end
	}
	if c := strings.Compare(h[i].key, h[j].key); c != 0 {
		return c < 0
	}
	return h[i].start < h[j].start
}
func (h endHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *endHeap) Push(x any)   { *h = append(*h, x.(endEntry)) }
func (h *endHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
