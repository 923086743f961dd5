package kafkatransport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/tide-data/tide/internal/transport"
)

// defaultTransactionTimeout is Config.TransactionTimeout's default: long
// enough for any one batch's transaction, short enough that readers are
// not held back long by a producer that died mid-transaction.
const defaultTransactionTimeout = 20 * time.Second

// Raw transaction requests (AddOffsetsToTxn, TxnOffsetCommit, EndTxn) are
// retried while the coordinator answers with a retriable error, such as
// CONCURRENT_TRANSACTIONS while it still writes the markers of the
// previous transaction, from txnBackoff doubling up to txnMaxBackoff, for
// at most txnRetryLimit (and never past the caller's ctx).
const (
	txnBackoff    = 10 * time.Millisecond
	txnMaxBackoff = 500 * time.Millisecond
	txnRetryLimit = 30 * time.Second
	// txnAbortOnClose bounds the abort Transport.Close makes for a
	// producer its owner did not close.
	txnAbortOnClose = 5 * time.Second
)

// txnVersions caps the request versions of transactional clients below
// KIP-890 part 2 (transaction.version 2: Produce v12, EndTxn v5,
// TxnOffsetCommit v5), so that transactions run the classic way on every
// cluster: partitions and the group's offsets are added to the
// transaction explicitly, and EndTxn leaves the producer epoch as it is.
// The raw requests a TxnProducer sends beside kgo's depend on this: an
// EndTxn of its own under part 2 would bump the epoch behind kgo's back.
func txnVersions() *kversion.Versions {
	v := kversion.Stable()
	v.SetMaxKeyVersion(int16(kmsg.Produce), 11)
	v.SetMaxKeyVersion(int16(kmsg.EndTxn), 4)
	v.SetMaxKeyVersion(int16(kmsg.TxnOffsetCommit), 4)
	return v
}

// TxnProducer is a transactional producer: a kgo client of its own with
// the transactional id, whose producer id and epoch it initialises in
// NewTxnProducer (which fences earlier producers of the id). Begin, Produce
// and Abort are kgo's BeginTransaction, ProduceSync and
// EndTransaction(TryAbort). Commit adds the group's offsets with requests
// of its own, as kgo only commits offsets in a transaction for the group
// its own client consumes in (GroupTransactSession): AddOffsetsToTxn, then
// TxnOffsetCommit with generation -1 and no member id (the transactional id
// fences zombies; Tide gives each input partition an id of its own), then
// ends the transaction with kgo's EndTransaction(TryCommit), or, when
// nothing was produced (kgo then has no transaction to end), with an EndTxn
// of its own.
//
// Fencing is sticky: once the cluster answers PRODUCER_FENCED or
// INVALID_PRODUCER_EPOCH (a newer producer bumped the epoch, or the
// transaction outlived the transaction timeout and the coordinator aborted
// it), every later call returns transport.ErrFenced. The producer never
// re-initialises on its own: a fresh InitProducerID would fence the newer
// producer in turn. After an error of unknown outcome it only aborts what
// may be left through kgo, which re-initialises with its old epoch
// (KIP-360) and so fails with PRODUCER_FENCED if it was fenced meanwhile.
//
// One goroutine uses it at a time; Transport.Close may abort it
// concurrently.
type TxnProducer struct {
	t  *Transport
	id string
	cl *kgo.Client

	// busy is held by the owner's calls, and by Transport.Close's abort,
	// which gives up on a producer in use rather than wait for it.
	busy sync.Mutex
	// released is set once the client is closed (Close, Transport.Close).
	released atomic.Bool

	// Owned by the goroutine holding busy.
	fenced   error // sticky: wraps transport.ErrFenced
	open     bool  // between Begin and Commit or Abort
	produced bool  // a Produce of the open transaction ran: kgo ends it
	failed   error // a Produce of the open transaction failed: abort only
	// unresolved is set when a transaction's end failed: it may be open,
	// committed or aborted. Begin (or Abort) aborts it if it is open.
	unresolved bool
	// rawOpen is set while the cluster may hold a transaction kgo does
	// not know of (offsets added without records produced): it is ended
	// with an EndTxn of our own.
	rawOpen bool
}

