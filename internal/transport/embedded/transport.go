package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/txn"
)

// Transport is the in-process transport over a log and its group
// coordinator. It does not own either: the caller opens them before New
// and closes them after Close. All methods are safe for concurrent use.
type Transport struct {
	log    *log.Log
	groups *group.Coordinator
	opts   options
	// txns is the log's transaction coordinator; ownsTxns says New opened
	// it (Close releases it). txnErr is why it could not be opened, which
	// NewTxnProducer reports.
	txns     *txn.Coordinator
	ownsTxns bool
	txnErr   error

	// unkeyed spreads records without a key or partition round-robin.
	unkeyed atomic.Uint32

	mu struct {
		sync.Mutex
		closed    bool
		consumers map[*Consumer]struct{}
	}
}

var _ transport.Transport = (*Transport)(nil)

type options struct {
	clientID          string
	logger            *slog.Logger
	defaultPartitions int32
	sessionTimeout    time.Duration
	rebalanceTimeout  time.Duration
	heartbeatInterval time.Duration
	fetchBytes        int
	bufferedBytes     int
	txns              *txn.Coordinator
	txnTimeout        time.Duration
}

// Option configures New.
type Option func(*options)

// WithClientID sets the client id the consumers' members are named after
// (member ids are "<client id>-<uuid>", as Kafka's) and that DescribeGroups
// reports. Default "tide-embedded".
func WithClientID(id string) Option { return func(o *options) { o.clientID = id } }

// WithLogger sets the logger for membership changes (Debug) and failures
// (Warn). Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithDefaultPartitions sets the partition count of CreateTopic with
// Partitions <= 0. Default 1, Kafka's num.partitions.
func WithDefaultPartitions(n int32) Option { return func(o *options) { o.defaultPartitions = n } }

// WithSessionTimeout sets the consumers' session timeout: how long the
// coordinator keeps a member that stopped heartbeating (a crashed process;
// a closed consumer leaves at once). It must lie within the coordinator's
// bounds (group.Options.MinSessionTimeout, 6s by default). Default 45s,
// Kafka's session.timeout.ms.
func WithSessionTimeout(d time.Duration) Option { return func(o *options) { o.sessionTimeout = d } }

// WithRebalanceTimeout sets how long a rebalance waits for every member to
// rejoin, which bounds how long an owner may go between polls while a
// rebalance is pending (Kafka's max.poll.interval.ms). Default 60s.
func WithRebalanceTimeout(d time.Duration) Option { return func(o *options) { o.rebalanceTimeout = d } }

// WithHeartbeatInterval sets how often consumers heartbeat, which is also
// how soon they notice a rebalance. Heartbeats are in-process calls, so
// the default, 500ms, is shorter than Kafka's 3s.
func WithHeartbeatInterval(d time.Duration) Option {
	return func(o *options) { o.heartbeatInterval = d }
}

// WithFetchBytes sets how many bytes a consumer reads from one partition
// at a time (Kafka's max.partition.fetch.bytes; a larger first batch is
// still read whole). Default 1 MiB.
func WithFetchBytes(n int) Option { return func(o *options) { o.fetchBytes = n } }

// WithBufferedBytes caps the bytes a consumer holds read but not yet
// returned by Poll, over all its partitions. Default 16 MiB.
func WithBufferedBytes(n int) Option { return func(o *options) { o.bufferedBytes = n } }

// WithTransactions sets the transaction coordinator of the log, which the
// node's Kafka listener shares. Without it New opens (or shares, through
// txn.Open) the log's own, and Close releases it.
func WithTransactions(c *txn.Coordinator) Option { return func(o *options) { o.txns = c } }

// WithTransactionTimeout sets the transaction timeout of the producers
// NewTxnProducer returns: the coordinator aborts a transaction still open
// that long after it began (a producer that hangs or died), fencing the
// producer. Default 60s, Kafka's transaction.timeout.ms.
func WithTransactionTimeout(d time.Duration) Option { return func(o *options) { o.txnTimeout = d } }

