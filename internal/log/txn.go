package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/tide-data/tide/internal/record"
)

// Transactions (Kafka's KIP-98), the partition's half.
//
// A transactional producer's batches carry the transactional attribute.
// The first one after the producer's previous marker opens a transaction
// in this partition at its base offset; a marker (a control batch that
// AppendMarker writes for the transaction coordinator) ends it, committed
// or aborted. The partition keeps:
//
//   - the open transactions' first offsets (mu.ongoing), which hold the
//     last stable offset (LSO) back: read_committed readers stop there;
//   - the transactions that a marker ended but whose marker is not yet
//     below the high watermark (mu.unstable, fsync=always only): they
//     hold the LSO too, so that no reader sees a commit a crash could take
//     back;
//   - each aborted transaction, in the segment of its marker (txnindex.go),
//     for read_committed readers to drop.
//
// Recovery rebuilds all three exactly (producers.go).

// Errors of transactional appends.
var (
	// ErrInvalidTxnState is a non-transactional batch from a producer
	// with a transaction open in the partition (Kafka's INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("log: invalid transaction state")
	// ErrCoordinatorFenced is a marker from a coordinator epoch older than
	// one this producer's markers already carried
	// (TRANSACTION_COORDINATOR_FENCED).
	ErrCoordinatorFenced = errors.New("log: transaction coordinator epoch is older than the current one")
	// ErrInvalidRecord is a batch the log refuses to store: a control
	// batch from a client (markers are written by AppendMarker only), or a
	// transactional batch without a producer id (INVALID_RECORD).
	ErrInvalidRecord = errors.New("log: invalid record")
)

// Control record types of transaction markers (the key's second int16).
const (
	markerAbort  = 0
	markerCommit = 1
)

// txnMarker is the content of an end-transaction control record.
type txnMarker struct {
	producerID       int64
	epoch            int16
	commit           bool
	coordinatorEpoch int32
}

// completedTxn is a transaction a marker ended, its marker not yet visible.
type completedTxn struct {
	producerID  int64
	firstOffset int64
	marker      int64
}

// encodeMarker builds the control batch of m: one record, key = version 0
// and type, value = version 0 and coordinator epoch, base sequence -1.
func encodeMarker(m txnMarker, timestamp int64) ([]byte, error) {
	key := make([]byte, 4)
	typ := uint16(markerAbort)
	if m.commit {
		typ = markerCommit
	}
	binary.BigEndian.PutUint16(key[2:], typ)
	value := make([]byte, 6)
	binary.BigEndian.PutUint32(value[2:], uint32(m.coordinatorEpoch))
	return record.AppendBatch(nil, []record.Record{{Timestamp: timestamp, Key: key, Value: value}}, record.BatchOptions{
		Idempotent: true, ProducerID: m.producerID, ProducerEpoch: m.epoch, BaseSequence: -1,
		Transactional: true, Control: true,
	})
}

// parseMarker reads the marker in a control batch. ok is false for a
// control batch that is not a transaction marker (Kafka has other control
// types), which changes no state. A value shorter than Kafka's six bytes
// reads as coordinator epoch -1. Recovery and appends use this one parser,
// so they always agree on what a batch did.
func parseMarker(h record.BatchHeader, batch []byte) (m txnMarker, ok bool, err error) {
	_, recs, err := record.DecodeRecords(batch, decompressLimit)
	if err != nil {
		return m, false, err
	}
	if len(recs) != 1 || len(recs[0].Key) < 4 || binary.BigEndian.Uint16(recs[0].Key) != 0 {
		return m, false, nil
	}
	m = txnMarker{producerID: h.ProducerID, epoch: h.ProducerEpoch, coordinatorEpoch: -1}
	switch binary.BigEndian.Uint16(recs[0].Key[2:]) {
	case markerAbort:
	case markerCommit:
		m.commit = true
	default:
		return m, false, nil
	}
	if v := recs[0].Value; len(v) >= 6 {
		m.coordinatorEpoch = int32(binary.BigEndian.Uint32(v[2:]))
	}
	return m, h.ProducerID >= 0, nil
}

// AppendMarker ends producerID's transaction in this partition, committed
// or aborted, by appending a control batch (Kafka's WriteTxnMarkers), and
// returns the marker's offset once it is durable: whatever the topic's
// fsync mode, a marker is fsync'd before it is acknowledged, because the
// coordinator forgets a transaction once its markers are written.
//
// A marker with an epoch older than the producer's, or a coordinator epoch
// older than the producer's last marker's, is refused (ErrProducerFenced,
// ErrCoordinatorFenced) and not written. A newer epoch (the coordinator
// bumps it when it aborts a transaction that timed out) becomes the
// producer's, which fences the producer's older epoch. A marker for a
// producer without an open transaction here is written all the same, as
// Kafka does, since coordinators retry, and changes nothing but the epochs.
func (p *Partition) AppendMarker(producerID int64, epoch int16, commit bool, coordinatorEpoch int32) (offset int64, err error) {
	offset, wait, err := p.AppendMarkerDeferred(producerID, epoch, commit, coordinatorEpoch)
	if err != nil {
		return offset, err
	}
	return offset, wait()
}