var _ transport.TxnProducer = (*TxnProducer)(nil)

var (
	errNoTxn   = errors.New("kafkatransport: no open transaction")
	errTxnOpen = errors.New("kafkatransport: a transaction is already open")
)

// NewTxnProducer creates the producer's client and initialises its
// producer id, which fences every earlier producer of transactionalID: the
// cluster aborts their open transaction (waiting for that to finish) and
// refuses their later requests.
func (t *Transport) NewTxnProducer(ctx context.Context, transactionalID string) (transport.TxnProducer, error) {
	if transactionalID == "" {
		return nil, errors.New("kafkatransport: transactional producer needs an id")
	}
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	opts := append(t.cfg.baseOpts(),
		kgo.TransactionalID(transactionalID),
		kgo.TransactionTimeout(t.cfg.TransactionTimeout),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(partitioner()),
		kgo.ProducerLinger(0),
		kgo.MaxVersions(txnVersions()),
	)
	cl, err := kgo.NewClient(append(opts, t.cfg.Opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafkatransport: %w", err)
	}
	p := &TxnProducer{t: t, id: transactionalID, cl: cl}
	if _, _, err := cl.ProducerID(ctx); err != nil {
		cl.Close()
		return nil, p.wrap("init producer id", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		cl.Close()
		return nil, transport.ErrClosed
	}
	t.mu.producers[p] = struct{}{}
	return p, nil
}

// isFenced says whether err means that the producer's epoch is no longer
// the transactional id's.
func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}

// wrap describes err and marks it: transport.ErrFenced (remembered: the
// producer is done), transport.ErrClosed, or the transport's other
// sentinels.
func (p *TxnProducer) wrap(what string, err error) error {
	if isFenced(err) {
		err = fmt.Errorf("kafkatransport: transactional id %q: %s: %w: %w", p.id, what, transport.ErrFenced, err)
		if p.fenced == nil {
			p.fenced = err
		}
		return err
	}
	if p.released.Load() && !errors.Is(err, transport.ErrClosed) {
		return fmt.Errorf("kafkatransport: transactional id %q: %s: %w: %w", p.id, what, transport.ErrClosed, err)
	}
	return mapError(fmt.Errorf("kafkatransport: transactional id %q: %s: %w", p.id, what, err))
}

// usable is the check every call starts with.
func (p *TxnProducer) usable() error {
	switch {
	case p.released.Load():
		return transport.ErrClosed
	case p.fenced != nil:
		return p.fenced
	}
	return nil
}

// Begin starts a transaction, first aborting one an earlier Commit or
// Abort left of unknown outcome.
func (p *TxnProducer) Begin(ctx context.Context) error {
	p.busy.Lock()
	defer p.busy.Unlock()
	if err := p.usable(); err != nil {
		return err
	}
	if p.open {
		return errTxnOpen
	}
	if err := p.resolve(ctx); err != nil {
		return err
	}
	if err := p.cl.BeginTransaction(); err != nil {
		return p.wrap("begin", err)
	}
	p.open, p.produced, p.failed = true, false, nil
	return nil
}

// resolve aborts what an end of unknown outcome may have left open.
func (p *TxnProducer) resolve(ctx context.Context) error {
	if !p.unresolved {
		return nil
	}
	// kgo kept the transaction it failed to end; aborting it re-initialises
	// the producer id if the failure left it unknown (which aborts on the
	// cluster whatever is still open).
	if err := p.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return p.wrap("abort the transaction of unknown outcome", err)
	}
	if p.rawOpen {
		if err := p.endTxn(ctx, false); err != nil && !errors.Is(err, kerr.InvalidTxnState) {
			// INVALID_TXN_STATE: it was not open (committed, or never
			// started).
			return p.wrap("abort the transaction of unknown outcome", err)
		}
		p.rawOpen = false
	}
	p.unresolved = false
	return nil
}

