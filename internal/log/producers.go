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
// appended twice.
//
// The state is rebuilt at open: from a snapshot written at clean shutdown,
// or after a crash by walking the active segment's batch headers. A
// producer that wrote nothing in the active segment is forgotten; its next
// batch is accepted at any sequence, as Kafka accepts an unknown producer
// whose state retention removed.

// Errors of idempotent appends.
var (
	ErrOutOfOrderSequence = errors.New("log: out of order sequence number")
	ErrProducerFenced     = errors.New("log: producer epoch is older than the current one")
	ErrInvalidProducer    = errors.New("log: idempotent batches must be appended one per call")
)

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
			continue
		}
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
	return dup, false, nil
}

// trackProducerLocked records an appended batch (its header carries the
// assigned base offset).
func (p *Partition) trackProducerLocked(h record.BatchHeader) {
	if h.ProducerID < 0 || h.Control() {
		return
	}
	if p.mu.producers == nil {
		p.mu.producers = make(map[int64]*producerState)
	}
	st := p.mu.producers[h.ProducerID]
	if st == nil || h.ProducerEpoch > st.Epoch {
		st = &producerState{Epoch: h.ProducerEpoch}
		p.mu.producers[h.ProducerID] = st
	}
	st.Batches = append(st.Batches, producerBatch{FirstSeq: h.BaseSequence, LastSeq: lastSequence(h), BaseOffset: h.BaseOffset, LastOffset: h.LastOffset()})
	if len(st.Batches) > producerWindow {
		st.Batches = st.Batches[1:]
	}
}

// loadProducers restores producer state: from the snapshot after a clean
// shutdown, else from the active segment's headers.
func (p *Partition) loadProducers(clean bool) error {
	path := filepath.Join(p.dir, producerSnapshotFile)
	if clean {
		b, err := p.log.fs.ReadFile(path)
		if err == nil {
			var snap map[int64]*producerState
			if err := json.Unmarshal(b, &snap); err == nil {
				p.mu.producers = snap
				return nil
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	seg := p.active()
	if seg.size == 0 {
		return nil
	}
	f, err := p.log.fs.OpenFile(seg.logPath, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = walk(newBatchReader(f, seg.size, recoveryChunk), 0, seg.size, seg.base, false, func(h record.BatchHeader, _ int64) {
		p.trackProducerLocked(h)
	})
	return err
}

// saveProducersLocked writes the snapshot read by the next clean open.
func (p *Partition) saveProducersLocked() error {
	path := filepath.Join(p.dir, producerSnapshotFile)
	if len(p.mu.producers) == 0 {
		if err := p.log.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.Marshal(p.mu.producers)
	if err != nil {
		return err
	}
	return vfs.WriteFileAtomic(p.log.fs, path, b)
}
