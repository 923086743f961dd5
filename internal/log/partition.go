package log

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/vfs"
)

// Partition is one ordered, append-only sequence of record batches.
//
// All methods are safe for concurrent use. Appends hold the partition's
// mutex only for the write itself; the wait for fsync happens with the
// mutex released, which is what lets concurrent appends share one fsync
// (group commit). Readers take the mutex only to snapshot positions, never
// across I/O, so readers never block writers.
type Partition struct {
	topic *Topic
	id    int32
	dir   string
	log   *Log

	mu struct {
		sync.Mutex
		// durable is broadcast whenever synced, syncing or err changes.
		durable sync.Cond
		// segments is copy-on-write: a reader may keep the slice it saw.
		segments []*segment
		logStart int64
		// highWatermark is the end of what readers may see: the durable end
		// with fsync=always, the written end otherwise.
		highWatermark int64
		// newData is closed and replaced whenever highWatermark moves or the
		// partition closes.
		newData chan struct{}
		// written and synced count bytes appended since open; an fsync that
		// starts when written is W makes synced >= W once it succeeds.
		written, synced int64
		syncing         bool
		// appended counts records appended since open (Stats).
		appended int64
		// ongoing maps producers with a transaction open in this partition
		// to its first offset; unstable lists transactions that a marker
		// ended whose marker is not yet below the high watermark, in marker
		// order. Both hold the last stable offset back; see txn.go.
		ongoing  map[int64]int64
		unstable []completedTxn
		// err is sticky: after a failed write or fsync every append fails
		// with it until the log is reopened and recovery cuts the tail.
		err    error
		closed bool
		// dirty is set while the interval flusher owes this partition an
		// fsync.
		dirty bool
		// epochs lists the leader epochs and where each began; see epoch.go.
		epochs []epochEntry
		// producers holds idempotent producers' recent batches; see producers.go.
		producers map[int64]*producerState
	}
	// cleanedThrough is the end offset of the sealed segments the last
	// compaction pass covered; owned by the cleaner.
	cleanedThrough int64
}

// AppendResult says where an append landed.
type AppendResult struct {
	BaseOffset int64 // offset of the first record
	LastOffset int64 // offset of the last record
	// LogStartOffset is the partition's first offset at the time of the append.
	LogStartOffset int64
	// Duplicate says the batch was a retry of one already in the log, which
	// was not appended again; the offsets are the original's.
	Duplicate bool
}

// ReadResult is what a read returns.
type ReadResult struct {
	// Batches holds whole RecordBatch v2 batches, back to back, as stored.
	// The first one contains the requested offset or is the first one after
	// it (compaction leaves gaps). The caller owns the slice.
	Batches        []byte
	HighWatermark  int64
	LogStartOffset int64
	// LastStableOffset is the partition's LSO when the read began.
	LastStableOffset int64
	// NextOffset is where the next read should start: one past the last
	// batch the read returned or (ReadCommitted) skipped; the requested
	// offset when it found nothing.
	NextOffset int64
	// Aborted lists, for ReadStable only, the aborted transactions that
	// overlap [requested offset, NextOffset), as Fetch v4+ returns them.
	Aborted []AbortedTxn
}

// Offsets describes a partition's bounds.
type Offsets struct {
	LogStart      int64 // first readable offset
	HighWatermark int64 // one past the last readable offset
	// LastStable is the last stable offset (LSO), where read_committed
	// readers stop: the first offset of the earliest open transaction, or
	// the high watermark.
	LastStable int64
	Size       int64 // bytes on disk over every segment
	Segments   int   // number of segment files
}

// ID returns the partition number.
func (p *Partition) ID() int32 { return p.id }

// Topic returns the topic the partition belongs to.
func (p *Partition) Topic() *Topic { return p.topic }

func (p *Partition) String() string { return fmt.Sprintf("%s-%d", p.topic.name, p.id) }

