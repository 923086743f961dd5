package log

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/vfs"
)

// Idempotent producers (Kafka's KIP-98): each batch carries a producer id,
// an epoch and the sequence number of its first record. Per partition the
// log remembers, for every producer, its epoch and its last five batches
// (clients keep at most five requests in flight), so a retried batch is
// recognised and answered with its original offsets instead of being
// appended twice. Transactional producers add the transactions open in
// the partition and the coordinator epoch of their last marker (txn.go).
//
// All of it is a function of the log: replaying the batches from a point
// where the state is known rebuilds it exactly. producer-snapshot.json
// holds the state as of an offset:
//
//	{"version": 1, "offset": N, "producers": {"<id>": {...}}, "ongoing": {"<id>": first offset}}
//
// It is written when a segment rolls (as of the new segment's base, before
// that segment exists) and at clean shutdown (as of the end), and removed
// instead when the state is empty. So whenever a snapshot exists its
// offset is at least the active segment's base, and when none does the
// state at that base was empty (producer state is never dropped while
// the log runs). Open loads it and replays from its offset: after a clean
// shutdown that replays nothing; after a crash, the active segment's tail.
// A transaction open for many segments costs nothing more, because the
// snapshot carries it. Without a snapshot open replays the active segment
// from empty state; a snapshot it cannot use (corrupt, or an offset
// outside the log), or a sealed segment's bad .txnindex, makes it replay
// the whole log from empty state, which rebuilds every .txnindex too.
//
// Data directories from before transactions hold a bare producer map
// (version 0) written at clean shutdown only; it is used after a clean
// shutdown, and after a crash the active segment is replayed, as before.

// Errors of idempotent appends.
var (
	ErrOutOfOrderSequence = errors.New("log: out of order sequence number")
	ErrProducerFenced     = errors.New("log: producer epoch is older than the current one")
	ErrInvalidProducer    = errors.New("log: idempotent batches must be appended one per call")
)

const producerSnapshotVersion = 1

const (
	producerWindow       = 5
	producerSnapshotFile = "producer-snapshot.json"
)

type producerBatch struct {
	FirstSeq   int32 `json:"first_seq"`
	LastSeq    int32 `json:"last_seq"`
	BaseOffset int64 `json:"base_offset"`
	LastOffset int64 `json:"last_offset"`
}

type producerState struct {
	Epoch int16 `json:"epoch"`
	// Batches holds the last batches, oldest first.
	Batches []producerBatch `json:"batches"`
	// CoordinatorEpoch is the coordinator epoch of the producer's last
	// marker, -1 before any.
	CoordinatorEpoch int32 `json:"coordinator_epoch"`
}

// producerSnapshot is producer-snapshot.json from version 1 on.
type producerSnapshot struct {
	Version   int                      `json:"version"`
	Offset    int64                    `json:"offset"`
	Producers map[int64]*producerState `json:"producers"`
	Ongoing   map[int64]int64          `json:"ongoing,omitempty"`
}

func lastSequence(h record.BatchHeader) int32 {
	return int32((int64(h.BaseSequence) + int64(h.LastOffsetDelta)) % (math.MaxInt32 + 1))
}

func nextSequence(seq int32) int32 {
	if seq == math.MaxInt32 {
		return 0
	}
	return seq + 1
}

