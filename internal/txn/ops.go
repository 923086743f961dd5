package txn

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The coordinator's operations, one per Kafka request, each as Kafka's
// TransactionCoordinator answers it for transaction protocol version 1
// (the one clients use when the broker does not advertise
// transaction.version 2): the checks, in Kafka's order, then at most one
// durable transition.

var noProducer = ProducerIDEpoch{ProducerID: -1, Epoch: -1}

// InitProducerID gives transactionalID's producer its id and a new epoch
// (Kafka's InitProducerId with a transactional id), which fences every
// earlier producer of the id. timeout is the transaction timeout the
// producer asks for. expected, when not nil, is the id and epoch the
// producer had (InitProducerId v3+, KIP-360): the call is then refused
// with ErrProducerFenced unless they are still the id's, or the ones just
// replaced (a retry).
//
// A transaction left open by an earlier producer is aborted first, with
// the epoch bumped so that its markers fence that producer, and the call
// fails with ErrConcurrentTransactions, as in Kafka: the caller retries
// and gets the next epoch. A transaction being completed gives the same
// error.
func (c *Coordinator) InitProducerID(ctx context.Context, transactionalID string, timeout time.Duration, expected *ProducerIDEpoch) (ProducerIDEpoch, error) {
	if transactionalID == "" {
		return noProducer, ErrInvalidRequest
	}
	if timeout <= 0 || timeout > c.opts.MaxTimeout {
		return noProducer, ErrInvalidTimeout
	}
	e, err := c.lookup(transactionalID, true)
	if err != nil {
		return noProducer, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := c.checkOpen(); err != nil {
		return noProducer, err
	}
	if expected != nil && !e.validProducer(*expected) {
		return noProducer, ErrProducerFenced
	}
	switch e.cur.state {
	case PrepareCommit, PrepareAbort:
		return noProducer, ErrConcurrentTransactions
	case Ongoing:
		if err := c.fenceLocked(ctx, e); err != nil {
			return noProducer, err
		}
		return noProducer, ErrConcurrentTransactions
	}
	// Empty, CompleteCommit or CompleteAbort: a new epoch, or a new id
	// once the epochs are used up.
	next := e.cur.with(func(s *txnState) {
		s.state, s.timeout, s.partitions, s.start = Empty, timeout, nil, -1
	})
	lastEpoch, lastProducerID := e.lastEpoch, e.lastProducerID
	switch {
	case epochExhausted(e.cur.epoch) && (expected == nil || expected.Epoch == e.cur.epoch):
		id, err := c.ids.next()
		if err != nil {
			return noProducer, err
		}
		next.producerID, next.epoch = id, 0
		lastProducerID, lastEpoch = e.cur.producerID, noEpoch
		if expected != nil {
			lastEpoch = e.cur.epoch
		}
	case expected == nil:
		next.epoch, lastEpoch = e.cur.epoch+1, noEpoch
	case e.cur.epoch == noEpoch || expected.Epoch == e.cur.epoch:
		next.epoch, lastEpoch = e.cur.epoch+1, e.cur.epoch
	case expected.Epoch == e.lastEpoch:
		// A retry of a bump whose answer was lost: the same epoch again.
	default:
		return noProducer, ErrProducerFenced
	}
	if err := c.transitionLocked(e, next); err != nil {
		return noProducer, err
	}
	e.lastEpoch, e.lastProducerID = lastEpoch, lastProducerID
	c.logger.Debug("initialized transactional id", "transactional_id", e.id, "producer_id", next.producerID, "epoch", next.epoch)
	return ProducerIDEpoch{ProducerID: next.producerID, Epoch: next.epoch}, nil
}

// validProducer is Kafka's check of the id and epoch an InitProducerId
// names: a fresh id, the current producer id (its epoch is checked when
// bumped), or the previous producer id at its last epoch (a retry after a
// rotation).
func (e *entry) validProducer(p ProducerIDEpoch) bool {
	return e.cur.epoch == noEpoch || p.ProducerID == e.cur.producerID ||
		(p.ProducerID == e.lastProducerID && epochExhausted(p.Epoch))
}

// checkProducerLocked is the check every request of a producer starts
// with: its id must be the transactional id's, its epoch the current one.
func (e *entry) checkProducerLocked(producerID int64, epoch int16) error {
	switch {
	case e.cur.producerID != producerID:
		return ErrInvalidProducerIDMapping
	case e.cur.epoch != epoch:
		return ErrProducerFenced
	}
	return nil
}

// AddPartitions adds partitions to the producer's transaction, beginning
// it if none is open (Kafka's AddPartitionsToTxn). Partitions of topics
// that do not exist are the caller's to refuse first.
func (c *Coordinator) AddPartitions(ctx context.Context, transactionalID string, producerID int64, epoch int16, partitions []TopicPartition) error {
	if transactionalID == "" {
		return ErrInvalidRequest
	}
	e, err := c.lookup(transactionalID, false)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := c.checkOpen(); err != nil {
		return err
	}
	if err := e.checkProducerLocked(producerID, epoch); err != nil {
		return err
	}
	switch e.cur.state {
	case PrepareCommit, PrepareAbort:
		return ErrConcurrentTransactions
	case Ongoing:
		missing := false
		for _, tp := range partitions {
			if !e.cur.hasPartition(tp) {
				missing = true
				break
			}
		}
		if !missing {
			return nil
		}
	}
	next := e.cur.with(func(s *txnState) {
		if s.state != Ongoing {
			s.start = c.opts.Now().UnixMilli()
		}
		s.state = Ongoing
		s.partitions = s.addPartitions(partitions)
	})
	return c.transitionLocked(e, next)
}

// AddOffsets adds group's offsets to the producer's transaction (Kafka's
// AddOffsetsToTxn): it adds the group's offsets-topic partition, as Kafka
// does, which TxnOffsetCommit then checks.
func (c *Coordinator) AddOffsets(ctx context.Context, transactionalID string, producerID int64, epoch int16, group string) error {
	topic, partition := c.groups.OffsetsPartition(group)
	return c.AddPartitions(ctx, transactionalID, producerID, epoch, []TopicPartition{{Topic: topic, Partition: partition}})
}

// TxnOffsetCommit checks that req's producer has an open transaction that
// holds req's group (AddOffsets), and hands req to the group coordinator,
// which records the offsets as pending until the transaction ends. The
// transaction cannot end meanwhile. An error is the transaction's answer
// for every partition of the request; otherwise the group coordinator's
// response is returned.
func (c *Coordinator) TxnOffsetCommit(ctx context.Context, req *kmsg.TxnOffsetCommitRequest) (kmsg.Response, error) {
	if req.TransactionalID == "" {
		return nil, ErrInvalidRequest
	}
	e, err := c.lookup(req.TransactionalID, false)
	if err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if err := e.checkWriteLocked(req.ProducerID, req.ProducerEpoch); err != nil {
		return nil, err
	}
	topic, partition := c.groups.OffsetsPartition(req.Group)
	if e.cur.state != Ongoing || !e.cur.hasPartition(TopicPartition{Topic: topic, Partition: partition}) {
		return nil, ErrNotInTransaction
	}
	return c.groups.Handle(ctx, req)
}

// checkWriteLocked is Kafka's verification of a transactional write
// (KIP-890 part 1): the producer's id and epoch, and no transaction being
// completed.
func (e *entry) checkWriteLocked(producerID int64, epoch int16) error {
	if err := e.checkProducerLocked(producerID, epoch); err != nil {
		return err
	}
	if e.cur.state == PrepareCommit || e.cur.state == PrepareAbort {
		return ErrConcurrentTransactions
	}
	return nil
}

// EndTxn commits or aborts the producer's transaction (Kafka's EndTxn):
// it records PrepareCommit or PrepareAbort durably, which decides the
// outcome, then writes the markers to every partition of the transaction
// and settles its offsets in the group coordinator, then records
// CompleteCommit or CompleteAbort. When the markers or the settlement
// fail, it still returns nil (the outcome is decided and durable) and
// retries the completion in the background until it succeeds; requests of
// the producer get ErrConcurrentTransactions meanwhile.
//
// Ending a transaction that already ended the same way succeeds (a retry);
// one that ended the other way, or was never begun, is ErrInvalidTxnState.
func (c *Coordinator) EndTxn(ctx context.Context, transactionalID string, producerID int64, epoch int16, commit bool) error {
	if transactionalID == "" {
		return ErrInvalidRequest
	}
	e, err := c.lookup(transactionalID, false)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := c.checkOpen(); err != nil {
		return err
	}
	if err := e.checkProducerLocked(producerID, epoch); err != nil {
		return err
	}
	switch s := e.cur.state; {
	case s == Ongoing:
		next := e.cur.with(func(s *txnState) {
			s.state = PrepareAbort
			if commit {
				s.state = PrepareCommit
			}
		})
		if err := c.transitionLocked(e, next); err != nil {
			return err
		}
		c.completeOrRetryLocked(ctx, e)
		return nil
	case s == CompleteCommit && commit, s == CompleteAbort && !commit:
		return nil
	case s == PrepareCommit && commit, s == PrepareAbort && !commit:
		return ErrConcurrentTransactions
	}
	return ErrInvalidTxnState
}

// Appender is a producer's permission to append to the partitions of its
// open transaction: while it is held, the transaction cannot end, so no
// marker comes between the check and the append. Release it as soon as
// the appends are written (before waiting for their durability).
type Appender struct {
	e *entry
}

// BeginAppend checks a transactional write of producerID at epoch, as
// Kafka verifies a transactional produce: ErrInvalidProducerIDMapping,
// ErrProducerFenced or ErrConcurrentTransactions. Check each partition
// with the Appender, then Release it.
func (c *Coordinator) BeginAppend(transactionalID string, producerID int64, epoch int16) (*Appender, error) {
	if transactionalID == "" {
		return nil, ErrInvalidRequest
	}
	e, err := c.lookup(transactionalID, false)
	if err != nil {
		return nil, err
	}
	e.mu.RLock()
	if err := c.checkOpen(); err != nil {
		e.mu.RUnlock()
		return nil, err
	}
	if err := e.checkWriteLocked(producerID, epoch); err != nil {
		e.mu.RUnlock()
		return nil, err
	}
	return &Appender{e: e}, nil
}

// Check returns ErrNotInTransaction unless the partition was added to the
// open transaction.
func (a *Appender) Check(topic string, partition int32) error {
	if a.e.cur.state != Ongoing || !a.e.cur.hasPartition(TopicPartition{Topic: topic, Partition: partition}) {
		return ErrNotInTransaction
	}
	return nil
}

// Release ends the permission; the Appender must not be used afterwards.
func (a *Appender) Release() { a.e.mu.RUnlock() }
