package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// CaptureInfo describes a capturing source (postgres-cdc) that this
// worker runs, for monitoring.
type CaptureInfo struct {
	Source string
	// Slot names the source's replication slot.
	Slot string
	// State is the capture's: starting, snapshot, streaming, retrying.
	State string
	// Lag is how far the capture is behind the database: the age of the
	// oldest change it received and has not made durable yet, 0 when
	// caught up (cdc.Capture.Lag has the details).
	Lag time.Duration
}

// Captures describes the capturing sources this worker runs at now,
// sorted by name. A source whose capture runs on another worker (this one
// is on standby for its lease) is left out, so that, summed over workers,
// each capture is reported once. It reads only memory.
func (e *Engine) Captures(now time.Time) []CaptureInfo {
	var out []CaptureInfo
	for _, r := range e.leadingCaptures() {
		st := r.run.capture.Status()
		out = append(out, CaptureInfo{Source: r.name, Slot: r.run.capture.SlotName(), State: st.State, Lag: r.run.capture.Lag(now)})
	}
	return out
}

// SlotInfo is what the database says of a capture's replication slot.
type SlotInfo struct {
	Slot string
	// Exists is false when the slot is not there (yet, or any more).
	Exists bool
	// Active says a walsender streams from it.
	Active bool
	// RetainedBytes is the WAL the slot keeps from being recycled, from
	// its restart_lsn to the server's current position (what
	// `tide cdc slots` shows).
	RetainedBytes int64
	// WALStatus is reserved, extended, unreserved or lost.
	WALStatus string
}

// CaptureSlot asks the database about the replication slot of source, a
// capturing source this worker runs. It connects and queries every call:
// callers that poll (the metrics scrape) cache it.
func (e *Engine) CaptureSlot(ctx context.Context, source string) (SlotInfo, error) {
	var run *captureRun
	for _, r := range e.leadingCaptures() {
		if r.name == source {
			run = r.run
		}
	}
	if run == nil {
		return SlotInfo{}, fmt.Errorf("engine: %s is not a capturing source this worker runs", source)
	}
	slot, ok, err := run.capture.Slot(ctx)
	if err != nil {
		return SlotInfo{}, err
	}
	return SlotInfo{Slot: run.capture.SlotName(), Exists: ok, Active: slot.Active, RetainedBytes: slot.RetainedBytes, WALStatus: slot.WALStatus}, nil
}

type namedCapture struct {
	name string
	run  *captureRun
}

// leadingCaptures lists the captures this worker holds the lease of,
// sorted by source name.
func (e *Engine) leadingCaptures() []namedCapture {
	e.mu.Lock()
	var out []namedCapture
	for _, name := range slices.Sorted(maps.Keys(e.mu.sources)) {
		if r := e.mu.sources[name].capture; r != nil {
			out = append(out, namedCapture{name: name, run: r})
		}
	}
	e.mu.Unlock()
	return slices.DeleteFunc(out, func(c namedCapture) bool {
		c.run.mu.Lock()
		defer c.run.mu.Unlock()
		return !c.run.leading
	})
}
