package aggregate

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/types"
)

// ErrLate is Add's answer for an event whose windows have all fired.
var ErrLate = errors.New("aggregate: late event: its windows have been emitted")

// ErrSpill wraps a failure to read an evicted window back from the
// spill store (an I/O error, a corrupt entry): the operator can no
// longer be trusted, and its task must be rebuilt from its store.
var ErrSpill = errors.New("aggregate: reading spilled state")

// Spec is what an operator computes.
type Spec struct {
	// Window is the window function; nil for an updating GROUP BY.
	Window *eventtime.Spec
	Aggs   []expr.Aggregate

	// Spill, when set, lets the operator hold more state than memory:
	// Evict drops windows from memory beyond MaxMemory bytes, and they
	// are read back from Spill when an event or Fire needs them. Spill
	// must be the store Changes feeds, holding every change as of the
	// last Evict.
	Spill     Spill
	MaxMemory int64

	// Early makes the operator remember which tumbling or hopping
	// windows changed since the last call to Early, for early results.
	Early bool

	// Retract lets Retract take rows back out of groups (the input is
	// itself an updating result, which takes back the rows it changes):
	// without a window only, every aggregate retractable, and the last a
	// count(*), the group's row count, which drops the group when it
	// falls to zero. Results leave that count out.
	Retract bool
}

// Spill is the store evicted windows are read back from: a task's
// state store (internal/state).
type Spill interface {
	// Get returns key's value, or found false when there is none.
	Get(key []byte) (value []byte, found bool, err error)
	// ScanPrefix calls fn with every entry whose key starts with
	// prefix, in key order, until fn returns an error.
	ScanPrefix(prefix []byte, fn func(key, value []byte) error) error
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
	spec    Spec
	session bool
	given   bool // eventtime.Given: windows of their own lengths, by start and end
	// windows holds the tumbling and hopping windows, and the groups of
	// an updating GROUP BY (under window start 0), that are in memory,
	// by group and start (idOf). Until the next checkpoint it also holds those
	// dropped since the last one whose entries the store still has, so
	// that a lookup never reads them back.
	windows map[windowID]*window
	// sessions holds each key's sessions, sorted by start: all of a
	// key's or none (evicted together, read back together).
	sessions map[string][]*window
	// indexDirty holds the keys whose set of sessions changed since the
	// last checkpoint: their index entry is written again (session.go).
	indexDirty map[string]bool
	// byEnd groups the open windows by end, for Fire and for the count
	// of those evicted; ends orders the buckets' ends, one entry each.
	byEnd map[int64]*bucket
	ends  endHeap
	fired int64 // the watermark of the last Fire
	win   []eventtime.Window
	open  int // windows held, in memory or evicted
	// memory is what the windows in memory take, approximately, as of
	// their last checkpoint; spilled counts the evicted ones.
	memory  int64
	spilled int

	// The changes since the last checkpoint (state.go): tracked once the
	// operator is checkpointed or loaded, so one that never is keeps
	// nothing for a checkpoint.
	tracking   bool
	dirty      []*window // each at most once (window.dirty)
	firedDirty bool      // fired moved since the last Changes
	key        []byte    // scratch for spill keys

	changed []*window // since the last Early, each once (window.early)
}

// windowID identifies a window in memory: its group and start, which
// give its end too, except for Given windows (rows of sessions, each of
// its own length), which have their end in it.
type windowID struct {
	key        string
	start, end int64
}

// idOf is the id of key's window span.
func (o *Operator) idOf(key string, span eventtime.Window) windowID {
	if o.given {
		return windowID{key, span.Start, span.End}
	}
	return windowID{key: key, start: span.Start}
}

// bucket is the open windows that end at one instant.
type bucket struct {
	windows []*window // in memory; window.slot is the index
	spilled int       // evicted to the spill store
}