func (p *Partition) config() *TopicConfig { return p.topic.config.Load() }

func (p *Partition) active() *segment { return p.mu.segments[len(p.mu.segments)-1] }

// batchSpan locates one batch inside an append's buffer.
type batchSpan struct {
	pos    int64
	header record.BatchHeader
}

// splitBatches validates every batch in b (structure and CRC) and its size
// against the topic's limit.
func splitBatches(b []byte, maxBytes int32) ([]batchSpan, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty append", record.ErrCorrupt)
	}
	var spans []batchSpan
	for pos := 0; pos < len(b); {
		h, err := record.ParseHeader(b[pos:])
		if errors.Is(err, record.ErrShortBatch) {
			return nil, fmt.Errorf("%w: %w", record.ErrCorrupt, err)
		}
		if err != nil {
			return nil, err
		}
		if pos+h.Size() > len(b) {
			return nil, fmt.Errorf("%w: batch at byte %d claims %d bytes, %d remain", record.ErrCorrupt, pos, h.Size(), len(b)-pos)
		}
		if h.Size() > int(maxBytes) {
			return nil, fmt.Errorf("%w: batch of %d bytes, limit %d", ErrMessageTooLarge, h.Size(), maxBytes)
		}
		if _, err := record.Validate(b[pos : pos+h.Size()]); err != nil {
			return nil, err
		}
		spans = append(spans, batchSpan{pos: int64(pos), header: h})
		pos += h.Size()
	}
	return spans, nil
}

// Append validates b, which holds one or more whole RecordBatch v2 batches,
// gives them the next offsets and appends them. It returns once they are
// durable as the topic's fsync mode defines. Append rewrites the batches'
// base offsets and leader epochs inside b and does not retain b.
//
// Batches from an idempotent producer (producer id >= 0) are checked
// against the producer's last sequence numbers: a retry of one of its last
// five batches is not appended again but answered with the offsets it got
// the first time (Duplicate is set); a gap gives ErrOutOfOrderSequence and
// an older epoch ErrProducerFenced.
//
// Append takes no context: a write cannot be abandoned half-way without
// leaving its outcome unknown, and it is bounded by the disk.
func (p *Partition) Append(b []byte) (AppendResult, error) {
	res, wait, err := p.AppendDeferred(b)
	if err != nil {
		return res, err
	}
	return res, wait()
}

