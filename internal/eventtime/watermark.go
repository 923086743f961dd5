package eventtime

import (
	"math"
	"time"
)

// NoWatermark is the watermark before any event: nothing is late, no
// window has ended.
const NoWatermark int64 = math.MinInt64

// Watermarks tracks the watermark of each input of an operator and the
// operator's own (see the package doc). Not safe for concurrent use.
type Watermarks struct {
	idle time.Duration
	// steady numbers the inputs that never go idle: those below it.
	steady  int32
	inputs  map[int32]*input
	current int64
}

type input struct {
	wm     int64
	active time.Time // when it last sent an event
}

// NewWatermarks returns a tracker whose inputs stop counting after idle
// without events; 0 means they never do.
func NewWatermarks(idle time.Duration) *Watermarks {
	return &Watermarks{idle: idle, inputs: map[int32]*input{}, current: NoWatermark}
}

// KeepActive makes the inputs numbered below n never idle, whatever the
// timeout: the tasks of an earlier stateful stage, which send their
// watermark whenever it moves, so that one quiet while event time
// stands still there has not fallen behind.
func (w *Watermarks) KeepActive(n int32) { w.steady = n }

// Observe records an event of input at now whose watermark candidate
// (the WATERMARK expression's value) is candidate.
func (w *Watermarks) Observe(in int32, candidate int64, now time.Time) {
	i := w.inputs[in]
	if i == nil {
		i = &input{wm: NoWatermark}
		w.inputs[in] = i
	}
	i.wm = max(i.wm, candidate)
	i.active = now
}

// Expect registers an input that has sent nothing yet: it holds the
// watermark back (at NoWatermark) until it sends, or for the idle timeout
// from now — as a source partition that was never read must not let
// windows close early.
func (w *Watermarks) Expect(in int32, now time.Time) {
	if w.inputs[in] == nil {
		w.inputs[in] = &input{wm: NoWatermark, active: now}
	}
}

// Forget drops an input (its partition was revoked from this task).
func (w *Watermarks) Forget(in int32) { delete(w.inputs, in) }

// Current returns the operator's watermark at now: the minimum over the
// inputs active within the idle timeout, never less than before.
func (w *Watermarks) Current(now time.Time) int64 {
	low, any := int64(math.MaxInt64), false
	for in, i := range w.inputs {
		if w.idle > 0 && in >= w.steady && now.Sub(i.active) >= w.idle {
			continue
		}
		low, any = min(low, i.wm), true
	}
	if any {
		w.current = max(w.current, low)
	}
	return w.current
}

// Input returns one input's watermark, NoWatermark if it sent nothing.
func (w *Watermarks) Input(in int32) int64 {
	if i := w.inputs[in]; i != nil {
		return i.wm
	}
	return NoWatermark
}

// Late reports whether an event of window win is late at watermark wm:
// the window has ended, so its result has been emitted.
func Late(win Window, wm int64) bool { return wm != NoWatermark && win.End <= wm }