type window struct {
	key  string // the group's
	w    eventtime.Window
	accs []*expr.Accumulator
	slot int // in its bucket
	// size is its approximate memory, measured when a checkpoint wrote
	// it; ref is set when an event touches it, cleared by Evict's clock.
	size int64
	ref  bool
	// early is set while the window is in Operator.changed: Evict keeps
	// it in memory, so that Early reads the state it holds.
	early bool
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
	if spec.Early && (spec.Window == nil || spec.Window.Kind == eventtime.Session) {
		return nil, errors.New("aggregate: early results are for TUMBLE and HOP windows")
	}
	if spec.Retract {
		n := len(spec.Aggs)
		if spec.Window != nil || n == 0 || !spec.Aggs[n-1].Star {
			return nil, errors.New("aggregate: retractions need a GROUP BY without a window whose last aggregate is count(*)")
		}
		// Each accumulator keeps what taking a row back needs (min and
		// max every value, DISTINCT each value's count).
		spec.Aggs = slices.Clone(spec.Aggs)
		for i := range spec.Aggs {
			spec.Aggs[i].Retracting = true
		}
	}
	return &Operator{spec: spec, session: spec.Window != nil && spec.Window.Kind == eventtime.Session,
		given:   spec.Window != nil && spec.Window.Kind == eventtime.Given,
		windows: map[windowID]*window{}, sessions: map[string][]*window{}, indexDirty: map[string]bool{}, byEnd: map[int64]*bucket{},
		fired: eventtime.NoWatermark}, nil
}

func (o *Operator) newWindow(key string, w eventtime.Window) *window {
	win := &window{key: key, w: w, accs: make([]*expr.Accumulator, len(o.spec.Aggs))}
	for i := range o.spec.Aggs {
		win.accs[i] = o.spec.Aggs[i].NewAccumulator()
	}
	return win
}

// Open reports how many windows (or groups, without a window) are held,
// in memory or evicted.
func (o *Operator) Open() int { return o.open }

// Memory reports what the windows in memory take, approximately (as of
// their last checkpoint), and how many are evicted to the spill store.
func (o *Operator) Memory() (bytes int64, evicted int) { return o.memory, o.spilled }

// Add folds one event into its group: args holds one value per
// aggregate (any value for count(*)), ts its event time (ignored without
// a window). Without a window it returns the group's new row; with one,
// nil — rows come from Fire. An error wrapping ErrSpill means the
// operator is unusable; any other leaves it as it was before the event
// for its first window (an aggregate that cannot fold the value).
func (o *Operator) Add(key string, ts int64, args []types.Value) (*Result, error) {
	if o.spec.Window == nil {
		w, err := o.window(key, eventtime.Window{})
		if err != nil {
			return nil, err
		}
		o.touch(w)
		if err := addAll(w.accs, args); err != nil {
			return nil, err
		}
		return o.row(w)
	}
	o.win = o.spec.Window.Assign(o.win[:0], ts)
	if o.session {
		return nil, o.addSession(key, o.win[0], args)
	}
	added := false
	for _, span := range o.win {
		if eventtime.Late(span, o.fired) {
			continue
		}
		w, err := o.window(key, span)
		if err != nil {
			return nil, err
		}
		o.touch(w)
		if o.spec.Early && !w.early {
			w.early = true
			o.changed = append(o.changed, w)
		}
		if err := addAll(w.accs, args); err != nil {
			return nil, err
		}
		added = true
	}
	if !added {
		return nil, ErrLate
	}
	return nil, nil
}

// AddWindow folds one row of a window of its own (a SESSION window's
// row, aggregated again by that window: eventtime.Given) into key's group
// in span: Add for a row whose window is given rather than assigned. A
// span the watermark has passed is ErrLate.
func (o *Operator) AddWindow(key string, span eventtime.Window, args []types.Value) error {
	if o.spec.Window == nil || o.spec.Window.Kind != eventtime.Given {
		return errors.New("aggregate: AddWindow needs a Given window")
	}
	if eventtime.Late(span, o.fired) {
		return ErrLate
	}
	w, err := o.window(key, span)
	if err != nil {
		return err
	}
	o.touch(w)
	if o.spec.Early && !w.early {
		w.early = true
		o.changed = append(o.changed, w)
	}
	return addAll(w.accs, args)
}

// ErrNoRow is Retract's answer for a row its group does not hold: the
// input took back a row it never gave.
var ErrNoRow = errors.New("aggregate: a row taken back that its group does not hold")

