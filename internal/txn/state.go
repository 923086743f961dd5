package txn

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// State is a transaction's state, numbered as Kafka numbers them in
// __transaction_state.
type State int8

// The states; see doc.go for the transitions.
const (
	Empty             State = 0
	Ongoing           State = 1
	PrepareCommit     State = 2
	PrepareAbort      State = 3
	CompleteCommit    State = 4
	CompleteAbort     State = 5
	Dead              State = 6 // Kafka's expired transactional id: read, never written
	PrepareEpochFence State = 7 // Kafka's in-memory state: never written
)

func (s State) String() string {
	switch s {
	case Empty:
		return "Empty"
	case Ongoing:
		return "Ongoing"
	case PrepareCommit:
		return "PrepareCommit"
	case PrepareAbort:
		return "PrepareAbort"
	case CompleteCommit:
		return "CompleteCommit"
	case CompleteAbort:
		return "CompleteAbort"
	case Dead:
		return "Dead"
	case PrepareEpochFence:
		return "PrepareEpochFence"
	}
	return "Unknown"
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func compareTopicPartitions(a, b TopicPartition) int {
	return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// ProducerIDEpoch is a producer id and its epoch.
type ProducerIDEpoch struct {
	ProducerID int64
	Epoch      int16
}

// noEpoch is Kafka's RecordBatch.NO_PRODUCER_EPOCH.
const noEpoch = -1

// epochExhausted is Kafka's TransactionMetadata.isEpochExhausted: the last
// epoch is kept for fencing, so a producer id is replaced one before it.
func epochExhausted(epoch int16) bool { return epoch >= math.MaxInt16-1 }

// txnState is what one record of the state topic holds: a transactional
// id's producer, epoch and transaction. Values are immutable once built;
// a transition builds a new one.
type txnState struct {
	producerID int64
	epoch      int16
	timeout    time.Duration
	state      State
	// partitions are the partitions added to the transaction; sorted.
	partitions []TopicPartition
	// lastUpdate and start are ms since the epoch; start is -1 when no
	// transaction was begun.
	lastUpdate int64
	start      int64
}

func (s txnState) with(f func(*txnState)) txnState {
	s.partitions = slices.Clone(s.partitions)
	f(&s)
	return s
}

func (s txnState) hasPartition(tp TopicPartition) bool {
	_, found := slices.BinarySearchFunc(s.partitions, tp, compareTopicPartitions)
	return found
}

// addPartitions returns s's partitions and tps, sorted, without repeats.
func (s txnState) addPartitions(tps []TopicPartition) []TopicPartition {
	set := make(map[TopicPartition]struct{}, len(s.partitions)+len(tps))
	for _, tp := range s.partitions {
		set[tp] = struct{}{}
	}
	for _, tp := range tps {
		set[tp] = struct{}{}
	}
	return slices.SortedFunc(maps.Keys(set), compareTopicPartitions)
}

// entry is one transactional id. mu serializes its transitions (held
// across the durable write, the markers and the group settlement) and is
// held shared by writes into the open transaction, so that no marker can
// come between the check that a partition belongs to the transaction and
// the append to it.
type entry struct {
	id string
	mu sync.RWMutex
	// cur is the durable state: it changes only after its record is
	// written.
	cur txnState
	// lastEpoch is the epoch before the last InitProducerId bump, so that
	// a retried InitProducerId is answered rather than fenced (Kafka's
	// lastProducerEpoch); noEpoch when unknown. Not persisted, as in Kafka.
	lastEpoch int16
	// lastProducerID is the producer id before a rotation (epoch
	// exhaustion), for the same purpose.
	lastProducerID int64
	// timer aborts the open transaction when its timeout passes.
	timer *time.Timer
	// completing is set while a goroutine retries a completion that
	// failed, so that only one does.
	completing bool
}
