package group

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

// Record key and value versions in the offsets topic; see doc.go. They are
// Kafka's __consumer_offsets versions, so Kafka's own tools can read the
// topic.
const (
	keyVersionOffsetV0    = 0 // offset commit key (Kafka 0.8.2)
	keyVersionOffset      = 1 // offset commit key, the version written
	keyVersionGroup       = 2 // group metadata key: Kafka writes it; Tide does not
	valueVersionOffset    = 3 // offset commit value written: offset, leader epoch, metadata, timestamp
	maxValueVersionOffset = 4 // highest value version read (v4 adds tagged fields)
	// keyVersionTxnOffset is Tide's own: an offset a transaction committed
	// (TxnOffsetCommit) that waits for the transaction's end. Kafka's
	// record types stop far below it (0 to 20 in Kafka 4.1), and Kafka's
	// loader skips types it does not know.
	keyVersionTxnOffset = 1000
)

const (
	// offsetsSegmentBytes is Kafka's offsets.topic.segment.bytes: small
	// segments so that compaction, which only rewrites sealed segments,
	// keeps the topic near its live size.
	offsetsSegmentBytes = 100 << 20
	// tombstoneBatchBytes bounds one batch of tombstones; deletes may be
	// split across batches (a commit never is).
	tombstoneBatchBytes = 256 << 10
	// loadReadBytes is how much of the offsets topic one read returns while
	// loading.
	loadReadBytes = 1 << 20
	// decompressLimit caps a batch inflated while loading.
	decompressLimit = 64 << 20
)

// offsetKey identifies one committed offset.
type offsetKey struct {
	group     string
	topic     string
	partition int32
}

// committedOffset is what OffsetCommit stores for a partition.
type committedOffset struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitTime  int64 // ms since the epoch
}

// storeEntry is one record to write: a commit, or a tombstone when value is
// nil. With txn set it is a transaction's pending offset (or its
// tombstone) for producerID.
type storeEntry struct {
	key        offsetKey
	value      *committedOffset
	txn        bool
	producerID int64
}

// offsetStore is the offsets topic. Its methods are safe for concurrent
// use (the log's Append is); each group writes only its own keys, and all
// of a group's keys go to one partition, so a group's writes are ordered.
type offsetStore struct {
	topic  *log.Topic
	now    func() time.Time
	logger *slog.Logger
}