// AppendDeferred is Append in two steps: it writes b and returns at once
// with the offsets and a wait function that blocks until the write is
// durable (and must be called before the append is acknowledged). Writes
// keep the order of AppendDeferred calls, so a caller serving pipelined
// requests in order can write each and wait for them together, sharing
// fsyncs.
func (p *Partition) AppendDeferred(b []byte) (AppendResult, func() error, error) {
	cfg := p.config()
	spans, err := splitBatches(b, cfg.MaxMessageBytes)
	if err != nil {
		return AppendResult{}, nil, err
	}
	if err := checkClientBatches(spans); err != nil {
		return AppendResult{}, nil, err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.writableLocked(); err != nil {
		return AppendResult{}, nil, err
	}
	if dup, ok, err := p.checkProducersLocked(spans); err != nil || ok {
		return dup, p.waitFor(dup.LastOffset + 1), err
	}
	res, err := p.writeBatchesLocked(cfg, b, spans, func(_ *segment, h record.BatchHeader) { p.applyDataLocked(h) })
	if err != nil {
		return AppendResult{}, nil, err
	}
	if cfg.Fsync == FsyncAlways {
		target := p.mu.written
		return res, func() error {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.waitDurableLocked(target)
		}, nil
	}
	p.scheduleDurabilityLocked(cfg, res.LastOffset+1)
	return res, noWait, nil
}

// checkClientBatches refuses what only the log itself may write: control
// batches (AppendMarker writes markers), and transactional batches without
// a producer.
func checkClientBatches(spans []batchSpan) error {
	for _, s := range spans {
		h := s.header
		switch {
		case h.Control():
			return fmt.Errorf("%w: control batch at %d: transaction markers are written by the coordinator only", ErrInvalidRecord, s.pos)
		case h.Transactional() && h.ProducerID < 0:
			return fmt.Errorf("%w: transactional batch at %d without a producer id", ErrInvalidRecord, s.pos)
		}
	}
	return nil
}

// writeBatchesLocked gives the validated batches of b the next offsets,
// writes them to the active segment (rolling it first if due), indexes
// them and calls apply with each batch's segment and header (base offset
// assigned). Durability is the caller's business.
func (p *Partition) writeBatchesLocked(cfg *TopicConfig, b []byte, spans []batchSpan, apply func(*segment, record.BatchHeader)) (AppendResult, error) {
	seg := p.active()
	if seg.size > 0 && (seg.size+int64(len(b)) > cfg.SegmentBytes ||
		p.log.now().Sub(seg.firstAppend) >= time.Duration(cfg.SegmentMs)*time.Millisecond) {
		if err := p.rollLocked(); err != nil {
			return AppendResult{}, p.failLocked(err)
		}
		seg = p.active()
	}

	next := seg.nextOffset
	epoch := p.mu.epochs[len(p.mu.epochs)-1].Epoch
	for i := range spans {
		s := &spans[i]
		batch := b[s.pos : s.pos+int64(s.header.Size())]
		record.SetBaseOffset(batch, next)
		record.SetPartitionLeaderEpoch(batch, epoch)
		s.header.BaseOffset = next
		next += int64(s.header.LastOffsetDelta) + 1
	}
	if err := p.writeLocked(seg, b, seg.size); err != nil {
		return AppendResult{}, err
	}

	res := AppendResult{BaseOffset: seg.nextOffset, LastOffset: next - 1, LogStartOffset: p.mu.logStart}
	if seg.size == 0 {
		seg.firstAppend = p.log.now()
	}
	for _, s := range spans {
		seg.idx.add(s.header.BaseOffset, seg.size+s.pos, s.header.Size(), s.header.MaxTimestamp)
		apply(seg, s.header)
	}
	p.mu.appended += next - seg.nextOffset
	seg.size += int64(len(b))
	seg.nextOffset = next
	p.mu.written += int64(len(b))
	return res, nil
}

// scheduleDurabilityLocked is what follows a write that ends at offset
// next: with fsync=always nothing (the waiter's fsync publishes it);
// otherwise the write is visible at once, and fsync=interval schedules a
// flush.
func (p *Partition) scheduleDurabilityLocked(cfg *TopicConfig, next int64) {
	switch cfg.Fsync {
	case FsyncAlways:
		return
	case FsyncInterval:
		if !p.mu.dirty {
			p.mu.dirty = true
			p.log.flusher.markDirty(p, time.Duration(cfg.FsyncIntervalMs)*time.Millisecond)
		}
	}
	p.publishLocked(next)
}

func noWait() error { return nil }

// waitFor returns a wait function for an offset already written: a
// duplicate is acknowledged only once the original is visible (durable).
func (p *Partition) waitFor(end int64) func() error {
	return func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		for p.mu.highWatermark < end {
			if err := p.writableLocked(); err != nil {
				return err
			}
			if p.mu.syncing {
				p.mu.durable.Wait()
				continue
			}
			if err := p.syncLocked(); err != nil {
				return err
			}
		}
		return nil
	}
}

func (p *Partition) writableLocked() error {
	if p.mu.closed {
		return ErrClosed
	}
	return p.mu.err
}

// failLocked makes err sticky and wakes everyone waiting on the partition.
func (p *Partition) failLocked(err error) error {
	if p.mu.err == nil {
		p.mu.err = fmt.Errorf("log: partition %s failed; appends refused until the log is reopened: %w", p, err)
		p.log.logger.Error("partition failed", "partition", p.String(), "err", err)
	}
	p.mu.durable.Broadcast()
	return p.mu.err
}