// Retract takes one row back out of key's group (Spec.Retract), args as
// Add's: the inverse of Add. It returns the group's new row, or a Result
// with nil Values when no row is left: the group is gone, its entry
// deleted at the next checkpoint. An error wrapping ErrSpill means the
// operator is unusable.
func (o *Operator) Retract(key string, args []types.Value) (*Result, error) {
	if !o.spec.Retract {
		return nil, errors.New("aggregate: Retract needs Spec.Retract")
	}
	w, _, err := o.find(key, eventtime.Window{})
	if err != nil {
		return nil, err
	}
	if w == nil {
		return nil, ErrNoRow
	}
	rows := w.accs[len(w.accs)-1] // count(*)
	if rows.Count() == 0 {
		return nil, ErrNoRow
	}
	o.touch(w)
	for i, acc := range w.accs {
		if err := acc.Retract(args[i]); err != nil {
			return nil, err
		}
	}
	if rows.Count() == 0 {
		o.unplace(w)
		o.drop(w)
		o.open--
		return &Result{Key: key}, nil
	}
	return o.row(w)
}

// Current returns the row of key's group without a window, or nil when
// the operator holds no such group.
func (o *Operator) Current(key string) (*Result, error) {
	w, _, err := o.find(key, eventtime.Window{})
	if w == nil || err != nil {
		return nil, err
	}
	return o.row(w)
}

// row is a group's Result without a window; with Spec.Retract, without
// the row count.
func (o *Operator) row(w *window) (*Result, error) {
	accs := w.accs
	if o.spec.Retract {
		accs = accs[:len(accs)-1]
	}
	vals, err := results(accs)
	if err != nil {
		return nil, err
	}
	return &Result{Key: w.key, Values: vals}, nil
}

// window returns key's window span: the one in memory, else the one
// evicted (read back), else a new one.
func (o *Operator) window(key string, span eventtime.Window) (*window, error) {
	w, old, err := o.find(key, span)
	if w != nil || err != nil {
		return w, err
	}
	w = o.newWindow(key, span)
	w.ref = true
	if old != nil {
		// A dropped window of the same key and start, its entry stored:
		// the new one's entry overwrites it rather than deleting it.
		w.stored, old.stored = old.stored, false
	}
	o.place(w, o.bucket(span.End))
	o.open++
	return w, nil
}

// find returns key's window span when the operator holds it: the one in
// memory, else the one evicted (read back). When it holds none, it
// returns the dropped one still in memory as a tombstone, if any.
func (o *Operator) find(key string, span eventtime.Window) (w, dropped *window, err error) {
	id := o.idOf(key, span)
	old := o.windows[id]
	if old != nil && !old.dropped {
		old.ref = true
		return old, nil, nil
	}
	b := o.byEnd[span.End]
	if old == nil && b != nil && b.spilled > 0 {
		o.key = appendWindowKey(o.key[:0], key, span)
		v, found, err := o.spec.Spill.Get(o.key)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrSpill, err)
		}
		if found {
			w, err := o.parseWindowValue(key, span, v)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %w (key %x)", ErrSpill, err, o.key)
			}
			w.stored, w.ref, w.size = true, true, entrySize(len(o.key), len(v), w.accs)
			b.spilled--
			o.spilled--
			o.place(w, b)
			return w, nil, nil
		}
	}
	return nil, old, nil
}

// bucket returns the bucket of windows ending at end, made if need be.
func (o *Operator) bucket(end int64) *bucket {
	b := o.byEnd[end]
	if b == nil {
		b = &bucket{}
		o.byEnd[end] = b
		heap.Push(&o.ends, end)
	}
	return b
}

// place puts a window in memory: in its bucket, and in windows unless
// it is a session (sessions are listed by key).
func (o *Operator) place(w *window, b *bucket) {
	w.slot = len(b.windows)
	b.windows = append(b.windows, w)
	if !o.session {
		o.windows[o.idOf(w.key, w.w)] = w
	}
	o.memory += w.size
}

// unplace takes a window out of its bucket.
func (o *Operator) unplace(w *window) {
	b := o.byEnd[w.w.End]
	last := b.windows[len(b.windows)-1]
	b.windows[w.slot], last.slot = last, w.slot
	b.windows[len(b.windows)-1] = nil
	b.windows = b.windows[:len(b.windows)-1]
}

