package transport

import (
	"context"
	"errors"
	"time"
)

// Errors every implementation returns (wrapped) for the same conditions.
var (
	// ErrTopicNotFound means the topic does not exist.
	ErrTopicNotFound = errors.New("transport: topic not found")
	// ErrTopicExists means CreateTopic found the topic already there.
	ErrTopicExists = errors.New("transport: topic already exists")
	// ErrClosed means the transport or consumer was closed.
	ErrClosed = errors.New("transport: closed")
	// ErrRecordTooLarge means a record exceeds the topic's
	// max.message.bytes: retrying cannot help.
	ErrRecordTooLarge = errors.New("transport: record too large")
	// ErrFenced means a newer producer with the same transactional id
	// exists: this one must stop (Kafka's PRODUCER_FENCED).
	ErrFenced = errors.New("transport: producer fenced")
	// ErrOffsetOutOfRange means ReadAt was asked for an offset below the
	// partition's log start: retention or DeleteRecords removed it.
	ErrOffsetOutOfRange = errors.New("transport: offset out of range")
)

// Header is one record header. Keys may repeat.
type Header struct {
	Key   string
	Value []byte
}

// Record is a Kafka record. On records a Consumer returns, Topic,
// Partition, Offset and Timestamp are set and the caller owns every slice.
// On records given to Produce, Partition < 0 asks for the default
// partitioner, and a zero Timestamp means "now".
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// PartitionOffset is an offset in one partition: for Commit, the next
// offset to read.
type PartitionOffset struct {
	TopicPartition
	Offset int64
}

// TopicInfo describes a topic.
type TopicInfo struct {
	Name       string
	Partitions int32
	// Configs holds the topic's non-default configs, by Kafka name.
	Configs map[string]string
}

// TopicSpec asks for a new topic.
type TopicSpec struct {
	Name       string
	Partitions int32 // <= 0: the transport's default
	Configs    map[string]string
}

// StartOffset says where a consumer starts in a partition that its group
// has no committed offset for.
type StartOffset int8

const (
	// StartEarliest starts at the log start (Kafka auto.offset.reset=earliest).
	StartEarliest StartOffset = iota
	// StartLatest starts at the end (auto.offset.reset=latest).
	StartLatest
)

// ConsumerOptions configures NewConsumer.
type ConsumerOptions struct {
	// Group is the consumer group whose committed offsets the consumer
	// starts from and commits to. Required.
	Group string
	// Topics to read; every partition of each is shared among the group's
	// consumers. Required.
	Topics []string
	// Start applies to partitions without a committed offset.
	Start StartOffset
	// OnAssigned, if set, is called with partitions newly assigned to
	// this consumer, before any of their records are returned by Poll.
	// It is never called concurrently with OnRevoked, nor while the
	// owner processes what Poll returned: callbacks run only while the
	// owner is inside Poll or Close (embedded: on the owner's goroutine,
	// as the Java consumer runs them inside poll(); kafka: on franz-go's
	// group goroutine while the owner waits in Poll), so a rebalance
	// waits for the owner's next Poll.
	OnAssigned func(ctx context.Context, partitions []TopicPartition)
	// OnRevoked, if set, is called with partitions about to be taken
	// away (or lost), and the rebalance waits for it to return: commit
	// what is done before returning. It runs under the same rule as
	// OnAssigned (inside Poll or Close, never during the owner's
	// processing), but other goroutines (the owner's workers) keep
	// running and may call Commit meanwhile. Records of these partitions
	// already returned by Poll may be committed in OnRevoked; later ones
	// are not returned. Close calls it for everything the consumer holds.
	// The rebalance timeout bounds how long a rebalance waits for the
	// owner to poll and for OnRevoked to return.
	OnRevoked func(ctx context.Context, partitions []TopicPartition)
}

// GroupOffsets is one consumer group and what it has committed.
type GroupOffsets struct {
	Group string
	// State is the group's state as Kafka names it (Stable,
	// PreparingRebalance, CompletingRebalance, Empty).
	State   string
	Members int
	// Offsets holds the committed offset, the next one to consume, per
	// partition.
	Offsets map[TopicPartition]int64
}

