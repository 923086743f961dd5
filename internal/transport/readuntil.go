package transport

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ReadToEnd polls c (a consumer of topic), calling fn for each record, until
// every partition of topic has been read up to the end offset it had when
// ReadToEnd started. Partitions whose start offset has reached their end
// (retention removed everything) need no reading. It also stops when no
// record arrives for idle: compaction may have removed the records just
// before an end (superseded values, expired tombstones), which no offset
// tells apart from "not fetched yet"; it then returns false, and the
// caller has everything that is left.
func ReadToEnd(ctx context.Context, t Transport, c Consumer, topic string, idle time.Duration, fn func(*Record)) (complete bool, err error) {
	ends, err := t.EndOffsets(ctx, topic)
	if err != nil {
		return false, err
	}
	starts, err := t.StartOffsets(ctx, topic)
	if err != nil {
		return false, err
	}
	remaining := map[int32]int64{}
	for p, end := range ends {
		if end > starts[p] {
			remaining[p] = end
		}
	}
	for len(remaining) > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, idle)
		recs, err := c.Poll(pollCtx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return false, nil
			}
			return false, fmt.Errorf("transport: reading %s to its end: %w", topic, err)
		}
		for _, r := range recs {
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
			fn(r)
		}
	}
	return true, nil
}
