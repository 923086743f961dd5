package txn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tide-data/tide/internal/log"
)

// coordinatorEpoch is the epoch markers carry. Kafka's is the leader epoch
// of the state topic's partition, which lets a partition refuse markers
// from a coordinator that lost its leadership; one node never does.
const coordinatorEpoch = 0

// completeLocked ends e's prepared transaction: markers to every partition
// of the transaction (written together, waited for together), then the
// group offsets, then the Complete state. Each step may be repeated after
// a failure or a crash: a marker for a transaction already ended changes
// nothing (the log writes it all the same, as Kafka's does), settling
// offsets twice settles nothing the second time. e.mu is held.
func (c *Coordinator) completeLocked(ctx context.Context, e *entry) error {
	st := e.cur
	if st.state != PrepareCommit && st.state != PrepareAbort {
		return nil
	}
	commit := st.state == PrepareCommit
	type pendingMarker struct {
		p    *log.Partition
		wait func() error
	}
	var waits []pendingMarker
	var errs []error
	for _, tp := range st.partitions {
		if tp.Topic == c.offsetsTopic {
			continue // the group coordinator settles offsets below
		}
		p, err := c.partition(tp)
		if err != nil {
			// A topic or partition deleted since: nothing to end there,
			// as Kafka skips markers for partitions that went away.
			c.logger.Debug("no marker for a missing partition", "transactional_id", e.id, "topic", tp.Topic, "partition", tp.Partition, "err", err)
			continue
		}
		_, wait, err := p.AppendMarkerDeferred(st.producerID, st.epoch, commit, coordinatorEpoch)
		switch {
		case errors.Is(err, log.ErrProducerFenced), errors.Is(err, log.ErrCoordinatorFenced):
			// The partition has seen a newer epoch of the producer than
			// the coordinator's: the transaction there was ended by a
			// newer marker. Kafka drops the marker too.
			c.logger.Warn("marker refused by a newer epoch; skipped", "transactional_id", e.id, "partition", p.String(), "err", err)
		case errors.Is(err, log.ErrUnknownTopic), errors.Is(err, log.ErrUnknownPartition):
		case err != nil:
			errs = append(errs, fmt.Errorf("txn: marker to %s: %w", p, err))
		default:
			waits = append(waits, pendingMarker{p, wait})
		}
	}
	for _, w := range waits {
		if err := w.wait(); err != nil {
			errs = append(errs, fmt.Errorf("txn: marker to %s: %w", w.p, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := c.groups.CompleteTransaction(ctx, st.producerID, commit); err != nil {
		return fmt.Errorf("txn: settling offsets: %w", err)
	}
	next := st.with(func(s *txnState) {
		s.state = CompleteAbort
		if commit {
			s.state = CompleteCommit
		}
		s.partitions = nil
	})
	return c.transitionLocked(e, next)
}

func (c *Coordinator) partition(tp TopicPartition) (*log.Partition, error) {
	t, err := c.log.Topic(tp.Topic)
	if err != nil {
		return nil, err
	}
	return t.Partition(tp.Partition)
}

// completeOrRetryLocked completes e's prepared transaction now or, when
// that fails, in the background until it succeeds. e.mu is held.
func (c *Coordinator) completeOrRetryLocked(ctx context.Context, e *entry) {
	if c.afterPrepare != nil {
		c.afterPrepare(e.id)
	}
	err := c.completeLocked(ctx, e)
	if err == nil {
		return
	}
	c.logger.Error("completing transaction failed; retrying in the background", "transactional_id", e.id,
		"producer_id", e.cur.producerID, "state", e.cur.state.String(), "err", err)
	if !e.completing {
		e.completing = c.goSafe(func() { c.retryCompletion(e) })
	}
}

// retryCompletion completes e's prepared transaction, retrying with
// backoff until it succeeds, the transaction is no longer prepared, or the
// coordinator closes.
func (c *Coordinator) retryCompletion(e *entry) {
	backoff := 50 * time.Millisecond
	for {
		e.mu.Lock()
		if e.cur.state != PrepareCommit && e.cur.state != PrepareAbort {
			e.completing = false
			e.mu.Unlock()
			return
		}
		ctx, cancel := c.stopContext()
		err := c.completeLocked(ctx, e)
		cancel()
		if err == nil {
			c.logger.Info("completed transaction", "transactional_id", e.id, "producer_id", e.cur.producerID, "state", e.cur.state.String())
			e.completing = false
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
		c.logger.Warn("completing transaction failed; will retry", "transactional_id", e.id, "retry_in", backoff, "err", err)
		select {
		case <-c.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// stopContext is a context that ends when the coordinator closes.
func (c *Coordinator) stopContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// fenceLocked aborts e's open transaction with the epoch bumped, so that
// the markers fence the producer that opened it (Kafka's epoch fence): for
// an InitProducerId of a new producer, and for a transaction that timed
// out. The abort is decided once PrepareAbort is durable; its completion
// is retried in the background if it fails. e.mu is held.
func (c *Coordinator) fenceLocked(ctx context.Context, e *entry) error {
	next := e.cur.with(func(s *txnState) {
		s.state = PrepareAbort
		if s.epoch < math.MaxInt16 {
			s.epoch++
		}
	})
	if err := c.transitionLocked(e, next); err != nil {
		return err
	}
	e.lastEpoch = noEpoch
	c.completeOrRetryLocked(ctx, e)
	return nil
}

// armTimeoutLocked starts the timer that aborts e's open transaction when
// its timeout passes, counted from the transaction's start. e.mu is held.
func (c *Coordinator) armTimeoutLocked(e *entry) {
	if e.timer != nil {
		e.timer.Stop()
	}
	producerID, epoch, start := e.cur.producerID, e.cur.epoch, e.cur.start
	d := time.UnixMilli(start).Add(e.cur.timeout).Sub(c.opts.Now())
	e.timer = time.AfterFunc(max(d, 0), func() {
		c.goSafe(func() { c.expire(e, producerID, epoch, start) })
	})
}

// expire aborts e's transaction if it is still the one that timed out.
func (c *Coordinator) expire(e *entry, producerID int64, epoch int16, start int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur.state != Ongoing || e.cur.producerID != producerID || e.cur.epoch != epoch || e.cur.start != start {
		return
	}
	select {
	case <-c.stop:
		return
	default:
	}
	c.logger.Info("aborting transaction that timed out", "transactional_id", e.id, "producer_id", producerID,
		"epoch", epoch, "timeout", e.cur.timeout)
	ctx, cancel := c.stopContext()
	defer cancel()
	if err := c.fenceLocked(ctx, e); err != nil {
		c.logger.Error("aborting timed-out transaction failed; retrying", "transactional_id", e.id, "err", err)
		e.timer = time.AfterFunc(time.Second, func() {
			c.goSafe(func() { c.expire(e, producerID, epoch, start) })
		})
	}
}