// Fire emits, and forgets, every window that ends at or before the
// watermark wm, ordered by end, then key, then start. A window whose
// result cannot be computed (an aggregate's overflow) is forgotten too:
// Fire returns the others and the first such error. An error wrapping
// ErrSpill means the operator is unusable.
func (o *Operator) Fire(wm int64) ([]Result, error) {
	if o.spec.Window == nil || wm == eventtime.NoWatermark {
		return nil, nil
	}
	if wm > o.fired {
		o.fired, o.firedDirty = wm, true
	}
	var out []Result
	var failed error
	emit := func(w *window) {
		vals, err := results(w.accs)
		if err != nil {
			failed = cmp.Or(failed, fmt.Errorf("window %v of group %x: %w", w.w, w.key, err))
			return
		}
		out = append(out, Result{Key: w.key, Window: w.w, Values: vals})
	}
	for len(o.ends) > 0 && o.ends[0] <= wm {
		end := o.ends[0]
		b := o.byEnd[end]
		if o.session && b.spilled > 0 {
			// A key's sessions come back together (loadSessions), these
			// into b; others of the same keys into their buckets.
			if err := o.loadSessionsEnding(end); err != nil {
				return out, err
			}
		}
		heap.Pop(&o.ends)
		delete(o.byEnd, end)
		from := len(out)
		for _, w := range b.windows {
			emit(w)
			o.drop(w)
			if o.session {
				o.forgetSession(w)
			}
		}
		if b.spilled > 0 {
			if err := o.fireSpilled(end, emit); err != nil {
				return out, err
			}
		}
		o.open -= len(b.windows) + b.spilled
		o.spilled -= b.spilled
		slices.SortFunc(out[from:], func(a, b Result) int {
			return cmp.Or(strings.Compare(a.Key, b.Key), cmp.Compare(a.Window.Start, b.Window.Start))
		})
	}
	return out, failed
}

// Early returns the current row of every open window that changed
// since the last call (Spec.Early), ordered as Fire orders its rows: the
// early results of windows the watermark has not closed yet. A window
// fired meanwhile is left out (Fire gave its final row). Like Fire, it
// returns the rows it could compute and the first error.
func (o *Operator) Early() ([]Result, error) {
	var out []Result
	var failed error
	for i, w := range o.changed {
		o.changed[i] = nil
		w.early = false
		if w.dropped {
			continue
		}
		vals, err := results(w.accs)
		if err != nil {
			failed = cmp.Or(failed, fmt.Errorf("window %v of group %x: %w", w.w, w.key, err))
			continue
		}
		out = append(out, Result{Key: w.key, Window: w.w, Values: vals})
	}
	o.changed = o.changed[:0]
	slices.SortFunc(out, func(a, b Result) int {
		return cmp.Or(cmp.Compare(a.Window.End, b.Window.End), strings.Compare(a.Key, b.Key), cmp.Compare(a.Window.Start, b.Window.Start))
	})
	return out, failed
}

// fireSpilled emits the evicted windows that end at end, reading them
// back, and leaves each as a dropped window so that the next checkpoint
// deletes its entry.
func (o *Operator) fireSpilled(end int64, emit func(*window)) error {
	o.key = appendEndPrefix(o.key[:0], end)
	err := o.spec.Spill.ScanPrefix(o.key, func(k, v []byte) error {
		key, span, err := parseWindowKey(k)
		if err != nil {
			return err
		}
		id := o.idOf(key, span)
		if o.windows[id] != nil {
			return nil // fired from memory, or read back and then fired
		}
		w, err := o.parseWindowValue(key, span, v)
		if err != nil {
			return fmt.Errorf("%w (key %x)", err, k)
		}
		emit(w)
		w.stored = true
		o.windows[id] = w
		o.drop(w)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSpill, err)
	}
	return nil
}

// Evict drops windows from memory until they take at most
// Spec.MaxMemory bytes, those not touched since the last Evict first (a
// clock, which approximates least recently used); sessions go a key at
// a time, all of its sessions together. Call it only once the spill
// store holds every change Changes gave: an evicted window is read back
// from there.
func (o *Operator) Evict() {
	if o.spec.Spill == nil || o.memory <= o.spec.MaxMemory {
		return
	}
	for pass := 0; pass < 2 && o.memory > o.spec.MaxMemory; pass++ {
		if o.session {
			o.evictSessions()
			continue
		}
		for id, w := range o.windows {
			if o.memory <= o.spec.MaxMemory {
				break
			}
			if w.dirty || w.dropped || !w.stored || w.early {
				continue
			}
			if w.ref {
				w.ref = false
				continue
			}
			o.unplace(w)
			delete(o.windows, id)
			o.memory -= w.size
			o.byEnd[w.w.End].spilled++
			o.spilled++
		}
	}
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

// endHeap orders the buckets' ends, for Fire.
type endHeap []int64

func (h endHeap) Len() int           { return len(h) }
func (h endHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h endHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *endHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *endHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
