package connector

import (
	"context"
	"time"
)

// pacer spreads a generator's rows over time at a rate (rows per second;
// 0: as fast as they are asked for), from the first batch on.
type pacer struct {
	rate    float64
	started time.Time
}

// pace waits until emitted rows are due and returns how many to make
// next: a tenth of a second's worth (1 to 256), or 256 unthrottled.
func (p *pacer) pace(ctx context.Context, emitted int64) (batch int, err error) {
	if p.rate <= 0 {
		return 256, nil
	}
	if p.started.IsZero() {
		p.started = time.Now()
	}
	due := p.started.Add(time.Duration(float64(emitted) / p.rate * float64(time.Second)))
	if wait := time.Until(due); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
	}
	return int(min(max(p.rate/10, 1), 256)), nil
}

// roundRobin picks the partition after *turn with something left, and
// advances *turn past it; false when none has.
func roundRobin(turn *int32, partitions int32, remaining func(int32) bool) (int32, bool) {
	for range partitions {
		p := *turn
		*turn = (*turn + 1) % partitions
		if remaining(p) {
			return p, true
		}
	}
	return 0, false
}
