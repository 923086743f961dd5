package log

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/vfs"
)

func (l *Log) runCleaner() {
	ticker := time.NewTicker(l.opts.cleanerInterval)
	defer ticker.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-ticker.C:
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-l.stop:
				case <-ctx.Done():
				}
				cancel()
			}()
			if err := l.Clean(ctx); err != nil && !errors.Is(err, context.Canceled) {
				l.logger.Error("log cleaner", "err", err)
			}
			cancel()
		}
	}
}

// Clean runs one pass of retention and compaction over every partition.
// The background cleaner calls it periodically; tests and tools may call it
// directly. Passes are serialised. Appends and reads go on meanwhile: a
// pass holds a partition's mutex only to swap segments.
func (l *Log) Clean(ctx context.Context) error {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	var errs []error
	for _, t := range l.Topics() {
		for _, p := range t.Partitions() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := p.enforceRetention(); err != nil {
				errs = append(errs, fmt.Errorf("log: retention of %s: %w", p, err))
			}
			if err := p.compact(ctx); err != nil {
				errs = append(errs, fmt.Errorf("log: compaction of %s: %w", p, err))
			}
		}
	}
	return errors.Join(errs...)
}

// enforceRetention deletes the oldest sealed segments while they are older
// than retention.ms (by their largest record timestamp, as Kafka does) or
// while the partition without them still holds retention.bytes. The active
// segment is never deleted.
func (p *Partition) enforceRetention() error {
	cfg := p.config()
	if !cfg.Delete || (cfg.RetentionMs < 0 && cfg.RetentionBytes < 0) {
		return nil
	}
	now := p.log.now().UnixMilli()
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return nil
	}
	segs := p.mu.segments
	var total int64
	for _, s := range segs {
		total += s.size
	}
	n := 0
	for _, s := range segs[:len(segs)-1] {
		expired := cfg.RetentionMs >= 0 && now-s.idx.maxTimestamp > cfg.RetentionMs
		oversize := cfg.RetentionBytes >= 0 && total-s.size >= cfg.RetentionBytes
		if !expired && !oversize {
			break
		}
		total -= s.size
		n++
	}
	if n == 0 {
		p.mu.Unlock()
		return nil
	}
	victims := segs[:n]
	p.mu.segments = slices.Clone(segs[n:])
	p.mu.logStart = max(p.mu.logStart, p.mu.segments[0].base)
	p.notifyLocked() // the LSO may have moved with it
	for _, s := range victims {
		s.retired.Store(true)
	}
	p.mu.Unlock()

	return p.removeSegments(victims)
}