// AppendMarkerDeferred is AppendMarker in two steps, as AppendDeferred is
// Append: it writes the marker and returns its offset and a function that
// waits until it is durable, so a coordinator writing the markers of one
// transaction to many partitions waits for their fsyncs together. The
// transaction counts as ended only once wait returns nil.
func (p *Partition) AppendMarkerDeferred(producerID int64, epoch int16, commit bool, coordinatorEpoch int32) (int64, func() error, error) {
	if producerID < 0 || epoch < 0 {
		return 0, nil, fmt.Errorf("%w: marker for producer %d epoch %d", ErrInvalidRecord, producerID, epoch)
	}
	m := txnMarker{producerID: producerID, epoch: epoch, commit: commit, coordinatorEpoch: coordinatorEpoch}
	b, err := encodeMarker(m, p.log.now().UnixMilli())
	if err != nil {
		return 0, nil, err
	}
	cfg := p.config()
	spans, err := splitBatches(b, math.MaxInt32)
	if err != nil {
		return 0, nil, err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.writableLocked(); err != nil {
		return 0, nil, err
	}
	if st := p.mu.producers[producerID]; st != nil {
		switch {
		case epoch < st.Epoch:
			return 0, nil, fmt.Errorf("%w: marker for producer %d epoch %d, current %d", ErrProducerFenced, producerID, epoch, st.Epoch)
		case coordinatorEpoch < st.CoordinatorEpoch:
			return 0, nil, fmt.Errorf("%w: marker for producer %d from coordinator epoch %d, current %d", ErrCoordinatorFenced, producerID, coordinatorEpoch, st.CoordinatorEpoch)
		}
	}
	res, err := p.writeBatchesLocked(cfg, b, spans, func(seg *segment, h record.BatchHeader) {
		p.applyMarkerLocked(seg, m, h.BaseOffset)
	})
	if err != nil {
		return 0, nil, err
	}
	p.scheduleDurabilityLocked(cfg, res.LastOffset+1)
	target := p.mu.written
	return res.BaseOffset, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.waitDurableLocked(target)
	}, nil
}

// applyDataLocked updates producer and transaction state for a data batch
// written at h.BaseOffset.
func (p *Partition) applyDataLocked(h record.BatchHeader) {
	p.trackProducerLocked(h)
	if h.ProducerID < 0 || !h.Transactional() {
		return
	}
	if _, open := p.mu.ongoing[h.ProducerID]; !open {
		if p.mu.ongoing == nil {
			p.mu.ongoing = make(map[int64]int64)
		}
		p.mu.ongoing[h.ProducerID] = h.BaseOffset
	}
}

// applyMarkerLocked updates state for m, written at offset in seg.
func (p *Partition) applyMarkerLocked(seg *segment, m txnMarker, offset int64) {
	if p.mu.producers == nil {
		p.mu.producers = make(map[int64]*producerState)
	}
	st := p.mu.producers[m.producerID]
	switch {
	case st == nil:
		st = &producerState{Epoch: m.epoch}
		p.mu.producers[m.producerID] = st
	case m.epoch > st.Epoch:
		// A bumped epoch starts the producer's sequences afresh.
		st.Epoch, st.Batches = m.epoch, nil
	}
	st.CoordinatorEpoch = m.coordinatorEpoch

	first, open := p.mu.ongoing[m.producerID]
	if !open {
		return
	}
	delete(p.mu.ongoing, m.producerID)
	if offset >= p.mu.highWatermark {
		p.mu.unstable = append(p.mu.unstable, completedTxn{producerID: m.producerID, firstOffset: first, marker: offset})
	}
	if m.commit {
		return
	}
	stable := offset + 1
	for _, f := range p.mu.ongoing {
		stable = min(stable, f)
	}
	seg.aborted = append(seg.aborted, abortedEntry{
		AbortedTxn: AbortedTxn{ProducerID: m.producerID, FirstOffset: first, LastOffset: offset},
		lastStable: stable,
	})
}

// lastStableLocked is the LSO: the first offset of the earliest
// transaction not yet ended by a visible marker, or the high watermark.
// Never below the log start (retention may delete an open transaction's
// first batches, as in Kafka).
func (p *Partition) lastStableLocked() int64 {
	lso := p.mu.highWatermark
	for _, first := range p.mu.ongoing {
		lso = min(lso, first)
	}
	for _, t := range p.mu.unstable {
		lso = min(lso, t.firstOffset)
	}
	return max(lso, p.mu.logStart)
}

// LastStableOffset returns the partition's last stable offset: where
// read_committed readers stop. Below it every transaction has ended with
// a durable marker; it is the high watermark when no transaction is open.
func (p *Partition) LastStableOffset() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastStableLocked()
}

// AbortedTransactions returns the aborted transactions that overlap
// [from, to): those whose first offset is below to and whose marker is at
// or after from, in the order their markers were written. Fetch v4+
// returns them so read_committed clients can drop aborted records; call it
// with to no higher than the LSO. The caller owns the slice.
func (p *Partition) AbortedTransactions(from, to int64) []AbortedTxn {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []AbortedTxn
	for _, s := range p.mu.segments[segmentIndex(p.mu.segments, from):] {
		var done bool
		if out, done = appendAborted(out, s.aborted, from, to); done {
			break
		}
	}
	return out
}

// segmentIndex is the index of the segment holding offset: the last one
// whose base is at most offset, or 0.
func segmentIndex(segs []*segment, offset int64) int {
	lo, hi := 0, len(segs)
	for lo < hi {
		mid := (lo + hi) / 2
		if segs[mid].base <= offset {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return max(lo-1, 0)
}