func (p *Partition) writeLocked(seg *segment, b []byte, pos int64) error {
	h, err := p.log.handles.acquire(seg)
	if err != nil {
		return p.failLocked(err)
	}
	_, err = h.file.WriteAt(b, pos)
	p.log.handles.release(h)
	if err != nil {
		return p.failLocked(err)
	}
	return nil
}

// waitDurableLocked returns once the first target bytes written are synced.
// The first waiter to find no fsync running starts one that covers every
// byte written so far; the others wait for it (group commit).
func (p *Partition) waitDurableLocked(target int64) error {
	for p.mu.synced < target {
		if p.mu.err != nil {
			return p.mu.err
		}
		if p.mu.syncing {
			p.mu.durable.Wait()
			continue
		}
		if err := p.syncLocked(); err != nil {
			return err
		}
	}
	return nil
}

// syncLocked fsyncs the active segment with the mutex released meanwhile.
func (p *Partition) syncLocked() error {
	p.mu.syncing = true
	seg, covered, coveredOffset := p.active(), p.mu.written, p.active().nextOffset
	p.mu.Unlock()
	err := p.syncSegment(seg)
	p.mu.Lock()
	p.mu.syncing = false
	p.mu.durable.Broadcast()
	if err != nil {
		return p.failLocked(err)
	}
	p.mu.synced = max(p.mu.synced, covered)
	p.publishLocked(coveredOffset)
	return nil
}

func (p *Partition) syncSegment(seg *segment) error {
	h, err := p.log.handles.acquire(seg)
	if err != nil {
		return err
	}
	defer p.log.handles.release(h)
	observe := p.log.opts.fsyncObserver
	if observe == nil {
		return h.file.Sync()
	}
	start := time.Now()
	err = h.file.Sync()
	observe(time.Since(start))
	return err
}

// publishLocked makes offsets below hw visible to readers and wakes waiters.
// Transactions whose markers it makes visible stop holding the LSO back.
func (p *Partition) publishLocked(hw int64) {
	if hw <= p.mu.highWatermark {
		return
	}
	p.mu.highWatermark = hw
	n := 0
	for n < len(p.mu.unstable) && p.mu.unstable[n].marker < hw {
		n++
	}
	if n > 0 {
		p.mu.unstable = append(p.mu.unstable[:0], p.mu.unstable[n:]...)
	}
	p.notifyLocked()
}

// notifyLocked wakes everyone waiting for the bounds to move.
func (p *Partition) notifyLocked() {
	close(p.mu.newData)
	p.mu.newData = make(chan struct{})
}

// rollLocked seals the active segment (fsync of data and index) and starts
// a new one at the next offset. Sealed segments never change again, which
// is why recovery only has to distrust tails.
func (p *Partition) rollLocked() error {
	old := p.active()
	if err := p.syncSegment(old); err != nil {
		return err
	}
	if err := vfs.WriteFileAtomic(p.log.fs, old.indexPath, encodeIndex(old.base, old.idx.entries)); err != nil {
		return err
	}
	// The aborted index and the producer snapshot go before the next
	// segment exists: recovery trusts both for sealed segments (see
	// producers.go).
	if err := p.log.persistAborted(old); err != nil {
		return err
	}
	if err := p.saveProducersLocked(old.nextOffset); err != nil {
		return err
	}
	seg := newSegment(p.dir, old.nextOffset)
	if err := createSegmentFile(p.log.fs, seg, true); err != nil {
		return err
	}
	p.mu.segments = append(slices.Clip(p.mu.segments), seg)
	p.mu.synced = p.mu.written
	p.mu.durable.Broadcast()
	p.publishLocked(old.nextOffset)
	return nil
}

