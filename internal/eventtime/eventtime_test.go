package eventtime

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

// Assign gives exactly the windows of the function that contain the
// event, checked against a scan of every window start near it.
func TestAssignAgainstScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		spec := Spec{Kind: Tumble, Size: r.Int64N(1000) + 1, Offset: r.Int64N(500) - 250}
		if r.IntN(2) == 0 {
			spec = Spec{Kind: Hop, Slide: r.Int64N(300) + 1, Offset: r.Int64N(500) - 250}
			spec.Size = spec.Slide * (r.Int64N(5) + 1)
			if r.IntN(3) == 0 {
				spec.Size += r.Int64N(spec.Slide) // sizes that are not a multiple of the slide
			}
		}
		if err := spec.Check(); err != nil {
			t.Fatal(err)
		}
		ts := r.Int64N(100_000) - 50_000
		got := spec.Assign(nil, ts)
		step := spec.Size
		if spec.Kind == Hop {
			step = spec.Slide
		}
		var want []Window
		for k := (ts-spec.Size-spec.Offset)/step - 2; k <= (ts-spec.Offset)/step+2; k++ {
			w := Window{k*step + spec.Offset, k*step + spec.Offset + spec.Size}
			if w.Start <= ts && ts < w.End {
				want = append(want, w)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%+v at %d: %v, want %v", spec, ts, got, want)
		}
	}
	if err := (Spec{Kind: Hop, Size: 86_400, Slide: 1}).Check(); err == nil {
		t.Error("a HOP putting each event in 86,400 windows passed Check")
	}
}

// An attached window is the one each window's row came from: every
// window a TUMBLE or HOP assigns, taken by its start, is given back whole.
func TestAttachedGivesEachRowItsWindow(t *testing.T) {
	for _, inner := range []Spec{{Kind: Tumble, Size: 60, Offset: 7}, {Kind: Hop, Size: 50, Slide: 20, Offset: -3}} {
		attached := Spec{Kind: Attached, Size: inner.Size}
		if err := attached.Check(); err != nil {
			t.Fatal(err)
		}
		for ts := int64(-500); ts < 500; ts += 13 {
			for _, w := range inner.Assign(nil, ts) {
				if got := attached.Assign(nil, w.Start); !slices.Equal(got, []Window{w}) {
					t.Fatalf("%+v: the row of window %v is given %v", inner, w, got)
				}
			}
		}
	}
	if err := (Spec{Kind: Attached}).Check(); err == nil {
		t.Error("attached windows without a size passed Check")
	}
}

// Sessions built by merging events in any order equal the sessions of
// the sorted events (a new session when an event comes more than the gap
// after the latest one before it).
func TestSessionsAgainstOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		gap := r.Int64N(50) + 1
		spec := Spec{Kind: Session, Gap: gap}
		events := make([]int64, r.IntN(30)+1)
		for i := range events {
			events[i] = r.Int64N(1000)
		}
		var sessions []Window
		for _, ts := range events {
			merged, absorbed := MergeSession(sessions, spec.Assign(nil, ts)[0])
			for i := len(absorbed) - 1; i >= 0; i-- {
				sessions = slices.Delete(sessions, absorbed[i], absorbed[i]+1)
			}
			i := sort.Search(len(sessions), func(i int) bool { return sessions[i].Start > merged.Start })
			sessions = slices.Insert(sessions, i, merged)
		}
		sorted := slices.Sorted(slices.Values(events))
		var want []Window
		for _, ts := range sorted {
			if n := len(want); n > 0 && ts <= want[n-1].End {
				want[n-1].End = max(want[n-1].End, ts+gap)
				continue
			}
			want = append(want, Window{ts, ts + gap})
		}
		if !slices.Equal(sessions, want) {
			t.Fatalf("gap %d, events %v: sessions %v, want %v", gap, events, sessions, want)
		}
	}
}

// The watermark is the minimum over active inputs, skips idle ones,
// stays put when all are idle and never moves back.
func TestWatermarks(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := NewWatermarks(10 * time.Second)
	if got := w.Current(t0); got != NoWatermark {
		t.Fatalf("empty tracker: %d", got)
	}
	w.Observe(0, 100, t0)
	w.Observe(1, 40, t0)
	w.Observe(1, 30, t0) // out of order within the input: its watermark stays
	if got := w.Current(t0); got != 40 {
		t.Errorf("min over inputs: %d, want 40", got)
	}
	if Late(Window{0, 40}, 40) != true || Late(Window{0, 41}, 40) || Late(Window{0, 1}, NoWatermark) {
		t.Error("Late")
	}
	// Input 1 goes quiet; input 0 moves on: after the idle timeout the
	// watermark follows input 0 alone.
	w.Observe(0, 200, t0.Add(5*time.Second))
	if got := w.Current(t0.Add(9 * time.Second)); got != 40 {
		t.Errorf("before the idle timeout: %d, want 40", got)
	}
	if got := w.Current(t0.Add(11 * time.Second)); got != 200 {
		t.Errorf("input 1 idle: %d, want 200", got)
	}
	// Everything idle: it stays.
	if got := w.Current(t0.Add(time.Hour)); got != 200 {
		t.Errorf("all idle: %d, want 200", got)
	}
	// Input 1 comes back behind: the watermark does not move back.
	w.Observe(1, 50, t0.Add(time.Hour))
	if got := w.Current(t0.Add(time.Hour)); got != 200 {
		t.Errorf("after an idle input came back behind: %d, want 200", got)
	}
	w.Forget(1)
	w.Observe(0, 300, t0.Add(time.Hour))
	if got := w.Current(t0.Add(time.Hour)); got != 300 || w.Input(1) != NoWatermark {
		t.Errorf("after forgetting input 1: %d", got)
	}
}

// Inputs kept active (an earlier stage's tasks) hold the watermark
// however long they are quiet; the others still go idle.
func TestWatermarksKeepActive(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := NewWatermarks(time.Second)
	w.KeepActive(2)
	w.Observe(0, 100, t0)
	w.Observe(1, 50, t0)
	w.Observe(2, 500, t0)
	w.Observe(3, 10, t0)
	w.Observe(2, 900, t0.Add(time.Hour))
	if got := w.Current(t0.Add(time.Hour)); got != 50 {
		t.Errorf("inputs 0 and 1 quiet for an hour: %d, want 50 (input 3 idle, 0 and 1 never)", got)
	}
	w.Observe(1, 700, t0.Add(time.Hour))
	if got := w.Current(t0.Add(time.Hour)); got != 100 {
		t.Errorf("input 1 moved on: %d, want 100", got)
	}
}