// Transport reads, writes and commits records. Implementations are safe
// for concurrent use.
type Transport interface {
	// Name says which implementation this is ("embedded", "kafka").
	Name() string
	// CreateTopic creates a topic; ErrTopicExists if it is there.
	CreateTopic(ctx context.Context, spec TopicSpec) error
	// DeleteTopic deletes a topic; ErrTopicNotFound if it is not there.
	DeleteTopic(ctx context.Context, name string) error
	// Topic describes one topic; ErrTopicNotFound if it is not there.
	Topic(ctx context.Context, name string) (TopicInfo, error)
	// Topics lists the topics, internal ones (starting "__") excluded,
	// sorted by name.
	Topics(ctx context.Context) ([]TopicInfo, error)
	// Produce writes records and returns when all are durable. Records
	// to one partition keep their order. On error some records may have
	// been written (the caller retries, at-least-once). Produce sets the
	// Partition and Offset of each record it wrote.
	Produce(ctx context.Context, records []*Record) error
	// EndOffsets returns, per partition of topic, the offset the next
	// record will get (the high watermark).
	EndOffsets(ctx context.Context, topic string) (map[int32]int64, error)
	// StartOffsets returns, per partition of topic, the first offset still
	// readable (retention and DeleteRecords move it); equal to the end
	// offset when nothing is left.
	StartOffsets(ctx context.Context, topic string) (map[int32]int64, error)
	// DeleteRecords makes each partition's records before its offset
	// unreadable (Kafka's DeleteRecords): the partition's start offset
	// moves there and whole segments below it are freed. An offset at or
	// before the start changes nothing; one past the end is
	// ErrOffsetOutOfRange (wrapped); a missing topic or partition
	// ErrTopicNotFound.
	DeleteRecords(ctx context.Context, offsets []PartitionOffset) error
	// ReadAt returns records of one partition from offset on, without a
	// consumer group: at least one record when any exists at or after
	// offset (waiting for none: an offset at or past the end returns no
	// records at once), and at most about maxBytes of them (at least one
	// whole batch, so a batch larger than maxBytes is returned whole). An
	// offset before the log start is ErrOffsetOutOfRange (wrapped); a
	// missing topic or partition ErrTopicNotFound. Records are in offset
	// order with Topic, Partition, Offset and Timestamp set; the caller owns
	// them and every slice in them. Only committed records are returned
	// (up to the last stable offset; aborted ones skipped); transaction
	// markers are not records, and compaction and transactions may leave
	// gaps in the offsets.
	//
	// It is meant for a few point reads (the last record of a partition,
	// at its end offset - 1) and short ranges: each call is a read of its
	// own, and nothing outlives it.
	ReadAt(ctx context.Context, tp TopicPartition, offset int64, maxBytes int) ([]*Record, error)
	// Groups lists every consumer group with committed offsets or
	// members — Tide's own and any other client's — sorted by name, with
	// its committed offsets. It is meant for monitoring (lag), not for a
	// consumer's own progress (Consumer.Committed).
	Groups(ctx context.Context) ([]GroupOffsets, error)
	// NewConsumer starts a consumer in a group. Consumers read committed
	// records only (Kafka's isolation.level=read_committed): records of an
	// open transaction wait for its end, those of an aborted one are
	// skipped.
	NewConsumer(ctx context.Context, opts ConsumerOptions) (Consumer, error)
	// NewTxnProducer returns a transactional producer for transactionalID
	// (Kafka's transactional.id). Getting one fences every earlier
	// producer of the same id: their open transaction is aborted and their
	// later calls fail with ErrFenced.
	NewTxnProducer(ctx context.Context, transactionalID string) (TxnProducer, error)
	// Close releases the transport's resources; it does not close the
	// log or the cluster it talks to.
	Close() error
}

// Consumer reads the partitions assigned to it. Poll and Close are called
// by one goroutine at a time; Commit and Committed are safe to call from
// any goroutine, concurrently with Poll.
type Consumer interface {
	// Poll waits until records are available or ctx is done, and returns
	// a batch of records (possibly from several partitions, each in
	// offset order). It returns ctx.Err() when ctx is done, ErrClosed
	// after Close.
	Poll(ctx context.Context) ([]*Record, error)
	// Commit stores, for the consumer's group, the next offset to read of
	// each given partition. It returns when the commit is durable.
	Commit(ctx context.Context, offsets []PartitionOffset) error
	// Committed returns the group's committed offsets for the consumer's
	// topics; partitions without a commit are absent.
	Committed(ctx context.Context) (map[TopicPartition]int64, error)
	// Close leaves the group (calling OnRevoked for what it holds) and
	// releases the consumer. It does not commit on its own.
	Close(ctx context.Context) error
}

// RecyclingConsumer is a Consumer that can reuse the memory of what it
// returned. PollRecycle is Poll, with done: called once the caller keeps
// no reference to the records or to any bytes they point into, it gives
// their memory back for later polls. A caller that never calls done (or
// calls Poll) loses nothing but the reuse. done may be called from any
// goroutine, once.
type RecyclingConsumer interface {
	Consumer
	PollRecycle(ctx context.Context) (records []*Record, done func(), err error)
}

// TxnProducer writes records and consumer-group offsets atomically: what a
// transaction produced becomes visible to read_committed readers, and its
// offsets become the group's committed offsets, together at Commit, or
// neither (Abort, a crash, a fence). One goroutine uses it at a time.
type TxnProducer interface {
	// Begin starts a transaction; one must not be open.
	Begin(ctx context.Context) error
	// Produce writes records in the open transaction and returns when they
	// are durable (not yet visible). It sets Partition and Offset of each.
	Produce(ctx context.Context, records []*Record) error
	// Commit commits the open transaction together with offsets, the next
	// offsets to read, for group. An error other than ErrFenced leaves the
	// outcome unknown until the next Begin (which aborts it if it was not
	// committed): the caller rewinds to the group's committed offsets.
	Commit(ctx context.Context, group string, offsets []PartitionOffset) error
	// Abort aborts the open transaction.
	Abort(ctx context.Context) error
	// Close aborts an open transaction and releases the producer.
	Close(ctx context.Context) error
}
