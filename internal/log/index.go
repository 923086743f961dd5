package log

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// indexIntervalBytes is how many log bytes lie between two index entries at
// most, as Kafka's index.interval.bytes.
const indexIntervalBytes = 4096

const indexEntrySize = 16

// indexEntry points at the start of a batch. MaxTimestamp is the largest
// timestamp of every batch before the entry's position plus the batch
// itself, so a timestamp search can skip whole stretches.
type indexEntry struct {
	Offset       int64 // base offset of the batch at Position
	Position     int64
	MaxTimestamp int64
}

// index is a sparse, append-only offset and time index of one segment.
// Entries only ever get appended: a reader may keep a snapshot of the slice
// (taken under the partition lock) and search it while the writer appends.
type index struct {
	entries []indexEntry
	// bytesSince counts log bytes appended since the last entry.
	bytesSince   int64
	maxTimestamp int64
	// persisted is how many entries the .index file holds, so a clean
	// close rewrites only indexes that changed.
	persisted int
}

// add records the batch appended at pos if enough bytes passed since the
// last entry (the first batch always gets one).
func (x *index) add(offset, pos int64, size int, maxTs int64) {
	if maxTs > x.maxTimestamp {
		x.maxTimestamp = maxTs
	}
	if len(x.entries) == 0 || x.bytesSince >= indexIntervalBytes {
		x.entries = append(x.entries, indexEntry{Offset: offset, Position: pos, MaxTimestamp: x.maxTimestamp})
		x.bytesSince = 0
	}
	x.bytesSince += int64(size)
}

// floorOffset returns the position of the last indexed batch whose base
// offset is at most offset, or 0.
func floorOffset(entries []indexEntry, offset int64) int64 {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].Offset > offset })
	if i == 0 {
		return 0
	}
	return entries[i-1].Position
}

// batchBoundary shortens a read of n bytes from start to end where an
// indexed batch starts, so that it does not stop inside a batch whose
// bytes would be read (and zeroed, and copied) for nothing and read again
// by the next read; n as it is when no indexed batch starts after start
// within it.
func batchBoundary(entries []indexEntry, start, n int64) int64 {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].Position > start+n })
	if i > 0 && entries[i-1].Position > start {
		return entries[i-1].Position - start
	}
	return n
}

// floorTimestamp returns a position at or before the first batch whose max
// timestamp reaches ts.
func floorTimestamp(entries []indexEntry, ts int64) int64 {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].MaxTimestamp >= ts })
	if i == 0 {
		return 0
	}
	// Everything up to and including entry i-1's batch is older than ts, so
	// the first batch reaching ts lies after it; scanning from it is safe.
	return entries[i-1].Position
}

// encodeIndex lays entries out as the .index file: 16 bytes each,
// relative offset u32 | position u32 | max timestamp i64, big-endian.
func encodeIndex(base int64, entries []indexEntry) []byte {
	b := make([]byte, 0, len(entries)*indexEntrySize)
	for _, e := range entries {
		b = binary.BigEndian.AppendUint32(b, uint32(e.Offset-base))
		b = binary.BigEndian.AppendUint32(b, uint32(e.Position))
		b = binary.BigEndian.AppendUint64(b, uint64(e.MaxTimestamp))
	}
	return b
}

// decodeIndex parses an .index file and checks it against the segment's
// size: entries strictly ascending in offset and position, all inside the
// segment. A bad index is rebuilt from the segment by the caller.
func decodeIndex(base int64, b []byte, segmentSize int64) ([]indexEntry, error) {
	if len(b)%indexEntrySize != 0 {
		return nil, fmt.Errorf("%w: size %d is not a multiple of %d", errIndexInconsistent, len(b), indexEntrySize)
	}
	entries := make([]indexEntry, 0, len(b)/indexEntrySize)
	for len(b) > 0 {
		e := indexEntry{
			Offset:       base + int64(binary.BigEndian.Uint32(b)),
			Position:     int64(binary.BigEndian.Uint32(b[4:])),
			MaxTimestamp: int64(binary.BigEndian.Uint64(b[8:])),
		}
		b = b[indexEntrySize:]
		if e.Position >= segmentSize {
			return nil, fmt.Errorf("%w: position %d past segment end %d", errIndexInconsistent, e.Position, segmentSize)
		}
		if n := len(entries); n > 0 && (e.Offset <= entries[n-1].Offset || e.Position <= entries[n-1].Position) {
			return nil, fmt.Errorf("%w: entries out of order", errIndexInconsistent)
		}
		entries = append(entries, e)
	}
	return entries, nil
}