// checkProducersLocked validates the producer fields of the batches about
// to be appended. ok reports a duplicate of a batch already in the log,
// with dup its original result.
func (p *Partition) checkProducersLocked(spans []batchSpan) (dup AppendResult, ok bool, err error) {
	for _, s := range spans {
		h := s.header
		if h.ProducerID < 0 {
			continue
		}
		if len(spans) > 1 {
			return dup, false, ErrInvalidProducer
		}
		st := p.mu.producers[h.ProducerID]
		if st == nil {
			return dup, false, nil // unknown producer: any sequence starts it
		}
		switch {
		case h.ProducerEpoch < st.Epoch:
			return dup, false, fmt.Errorf("%w: producer %d epoch %d, current %d", ErrProducerFenced, h.ProducerID, h.ProducerEpoch, st.Epoch)
		case h.ProducerEpoch > st.Epoch:
			if h.BaseSequence != 0 {
				return dup, false, fmt.Errorf("%w: producer %d starts epoch %d at sequence %d, not 0", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
			}
		default:
			last := lastSequence(h)
			for _, b := range st.Batches {
				if b.FirstSeq == h.BaseSequence && b.LastSeq == last {
					return AppendResult{BaseOffset: b.BaseOffset, LastOffset: b.LastOffset, LogStartOffset: p.mu.logStart, Duplicate: true}, true, nil
				}
			}
			if n := len(st.Batches); n > 0 && h.BaseSequence != nextSequence(st.Batches[n-1].LastSeq) {
				return dup, false, fmt.Errorf("%w: producer %d sent sequence %d, expected %d", ErrOutOfOrderSequence, h.ProducerID, h.BaseSequence, nextSequence(st.Batches[n-1].LastSeq))
			}
		}
		if _, open := p.mu.ongoing[h.ProducerID]; open && !h.Transactional() {
			return dup, false, fmt.Errorf("%w: producer %d has a transaction open in %s and sent a non-transactional batch", ErrInvalidTxnState, h.ProducerID, p)
		}
	}
	return dup, false, nil
}

// trackProducerLocked records an appended data batch (its header carries
// the assigned base offset).
func (p *Partition) trackProducerLocked(h record.BatchHeader) {
	if h.ProducerID < 0 || h.Control() {
		return
	}
	if p.mu.producers == nil {
		p.mu.producers = make(map[int64]*producerState)
	}
	st := p.mu.producers[h.ProducerID]
	switch {
	case st == nil:
		st = &producerState{Epoch: h.ProducerEpoch, CoordinatorEpoch: -1}
		p.mu.producers[h.ProducerID] = st
	case h.ProducerEpoch > st.Epoch:
		st.Epoch, st.Batches = h.ProducerEpoch, nil
	}
	st.Batches = append(st.Batches, producerBatch{FirstSeq: h.BaseSequence, LastSeq: lastSequence(h), BaseOffset: h.BaseOffset, LastOffset: h.LastOffset()})
	if len(st.Batches) > producerWindow {
		st.Batches = st.Batches[1:]
	}
}

// loadProducers rebuilds producer and transaction state and the aborted
// transactions at open; see the top of this file. Called once the
// segments are recovered, before the partition is shared.
func (p *Partition) loadProducers(clean bool) error {
	indexesOK := true
	for i, s := range p.mu.segments {
		err := p.log.loadTxnIndex(s, i == len(p.mu.segments)-1)
		if errors.Is(err, errIndexInconsistent) {
			p.log.logger.Warn("rebuilding aborted-transaction indexes", "segment", s.txnIndexPath, "reason", err)
			indexesOK = false
			continue
		}
		if err != nil {
			return err
		}
	}
	first, end := p.mu.segments[0].base, p.active().nextOffset

	snap, legacy, err := p.readProducerSnapshot()
	switch {
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return err
	case !indexesOK:
	case snap != nil && snap.Offset >= first && snap.Offset <= end:
		p.mu.producers, p.mu.ongoing = snap.Producers, snap.Ongoing
		return p.replay(snap.Offset)
	case snap != nil:
		p.log.logger.Warn("producer snapshot outside the log, replaying it all", "partition", p.String(), "offset", snap.Offset, "log", fmt.Sprintf("[%d, %d)", first, end))
	case legacy != nil && clean:
		p.mu.producers = legacy
		return nil
	case err == nil && legacy == nil: // unreadable
		p.log.logger.Warn("producer snapshot unreadable, replaying the log", "partition", p.String())
	default: // none, or a legacy one after a crash
		return p.replay(p.active().base)
	}
	p.mu.producers, p.mu.ongoing = nil, nil
	for _, s := range p.mu.segments {
		s.aborted, s.abortedPersisted = nil, -1
	}
	return p.replay(first)
}

// readProducerSnapshot reads producer-snapshot.json: a version 1 snapshot,
// or a legacy bare producer map. Both nil with a nil error: unreadable.
func (p *Partition) readProducerSnapshot() (*producerSnapshot, map[int64]*producerState, error) {
	b, err := p.log.fs.ReadFile(filepath.Join(p.dir, producerSnapshotFile))
	if err != nil {
		return nil, nil, err
	}
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, nil, nil //nolint:nilerr // unreadable: the caller replays the log instead
	}
	if head.Version == nil {
		var legacy map[int64]*producerState
		if err := json.Unmarshal(b, &legacy); err != nil {
			return nil, nil, nil //nolint:nilerr // unreadable: the caller replays the log instead
		}
		for _, st := range legacy {
			if st == nil {
				return nil, nil, nil
			}
			st.CoordinatorEpoch = -1
		}
		return nil, legacy, nil
	}
	var snap producerSnapshot
	if err := json.Unmarshal(b, &snap); err != nil || snap.Version != producerSnapshotVersion {
		return nil, nil, nil //nolint:nilerr // unreadable: the caller replays the log instead
	}
	for _, st := range snap.Producers {
		if st == nil {
			return nil, nil, nil
		}
	}
	for id, first := range snap.Ongoing {
		if snap.Producers[id] == nil || first < 0 || first >= snap.Offset {
			return nil, nil, nil
		}
	}
	return &snap, nil, nil
}

