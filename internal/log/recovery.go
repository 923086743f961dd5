package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/vfs"
)

// recoveryChunk is the read size while scanning a segment.
const recoveryChunk = 1 << 20

// openPartition loads a partition directory. After an unclean shutdown
// every segment's tail is checked batch by batch (length and CRC) from its
// last index entry, a torn or garbage tail is cut, and missing or bad
// indexes are rebuilt. After a clean shutdown only the headers after the
// last index entry are read.
func (l *Log) openPartition(t *Topic, id int32, clean bool) (*Partition, error) {
	p := &Partition{topic: t, id: id, dir: filepath.Join(t.dir, fmt.Sprint(id)), log: l}
	p.mu.durable.L = &p.mu.Mutex
	p.mu.newData = make(chan struct{})

	if err := l.fs.MkdirAll(p.dir, 0o755); err != nil {
		return nil, err
	}
	entries, err := l.fs.ReadDir(p.dir)
	if err != nil {
		return nil, err
	}
	var bases []int64
	names := make(map[string]bool)
	for _, e := range entries {
		names[e.Name()] = true
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, cleanedSuffix):
			// Leftovers of an atomic write or a compaction that did not finish.
			if err := l.fs.Remove(filepath.Join(p.dir, name)); err != nil {
				return nil, err
			}
		case name == epochFile || name == producerSnapshotFile || name == logStartFile:
		case strings.HasSuffix(name, indexSuffix) || strings.HasSuffix(name, txnIndexSuffix):
			stem := strings.TrimSuffix(strings.TrimSuffix(name, indexSuffix), txnIndexSuffix)
			if !names[stem+logSuffix] {
				if err := l.fs.Remove(filepath.Join(p.dir, name)); err != nil {
					return nil, err
				}
			}
		default:
			if base, ok := parseSegmentName(name); ok {
				bases = append(bases, base)
			}
		}
	}
	slices.Sort(bases)
	if len(bases) == 0 {
		seg := newSegment(p.dir, 0)
		if err := createSegmentFile(l.fs, seg, false); err != nil {
			return nil, err
		}
		p.mu.segments = []*segment{seg}
		// A partition without data cannot have been cut under a reader.
		return p, p.loadEpochs(true)
	}

	expect := bases[0]
	for i, base := range bases {
		seg := newSegment(p.dir, base)
		if base < expect {
			return nil, fmt.Errorf("%w: %s: segment %d overlaps the previous one, which ends at %d", record.ErrCorrupt, p.dir, base, expect)
		}
		sealed := i < len(bases)-1
		if err := l.recoverSegment(seg, clean, sealed); err != nil {
			return nil, fmt.Errorf("log: recover %s: %w", seg.logPath, err)
		}
		expect = seg.nextOffset
		p.mu.segments = append(p.mu.segments, seg)
	}
	p.mu.logStart = p.mu.segments[0].base
	p.mu.highWatermark = p.active().nextOffset
	if err := p.loadLogStart(); err != nil {
		return nil, err
	}
	if err := p.loadEpochs(clean); err != nil {
		return nil, err
	}
	return p, p.loadProducers(clean)
}

// recoverSegment fills seg's size, next offset and index from its files,
// cutting a bad tail. trusted says the last shutdown was clean; sealed that
// the segment was rolled, so its rebuilt index is worth writing now (the
// active segment's is written when it rolls or the log closes).
func (l *Log) recoverSegment(seg *segment, trusted, sealed bool) error {
	f, err := l.fs.OpenFile(seg.logPath, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return err
	}

	var entries []indexEntry
	if b, err := l.fs.ReadFile(seg.indexPath); err == nil {
		if entries, err = decodeIndex(seg.base, b, size); err != nil {
			l.logger.Warn("rebuilding segment index", "segment", seg.logPath, "reason", err)
			entries = nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	indexChanged := false

	r := newBatchReader(f, size, recoveryChunk)
	res, idx, err := scanFrom(r, seg, entries, size, !trusted)
	if err != nil {
		return err
	}
	if res.stopReason != nil && len(entries) > 0 {
		// The scan began at an index entry. If the index itself is wrong the
		// stop says nothing about the data: scan everything before cutting.
		res, idx, err = scanFrom(r, seg, nil, size, true)
		if err != nil {
			return err
		}
		indexChanged = true
	}
	if res.stopReason != nil && trusted {
		// A clean shutdown promised whole batches; verify all of it.
		res, idx, err = scanFrom(r, seg, nil, size, true)
		if err != nil {
			return err
		}
		indexChanged = true
	}
	if len(idx.entries) != len(entries) {
		indexChanged = true
	}

	if res.validEnd < size {
		l.logger.Warn("cutting segment tail", "segment", seg.logPath, "at", res.validEnd, "bytes", size-res.validEnd, "reason", res.stopReason)
		if err := f.Truncate(res.validEnd); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	seg.size = res.validEnd
	seg.nextOffset = max(res.nextOffset, seg.base)
	seg.idx = idx
	if !indexChanged {
		seg.idx.persisted = len(idx.entries)
	}
	seg.firstAppend = l.now()
	switch {
	case indexChanged && sealed:
		return vfs.WriteFileAtomic(l.fs, seg.indexPath, encodeIndex(seg.base, idx.entries))
	case indexChanged:
		// Stale entries past a cut must not survive to the next open.
		if err := l.fs.Remove(seg.indexPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// scanFrom walks seg from its last trusted index entry (or the start) to
// the end, rebuilding index entries for what it passes.
func scanFrom(r *batchReader, seg *segment, entries []indexEntry, size int64, verify bool) (walkResult, index, error) {
	idx := index{maxTimestamp: -1}
	start, expect := int64(0), seg.base
	if n := len(entries); n > 0 {
		idx.entries = slices.Clone(entries[:n-1])
		// The last entry's max covers everything up to and including its
		// batch, so re-adding that batch reproduces the entry exactly.
		idx.maxTimestamp = entries[n-1].MaxTimestamp
		idx.bytesSince = indexIntervalBytes // re-add the last entry
		start, expect = entries[n-1].Position, entries[n-1].Offset
	}
	res, err := walk(r, start, size, expect, verify, func(h record.BatchHeader, pos int64) {
		idx.add(h.BaseOffset, pos, h.Size(), h.MaxTimestamp)
	})
	if err == nil && len(entries) > 0 && res.stopReason == nil {
		// The first batch walked must be the one the index names.
		n := len(entries) - 1
		if len(idx.entries) <= n || idx.entries[n] != entries[n] {
			res.stopReason = fmt.Errorf("%w: index entry %d does not match the batch at position %d", errIndexInconsistent, n, start)
		}
	}
	return res, idx, err
}

func dirOf(path string) string { return filepath.Dir(path) }
