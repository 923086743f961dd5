package ingest

import "sync/atomic"

// byteLimiter is a non-blocking semaphore on bytes: requests take what
// they hold in memory and give it back when their write has settled.
// Nothing ever waits for room — a request that does not fit is refused
// (429), so there is no queue to grow.
type byteLimiter struct {
	limit int64
	used  atomic.Int64
}

// tryAcquire takes n bytes if they fit. A single request larger than the
// limit is let through when nothing else is in flight, so that a limit
// below the maximum body size cannot refuse a request forever.
func (l *byteLimiter) tryAcquire(n int64) bool {
	for {
		used := l.used.Load()
		if used+n > l.limit && used > 0 {
			return false
		}
		if l.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

func (l *byteLimiter) release(n int64) { l.used.Add(-n) }

// inFlight returns the bytes held now.
func (l *byteLimiter) inFlight() int64 { return l.used.Load() }
