package txn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

// The transaction state topic; see doc.go for its records.
const (
	// DefaultStateTopic is Kafka's name for it.
	DefaultStateTopic = "__transaction_state"
	// stateSegmentBytes is Kafka's transaction.state.log.segment.bytes:
	// small segments so compaction keeps the topic near its live size.
	stateSegmentBytes = 100 << 20
	keyVersion        = 0 // Kafka's TransactionLogKey version
	valueVersion      = 0 // the TransactionLogValue version written
	maxValueVersion   = 1 // v1 (Kafka 4) adds tagged fields, read and ignored
	loadReadBytes     = 1 << 20
	decompressLimit   = 64 << 20
)

// stateStore is the transaction state topic. It is created on the first
// write, so that a node that never runs a transaction has none. Its
// methods are safe for concurrent use; each transactional id's records are
// written by one transition at a time (the entry's lock), and all of an
// id's records go to one partition, so they stay ordered.
type stateStore struct {
	log  *log.Log
	name string
	now  func() time.Time
	mu   struct {
		sync.Mutex
		topic *log.Topic
	}
}

// load replays the topic, if it exists, calling apply with each
// transactional id's records in order (st nil for a tombstone).
func (s *stateStore) load(apply func(id string, st *txnState)) (int, error) {
	t, err := s.log.Topic(s.name)
	if errors.Is(err, log.ErrUnknownTopic) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("txn: state topic %s: %w", s.name, err)
	}
	s.mu.Lock()
	s.mu.topic = t
	s.mu.Unlock()
	n := 0
	for _, p := range t.Partitions() {
		bounds := p.Offsets()
		for next := bounds.LogStart; next < bounds.HighWatermark; {
			res, err := p.Read(next, loadReadBytes)
			if err != nil {
				return n, fmt.Errorf("txn: load %s: %w", p, err)
			}
			if len(res.Batches) == 0 {
				break
			}
			for b := res.Batches; len(b) > 0; {
				h, err := record.ParseHeader(b)
				if err != nil {
					return n, fmt.Errorf("txn: load %s at %d: %w", p, next, err)
				}
				batch := b[:h.Size()]
				b = b[h.Size():]
				next = h.LastOffset() + 1
				if h.Control() {
					continue
				}
				_, recs, err := record.DecodeRecords(batch, decompressLimit)
				if err != nil {
					return n, fmt.Errorf("txn: load %s at %d: %w", p, h.BaseOffset, err)
				}
				for _, r := range recs {
					id, st, ok, err := decodeState(r.Key, r.Value)
					if err != nil {
						return n, fmt.Errorf("txn: load %s at %d: %w", p, r.Offset, err)
					}
					if ok {
						apply(id, st)
						n++
					}
				}
			}
		}
	}
	return n, nil
}

// topic returns the state topic, creating it compacted with one partition
// if it is missing. One partition is plenty on one node; a topic created
// beforehand with more partitions is used as Kafka uses it (the hash of
// the transactional id).
func (s *stateStore) topic() (*log.Topic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.topic != nil {
		return s.mu.topic, nil
	}
	t, err := s.log.Topic(s.name)
	if errors.Is(err, log.ErrUnknownTopic) {
		t, err = s.log.CreateTopic(s.name, 1, map[string]string{
			log.ConfigCleanupPolicy: log.CleanupCompact,
			log.ConfigSegmentBytes:  fmt.Sprint(stateSegmentBytes),
		})
		if errors.Is(err, log.ErrTopicExists) {
			t, err = s.log.Topic(s.name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("txn: state topic %s: %w", s.name, err)
	}
	s.mu.topic = t
	return t, nil
}

// write appends id's new state and returns once it is durable.
func (s *stateStore) write(id string, st txnState) error {
	t, err := s.topic()
	if err != nil {
		return err
	}
	p, err := t.Partition(partitionFor(id, t.NumPartitions()))
	if err != nil {
		return err
	}
	rec := record.Record{Timestamp: s.now().UnixMilli(), Key: encodeKey(id), Value: encodeValue(st)}
	batch, err := record.AppendBatch(nil, []record.Record{rec}, record.BatchOptions{})
	if err != nil {
		return err
	}
	_, err = p.Append(batch)
	return err
}

// partitionFor is Kafka's abs(transactionalId.hashCode) % partitions.
func partitionFor(id string, n int32) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(id)) {
		h = 31*h + int32(u)
	}
	switch {
	case h == math.MinInt32:
		h = 0
	case h < 0:
		h = -h
	}
	return h % n
}

func encodeKey(id string) []byte {
	k := kmsg.TxnMetadataKey{Version: keyVersion, TransactionalID: id}
	return k.AppendTo(nil)
}

func encodeValue(st txnState) []byte {
	v := kmsg.NewTxnMetadataValue()
	v.Version = valueVersion
	v.ProducerID = st.producerID
	v.ProducerEpoch = st.epoch
	v.TimeoutMillis = int32(st.timeout.Milliseconds())
	v.State = kmsg.TransactionState(st.state)
	v.LastUpdateTimestamp = st.lastUpdate
	v.StartTimestamp = st.start
	for _, tp := range st.partitions {
		if n := len(v.Topics); n == 0 || v.Topics[n-1].Topic != tp.Topic {
			t := kmsg.NewTxnMetadataValueTopic()
			t.Topic = tp.Topic
			v.Topics = append(v.Topics, t)
		}
		last := &v.Topics[len(v.Topics)-1]
		last.Partitions = append(last.Partitions, tp.Partition)
	}
	return v.AppendTo(nil)
}

// decodeState decodes one state-topic record. ok is false for a record of
// another kind (a key version from the future); err is set for a state
// record that cannot be decoded.
func decodeState(key, value []byte) (id string, st *txnState, ok bool, err error) {
	if len(key) < 2 {
		return "", nil, false, nil
	}
	if v := int16(binary.BigEndian.Uint16(key)); v != keyVersion {
		return "", nil, false, nil
	}
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(key); err != nil {
		return "", nil, false, fmt.Errorf("%w: key: %w", ErrCorruptState, err)
	}
	if value == nil {
		return k.TransactionalID, nil, true, nil
	}
	if len(value) < 2 {
		return "", nil, false, fmt.Errorf("%w: value of %d bytes", ErrCorruptState, len(value))
	}
	if v := int16(binary.BigEndian.Uint16(value)); v < 0 || v > maxValueVersion {
		return "", nil, false, fmt.Errorf("%w: value version %d", ErrCorruptState, v)
	}
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(value); err != nil {
		return "", nil, false, fmt.Errorf("%w: value: %w", ErrCorruptState, err)
	}
	st = &txnState{
		producerID: v.ProducerID,
		epoch:      v.ProducerEpoch,
		timeout:    time.Duration(v.TimeoutMillis) * time.Millisecond,
		state:      State(v.State),
		lastUpdate: v.LastUpdateTimestamp,
		start:      v.StartTimestamp,
	}
	var tps []TopicPartition
	for _, t := range v.Topics {
		for _, p := range t.Partitions {
			tps = append(tps, TopicPartition{Topic: t.Topic, Partition: p})
		}
	}
	st.partitions = st.addPartitions(tps) // sorted, deduplicated
	return k.TransactionalID, st, true, nil
}