// Produce writes records in the open transaction. After an error the
// transaction can only be aborted (Commit refuses it), as the Java client
// does: some records may be in it, others not.
func (p *TxnProducer) Produce(ctx context.Context, records []*transport.Record) error {
	p.busy.Lock()
	defer p.busy.Unlock()
	if err := p.usable(); err != nil {
		return err
	}
	if !p.open {
		return errNoTxn
	}
	if len(records) == 0 {
		return nil
	}
	p.produced = true
	if err := produceSync(ctx, p.cl, records); err != nil {
		err = p.wrap("produce", err)
		if p.failed == nil {
			p.failed = err
		}
		return err
	}
	return nil
}

// Commit adds offsets for group to the transaction and commits it. Offsets
// may be empty (group is then unused); records need not have been produced.
func (p *TxnProducer) Commit(ctx context.Context, group string, offsets []transport.PartitionOffset) error {
	p.busy.Lock()
	defer p.busy.Unlock()
	if err := p.usable(); err != nil {
		return err
	}
	if !p.open {
		return errNoTxn
	}
	if p.failed != nil {
		err := fmt.Errorf("kafkatransport: transactional id %q: commit refused after a failed produce: %w", p.id, p.failed)
		return errors.Join(err, p.abortLocked(ctx))
	}
	if len(offsets) > 0 {
		if group == "" {
			return errors.New("kafkatransport: commit: offsets without a group")
		}
		if err := p.addOffsets(ctx, group, offsets); err != nil {
			if p.fenced != nil {
				p.open = false
				return err
			}
			return errors.Join(err, p.abortLocked(ctx))
		}
	}
	p.open = false
	if p.produced {
		if err := p.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			p.unresolved = true
			return p.wrap("commit", err)
		}
		p.rawOpen = false
		return nil
	}
	// Nothing produced: kgo has no transaction to end (this is local).
	if err := p.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		p.unresolved = true
		return p.wrap("commit", err)
	}
	if p.rawOpen {
		if err := p.endTxn(ctx, true); err != nil {
			p.unresolved = true
			return p.wrap("commit", err)
		}
		p.rawOpen = false
	}
	return nil
}

// addOffsets adds group's offsets to the open transaction: AddOffsetsToTxn
// to the transaction coordinator, then TxnOffsetCommit to the group's.
func (p *TxnProducer) addOffsets(ctx context.Context, group string, offsets []transport.PartitionOffset) error {
	id, epoch, err := p.cl.ProducerID(ctx)
	if err != nil {
		return p.wrap("add offsets", err)
	}
	if !p.produced {
		// From here the cluster may hold a transaction kgo does not know.
		p.rawOpen = true
	}
	err = retryTxn(ctx, func() error {
		req := kmsg.NewPtrAddOffsetsToTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = p.id, id, epoch, group
		resp, err := req.RequestWith(ctx, p.cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	})
	if err != nil {
		return p.wrap("add offsets of group "+group, err)
	}

	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = p.id, group, id, epoch
	req.Generation = -1 // no member: the transactional id fences
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
		rp.Partition, rp.Offset = o.Partition, o.Offset
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	err = retryTxn(ctx, func() error {
		resp, err := req.RequestWith(ctx, p.cl)
		if err != nil {
			return err
		}
		var errs []error
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					errs = append(errs, fmt.Errorf("%s[%d]: %w", rt.Topic, rp.Partition, err))
				}
			}
		}
		return firstRetriable(errs)
	})
	if err != nil {
		return p.wrap("commit offsets of group "+group, err)
	}
	return nil
}

