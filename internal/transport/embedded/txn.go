package embedded

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/txn"
)

// Transactional producers: the same calls a Kafka client makes to the
// transaction coordinator (InitProducerId, AddPartitionsToTxn,
// AddOffsetsToTxn, TxnOffsetCommit, EndTxn), made in process on the log's
// coordinator, which the Kafka listener shares; records are appended as
// transactional batches with the producer's id, epoch and sequences, as a
// client builds them.

// concurrentRetry is how long to wait before retrying an operation the
// coordinator refused with CONCURRENT_TRANSACTIONS: a previous
// transaction is being completed, which on one node takes an fsync or two.
const concurrentRetry = 5 * time.Millisecond

// NewTxnProducer returns a transactional producer for transactionalID. Its
// InitProducerId fences every earlier producer of the id: a transaction
// one left open is aborted, with the epoch bumped so that its later writes
// are refused.
func (t *Transport) NewTxnProducer(ctx context.Context, transactionalID string) (transport.TxnProducer, error) {
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	if t.txnErr != nil {
		return nil, fmt.Errorf("embedded: transactions: %w", t.txnErr)
	}
	if transactionalID == "" {
		return nil, errors.New("embedded: a transactional producer needs a transactional id")
	}
	var pe txn.ProducerIDEpoch
	err := retryConcurrent(ctx, func() error {
		var err error
		pe, err = t.txns.InitProducerID(ctx, transactionalID, t.opts.txnTimeout, nil)
		return err
	})
	if err != nil {
		return nil, txnError("new transactional producer "+transactionalID, err)
	}
	return &txnProducer{t: t, id: transactionalID, producer: pe, sequences: make(map[*log.Partition]int32)}, nil
}

// retryConcurrent runs op until the coordinator stops answering
// ErrConcurrentTransactions, or ctx ends.
func retryConcurrent(ctx context.Context, op func() error) error {
	for {
		err := op()
		if !errors.Is(err, txn.ErrConcurrentTransactions) {
			return err
		}
		if !sleep(ctx, concurrentRetry) {
			return ctx.Err()
		}
	}
}

// txnError wraps a coordinator error with the transport's sentinel: a
// newer epoch or producer id is ErrFenced.
func txnError(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, txn.ErrProducerFenced), errors.Is(err, txn.ErrInvalidProducerIDMapping), errors.Is(err, log.ErrProducerFenced):
		return fmt.Errorf("embedded: %s: %w: %w", what, transport.ErrFenced, err)
	case errors.Is(err, txn.ErrClosed), errors.Is(err, log.ErrClosed):
		return fmt.Errorf("embedded: %s: %w: %w", what, transport.ErrClosed, err)
	}
	return mapLogError(fmt.Errorf("embedded: %s: %w", what, err))
}

// txnProducer is transport.TxnProducer on the embedded log. One goroutine
// uses it at a time, as the interface says; it holds no lock.
type txnProducer struct {
	t        *Transport
	id       string
	producer txn.ProducerIDEpoch
	// sequences holds the next sequence number per partition: they run
	// on across the transactions of one epoch, as a Kafka client's do.
	sequences map[*log.Partition]int32

	open bool
	// added holds the partitions added to the open transaction, and
	// joined whether anything (partitions or offsets) was: a transaction
	// with nothing in it is never sent to the coordinator, which would
	// refuse to end it.
	added  map[*log.Partition]bool
	joined bool
	// broken is the error of a Produce that may have written part of its
	// records: the transaction can only be aborted.
	broken error
	fenced bool
	closed bool
}

var _ transport.TxnProducer = (*txnProducer)(nil)

func (p *txnProducer) usable(what string) error {
	switch {
	case p.closed:
		return fmt.Errorf("embedded: %s: %w", what, transport.ErrClosed)
	case p.fenced:
		return fmt.Errorf("embedded: %s: transactional id %s: %w", what, p.id, transport.ErrFenced)
	}
	return p.t.checkOpen()
}

// fail notes a fence in what err says.
func (p *txnProducer) fail(err error) error {
	if errors.Is(err, transport.ErrFenced) {
		p.fenced = true
	}
	return err
}

// Begin starts a transaction. It checks with the coordinator that this
// producer still owns the id (ErrFenced otherwise) and ends what an
// earlier failed Commit or Abort left: a transaction still open is
// aborted, one being completed is waited for.
func (p *txnProducer) Begin(ctx context.Context) error {
	if err := p.usable("begin"); err != nil {
		return err
	}
	if p.open {
		return errors.New("embedded: begin: a transaction is already open")
	}
	for {
		st, ok := p.t.txns.Describe(p.id)
		if !ok || st.ProducerID != p.producer.ProducerID || st.Epoch != p.producer.Epoch {
			p.fenced = true
			return fmt.Errorf("embedded: begin: transactional id %s: %w", p.id, transport.ErrFenced)
		}
		switch st.State {
		case txn.Ongoing:
			err := p.t.txns.EndTxn(ctx, p.id, p.producer.ProducerID, p.producer.Epoch, false)
			if err != nil && !errors.Is(err, txn.ErrConcurrentTransactions) {
				return p.fail(txnError("begin: abort the unfinished transaction", err))
			}
			continue
		case txn.PrepareCommit, txn.PrepareAbort:
			if !sleep(ctx, concurrentRetry) {
				return ctx.Err()
			}
			continue
		}
		break
	}
	p.open, p.joined, p.broken = true, false, nil
	p.added = make(map[*log.Partition]bool)
	return nil
}

