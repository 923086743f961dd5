package ingest

import (
	"bytes"
	"sync/atomic"
	"unsafe"

	"github.com/tide-data/tide/internal/transport"
)

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
func (l *byteLimiter) tryAcquire(n int64) bool { return l.tryAcquireMore(0, n) }

// tryAcquireMore takes n more bytes for a request that holds held bytes
// already, if they fit, or if that request is alone in flight (as
// tryAcquire lets one request through).
func (l *byteLimiter) tryAcquireMore(held, n int64) bool {
	for {
		used := l.used.Load()
		if used+n > l.limit && used > held {
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

// recordMemory is what one element of a request costs in memory beyond
// its bytes in the body, from parsing until the write settles: the parsed
// element, the record, the pointer to it, its index, and its share of the
// answer (about 40 bytes) — 280 bytes on 64-bit platforms. The limiter
// counts it because for small events it outweighs the body: 64 MiB of
// 60-byte events are a million records, 280 MiB of them.
const recordMemory = int64(unsafe.Sizeof(element{})+unsafe.Sizeof(transport.Record{})+2*unsafe.Sizeof(uintptr(0))) + 40

// maxElements bounds the elements body can hold, cheaply, before it is
// parsed: NDJSON has at most one per line; a JSON array at most one more
// than it has commas; any other JSON body is one.
func maxElements(body []byte, form bodyForm) int {
	if form == formNDJSON {
		return bytes.Count(body, []byte{'\n'}) + 1
	}
	if i := skipSpace(body, 0); i < len(body) && body[i] == '[' {
		return bytes.Count(body, []byte{','}) + 1
	}
	return 1
}