// firstRetriable joins errs, putting a retriable one first so that retryTxn
// sees it (a response's partitions fail together, for the same reason).
func firstRetriable(errs []error) error {
	for i, err := range errs {
		if kerr.IsRetriable(err) {
			errs[0], errs[i] = errs[i], errs[0]
			break
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// endTxn ends the cluster's transaction with an EndTxn of our own, for a
// transaction kgo does not know of.
func (p *TxnProducer) endTxn(ctx context.Context, commit bool) error {
	id, epoch, err := p.cl.ProducerID(ctx)
	if err != nil {
		return err
	}
	return retryTxn(ctx, func() error {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = p.id, id, epoch, commit
		resp, err := req.RequestWith(ctx, p.cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	})
}

// retryTxn calls fn until it succeeds or fails with an error that is not
// retriable, backing off in between, for at most txnRetryLimit.
func retryTxn(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(txnRetryLimit)
	backoff := txnBackoff
	for {
		err := fn()
		retriable := kerr.IsRetriable(err) || errors.Is(err, kerr.ConcurrentTransactions)
		if err == nil || !retriable || time.Now().After(deadline) {
			return err
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (after %w)", ctx.Err(), err)
		case <-timer.C:
		}
		backoff = min(2*backoff, txnMaxBackoff)
	}
}

// Abort aborts the open transaction. Without one, it aborts a transaction
// an earlier Commit left of unknown outcome, if it is still open, and
// otherwise returns an error.
func (p *TxnProducer) Abort(ctx context.Context) error {
	p.busy.Lock()
	defer p.busy.Unlock()
	if err := p.usable(); err != nil {
		return err
	}
	if !p.open {
		if p.unresolved {
			return p.resolve(ctx)
		}
		return errNoTxn
	}
	return p.abortLocked(ctx)
}

// abortLocked aborts the open transaction; if that fails, the transaction
// is left for the next Begin to abort.
func (p *TxnProducer) abortLocked(ctx context.Context) error {
	p.open, p.failed = false, nil
	if err := p.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		p.unresolved = true
		return p.wrap("abort", err)
	}
	if p.rawOpen {
		if err := p.endTxn(ctx, false); err != nil && !errors.Is(err, kerr.InvalidTxnState) {
			p.unresolved = true
			return p.wrap("abort", err)
		}
		p.rawOpen = false
	}
	return nil
}

// Close aborts the open transaction, if any, or one an earlier Commit left
// of unknown outcome, and closes the client. Resolving an unknown outcome
// waits for the coordinator to finish the transaction, committed or not,
// so that when Close returns nil the group's committed offsets say which.
// A fenced producer has nothing to abort: the newer producer did.
func (p *TxnProducer) Close(ctx context.Context) error {
	p.busy.Lock()
	defer p.busy.Unlock()
	if p.released.Load() {
		return nil
	}
	var err error
	if p.fenced == nil && (p.open || p.unresolved) {
		if p.open {
			err = p.abortLocked(ctx)
		} else {
			err = p.resolve(ctx)
		}
		if errors.Is(err, transport.ErrFenced) {
			err = nil
		}
	}
	p.release()
	return err
}

// release closes the client once and unregisters the producer.
func (p *TxnProducer) release() {
	if p.released.Swap(true) {
		return
	}
	p.t.mu.Lock()
	delete(p.t.mu.producers, p)
	p.t.mu.Unlock()
	p.cl.Close()
}

// abort is Transport.Close's: it aborts the open transaction unless the
// owner is inside a call (it then only closes the client, failing that
// call with transport.ErrClosed, and the cluster aborts the transaction
// after the transaction timeout), and releases the producer.
func (p *TxnProducer) abort() {
	if !p.busy.TryLock() {
		p.release()
		return
	}
	defer p.busy.Unlock()
	if p.fenced == nil && !p.released.Load() && (p.open || p.unresolved) {
		ctx, cancel := context.WithTimeout(context.Background(), txnAbortOnClose)
		if p.open {
			_ = p.abortLocked(ctx)
		} else {
			_ = p.resolve(ctx)
		}
		cancel()
	}
	p.release()
}