// Produce writes records in the open transaction and returns once they
// are durable: partitions new to the transaction are added to it first,
// then every partition's batches are written (while the coordinator
// cannot end the transaction) and waited for together.
func (p *txnProducer) Produce(ctx context.Context, records []*transport.Record) error {
	if err := p.usable("produce"); err != nil {
		return err
	}
	if !p.open {
		return errors.New("embedded: produce: no transaction is open (Begin first)")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dests, err := p.t.route(records)
	if err != nil {
		return err
	}
	var add []txn.TopicPartition
	for _, d := range dests {
		if !p.added[d.p] {
			add = append(add, txn.TopicPartition{Topic: d.p.Topic().Name(), Partition: d.p.ID()})
		}
	}
	if len(add) > 0 {
		err := retryConcurrent(ctx, func() error {
			return p.t.txns.AddPartitions(ctx, p.id, p.producer.ProducerID, p.producer.Epoch, add)
		})
		if err != nil {
			return p.fail(txnError("produce: add partitions to the transaction", err))
		}
		p.joined = true
		for _, d := range dests {
			p.added[d.p] = true
		}
	}
	err = p.append(dests)
	if err != nil && !errors.Is(err, transport.ErrFenced) {
		p.broken = err
	}
	return p.fail(err)
}

// append writes every destination's records as transactional batches and
// waits for them; it sets the records' Partition and Offset.
func (p *txnProducer) append(dests []destination) error {
	appender, err := p.t.txns.BeginAppend(p.id, p.producer.ProducerID, p.producer.Epoch)
	if err != nil {
		return txnError("produce", err)
	}
	type written struct {
		d      destination
		bases  []int64 // base offset of each batch written
		counts []int   // records in each
		waits  []func() error
	}
	var (
		all  []*written
		errs []error
		now  = time.Now()
	)
	for _, d := range dests {
		if err := appender.Check(d.p.Topic().Name(), d.p.ID()); err != nil {
			errs = append(errs, txnError("produce to "+d.p.String(), err))
			break
		}
		w := &written{d: d}
		all = append(all, w)
		err := p.encode(d, now, func(batch []byte, count int) error {
			res, wait, err := d.p.AppendDeferred(batch)
			if err != nil {
				return err
			}
			p.sequences[d.p] = nextSequence(p.sequences[d.p], count)
			w.bases, w.counts, w.waits = append(w.bases, res.BaseOffset), append(w.counts, count), append(w.waits, wait)
			return nil
		})
		if err != nil {
			errs = append(errs, txnError("produce to "+d.p.String(), err))
			break
		}
	}
	appender.Release()
	// Wait for everything written, even after a failure: an append is
	// settled only once its wait returns.
	for _, w := range all {
		for _, wait := range w.waits {
			if err := wait(); err != nil {
				errs = append(errs, txnError("produce to "+w.d.p.String(), err))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, w := range all {
		i := 0
		for b, base := range w.bases {
			for j := range w.counts[b] {
				w.d.recs[i].Partition, w.d.recs[i].Offset = w.d.p.ID(), base+int64(j)
				i++
			}
		}
	}
	return nil
}

// nextSequence advances a sequence number by count records, wrapping as
// Kafka's do.
func nextSequence(seq int32, count int) int32 {
	return int32((int64(seq) + int64(count)) % (1 << 31))
}

// encode cuts d's records into transactional batches of at most the
// topic's max.message.bytes and calls write with each, in order, with the
// producer's id, epoch and the partition's next sequence (write advances
// it). Zero timestamps become now.
func (p *txnProducer) encode(d destination, now time.Time, write func(batch []byte, count int) error) error {
	maxBatch := int(d.p.Topic().Config().MaxMessageBytes)
	sc := getScratch()
	defer sc.put()
	size := record.BatchHeaderSize
	flush := func() error {
		if len(sc.recs) == 0 {
			return nil
		}
		var err error
		sc.buf, err = record.AppendBatch(sc.buf[:0], sc.recs, record.BatchOptions{
			Idempotent: true, Transactional: true,
			ProducerID: p.producer.ProducerID, ProducerEpoch: p.producer.Epoch, BaseSequence: p.sequences[d.p],
		})
		if err != nil {
			return err
		}
		n := len(sc.recs)
		sc.recs, sc.hdrs, size = sc.recs[:0], sc.hdrs[:0], record.BatchHeaderSize
		return write(sc.buf, n)
	}
	for _, r := range d.recs {
		if r.Timestamp.IsZero() {
			r.Timestamp = now
		}
		n := recordOverhead + len(r.Key) + len(r.Value)
		for _, h := range r.Headers {
			n += headerOverhead + len(h.Key) + len(h.Value)
		}
		if len(sc.recs) > 0 && size+n > maxBatch {
			if err := flush(); err != nil {
				return err
			}
		}
		rec := record.Record{Timestamp: r.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value}
		if len(r.Headers) > 0 {
			// The batch's headers share a slab, taken afresh when it
			// would grow: the records already in the batch keep theirs.
			if cap(sc.hdrs)-len(sc.hdrs) < len(r.Headers) {
				sc.hdrs = make([]record.Header, 0, max(2*cap(sc.hdrs), len(r.Headers), 16))
			}
			start := len(sc.hdrs)
			for _, h := range r.Headers {
				sc.hdrs = append(sc.hdrs, record.Header{Key: h.Key, Value: h.Value})
			}
			rec.Headers = sc.hdrs[start:len(sc.hdrs):len(sc.hdrs)]
		}
		sc.recs = append(sc.recs, rec)
		size += n
	}
	return flush()
}

// Commit commits the open transaction with offsets for group: the group's
// offsets join the transaction (AddOffsetsToTxn, TxnOffsetCommit), then
// the coordinator ends it, writing the markers and settling the offsets.
// A transaction with neither records nor offsets commits nothing. After a
// Produce failed the transaction is aborted instead, and Commit fails.
func (p *txnProducer) Commit(ctx context.Context, groupID string, offsets []transport.PartitionOffset) error {
	if err := p.usable("commit"); err != nil {
		return err
	}
	if !p.open {
		return errors.New("embedded: commit: no transaction is open (Begin first)")
	}
	// Whatever happens, the producer holds no transaction afterwards: an
	// error leaves the outcome to the next Begin, which aborts the
	// transaction unless it committed.
	p.open = false
	if p.broken != nil {
		err := p.end(ctx, false)
		return errors.Join(fmt.Errorf("embedded: commit: the transaction was aborted: a produce in it failed: %w", p.broken), err)
	}
	if len(offsets) > 0 {
		if groupID == "" {
			return errors.Join(errors.New("embedded: commit: offsets need a group; the transaction was aborted"), p.end(ctx, false))
		}
		if err := p.commitOffsets(ctx, groupID, offsets); err != nil {
			return p.fail(err)
		}
	}
	return p.end(ctx, true)
}

// commitOffsets adds groupID to the transaction and commits offsets in it.
func (p *txnProducer) commitOffsets(ctx context.Context, groupID string, offsets []transport.PartitionOffset) error {
	err := retryConcurrent(ctx, func() error {
		return p.t.txns.AddOffsets(ctx, p.id, p.producer.ProducerID, p.producer.Epoch, groupID)
	})
	if err != nil {
		return txnError("commit: add offsets to the transaction", err)
	}
	p.joined = true
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.SetVersion(3)
	req.TransactionalID, req.Group = p.id, groupID
	req.ProducerID, req.ProducerEpoch = p.producer.ProducerID, p.producer.Epoch
	req.Generation, req.MemberID = -1, "" // not a member: fenced by the transactional id
	byTopic := map[string]int{}
	for _, o := range offsets {
		i, ok := byTopic[o.Topic]
		if !ok {
			i = len(req.Topics)
			byTopic[o.Topic] = i
			rt := kmsg.NewTxnOffsetCommitRequestTopic()
			rt.Topic = o.Topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = o.Partition, o.Offset, -1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	resp, err := p.t.txns.TxnOffsetCommit(group.WithClient(ctx, p.t.opts.clientID, clientHost), req)
	if err != nil {
		return txnError("commit offsets", err)
	}
	var errs []error
	for _, rt := range resp.(*kmsg.TxnOffsetCommitResponse).Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				errs = append(errs, fmt.Errorf("embedded: commit offset of %s[%d]: %w", rt.Topic, rp.Partition, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Abort aborts the open transaction.
func (p *txnProducer) Abort(ctx context.Context) error {
	if err := p.usable("abort"); err != nil {
		return err
	}
	if !p.open {
		return errors.New("embedded: abort: no transaction is open")
	}
	return p.end(ctx, false)
}

// end ends the open transaction. Whatever the outcome, the producer holds
// no transaction afterwards; an error other than ErrFenced leaves the
// outcome to the next Begin.
func (p *txnProducer) end(ctx context.Context, commit bool) error {
	p.open = false
	if !p.joined {
		return nil
	}
	err := retryConcurrent(ctx, func() error {
		return p.t.txns.EndTxn(ctx, p.id, p.producer.ProducerID, p.producer.Epoch, commit)
	})
	what := "abort"
	if commit {
		what = "commit"
	}
	return p.fail(txnError(what, err))
}

// Close aborts an open transaction and releases the producer.
func (p *txnProducer) Close(ctx context.Context) error {
	if p.closed {
		return nil
	}
	var err error
	if p.open && !p.fenced {
		err = p.end(ctx, false)
	}
	p.closed = true
	return err
}
