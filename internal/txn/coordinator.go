package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
)

// Groups is what the coordinator needs of the consumer group coordinator
// (internal/group's Coordinator): to take a transaction's offset commits
// and to settle them when the transaction ends.
type Groups interface {
	// Handle serves a TxnOffsetCommit, which records the offsets as
	// pending for the producer.
	Handle(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
	// OffsetsPartition is the offsets-topic partition of group's records,
	// which AddOffsetsToTxn adds to the transaction, as in Kafka.
	OffsetsPartition(group string) (topic string, partition int32)
	// CompleteTransaction makes producerID's pending offsets committed
	// (commit) or drops them, durably; it is idempotent.
	CompleteTransaction(ctx context.Context, producerID int64, commit bool) error
	// PendingTransactions lists the producers with pending offsets.
	PendingTransactions() []int64
}

var _ Groups = (*group.Coordinator)(nil)

// Options configures a Coordinator. The zero value is usable.
type Options struct {
	// Logger receives transaction completions, timeouts and failures.
	// Default: discard.
	Logger *slog.Logger
	// MaxTimeout is Kafka's transaction.max.timeout.ms: InitProducerId
	// with a longer transaction timeout fails with
	// INVALID_TRANSACTION_TIMEOUT. Default 15 minutes, Kafka's.
	MaxTimeout time.Duration
	// StateTopic holds the transactions' state. Default
	// "__transaction_state".
	StateTopic string
	// ProducerIDsTopic holds the reserved producer id blocks. Default
	// "__tide_producer_ids".
	ProducerIDsTopic string
	// Now stamps the state records. Default time.Now. Timeouts run on the
	// real clock regardless.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = 15 * time.Minute
	}
	if o.StateTopic == "" {
		o.StateTopic = DefaultStateTopic
	}
	if o.ProducerIDsTopic == "" {
		o.ProducerIDsTopic = DefaultProducerIDsTopic
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Coordinator is the transaction coordinator of one log, as Apache
// Kafka's TransactionCoordinator for a single node: it maps transactional
// ids to producer ids and epochs, tracks each id's transaction, writes the
// markers that end it and has the group coordinator settle its offsets.
// It also hands out every producer id of the log (NextProducerID).
//
// All methods are safe for concurrent use. Operations on one
// transactional id run one at a time (the entry's lock); different ids do
// not wait for each other.
type Coordinator struct {
	log          *log.Log
	groups       Groups
	opts         Options
	logger       *slog.Logger
	store        *stateStore
	ids          *producerIDs
	offsetsTopic string

	// stop is closed by shutdown; wg counts the goroutines (completion
	// retries, timeouts) that must end before it returns.
	stop chan struct{}
	wg   sync.WaitGroup

	mu struct {
		sync.Mutex
		txns   map[string]*entry
		closed bool
	}
	// refs counts Open calls not yet matched by Close; guarded by
	// registry.mu.
	refs int
	// afterPrepare, set by tests only, runs once a Prepare state is
	// durable, before the markers: a crash test stops the process there.
	afterPrepare func(transactionalID string)
}

// registry holds the coordinator open on each log: one per log, as one
// process owns a data directory, so that the Kafka listener and the
// embedded transport of a node share it however they were wired.
var registry = struct {
	mu   sync.Mutex
	open map[*log.Log]*Coordinator
}{open: make(map[*log.Log]*Coordinator)}

// ErrGroupsMismatch means Open found a coordinator open on the log with
// another group coordinator.
var ErrGroupsMismatch = errors.New("txn: a coordinator is open on this log with another group coordinator")

// Open returns the transaction coordinator of l, opening it if this
// process has none open on l yet: it loads the state topic and, in the
// background, completes every transaction that was prepared (its commit or
// abort decided) but not completed before the last shutdown or crash, and
// arms the timeouts of open ones. A coordinator already open on l is
// shared (opts are then ignored), so the listener and the embedded
// transport agree on every transaction; each Open is matched by a Close,
// and the last Close closes it. groups must be the group coordinator of l.
func Open(l *log.Log, groups Groups, opts Options) (*Coordinator, error) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if c := registry.open[l]; c != nil {
		if c.groups != groups {
			return nil, ErrGroupsMismatch
		}
		c.refs++
		return c, nil
	}
	c, err := open(l, groups, opts.withDefaults())
	if err != nil {
		return nil, err
	}
	c.refs = 1
	registry.open[l] = c
	return c, nil
}

func open(l *log.Log, groups Groups, opts Options) (*Coordinator, error) {
	offsetsTopic, _ := groups.OffsetsPartition("")
	c := &Coordinator{
		log:          l,
		groups:       groups,
		opts:         opts,
		logger:       opts.Logger,
		store:        &stateStore{log: l, name: opts.StateTopic, now: opts.Now},
		ids:          &producerIDs{log: l, name: opts.ProducerIDsTopic},
		offsetsTopic: offsetsTopic,
		stop:         make(chan struct{}),
	}
	c.mu.txns = make(map[string]*entry)
	start := time.Now()
	n, err := c.store.load(func(id string, st *txnState) {
		if st == nil || st.state == Dead {
			delete(c.mu.txns, id)
			return
		}
		e := c.mu.txns[id]
		if e == nil {
			e = &entry{id: id, lastEpoch: noEpoch, lastProducerID: -1}
			c.mu.txns[id] = e
		}
		e.cur = *st
	})
	if err != nil {
		return nil, err
	}
	c.recover()
	if n > 0 {
		c.logger.Info("transaction coordinator loaded its state", "topic", opts.StateTopic,
			"records", n, "transactional_ids", len(c.mu.txns), "took", time.Since(start))
	}
	return c, nil
}

// recover resumes what the last run left: prepared transactions are
// completed (in the background, retried until they are), open ones get
// their timeouts, and pending offsets of transactions the state does not
// know as open or prepared (a state topic lost or deleted) are aborted.
func (c *Coordinator) recover() {
	live := make(map[int64]bool)
	for _, e := range c.mu.txns {
		e.mu.Lock()
		switch e.cur.state {
		case PrepareCommit, PrepareAbort:
			live[e.cur.producerID] = true
			c.logger.Info("completing a transaction prepared before the restart", "transactional_id", e.id,
				"producer_id", e.cur.producerID, "epoch", e.cur.epoch, "state", e.cur.state.String())
			e.completing = true
			c.goLocked(func() { c.retryCompletion(e) })
		case Ongoing:
			live[e.cur.producerID] = true
			c.armTimeoutLocked(e)
		}
		e.mu.Unlock()
	}
	for _, producerID := range c.groups.PendingTransactions() {
		if live[producerID] {
			continue
		}
		c.logger.Warn("aborting transactional offsets of a transaction the coordinator does not know", "producer_id", producerID)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := c.groups.CompleteTransaction(ctx, producerID, false); err != nil {
			c.logger.Error("aborting orphaned transactional offsets failed", "producer_id", producerID, "err", err)
		}
		cancel()
	}
}

// goLocked runs fn on a goroutine that Close waits for, unless the
// coordinator is closed; c.mu is held or the coordinator not yet shared.
func (c *Coordinator) goLocked(fn func()) bool {
	if c.mu.closed {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

func (c *Coordinator) goSafe(fn func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.goLocked(fn)
}

// Close releases this Open. The last Close of a coordinator stops its
// timeouts and completion retries and waits for any transition under way
// (a transaction being completed finishes first); later calls fail with
// ErrClosed. Prepared transactions it could not complete stay prepared
// and are completed by the next Open. Close it before the group
// coordinator and the log.
func (c *Coordinator) Close() error {
	registry.mu.Lock()
	if c.refs <= 0 {
		registry.mu.Unlock()
		return ErrClosed
	}
	c.refs--
	if c.refs > 0 {
		registry.mu.Unlock()
		return nil
	}
	if registry.open[c.log] == c {
		delete(registry.open, c.log)
	}
	registry.mu.Unlock()

	c.mu.Lock()
	c.mu.closed = true
	entries := make([]*entry, 0, len(c.mu.txns))
	for _, e := range c.mu.txns {
		entries = append(entries, e)
	}
	c.mu.Unlock()
	close(c.stop)
	for _, e := range entries {
		e.mu.Lock()
		if e.timer != nil {
			e.timer.Stop()
			e.timer = nil
		}
		e.mu.Unlock()
	}
	c.wg.Wait()
	return nil
}

// NextProducerID returns a producer id for an idempotent producer (Kafka's
// InitProducerId without a transactional id), unique across restarts and
// never one a transactional id has.
func (c *Coordinator) NextProducerID() (int64, error) {
	if err := c.checkOpen(); err != nil {
		return 0, err
	}
	return c.ids.next()
}

func (c *Coordinator) checkOpen() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return ErrClosed
	}
	return nil
}

// lookup returns the entry of id, creating it (in memory only: Empty, no
// epoch, a fresh producer id) when create is set.
func (c *Coordinator) lookup(id string, create bool) (*entry, error) {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if e := c.mu.txns[id]; e != nil || !create {
		c.mu.Unlock()
		if e == nil {
			return nil, ErrInvalidProducerIDMapping
		}
		return e, nil
	}
	c.mu.Unlock()
	// Allocate outside c.mu: a new block is a durable write.
	producerID, err := c.ids.next()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.mu.txns[id]; e != nil { // created meanwhile; the id is wasted, as in Kafka
		return e, nil
	}
	now := c.opts.Now().UnixMilli()
	e := &entry{id: id, lastEpoch: noEpoch, lastProducerID: -1,
		cur: txnState{producerID: producerID, epoch: noEpoch, state: Empty, lastUpdate: now, start: -1}}
	c.mu.txns[id] = e
	return e, nil
}

// Status describes a transactional id, for tests, metrics and admin tools.
type Status struct {
	ProducerID int64
	Epoch      int16
	State      State
	Timeout    time.Duration
	// Partitions are those added to the open or ending transaction.
	Partitions []TopicPartition
}

// Describe returns the status of a transactional id; false if unknown.
func (c *Coordinator) Describe(transactionalID string) (Status, bool) {
	e, err := c.lookup(transactionalID, false)
	if err != nil {
		return Status{}, false
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	return Status{ProducerID: e.cur.producerID, Epoch: e.cur.epoch, State: e.cur.state, Timeout: e.cur.timeout,
		Partitions: append([]TopicPartition(nil), e.cur.partitions...)}, true
}

// transitionLocked writes next as e's state and, once durable, makes it
// current. e.mu is held.
func (c *Coordinator) transitionLocked(e *entry, next txnState) error {
	next.lastUpdate = c.opts.Now().UnixMilli()
	if err := c.store.write(e.id, next); err != nil {
		c.logger.Error("writing transaction state failed", "transactional_id", e.id, "state", next.state.String(), "err", err)
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	was := e.cur.state
	e.cur = next
	switch {
	case next.state == Ongoing && was != Ongoing:
		c.armTimeoutLocked(e)
	case next.state != Ongoing && e.timer != nil:
		e.timer.Stop()
		e.timer = nil
	}
	return nil
}