// replay applies every batch at or after from to the state in p.mu, as
// appends would have, rebuilding the aborted transactions of the markers
// it passes. Sealed segments whose list changed get their .txnindex
// rewritten; the active segment's is written when it rolls or closes.
func (p *Partition) replay(from int64) error {
	segs := p.mu.segments
	for i := segmentIndex(segs, from); i < len(segs); i++ {
		s := segs[i]
		n := len(s.aborted)
		for n > 0 && s.aborted[n-1].LastOffset >= from {
			n--
		}
		if n != len(s.aborted) {
			s.aborted, s.abortedPersisted = s.aborted[:n:n], -1
		}
		pos := int64(0)
		if from > s.base {
			pos = floorOffset(s.idx.entries, from)
		}
		err := p.eachBatchFrom(s, pos, func(h record.BatchHeader, batch func() ([]byte, error)) error {
			if h.BaseOffset < from {
				return nil
			}
			if !h.Control() {
				p.applyDataLocked(h)
				return nil
			}
			b, err := batch()
			if err != nil {
				return err
			}
			m, ok, err := parseMarker(h, b)
			if err != nil {
				return fmt.Errorf("log: %s: control batch at %d: %w", s.logPath, h.BaseOffset, err)
			}
			if ok {
				p.applyMarkerLocked(s, m, h.BaseOffset)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if i < len(segs)-1 {
			if err := p.log.persistAborted(s); err != nil {
				return err
			}
		}
	}
	p.mu.unstable = nil // everything at open is durable and visible
	return nil
}

// saveProducersLocked writes the snapshot of the state as of offset (the
// end of everything written), or removes it when the state is empty.
func (p *Partition) saveProducersLocked(offset int64) error {
	path := filepath.Join(p.dir, producerSnapshotFile)
	if len(p.mu.producers) == 0 && len(p.mu.ongoing) == 0 {
		if err := p.log.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.Marshal(producerSnapshot{Version: producerSnapshotVersion, Offset: offset, Producers: p.mu.producers, Ongoing: p.mu.ongoing})
	if err != nil {
		return err
	}
	return vfs.WriteFileAtomic(p.log.fs, path, b)
}
