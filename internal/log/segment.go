package log

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/vfs"
)

const (
	logSuffix      = ".log"
	indexSuffix    = ".index"
	txnIndexSuffix = ".txnindex"
	cleanedSuffix  = ".cleaned"
)

// segment is one file of a partition's log, named by the offset of its
// first batch, with its sparse index kept in memory.
//
// The active (last) segment's size, nextOffset and index are guarded by
// the partition's mutex; once a segment is rolled they never change again
// (compaction replaces the whole segment value instead of mutating it).
type segment struct {
	base         int64
	logPath      string
	indexPath    string
	txnIndexPath string
	// retired is set when retention deletes the segment or compaction
	// replaces it; the handle cache then refuses to open it.
	retired atomic.Bool

	size       int64 // bytes of whole batches
	nextOffset int64 // offset after its last batch; base when empty
	idx        index
	// aborted lists the transactions aborted by markers in this segment,
	// in marker order (txnindex.go). Append-only while the segment is
	// active, like idx.entries; abortedPersisted is how many of them the
	// .txnindex file holds, or -1 when the file may hold others.
	aborted          []abortedEntry
	abortedPersisted int
	// firstAppend is when the segment got its first batch, for segment.ms.
	firstAppend time.Time
}

func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

func newSegment(dir string, base int64) *segment {
	name := filepath.Join(dir, segmentName(base))
	return &segment{
		base:         base,
		logPath:      name + logSuffix,
		indexPath:    name + indexSuffix,
		txnIndexPath: name + txnIndexSuffix,
		nextOffset:   base,
		idx:          index{maxTimestamp: -1},
	}
}

// parseSegmentName returns the base offset of a "<20 digits>.log" name.
func parseSegmentName(name string) (int64, bool) {
	stem, ok := strings.CutSuffix(name, logSuffix)
	if !ok || len(stem) != 20 {
		return 0, false
	}
	base, err := strconv.ParseInt(stem, 10, 64)
	return base, err == nil && base >= 0
}

// batchReader reads a segment sequentially through a window buffer, so a
// scan of many small batches costs few system calls.
type batchReader struct {
	file   vfs.File
	end    int64 // read nothing at or past end
	win    []byte
	winPos int64
	chunk  int
}

func newBatchReader(f vfs.File, end int64, chunk int) *batchReader {
	return &batchReader{file: f, end: end, chunk: chunk, winPos: -1}
}

// bytes returns n bytes at pos, or io.ErrUnexpectedEOF if they run past end.
// The result is valid until the next call.
func (r *batchReader) bytes(pos int64, n int) ([]byte, error) {
	if n < 0 || pos+int64(n) > r.end {
		return nil, io.ErrUnexpectedEOF
	}
	if r.winPos >= 0 && pos >= r.winPos && pos+int64(n) <= r.winPos+int64(len(r.win)) {
		off := pos - r.winPos
		return r.win[off : off+int64(n)], nil
	}
	size := int64(max(n, r.chunk))
	size = min(size, r.end-pos)
	if int64(cap(r.win)) < size {
		r.win = make([]byte, size)
	}
	r.win = r.win[:size]
	if _, err := r.file.ReadAt(r.win, pos); err != nil && !(errors.Is(err, io.EOF)) {
		r.winPos = -1
		return nil, err
	}
	r.winPos = pos
	return r.win[:n], nil
}

// walkResult is what a scan of a segment found.
type walkResult struct {
	validEnd   int64 // position after the last good batch
	nextOffset int64 // offset after the last good batch (start offset if none)
	stopReason error // why the scan stopped before end; nil at a clean end
}

// walk reads batches from pos to end, checking CRCs when verify is set, and
// calls visit for each good batch. It stops at the first batch that is torn
// (runs past end), malformed, or whose offsets go backwards.
func walk(r *batchReader, pos, end, expectOffset int64, verify bool, visit func(h record.BatchHeader, pos int64)) (walkResult, error) {
	res := walkResult{validEnd: pos, nextOffset: expectOffset}
	for pos < end {
		hb, err := r.bytes(pos, record.BatchHeaderSize)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				res.stopReason = fmt.Errorf("%w: torn batch header at position %d", record.ErrCorrupt, pos)
				return res, nil
			}
			return res, err
		}
		h, err := record.ParseHeader(hb)
		if err != nil {
			res.stopReason = fmt.Errorf("at position %d: %w", pos, err)
			return res, nil
		}
		if pos+int64(h.Size()) > end {
			res.stopReason = fmt.Errorf("%w: batch at position %d runs %d bytes past the end", record.ErrCorrupt, pos, pos+int64(h.Size())-end)
			return res, nil
		}
		if h.BaseOffset < res.nextOffset {
			res.stopReason = fmt.Errorf("%w: batch at position %d has offset %d, expected at least %d", record.ErrCorrupt, pos, h.BaseOffset, res.nextOffset)
			return res, nil
		}
		if verify {
			b, err := r.bytes(pos, h.Size())
			if err != nil {
				return res, err
			}
			if _, err := record.Validate(b); err != nil {
				res.stopReason = fmt.Errorf("at position %d: %w", pos, err)
				return res, nil
			}
		}
		if visit != nil {
			visit(h, pos)
		}
		pos += int64(h.Size())
		res.validEnd = pos
		res.nextOffset = h.LastOffset() + 1
	}
	return res, nil
}