// compact keeps, in the sealed segments of a compacted topic, only the
// latest record of each key; tombstones (null values) go too once older
// than delete.retention.ms. Offsets are preserved: kept records keep their
// offsets and readers skip the gaps. Records without a key are kept.
//
// Transactions: only segments wholly below the LSO are compacted, so every
// transaction with data there has ended. Batches of aborted transactions
// are dropped and never count as a key's latest value, so an aborted write
// can neither come back as live nor displace the committed value. A marker
// is dropped once no data of its transaction was left in the log when the
// pass began (so data always goes in an earlier pass than its marker, and
// a crash between the two leaves no orphaned data) and it is older than
// delete.retention.ms, the time readers have to pass it, as for
// tombstones; an abort marker's .txnindex entry goes with it.
func (p *Partition) compact(ctx context.Context) error {
	cfg := p.config()
	if !cfg.Compact {
		return nil
	}
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return nil
	}
	lso := p.lastStableLocked()
	segs := p.mu.segments
	n := 0
	for n < len(segs)-1 && segs[n].nextOffset <= lso {
		n++
	}
	sealed := slices.Clone(segs[:n])
	var aborted []AbortedTxn
	if n > 0 {
		for _, s := range segs {
			var done bool
			if aborted, done = appendAborted(aborted, s.aborted, segs[0].base, sealed[n-1].nextOffset); done {
				break
			}
		}
	}
	p.mu.Unlock()
	if len(sealed) == 0 || sealed[len(sealed)-1].nextOffset == p.cleanedThrough {
		return nil // nothing sealed since the last pass
	}
	abortedTxns := newAbortedLookup(aborted)

	// Pass 1: the latest offset of every key in the sealed segments.
	latest := make(map[string]int64)
	for _, s := range sealed {
		err := p.eachBatch(s, func(h record.BatchHeader, batch []byte) error {
			if h.Control() || h.Transactional() && abortedTxns.aborted(h.ProducerID, h.BaseOffset) {
				return nil
			}
			_, recs, err := record.DecodeRecords(batch, decompressLimit)
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.Key != nil {
					latest[string(r.Key)] = r.Offset
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}

	// Pass 2: rewrite each segment that holds something superseded.
	c := compaction{
		latest:  latest,
		horizon: p.log.now().UnixMilli() - cfg.DeleteRetentionMs,
		aborted: abortedTxns,
		txnData: make(map[int64]bool),
	}
	for _, s := range sealed {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := p.compactSegment(s, &c); err != nil {
			return err
		}
	}
	p.cleanedThrough = sealed[len(sealed)-1].nextOffset
	return nil
}

// compaction is the state of one pass over the sealed segments, in order.
type compaction struct {
	latest  map[string]int64
	horizon int64
	aborted abortedLookup
	// txnData says which producers' current transaction (the batches
	// since their last marker) had data in the log when the pass began.
	txnData map[int64]bool
}

// keepBatch decides the fate of one batch: the batch to keep (itself, or
// rebuilt without the records compaction removes) or nil to drop it, and
// for a dropped abort marker the offset of its .txnindex entry (else -1).
func (c *compaction) keepBatch(h record.BatchHeader, batch []byte) (keep []byte, droppedAbort int64, err error) {
	if h.Control() {
		m, ok, err := parseMarker(h, batch)
		if err != nil || !ok {
			return batch, -1, err
		}
		hadData := c.txnData[m.producerID]
		delete(c.txnData, m.producerID)
		if hadData || h.MaxTimestamp >= c.horizon {
			return batch, -1, nil
		}
		if m.commit {
			return nil, -1, nil
		}
		return nil, h.BaseOffset, nil
	}
	if h.Transactional() {
		c.txnData[h.ProducerID] = true
		if c.aborted.aborted(h.ProducerID, h.BaseOffset) {
			return nil, -1, nil
		}
	}
	_, recs, err := record.DecodeRecords(batch, decompressLimit)
	if err != nil {
		return nil, -1, err
	}
	kept := recs[:0]
	for _, r := range recs {
		superseded := r.Key != nil && c.latest[string(r.Key)] != r.Offset
		expiredTombstone := r.Key != nil && r.Value == nil && r.Timestamp < c.horizon
		if !superseded && !expiredTombstone {
			kept = append(kept, r)
		}
	}
	switch {
	case len(kept) == 0:
		return nil, -1, nil
	case len(kept) == len(recs):
		return batch, -1, nil
	}
	opts := record.OptionsFromHeader(h)
	opts.KeepOffsets = true
	rebuilt, err := record.AppendBatch(nil, kept, opts)
	if err != nil {
		return nil, -1, err
	}
	if h.LogAppendTime() {
		record.SetLogAppendTime(rebuilt, h.MaxTimestamp)
	}
	record.SetBaseOffset(rebuilt, kept[0].Offset)
	record.SetPartitionLeaderEpoch(rebuilt, h.PartitionLeaderEpoch)
	return rebuilt, -1, nil
}

func (p *Partition) compactSegment(s *segment, c *compaction) error {
	var out []byte
	cleaned := newSegment(p.dir, s.base)
	changed := false
	var droppedAborts []int64
	err := p.eachBatch(s, func(h record.BatchHeader, batch []byte) error {
		keep, droppedAbort, err := c.keepBatch(h, batch)
		if err != nil {
			return err
		}
		if droppedAbort >= 0 {
			droppedAborts = append(droppedAborts, droppedAbort)
		}
		if keep == nil || &keep[0] != &batch[0] {
			changed = true
		}
		if keep == nil {
			return nil
		}
		bh, err := record.ParseHeader(keep)
		if err != nil {
			return err
		}
		cleaned.idx.add(bh.BaseOffset, int64(len(out)), bh.Size(), bh.MaxTimestamp)
		out = append(out, keep...)
		return nil
	})
	if err != nil || !changed {
		return err
	}
	cleaned.size = int64(len(out))
	cleaned.nextOffset = s.nextOffset
	cleaned.firstAppend = s.firstAppend
	if cleaned.idx.maxTimestamp < 0 {
		cleaned.idx.maxTimestamp = s.idx.maxTimestamp // keep retention's view of an emptied segment
	}
	cleaned.aborted, cleaned.abortedPersisted = s.aborted, s.abortedPersisted
	if len(droppedAborts) > 0 {
		cleaned.aborted = slices.DeleteFunc(slices.Clone(s.aborted), func(e abortedEntry) bool {
			return slices.Contains(droppedAborts, e.LastOffset)
		})
		cleaned.abortedPersisted = -1
		// Before the log: until the rename the old log still holds the
		// markers, but no data of their transactions, so readers lose
		// nothing if a crash comes in between.
		if err := p.log.persistAborted(cleaned); err != nil {
			return err
		}
	}

	tmp := s.logPath + cleanedSuffix
	if err := vfs.WriteFileSync(p.log.fs, tmp, out); err != nil {
		return err
	}
	p.mu.Lock()
	i := slices.Index(p.mu.segments, s)
	if p.mu.closed || i < 0 {
		p.mu.Unlock()
		return p.log.fs.Remove(tmp)
	}
	// Retire the old segment before the rename so no reader can open the
	// path and take the new file's positions for the old one's.
	s.retired.Store(true)
	p.log.handles.forget(s)
	err = p.swapFiles(s, tmp)
	if err == nil {
		segs := slices.Clone(p.mu.segments)
		segs[i] = cleaned
		p.mu.segments = segs
	}
	p.mu.Unlock()
	if err != nil {
		return err
	}
	return vfs.WriteFileAtomic(p.log.fs, cleaned.indexPath, encodeIndex(cleaned.base, cleaned.idx.entries))
}

// swapFiles replaces s's log file with the compacted one. The old index
// goes first: a crash in between leaves a log without an index, which
// recovery rebuilds, never an index describing the wrong log.
func (p *Partition) swapFiles(s *segment, tmp string) error {
	if err := p.log.fs.Remove(s.indexPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := p.log.fs.Rename(tmp, s.logPath); err != nil {
		return err
	}
	return p.log.fs.SyncDir(p.dir)
}

// eachBatch calls fn with every batch of a sealed segment, in order.
func (p *Partition) eachBatch(s *segment, fn func(h record.BatchHeader, batch []byte) error) error {
	return p.eachBatchFrom(s, 0, func(h record.BatchHeader, batch func() ([]byte, error)) error {
		b, err := batch()
		if err != nil {
			return err
		}
		return fn(h, b)
	})
}

// eachBatchFrom calls fn with the header of every batch of s from position
// pos (a batch boundary) to the segment's size as last seen, in order;
// batch reads the whole batch, valid until fn returns, for the callers
// that need more than the header.
func (p *Partition) eachBatchFrom(s *segment, pos int64, fn func(h record.BatchHeader, batch func() ([]byte, error)) error) error {
	h, err := p.log.handles.acquire(s)
	if err != nil {
		return err
	}
	defer p.log.handles.release(h)
	r := newBatchReader(h.file, s.size, recoveryChunk)
	for pos < s.size {
		hb, err := r.bytes(pos, record.BatchHeaderSize)
		if err != nil {
			return err
		}
		bh, err := record.ParseHeader(hb)
		if err != nil {
			return err
		}
		at := pos
		if err := fn(bh, func() ([]byte, error) { return r.bytes(at, bh.Size()) }); err != nil {
			return err
		}
		pos += int64(bh.Size())
	}
	return nil
}
