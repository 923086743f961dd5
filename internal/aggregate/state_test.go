package aggregate

import (
	"bytes"
	"cmp"
	"encoding/binary"
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

// checkpoint applies op's changes to store, as a state store and its
// changelog would.
func checkpoint(t *testing.T, op *Operator, store map[string][]byte) {
	t.Helper()
	seen := map[string]bool{}
	err := op.Changes(func(key, value []byte) error {
		k := string(key)
		if value == nil {
			if seen[k] {
				t.Fatalf("tombstone for %x after a value in the same checkpoint", key)
			}
			delete(store, k)
			return nil
		}
		seen[k] = true
		store[k] = bytes.Clone(value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mapSpill is a spill store over the map checkpoint writes to.
type mapSpill map[string][]byte

func (m mapSpill) Get(key []byte) ([]byte, bool, error) {
	v, ok := m[string(key)]
	return v, ok, nil
}

func (m mapSpill) ScanPrefix(prefix []byte, fn func(key, value []byte) error) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if strings.HasPrefix(k, string(prefix)) {
			if err := fn([]byte(k), m[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// fullState is every entry of op, encoded as Changes does.
func fullState(op *Operator) map[string][]byte {
	out := map[string][]byte{}
	op.each(func(w *window) bool {
		out[string(appendWindowKey(nil, w.key, w.w))] = appendWindowValue(nil, w)
		return true
	})
	if op.fired != eventtime.NoWatermark {
		out[string(firedKey)] = binary.AppendVarint(nil, op.fired)
	}
	for k, sessions := range op.sessions {
		out[string(appendIndexKey(nil, k))] = appendIndexValue(nil, sessions)
	}
	return out
}

// restore builds an operator from store, loading its entries in key
// order (as a store scans them) or, when shuffle, in any order.
func restore(t *testing.T, spec Spec, store map[string][]byte, r *rand.Rand, shuffle bool) *Operator {
	t.Helper()
	op, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(store))
	if shuffle {
		r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	}
	for _, k := range keys {
		if err := op.Load([]byte(k), store[k]); err != nil {
			t.Fatalf("load %x: %v", k, err)
		}
	}
	return op
}

// An operator checkpointed at random points (Changes into a map) and
// replaced at some of them by a fresh one loaded from the map behaves
// exactly as one that ran without a break: the same rows from Add and
// Fire, the same late events, the same windows open. After every
// checkpoint the map holds exactly the operator's state, so nothing is
// missed (a window changed but not written) or left behind (a fired or
// merged window not deleted).
//
// With spill, the operator is also evicted to the map after every
// checkpoint, down to a small memory budget (often none at all): what
// it holds in memory is then a part of the map, and the rest is read
// back from there.
func TestRestoreMatchesUninterrupted(t *testing.T) {
	for _, mode := range []string{"tumble", "hop", "session", "given", "updating"} {
		for _, spill := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/spill=%v", mode, spill), func(t *testing.T) {
				testRestoreMatchesUninterrupted(t, mode, spill)
			})
		}
	}
}

func testRestoreMatchesUninterrupted(t *testing.T, mode string, spill bool) {
	{
		{
			for seed := range uint64(20) {
				r := rand.New(rand.NewPCG(seed, 1234))
				var spec Spec
				switch mode {
				case "tumble":
					spec.Window = &eventtime.Spec{Kind: eventtime.Tumble, Size: r.Int64N(60) + 5, Offset: r.Int64N(7) - 3}
				case "hop":
					slide := r.Int64N(20) + 5
					spec.Window = &eventtime.Spec{Kind: eventtime.Hop, Slide: slide, Size: slide * (r.Int64N(3) + 1)}
				case "session":
					spec.Window = &eventtime.Spec{Kind: eventtime.Session, Gap: r.Int64N(40) + 1}
				case "given":
					spec.Window = &eventtime.Spec{Kind: eventtime.Given}
				}
				spec.Aggs = specs(t)
				runRestore(t, seed, r, spec, spill)
			}
		}
	}
}

func runRestore(t *testing.T, seed uint64, r *rand.Rand, spec Spec, spill bool) {
	t.Helper()
	ref, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	store := map[string][]byte{}
	if spill {
		spec.Spill, spec.MaxMemory = mapSpill(store), []int64{0, 1, 2000}[r.IntN(3)]
	}
	op, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	evicted := 0
	delay := r.Int64N(60)
	evs := events(r, 400, 40)
	// Keys with the bytes the key encoding escapes, and an empty one.
	for i := range evs {
		switch r.IntN(8) {
		case 0:
			evs[i].key = "k\x00"
		case 1:
			evs[i].key = ""
		case 2:
			evs[i].key = "k\x00\xff\x01"
		}
	}
	maxTS := int64(eventtime.NoWatermark)
	restores, rows := 0, 0
	fire := func(wm int64) {
		want, err1 := ref.Fire(wm)
		got, err2 := op.Fire(wm)
		if err1 != nil || err2 != nil {
			t.Fatalf("seed %d: fire: %v %v", seed, err1, err2)
		}
		rows += len(want)
		if g, w := rowStrings(got), rowStrings(want); !slices.Equal(g, w) {
			t.Fatalf("seed %d (%d restores): fire(%d):\n got %q\nwant %q", seed, restores, wm, g, w)
		}
	}
	for i, e := range evs {
		args := []types.Value{e.v, e.v, e.v, e.v, e.v, e.v, e.v}
		add := func(op *Operator) (*Result, error) { return op.Add(e.key, e.ts, args) }
		if spec.Window != nil && spec.Window.Kind == eventtime.Given {
			// Rows of sessions: windows of a key may share a start and
			// differ in their ends.
			start := e.ts - e.ts%5
			span := eventtime.Window{Start: start, End: start + 1 + 5*r.Int64N(3)}
			add = func(op *Operator) (*Result, error) { return nil, op.AddWindow(e.key, span, args) }
		}
		want, err1 := add(ref)
		got, err2 := add(op)
		if !errors.Is(err2, err1) || (err1 == nil) != (err2 == nil) {
			t.Fatalf("seed %d event %d: add: %v, uninterrupted %v", seed, i, err2, err1)
		}
		if (got == nil) != (want == nil) || (got != nil && rowString(*got) != rowString(*want)) {
			t.Fatalf("seed %d event %d: add: %v, uninterrupted %v", seed, i, got, want)
		}
		maxTS = max(maxTS, e.ts)
		if r.IntN(4) == 0 {
			fire(maxTS - delay)
		}
		if r.IntN(15) == 0 {
			checkpoint(t, op, store)
			checkStored(t, op, store, fmt.Sprintf("seed %d event %d", seed, i))
			if spill {
				op.Evict()
				checkStored(t, op, store, fmt.Sprintf("seed %d event %d, evicted", seed, i))
				if _, n := op.Memory(); n > 0 {
					evicted++
				}
			}
			if r.IntN(2) == 0 {
				op = restore(t, spec, store, r, r.IntN(3) == 0)
				restores++
			}
		}
		if op.Open() != ref.Open() {
			t.Fatalf("seed %d event %d: %d open, uninterrupted %d", seed, i, op.Open(), ref.Open())
		}
	}
	fire(math.MaxInt64 - 1)
	if restores == 0 {
		t.Fatalf("seed %d: never restored", seed)
	}
	if spec.Window != nil && rows == 0 {
		t.Fatalf("seed %d: no rows", seed)
	}
	if spill && spec.MaxMemory < 2000 && evicted == 0 {
		t.Fatalf("seed %d: never evicted", seed)
	}
}

// checkStored checks, right after a checkpoint, that op's windows in
// memory are exactly as the store holds them, and that the store holds
// nothing else but the evicted windows and the watermark: nothing is
// missed (a window changed but not written) or left behind (a fired or
// merged window not deleted). The memory op counts is its windows'.
func checkStored(t *testing.T, op *Operator, store map[string][]byte, where string) {
	t.Helper()
	full := fullState(op)
	inMemory := map[string][]byte{}
	for k := range full {
		if v, ok := store[k]; ok {
			inMemory[k] = v
		}
	}
	if !maps.EqualFunc(inMemory, full, bytes.Equal) {
		t.Fatalf("%s: the checkpointed state differs from the operator's:\n%s", where, diffState(inMemory, full))
	}
	mem, evicted := op.Memory()
	windows := func(m map[string][]byte) (n int) {
		for k := range m {
			if k[0] == tagWindow {
				n++
			}
		}
		return n
	}
	if windows(store)-windows(full) != evicted {
		t.Fatalf("%s: the store holds %d windows, the operator %d in memory and %d evicted:\n%s", where, windows(store), windows(full), evicted, diffState(store, full))
	}
	// The store's session indexes list exactly its sessions.
	indexed := 0
	for k, v := range store {
		if k[0] != tagSessionIndex {
			continue
		}
		spans, err := parseIndexValue(v)
		if err != nil {
			t.Fatalf("%s: index %x: %v", where, k, err)
		}
		for _, span := range spans {
			wk := appendWindowKey(nil, "", span)
			wk = append(append(wk[:9:9], k[1:]...), wk[len(wk)-8:]...) // the window key of the index's group
			if _, ok := store[string(wk)]; !ok {
				t.Fatalf("%s: index %x lists %v, which the store lacks", where, k, span)
			}
			indexed++
		}
	}
	if op.session && indexed != windows(store) {
		t.Fatalf("%s: the indexes list %d sessions, the store holds %d", where, indexed, windows(store))
	}
	if mem != sumSizes(op) {
		t.Fatalf("%s: memory %d, its windows' sizes add up to %d", where, mem, sumSizes(op))
	}
	if op.spec.Spill != nil && op.Open()-evicted > 0 && mem > op.spec.MaxMemory && strings.HasSuffix(where, "evicted") {
		t.Fatalf("%s: %d bytes in memory after Evict, more than %d", where, mem, op.spec.MaxMemory)
	}
}

func sumSizes(op *Operator) int64 {
	var n int64
	op.each(func(w *window) bool {
		n += w.size
		return true
	})
	return n
}

func rowStrings(rows []Result) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = rowString(r)
	}
	return out
}

func diffState(got, want map[string][]byte) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if w, ok := want[k]; !ok {
			fmt.Fprintf(&b, "  extra %x\n", k)
		} else if !bytes.Equal(w, got[k]) {
			fmt.Fprintf(&b, "  differs %x: %x, want %x\n", k, got[k], w)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if _, ok := got[k]; !ok {
			fmt.Fprintf(&b, "  missing %x\n", k)
		}
	}
	return b.String()
}

// Only changed windows are given again: a checkpoint right after another
// gives nothing, and one after a single Add gives that window alone.
func TestChangesGivesOnlyWhatChanged(t *testing.T) {
	spec := Spec{Window: &eventtime.Spec{Kind: eventtime.Tumble, Size: 10}, Aggs: specs(t)}
	op, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	args := func(v int64) []types.Value {
		x := types.NewInt8(v)
		return []types.Value{x, x, x, x, x, x, x}
	}
	for i := range int64(100) {
		if _, err := op.Add(fmt.Sprint("k", i%10), i, args(i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(op.dirty) != 0 {
		t.Fatalf("an operator never checkpointed tracks %d windows", len(op.dirty))
	}
	count := func() (sets, deletes int) {
		t.Helper()
		err := op.Changes(func(key, value []byte) error {
			if value == nil {
				deletes++
			} else {
				sets++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return sets, deletes
	}
	if s, d := count(); s != 100 || d != 0 { // 10 keys x 10 windows: the whole state
		t.Fatalf("first checkpoint: %d sets, %d deletes", s, d)
	}
	if s, d := count(); s != 0 || d != 0 {
		t.Fatalf("checkpoint with no change: %d sets, %d deletes", s, d)
	}
	if _, err := op.Add("k3", 95, args(1)); err != nil {
		t.Fatal(err)
	}
	if s, d := count(); s != 1 || d != 0 {
		t.Fatalf("after one add: %d sets, %d deletes", s, d)
	}
	if _, err := op.Fire(50); err != nil { // 5 windows of 10 keys fire
		t.Fatal(err)
	}
	if _, err := op.Add("new", 200, args(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := op.Fire(210); err != nil { // fired before it was ever written
		t.Fatal(err)
	}
	if s, d := count(); s != 1 || d != 100 { // the watermark; 100 windows gone, "new" never written
		t.Fatalf("after fire: %d sets, %d deletes", s, d)
	}
	// A failing fn forgets nothing.
	if _, err := op.Add("again", 300, args(1)); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := op.Changes(func(key, value []byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("changes: %v", err)
	}
	if s, d := count(); s != 1 || d != 0 {
		t.Fatalf("after a failed checkpoint: %d sets, %d deletes", s, d)
	}
}

// A session that an event inside it changes overwrites its entry,
// without a tombstone first; one that grows (its key holds its bounds)
// deletes the old entry.
func TestSessionGrowthChanges(t *testing.T) {
	op, err := New(Spec{Window: &eventtime.Spec{Kind: eventtime.Session, Gap: 10}, Aggs: specs(t)})
	if err != nil {
		t.Fatal(err)
	}
	null := types.Null(types.KindInt8)
	args := []types.Value{null, null, null, null, null, null, null}
	changes := func() (sets, deletes int) {
		t.Helper()
		if err := op.Changes(func(key, value []byte) error {
			if value == nil {
				deletes++
			} else {
				sets++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return sets, deletes
	}
	for i, c := range []struct {
		ts            int64
		sets, deletes int
	}{{100, 2, 0}, {105, 2, 1}, {112, 2, 1}, {95, 2, 1}, {200, 2, 0}, {201, 2, 1}, {100, 1, 0}} {
		if _, err := op.Add("k", c.ts, args); err != nil {
			t.Fatal(err)
		}
		if s, d := changes(); s != c.sets || d != c.deletes {
			t.Fatalf("step %d (event at %d): %d sets, %d deletes; want %d, %d", i, c.ts, s, d, c.sets, c.deletes)
		}
	}
	// Both sessions fire: two tombstones, the index's, and the watermark.
	if _, err := op.Fire(1000); err != nil {
		t.Fatal(err)
	}
	if s, d := changes(); s != 1 || d != 3 {
		t.Fatalf("after fire: %d sets, %d deletes", s, d)
	}
}

// Window keys sort by end, then group key, then start, whatever bytes
// the group key holds and whatever the signs of the bounds; they decode
// back; a bucket's prefix is a prefix of exactly its windows' keys.
func TestWindowKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	alphabet := []byte{0x00, 0x01, 0xfe, 0xff, 'a'}
	type entry struct {
		key  string
		span eventtime.Window
	}
	bound := func() int64 { return []int64{math.MinInt64, -1, 0, 1, math.MaxInt64, r.Int64() - r.Int64()}[r.IntN(6)] }
	var es []entry
	for range 2000 {
		b := make([]byte, r.IntN(5))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		es = append(es, entry{string(b), eventtime.Window{Start: bound(), End: bound()}})
	}
	for i := range es {
		a, b := es[i], es[r.IntN(len(es))]
		ka, kb := appendWindowKey(nil, a.key, a.span), appendWindowKey(nil, b.key, b.span)
		want := cmp.Or(cmp.Compare(a.span.End, b.span.End), strings.Compare(a.key, b.key), cmp.Compare(a.span.Start, b.span.Start))
		if got := bytes.Compare(ka, kb); got != want {
			t.Fatalf("%q@%v vs %q@%v: %d, want %d (%x, %x)", a.key, a.span, b.key, b.span, got, want, ka, kb)
		}
		if got := bytes.HasPrefix(kb, appendEndPrefix(nil, a.span.End)); got != (a.span.End == b.span.End) {
			t.Fatalf("%x has the prefix of end %d: %v", kb, a.span.End, got)
		}
		key, span, err := parseWindowKey(ka)
		if err != nil || key != a.key || span != a.span {
			t.Fatalf("%x: %q@%v %v, want %q@%v", ka, key, span, err, a.key, a.span)
		}
	}
}

// Entries that do not decode, or belong to another query, are refused
// with ErrCorruptState.
func TestLoadRefusesCorruptEntries(t *testing.T) {
	spec := Spec{Window: &eventtime.Spec{Kind: eventtime.Tumble, Size: 10}, Aggs: specs(t)}
	op, _ := New(spec)
	null := types.Null(types.KindInt8)
	if _, err := op.Add("k", 5, []types.Value{null, null, null, null, null, null, null}); err != nil {
		t.Fatal(err)
	}
	store := map[string][]byte{}
	checkpoint(t, op, store)
	key := appendWindowKey(nil, "k", eventtime.Window{Start: 0, End: 10})
	good := store[string(key)]
	fewer, _ := New(Spec{Window: spec.Window, Aggs: specs(t)[:3]})
	updating, _ := New(Spec{Aggs: specs(t)})
	sessions := func() *Operator {
		op, _ := New(Spec{Window: &eventtime.Spec{Kind: eventtime.Session, Gap: 10}, Aggs: specs(t)})
		return op
	}
	index := appendIndexKey(nil, "k")
	goodIndex := []byte{indexVersion, 2, 0, 20, 30, 40} // [0, 10), [15, 20)
	for name, c := range map[string]struct {
		op         *Operator
		key, value []byte
	}{
		"truncated value":   {nil, key, good[:len(good)-1]},
		"trailing bytes":    {nil, key, append(bytes.Clone(good), 0)},
		"unknown version":   {nil, key, append([]byte{9}, good[1:]...)},
		"older version":     {nil, key, append([]byte{2}, good[1:]...)},
		"empty value":       {nil, key, []byte{}},
		"short key":         {nil, key[:5], good},
		"unterminated key":  {nil, append([]byte{tagWindow}, "kkkkkkkkkkkkkkkkkkkk"...), good},
		"bad escape":        {nil, append(append(bytes.Clone(key[:9]), 'k', 0, 7), key[len(key)-10:]...), good},
		"empty window":      {nil, appendWindowKey(nil, "k", eventtime.Window{Start: 10, End: 10}), good},
		"older layout":      {nil, append([]byte{tagWindowV1}, key[1:]...), good},
		"index of tumbles":  {nil, index, goodIndex},
		"index version":     {sessions(), index, append([]byte{9}, goodIndex[1:]...)},
		"index overlaps":    {sessions(), index, []byte{indexVersion, 2, 0, 40, 30, 50}},
		"index empty span":  {sessions(), index, []byte{indexVersion, 1, 20, 20}},
		"index truncated":   {sessions(), index, goodIndex[:5]},
		"index trailing":    {sessions(), index, append(bytes.Clone(goodIndex), 1)},
		"unknown meta":      {nil, []byte{tagMeta, 'x'}, good},
		"bad watermark":     {nil, firedKey, []byte{0xff}},
		"other aggregates":  {fewer, key, good},
		"window in updates": {updating, key, good},
	} {
		target := c.op
		if target == nil {
			target, _ = New(spec)
		}
		if err := target.Load(c.key, c.value); !errors.Is(err, ErrCorruptState) {
			t.Errorf("%s: %v, want ErrCorruptState", name, err)
		}
	}
	if err := restore(t, spec, store, nil, false).Load(key, good); err != nil {
		t.Fatalf("loading a good entry again: %v", err)
	}
	if err := sessions().Load(index, goodIndex); err != nil {
		t.Fatalf("loading a good session index: %v", err)
	}
}

// Load never panics, whatever it is given.
func FuzzLoad(f *testing.F) {
	aggs := specs(f)
	spec := Spec{Window: &eventtime.Spec{Kind: eventtime.Session, Gap: 10}, Aggs: aggs}
	op, _ := New(spec)
	r := rand.New(rand.NewPCG(1, 2))
	for _, e := range events(r, 50, 5) {
		_, _ = op.Add(e.key, e.ts, []types.Value{e.v, e.v, e.v, e.v, e.v, e.v, e.v})
	}
	_, _ = op.Fire(100)
	store := map[string][]byte{}
	_ = op.Changes(func(key, value []byte) error {
		store[string(key)] = bytes.Clone(value)
		return nil
	})
	for k, v := range store {
		f.Add([]byte(k), v)
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		op, _ := New(spec)
		if err := op.Load(key, value); err != nil {
			return
		}
		if _, err := op.Fire(math.MaxInt64 - 1); err != nil {
			t.Skip(err) // a state that loads but does not compute (an overflow) is fine
		}
	})
}

// BenchmarkAdd is the hot path with and without change tracking (a
// checkpoint every 10,000 events, its changes encoded and dropped).
func BenchmarkAdd(b *testing.B) {
	for _, tracked := range []bool{false, true} {
		b.Run(fmt.Sprintf("tracked=%v", tracked), func(b *testing.B) {
			count, _ := expr.NewAggregate("count", true, false, types.KindNull)
			sum, _ := expr.NewAggregate("sum", false, false, types.KindInt8)
			op, err := New(Spec{Window: &eventtime.Spec{Kind: eventtime.Hop, Size: 60, Slide: 20}, Aggs: []expr.Aggregate{count, sum}})
			if err != nil {
				b.Fatal(err)
			}
			keys := make([]string, 1000)
			for i := range keys {
				keys[i] = fmt.Sprint("user-", i)
			}
			v := types.NewInt8(7)
			args := []types.Value{v, v}
			discard := func(key, value []byte) error { return nil }
			b.ReportAllocs()
			for i := range b.N {
				ts := int64(i / 100)
				if _, err := op.Add(keys[i%len(keys)], ts, args); err != nil {
					b.Fatal(err)
				}
				if i%10_000 == 9_999 {
					if _, err := op.Fire(ts - 60); err != nil {
						b.Fatal(err)
					}
					if tracked {
						if err := op.Changes(discard); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
		})
	}
}
