package eventtime

import (
	"errors"
	"fmt"
	"slices"
)

// Window is the interval [Start, End) of event time, in microseconds.
type Window struct{ Start, End int64 }

func (w Window) String() string { return fmt.Sprintf("[%d, %d)", w.Start, w.End) }

// Kind is a window function.
type Kind uint8

// The window functions.
const (
	Tumble Kind = iota + 1
	Hop
	Session
	// Attached is the window a row of windows already has: the rows a
	// windowed aggregation emits, aggregated again by their window (a
	// cascading window aggregation). Such a row's event time is its
	// window's start and its window is [start, start + Size): the size of
	// the TUMBLE or HOP windows that made it.
	Attached
	// Given is the window a row of SESSION windows already has, of its
	// own length: its start and end come with the row, so Assign gives
	// none (the caller adds the row to the window it has).
	Given
)

// Spec is a window function with its sizes, in microseconds: Size for
// TUMBLE, HOP and Attached, Slide for HOP, Gap for SESSION. Offset shifts TUMBLE
// and HOP windows from the epoch (TUMBLE(..., INTERVAL '1' DAY, INTERVAL
// '2' HOUR) starts its days at 02:00).
type Spec struct {
	Kind   Kind
	Size   int64
	Slide  int64
	Gap    int64
	Offset int64
}

// maxWindowsPerEvent bounds how many HOP windows one event belongs to
// (Size / Slide): beyond it, a typo like HOP(1 second, 1 day) would make
// every event update 86,400 windows.
const maxWindowsPerEvent = 10_000

// Check reports a spec that cannot work.
func (s Spec) Check() error {
	switch s.Kind {
	case Tumble:
		if s.Size <= 0 {
			return errors.New("TUMBLE needs a positive size")
		}
	case Hop:
		if s.Size <= 0 || s.Slide <= 0 {
			return errors.New("HOP needs a positive slide and size")
		}
		if s.Size/s.Slide > maxWindowsPerEvent {
			return fmt.Errorf("HOP with a size %d times its slide puts every event in that many windows (at most %d)", s.Size/s.Slide, maxWindowsPerEvent)
		}
	case Session:
		if s.Gap <= 0 {
			return errors.New("SESSION needs a positive gap")
		}
	case Attached:
		if s.Size <= 0 {
			return errors.New("windows of a subquery need a positive size")
		}
	case Given:
	default:
		return errors.New("unknown window function")
	}
	return nil
}

// Assign appends the windows an event at ts belongs to, earliest first:
// one for TUMBLE, Size/Slide (rounded up) for HOP, [ts, ts + Size) for
// Attached (ts is its window's start), for SESSION the event's own
// [ts, ts + Gap), which MergeSession then merges with the key's open
// sessions, and none for Given.
func (s Spec) Assign(dst []Window, ts int64) []Window {
	switch s.Kind {
	case Tumble:
		start := floorDiv(ts-s.Offset, s.Size)*s.Size + s.Offset
		return append(dst, Window{start, start + s.Size})
	case Hop:
		last := floorDiv(ts-s.Offset, s.Slide)*s.Slide + s.Offset
		first := len(dst)
		for start := last; start > ts-s.Size; start -= s.Slide {
			dst = append(dst, Window{start, start + s.Size})
		}
		slices.Reverse(dst[first:])
		return dst
	case Session:
		return append(dst, Window{ts, ts + s.Gap})
	case Attached:
		return append(dst, Window{ts, ts + s.Size})
	}
	return dst
}

// MergeSession merges w into a key's sessions (sorted by Start, none
// overlapping or touching): it returns the session w ends up in and the
// indexes of the sessions it absorbed, which the caller merges into it
// and removes. Sessions that touch ([1, 5) and [5, 9)) merge, as an
// event at 5 would be within the gap of both.
func MergeSession(sessions []Window, w Window) (merged Window, absorbed []int) {
	merged = w
	// A session absorbed may reach one that w itself did not: sweep
	// until nothing more joins.
	for joined := true; joined; {
		joined = false
		for i, s := range sessions {
			if s.Start <= merged.End && merged.Start <= s.End && !slices.Contains(absorbed, i) {
				merged.Start, merged.End = min(merged.Start, s.Start), max(merged.End, s.End)
				absorbed = append(absorbed, i)
				joined = true
			}
		}
	}
	slices.Sort(absorbed)
	return merged, absorbed
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