// New returns a transport over l and groups. groups must be the
// coordinator serving l (its offsets topic lives in l).
func New(l *log.Log, groups *group.Coordinator, opts ...Option) *Transport {
	o := options{
		clientID:          "tide-embedded",
		defaultPartitions: 1,
		sessionTimeout:    45 * time.Second,
		rebalanceTimeout:  60 * time.Second,
		heartbeatInterval: 500 * time.Millisecond,
		fetchBytes:        1 << 20,
		bufferedBytes:     16 << 20,
		txnTimeout:        60 * time.Second,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	o.defaultPartitions = max(o.defaultPartitions, 1)
	o.fetchBytes = max(o.fetchBytes, 1)
	o.bufferedBytes = max(o.bufferedBytes, o.fetchBytes)
	t := &Transport{log: l, groups: groups, opts: o, txns: o.txns}
	if t.txns == nil {
		// Opened at once, not at the first NewTxnProducer: it completes
		// the transactions a crash left prepared and times out open ones,
		// without which read_committed consumers would wait for them.
		t.txns, t.txnErr = txn.Open(l, groups, txn.Options{Logger: o.logger})
		t.ownsTxns = t.txnErr == nil
		if t.txnErr != nil {
			o.logger.Warn("transactions unavailable", "err", t.txnErr)
		}
	}
	t.mu.consumers = make(map[*Consumer]struct{})
	return t
}

// Name returns "embedded".
func (t *Transport) Name() string { return "embedded" }

func (t *Transport) checkOpen() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return transport.ErrClosed
	}
	return nil
}

// CreateTopic creates a topic in the log.
func (t *Transport) CreateTopic(_ context.Context, spec transport.TopicSpec) error {
	if err := t.checkOpen(); err != nil {
		return err
	}
	n := spec.Partitions
	if n <= 0 {
		n = t.opts.defaultPartitions
	}
	if _, err := t.log.CreateTopic(spec.Name, n, maps.Clone(spec.Configs)); err != nil {
		return mapLogError(fmt.Errorf("embedded: create topic %q: %w", spec.Name, err))
	}
	return nil
}

// DeleteTopic deletes a topic and, as Kafka does, every group's committed
// offsets for it. Internal topics ("__" prefix) cannot be deleted, but
// for a stateful pipeline's ("__tide." prefix: its repartition and
// changelog topics), which DROP SINK deletes.
func (t *Transport) DeleteTopic(_ context.Context, name string) error {
	if err := t.checkOpen(); err != nil {
		return err
	}
	if strings.HasPrefix(name, "__") && !strings.HasPrefix(name, "__tide.") {
		return fmt.Errorf("embedded: delete topic %q: internal topics cannot be deleted", name)
	}
	if err := t.log.DeleteTopic(name); err != nil {
		return mapLogError(fmt.Errorf("embedded: delete topic %q: %w", name, err))
	}
	if err := t.groups.DeleteTopicOffsets(name); err != nil {
		t.opts.logger.Warn("dropping committed offsets of deleted topic", "topic", name, "err", err)
	}
	return nil
}

// Topic describes one topic.
func (t *Transport) Topic(_ context.Context, name string) (transport.TopicInfo, error) {
	if err := t.checkOpen(); err != nil {
		return transport.TopicInfo{}, err
	}
	topic, err := t.log.Topic(name)
	if err != nil {
		return transport.TopicInfo{}, mapLogError(fmt.Errorf("embedded: topic %q: %w", name, err))
	}
	return topicInfo(topic), nil
}

// Topics lists the topics, sorted, without internal ones.
func (t *Transport) Topics(context.Context) ([]transport.TopicInfo, error) {
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	var infos []transport.TopicInfo
	for _, topic := range t.log.Topics() { // sorted by name
		if !strings.HasPrefix(topic.Name(), "__") {
			infos = append(infos, topicInfo(topic))
		}
	}
	return infos, nil
}