// createSegmentFile creates seg's empty log file. syncDir makes its
// directory entry durable; the first segment of a partition skips that,
// because recovery recreates a missing first segment anyway.
func createSegmentFile(fsys vfs.FS, seg *segment, syncDir bool) error {
	f, err := fsys.OpenFile(seg.logPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if !syncDir {
		return nil
	}
	return fsys.SyncDir(dirOf(seg.logPath))
}

// flush fsyncs what the interval flusher owes.
func (p *Partition) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.dirty = false
	if p.mu.closed || p.mu.err != nil {
		return
	}
	_ = p.waitDurableLocked(p.mu.written) // a failure is sticky and reported to the next append
}

// Offsets returns the partition's current bounds.
func (p *Partition) Offsets() Offsets {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.offsetsLocked()
}

func (p *Partition) offsetsLocked() Offsets {
	o := Offsets{LogStart: p.mu.logStart, HighWatermark: p.mu.highWatermark, LastStable: p.lastStableLocked(), Segments: len(p.mu.segments)}
	for _, s := range p.mu.segments {
		o.Size += s.size
	}
	return o
}

// Stats is a partition's bounds and what was appended to it since the log
// was opened, for metrics (the append rate is the rate of the counters).
type Stats struct {
	Offsets
	// AppendedRecords and AppendedBytes count the records and bytes
	// appended since the log was opened: what producers sent, not
	// duplicates answered from an idempotent producer's history. They
	// start again from 0 at every open.
	AppendedRecords int64
	AppendedBytes   int64
}

// Stats returns the partition's bounds and append counters, read together.
func (p *Partition) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Offsets: p.offsetsLocked(), AppendedRecords: p.mu.appended, AppendedBytes: p.mu.written}
}