// openStore opens the offsets topic, creating it compacted with one
// partition if it is missing.
func openStore(l *log.Log, name string, now func() time.Time, logger *slog.Logger) (*offsetStore, error) {
	t, err := l.Topic(name)
	if errors.Is(err, log.ErrUnknownTopic) {
		t, err = l.CreateTopic(name, 1, map[string]string{
			log.ConfigCleanupPolicy: log.CleanupCompact,
			log.ConfigSegmentBytes:  fmt.Sprint(offsetsSegmentBytes),
		})
		if errors.Is(err, log.ErrTopicExists) { // created meanwhile
			t, err = l.Topic(name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("group: offsets topic %s: %w", name, err)
	}
	cfg := t.Config()
	if !cfg.Compact {
		return nil, fmt.Errorf("%w: %s has cleanup.policy=%s; committed offsets need compact", ErrOffsetsTopic, name, cfg.CleanupPolicy())
	}
	if cfg.Delete {
		logger.Warn("offsets topic also has cleanup.policy=delete: offsets of groups idle longer than retention.ms will be lost",
			"topic", name, "retention_ms", cfg.RetentionMs)
	}
	return &offsetStore{topic: t, now: now, logger: logger}, nil
}

// partitionFor returns the partition holding group's records: Kafka's
// abs(groupId.hashCode) % partitions, so a topic created with more
// partitions places groups as Kafka would.
func (s *offsetStore) partitionFor(group string) (*log.Partition, error) {
	n := s.topic.NumPartitions()
	h := javaStringHash(group)
	if h == math.MinInt32 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return s.topic.Partition(h % n)
}

// javaStringHash is Java's String.hashCode over the UTF-16 code units.
func javaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// write appends entries, all of one group, as one batch and returns once
// it is durable. A commit must be atomic, so it is never split; a batch
// above the topic's max.message.bytes fails with log.ErrMessageTooLarge.
func (s *offsetStore) write(group string, entries []storeEntry) error {
	if len(entries) == 0 {
		return nil
	}
	p, err := s.partitionFor(group)
	if err != nil {
		return err
	}
	now := s.now().UnixMilli()
	recs := make([]record.Record, len(entries))
	for i, e := range entries {
		recs[i] = record.Record{Timestamp: now, Key: encodeKey(e.key)}
		if e.txn {
			recs[i].Key = encodeTxnKey(e.producerID, e.key)
		}
		if e.value != nil {
			recs[i].Value = encodeValue(*e.value)
		}
	}
	batch, err := record.AppendBatch(nil, recs, record.BatchOptions{})
	if err != nil {
		return err
	}
	_, err = p.Append(batch)
	return err
}

// deleteKeys writes tombstones for keys, all of one group, in batches of
// bounded size. It returns how many keys, from the front, are durably
// deleted.
func (s *offsetStore) deleteKeys(group string, keys []offsetKey) (int, error) {
	done := 0
	for done < len(keys) {
		n, size := 0, 0
		for done+n < len(keys) && (n == 0 || size < tombstoneBatchBytes) {
			size += len(keys[done+n].group) + len(keys[done+n].topic) + 32
			n++
		}
		entries := make([]storeEntry, n)
		for i := range n {
			entries[i] = storeEntry{key: keys[done+i]}
		}
		if err := s.write(group, entries); err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// load replays every partition of the offsets topic in order, calling
// apply for each offset record and applyTxn for each pending
// transactional offset (value nil for a tombstone). Records of other kinds
// (Kafka's group metadata) are skipped.
func (s *offsetStore) load(apply func(offsetKey, *committedOffset), applyTxn func(int64, offsetKey, *committedOffset)) (int, error) {
	n := 0
	for _, p := range s.topic.Partitions() {
		bounds := p.Offsets()
		for next := bounds.LogStart; next < bounds.HighWatermark; {
			res, err := p.Read(next, loadReadBytes)
			if err != nil {
				return n, fmt.Errorf("group: load %s: %w", p, err)
			}
			if len(res.Batches) == 0 {
				break
			}
			for b := res.Batches; len(b) > 0; {
				h, err := record.ParseHeader(b)
				if err != nil {
					return n, fmt.Errorf("group: load %s at %d: %w", p, next, err)
				}
				batch := b[:h.Size()]
				b = b[h.Size():]
				next = h.LastOffset() + 1
				if h.Control() {
					continue
				}
				_, recs, err := record.DecodeRecords(batch, decompressLimit)
				if err != nil {
					return n, fmt.Errorf("group: load %s at %d: %w", p, h.BaseOffset, err)
				}
				for _, r := range recs {
					if isTxnKey(r.Key) {
						pid, k, v, err := decodeTxnRecord(r.Key, r.Value)
						if err != nil {
							return n, fmt.Errorf("group: load %s at %d: %w", p, r.Offset, err)
						}
						applyTxn(pid, k, v)
						n++
						continue
					}
					k, v, ok, err := decodeRecord(r.Key, r.Value)
					if err != nil {
						return n, fmt.Errorf("group: load %s at %d: %w", p, r.Offset, err)
					}
					if !ok {
						continue
					}
					apply(k, v)
					n++
				}
			}
		}
	}
	return n, nil
}

func encodeKey(k offsetKey) []byte {
	key := kmsg.OffsetCommitKey{Version: keyVersionOffset, Group: k.group, Topic: k.topic, Partition: k.partition}
	return key.AppendTo(nil)
}

func encodeValue(v committedOffset) []byte {
	val := kmsg.OffsetCommitValue{
		Version:         valueVersionOffset,
		Offset:          v.offset,
		LeaderEpoch:     v.leaderEpoch,
		Metadata:        v.metadata,
		CommitTimestamp: v.commitTime,
	}
	return val.AppendTo(nil)
}

// decodeRecord decodes one offsets-topic record. ok is false for records
// that are not offset commits (no key, Kafka's group metadata, a key
// version from the future); err is set for an offset record that cannot
// be decoded.
func decodeRecord(key, value []byte) (k offsetKey, v *committedOffset, ok bool, err error) {
	if len(key) < 2 {
		return k, nil, false, nil
	}
	switch int16(binary.BigEndian.Uint16(key)) {
	case keyVersionOffsetV0, keyVersionOffset:
	case keyVersionGroup:
		return k, nil, false, nil // Kafka's group metadata: not Tide's
	default:
		return k, nil, false, nil // a kind of record from a newer version
	}
	var kk kmsg.OffsetCommitKey
	if err := kk.ReadFrom(key); err != nil {
		return k, nil, false, fmt.Errorf("%w: key: %w", ErrCorruptOffsets, err)
	}
	k = offsetKey{group: kk.Group, topic: kk.Topic, partition: kk.Partition}
	if value == nil {
		return k, nil, true, nil
	}
	if len(value) < 2 {
		return k, nil, false, fmt.Errorf("%w: value of %d bytes", ErrCorruptOffsets, len(value))
	}
	if version := int16(binary.BigEndian.Uint16(value)); version < 0 || version > maxValueVersionOffset {
		return k, nil, false, fmt.Errorf("%w: value version %d", ErrCorruptOffsets, version)
	}
	var vv kmsg.OffsetCommitValue
	if err := vv.ReadFrom(value); err != nil {
		return k, nil, false, fmt.Errorf("%w: value: %w", ErrCorruptOffsets, err)
	}
	epoch := vv.LeaderEpoch
	if vv.Version < 3 {
		epoch = -1
	}
	return k, &committedOffset{offset: vv.Offset, leaderEpoch: epoch, metadata: vv.Metadata, commitTime: vv.CommitTimestamp}, true, nil
}

// A pending transactional offset's key, Tide's own layout in Kafka's
// conventions (big-endian, strings with an int16 length):
//
//	version i16 = 1000 | group string | producerId i64 | topic string | partition i32
//
// Its value is an ordinary offset commit value. The key includes the
// producer id so that the transaction's end can tombstone exactly its own.
func encodeTxnKey(producerID int64, k offsetKey) []byte {
	b := make([]byte, 0, 2+2+len(k.group)+8+2+len(k.topic)+4)
	b = binary.BigEndian.AppendUint16(b, keyVersionTxnOffset)
	b = appendString(b, k.group)
	b = binary.BigEndian.AppendUint64(b, uint64(producerID))
	b = appendString(b, k.topic)
	return binary.BigEndian.AppendUint32(b, uint32(k.partition))
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func isTxnKey(key []byte) bool {
	return len(key) >= 2 && int16(binary.BigEndian.Uint16(key)) == keyVersionTxnOffset
}

// decodeTxnRecord decodes a pending transactional offset record (value
// nil for its tombstone).
func decodeTxnRecord(key, value []byte) (producerID int64, k offsetKey, v *committedOffset, err error) {
	b := key[2:]
	readString := func() (string, bool) {
		if len(b) < 2 {
			return "", false
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return "", false
		}
		s := string(b[2 : 2+n])
		b = b[2+n:]
		return s, true
	}
	group, ok := readString()
	if !ok || len(b) < 8 {
		return 0, k, nil, fmt.Errorf("%w: transactional offset key of %d bytes", ErrCorruptOffsets, len(key))
	}
	producerID = int64(binary.BigEndian.Uint64(b))
	b = b[8:]
	topic, ok := readString()
	if !ok || len(b) != 4 {
		return 0, k, nil, fmt.Errorf("%w: transactional offset key of %d bytes", ErrCorruptOffsets, len(key))
	}
	k = offsetKey{group: group, topic: topic, partition: int32(binary.BigEndian.Uint32(b))}
	if value == nil {
		return producerID, k, nil, nil
	}
	_, v, _, err = decodeRecord(encodeKey(k), value)
	return producerID, k, v, err
}