func topicInfo(t *log.Topic) transport.TopicInfo {
	return transport.TopicInfo{Name: t.Name(), Partitions: t.NumPartitions(), Configs: t.Overrides()}
}

// EndOffsets returns each partition's high watermark.
func (t *Transport) EndOffsets(_ context.Context, name string) (map[int32]int64, error) {
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	topic, err := t.log.Topic(name)
	if err != nil {
		return nil, mapLogError(fmt.Errorf("embedded: end offsets of %q: %w", name, err))
	}
	ends := make(map[int32]int64, topic.NumPartitions())
	for _, p := range topic.Partitions() {
		ends[p.ID()] = p.Offsets().HighWatermark
	}
	return ends, nil
}

// StartOffsets implements transport.Transport.
func (t *Transport) StartOffsets(_ context.Context, name string) (map[int32]int64, error) {
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	topic, err := t.log.Topic(name)
	if err != nil {
		return nil, mapLogError(fmt.Errorf("embedded: start offsets of %q: %w", name, err))
	}
	starts := make(map[int32]int64, topic.NumPartitions())
	for _, p := range topic.Partitions() {
		starts[p.ID()] = p.Offsets().LogStart
	}
	return starts, nil
}

// DeleteRecords moves each partition's log start (log.Partition's
// DeleteRecordsBefore).
func (t *Transport) DeleteRecords(_ context.Context, offsets []transport.PartitionOffset) error {
	if err := t.checkOpen(); err != nil {
		return err
	}
	for _, po := range offsets {
		topic, err := t.log.Topic(po.Topic)
		if err != nil {
			return mapLogError(fmt.Errorf("embedded: delete records of %q: %w", po.Topic, err))
		}
		p, err := topic.Partition(po.Partition)
		if err != nil {
			return mapLogError(fmt.Errorf("embedded: delete records of %s[%d]: %w", po.Topic, po.Partition, err))
		}
		if _, err := p.DeleteRecordsBefore(po.Offset); err != nil {
			return mapLogError(fmt.Errorf("embedded: delete records of %s[%d] before %d: %w", po.Topic, po.Partition, po.Offset, err))
		}
	}
	return nil
}

// Close makes every later call fail with transport.ErrClosed and stops the
// consumers still open: they leave their groups without calling OnRevoked
// (their owners should have closed them first), and their Poll returns
// transport.ErrClosed. The log and the coordinator stay open.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.mu.closed {
		t.mu.Unlock()
		return nil
	}
	t.mu.closed = true
	open := make([]*Consumer, 0, len(t.mu.consumers))
	for c := range t.mu.consumers {
		open = append(open, c)
	}
	t.mu.Unlock()
	for _, c := range open {
		c.stop()
	}
	if t.ownsTxns {
		return t.txns.Close()
	}
	return nil
}

func (t *Transport) register(c *Consumer) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return transport.ErrClosed
	}
	t.mu.consumers[c] = struct{}{}
	return nil
}

func (t *Transport) unregister(c *Consumer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.mu.consumers, c)
}

// mapLogError adds the transport's sentinel to the log's errors that have
// one, keeping the log's error in the chain.
func mapLogError(err error) error {
	switch {
	case errors.Is(err, log.ErrUnknownTopic), errors.Is(err, log.ErrUnknownPartition):
		return fmt.Errorf("%w: %w", transport.ErrTopicNotFound, err)
	case errors.Is(err, log.ErrOffsetOutOfRange):
		return fmt.Errorf("%w: %w", transport.ErrOffsetOutOfRange, err)
	case errors.Is(err, log.ErrTopicExists):
		return fmt.Errorf("%w: %w", transport.ErrTopicExists, err)
	case errors.Is(err, log.ErrClosed):
		return fmt.Errorf("%w: %w", transport.ErrClosed, err)
	case errors.Is(err, log.ErrMessageTooLarge):
		return fmt.Errorf("%w: %w", transport.ErrRecordTooLarge, err)
	}
	return err
}