// Wait blocks until offset is readable (the high watermark passes it), the
// context ends, or the partition closes. It never polls.
func (p *Partition) Wait(ctx context.Context, offset int64) error {
	for {
		p.mu.Lock()
		hw, closed, ch := p.mu.highWatermark, p.mu.closed, p.mu.newData
		p.mu.Unlock()
		switch {
		case hw > offset:
			return nil
		case closed:
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// segmentView is what a reader needs of one segment, snapshotted under the
// partition mutex.
type segmentView struct {
	seg     *segment
	size    int64
	entries []indexEntry
	aborted []abortedEntry
}

// readView is a reader's snapshot of the partition.
type readView struct {
	segments                     []segmentView
	highWatermark, logStart, lso int64
}

// view snapshots the segments from the one holding offset onwards.
func (p *Partition) view(offset int64) (readView, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return readView{}, ErrClosed
	}
	v := readView{highWatermark: p.mu.highWatermark, logStart: p.mu.logStart, lso: p.lastStableLocked()}
	segs := p.mu.segments
	for _, s := range segs[segmentIndex(segs, offset):] {
		v.segments = append(v.segments, segmentView{seg: s, size: s.size, entries: s.idx.entries, aborted: s.aborted})
	}
	return v, nil
}

// maxReadRetries bounds how often a read restarts because retention or
// compaction replaced a segment under it.
const maxReadRetries = 8

// Read returns whole batches starting with the one that holds offset, up to
// maxBytes, but always at least one whole batch when one is there (as Kafka
// does since KIP-74, so a batch larger than the limit cannot stall a
// reader). Reading at the high watermark returns no batches; below the log
// start or past the high watermark returns ErrOffsetOutOfRange.
//
// Read is read_uncommitted: it returns transactional batches whatever
// their outcome, and control batches. See ReadStable and ReadCommitted.
func (p *Partition) Read(offset int64, maxBytes int) (ReadResult, error) {
	return p.ReadInto(nil, offset, maxBytes)
}

// ReadInto is Read that reads into buf when its capacity is enough, so a
// caller that serves many reads can reuse buffers; Batches then aliases
// buf. A buffer too small is not used.
func (p *Partition) ReadInto(buf []byte, offset int64, maxBytes int) (ReadResult, error) {
	res, _, err := p.read(buf, offset, maxBytes, false)
	return res, err
}

// read is Read, bounded by the LSO instead of the high watermark when
// stable is set; it also returns the view the read used.
func (p *Partition) read(buf []byte, offset int64, maxBytes int, stable bool) (ReadResult, readView, error) {
	for range maxReadRetries {
		v, err := p.view(offset)
		if err != nil {
			return ReadResult{}, v, err
		}
		res := ReadResult{HighWatermark: v.highWatermark, LogStartOffset: v.logStart, LastStableOffset: v.lso, NextOffset: offset}
		if offset < v.logStart || offset > v.highWatermark {
			return res, v, fmt.Errorf("%w: %d not in [%d, %d] of %s", ErrOffsetOutOfRange, offset, v.logStart, v.highWatermark, p)
		}
		end := v.highWatermark
		if stable {
			end = v.lso
		}
		if offset >= end {
			return res, v, nil
		}
		retry := false
		for _, sv := range v.segments {
			data, next, err := p.readSegment(sv, offset, maxBytes, end, buf)
			if errors.Is(err, errSegmentRetired) {
				retry = true
				break
			}
			if err != nil {
				return res, v, err
			}
			if len(data) > 0 {
				res.Batches, res.NextOffset = data, next
				return res, v, nil
			}
		}
		if !retry {
			return res, v, nil
		}
	}
	return ReadResult{}, readView{}, fmt.Errorf("log: read of %s at %d kept racing with segment deletion", p, offset)
}

// readSegment reads from one segment the batches at or after offset that
// lie below end, and returns the offset after the last one.
func (p *Partition) readSegment(v segmentView, offset int64, maxBytes int, end int64, buf []byte) ([]byte, int64, error) {
	h, err := p.log.handles.acquire(v.seg)
	if err != nil {
		return nil, 0, err
	}
	defer p.log.handles.release(h)

	start, first, err := findBatch(h.file, v, offset)
	if err != nil || start < 0 || first.BaseOffset >= end {
		return nil, 0, err
	}
	n := int64(max(maxBytes, first.Size()))
	if start+n < v.size {
		n = batchBoundary(v.entries, start, n)
	}
	n = min(n, v.size-start)
	if int64(cap(buf)) >= n {
		buf = buf[:n]
	} else {
		buf = make([]byte, n)
	}
	if _, err := h.file.ReadAt(buf, start); err != nil {
		return nil, 0, fmt.Errorf("log: read %s: %w", v.seg.logPath, err)
	}
	// Keep whole batches below end.
	used, next := 0, offset
	for used+record.BatchHeaderSize <= len(buf) {
		bh, err := record.ParseHeader(buf[used:])
		if err != nil {
			return nil, 0, fmt.Errorf("log: %s at position %d: %w", v.seg.logPath, start+int64(used), err)
		}
		if bh.BaseOffset >= end || used+bh.Size() > len(buf) {
			break
		}
		used += bh.Size()
		next = bh.LastOffset() + 1
	}
	return buf[:used:used], next, nil
}

// findBatch returns the position and header of the first batch in the
// segment whose last offset reaches offset, or -1 if there is none.
func findBatch(f vfs.File, v segmentView, offset int64) (int64, record.BatchHeader, error) {
	pos := floorOffset(v.entries, offset)
	r := newBatchReader(f, v.size, 2*indexIntervalBytes)
	for pos < v.size {
		hb, err := r.bytes(pos, record.BatchHeaderSize)
		if err != nil {
			return -1, record.BatchHeader{}, fmt.Errorf("log: %s at position %d: %w", v.seg.logPath, pos, err)
		}
		h, err := record.ParseHeader(hb)
		if err != nil {
			return -1, h, fmt.Errorf("log: %s at position %d: %w", v.seg.logPath, pos, err)
		}
		if h.LastOffset() >= offset {
			return pos, h, nil
		}
		pos += int64(h.Size())
	}
	return -1, record.BatchHeader{}, nil
}

// OffsetForTime returns the offset and timestamp of the first record whose
// timestamp is at least ts, as Kafka's ListOffsets does, or offset -1 when
// every record is older.
func (p *Partition) OffsetForTime(ts int64) (offset, timestamp int64, err error) {
	p.mu.Lock()
	hw, start := p.mu.highWatermark, p.mu.logStart
	var views []segmentView
	for _, s := range p.mu.segments {
		if s.idx.maxTimestamp >= ts {
			views = append(views, segmentView{seg: s, size: s.size, entries: s.idx.entries})
		}
	}
	p.mu.Unlock()

	for _, v := range views {
		off, t, err := p.offsetForTimeIn(v, ts, start, hw)
		if errors.Is(err, errSegmentRetired) {
			continue
		}
		if err != nil || off >= 0 {
			return off, t, err
		}
	}
	return -1, -1, nil
}

func (p *Partition) offsetForTimeIn(v segmentView, ts, start, hw int64) (int64, int64, error) {
	h, err := p.log.handles.acquire(v.seg)
	if err != nil {
		return -1, -1, err
	}
	defer p.log.handles.release(h)
	r := newBatchReader(h.file, v.size, 64<<10)
	for pos := floorTimestamp(v.entries, ts); pos < v.size; {
		hb, err := r.bytes(pos, record.BatchHeaderSize)
		if err != nil {
			return -1, -1, err
		}
		bh, err := record.ParseHeader(hb)
		if err != nil {
			return -1, -1, err
		}
		if bh.BaseOffset >= hw {
			break
		}
		if bh.MaxTimestamp >= ts {
			batch, err := r.bytes(pos, bh.Size())
			if err != nil {
				return -1, -1, err
			}
			_, recs, err := record.DecodeRecords(batch, decompressLimit)
			if err != nil {
				return -1, -1, err
			}
			for _, rec := range recs {
				if rec.Timestamp >= ts && rec.Offset >= start {
					return rec.Offset, rec.Timestamp, nil
				}
			}
		}
		pos += int64(bh.Size())
	}
	return -1, -1, nil
}

// decompressLimit caps how large a stored batch may grow when the log must
// look inside it (timestamp search, compaction).
const decompressLimit = 64 << 20

// close seals the partition for a clean shutdown: it waits for a running
// fsync, fsyncs the active segment and writes its index.
func (p *Partition) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return nil
	}
	for p.mu.syncing {
		p.mu.durable.Wait()
	}
	err := p.mu.err
	if err == nil {
		seg := p.active()
		err = p.syncSegment(seg)
		if err == nil {
			p.mu.synced = p.mu.written
			p.publishLocked(seg.nextOffset)
			if len(seg.idx.entries) != seg.idx.persisted {
				err = vfs.WriteFileAtomic(p.log.fs, seg.indexPath, encodeIndex(seg.base, seg.idx.entries))
			}
			if err == nil {
				err = p.log.persistAborted(seg)
			}
			if err == nil {
				err = p.saveProducersLocked(seg.nextOffset)
			}
		}
	}
	p.mu.closed = true
	p.mu.durable.Broadcast()
	close(p.mu.newData)
	p.mu.newData = make(chan struct{})
	for _, s := range p.mu.segments {
		p.log.handles.forget(s)
	}
	return err
}

// MaxTimestamp returns the offset and timestamp of the record with the
// largest timestamp (the first such record), or -1, -1 when the partition
// is empty. Kafka's ListOffsets answers timestamp -3 with it.
func (p *Partition) MaxTimestamp() (offset, timestamp int64, err error) {
	p.mu.Lock()
	maxTs := int64(-1)
	for _, s := range p.mu.segments {
		maxTs = max(maxTs, s.idx.maxTimestamp)
	}
	p.mu.Unlock()
	if maxTs < 0 {
		return -1, -1, nil
	}
	return p.OffsetForTime(maxTs)
}
