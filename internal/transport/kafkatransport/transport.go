package kafkatransport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/transport"
)

// Config configures a Transport.
type Config struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// ClientID is the Kafka client id of every connection; consumers'
	// member ids start with it. Default "tide".
	ClientID string
	// Logger receives franz-go's log (at the logger's level) and the
	// transport's warnings. Default: discard.
	Logger *slog.Logger
	// ReplicationFactor of CreateTopic; 0 or -1 means the broker's
	// default.replication.factor.
	ReplicationFactor int16
	// SessionTimeout, RebalanceTimeout and HeartbeatInterval are the
	// consumers' group timings (Kafka's session.timeout.ms,
	// max.poll.interval.ms and heartbeat.interval.ms). Zero means
	// franz-go's defaults: 45s, 60s and 3s. The heartbeat interval is
	// how soon a member notices a rebalance; Kafka brokers refuse
	// session timeouts below group.min.session.timeout.ms (6s).
	SessionTimeout, RebalanceTimeout, HeartbeatInterval time.Duration
	// InstanceID, if set, makes consumers static group members (Kafka's
	// group.instance.id, KIP-345): a process restarted with the same id
	// takes its old member's place and partitions at once instead of
	// waiting for the session timeout and a rebalance. It must be unique
	// among the processes sharing a group; a member that stops for good
	// keeps its partitions until its session times out.
	InstanceID string
	// Balancers are the partition assignors consumers offer, in order of
	// preference. Default range (kgo.RangeBalancer), which the embedded
	// transport also speaks, so both kinds of member can share a group.
	Balancers []kgo.GroupBalancer
	// TransactionTimeout is the transactional producers' transaction
	// timeout (Kafka's transaction.timeout.ms): a transaction open longer
	// is aborted by the cluster, and its producer fenced. It also bounds
	// how long a producer that dies mid-transaction holds back
	// read_committed readers of the partitions it wrote, unless a new
	// producer of its transactional id comes first. Default 20s; Kafka
	// brokers refuse more than transaction.max.timeout.ms (15 minutes).
	TransactionTimeout time.Duration
	// Opts are extra franz-go options for every client (TLS, SASL,
	// fetch sizes); they apply after the transport's own.
	Opts []kgo.Opt
}

// Transport talks to a Kafka cluster: one client produces and
// administers; each consumer has its own client, as each group member
// needs one. All methods are safe for concurrent use.
type Transport struct {
	cfg Config
	cl  *kgo.Client
	adm *kadm.Client

	mu struct {
		sync.Mutex
		closed    bool
		consumers map[*Consumer]struct{}
		producers map[*TxnProducer]struct{}
	}
}

var _ transport.Transport = (*Transport)(nil)

// New connects to the cluster (it fails if no seed broker answers within
// ctx).
func New(ctx context.Context, cfg Config) (*Transport, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafkatransport: no brokers")
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "tide"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Balancers) == 0 {
		cfg.Balancers = []kgo.GroupBalancer{kgo.RangeBalancer()}
	}
	if cfg.TransactionTimeout <= 0 {
		cfg.TransactionTimeout = defaultTransactionTimeout
	}
	opts := append(cfg.baseOpts(),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent by default
		kgo.RecordPartitioner(partitioner()),
		kgo.ProducerLinger(0), // Produce is synchronous: nothing to wait for
	)
	cl, err := kgo.NewClient(append(opts, cfg.Opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafkatransport: %w", err)
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("kafkatransport: no broker answers at %v: %w", cfg.Brokers, err)
	}
	t := &Transport{cfg: cfg, cl: cl, adm: kadm.NewClient(cl)}
	t.mu.consumers = make(map[*Consumer]struct{})
	t.mu.producers = make(map[*TxnProducer]struct{})
	return t, nil
}

// baseOpts are the options of every client of the transport.
func (cfg *Config) baseOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.WithLogger(logger{cfg.Logger}),
		// Kafka answers CreateTopics before every broker's metadata has
		// the topic; kgo's default 5s before asking again is too long.
		kgo.MetadataMinAge(100 * time.Millisecond),
	}
}

// Name returns "kafka".
func (t *Transport) Name() string { return "kafka" }

func (t *Transport) checkOpen() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return transport.ErrClosed
	}
	return nil
}

// CreateTopic creates a topic and waits until the cluster's metadata lists
// it with a leader for every partition, so that it can be used at once.
func (t *Transport) CreateTopic(ctx context.Context, spec transport.TopicSpec) error {
	if err := t.checkOpen(); err != nil {
		return err
	}
	partitions := spec.Partitions
	if partitions <= 0 {
		partitions = -1 // the broker's num.partitions
	}
	rf := t.cfg.ReplicationFactor
	if rf <= 0 {
		rf = -1
	}
	configs := make(map[string]*string, len(spec.Configs))
	for k, v := range spec.Configs {
		configs[k] = &v
	}
	resp, err := t.adm.CreateTopic(ctx, partitions, rf, configs, spec.Name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return mapError(fmt.Errorf("kafkatransport: create topic %q: %w", spec.Name, err))
	}
	return t.waitMetadata(ctx, spec.Name, func(td kadm.TopicDetail, ok bool) bool {
		if !ok || td.Err != nil || len(td.Partitions) == 0 || (partitions > 0 && int32(len(td.Partitions)) != partitions) {
			return false
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false
			}
		}
		return true
	})
}

// DeleteTopic deletes a topic and waits (a little) until the metadata no
// longer lists it.
func (t *Transport) DeleteTopic(ctx context.Context, name string) error {
	if err := t.checkOpen(); err != nil {
		return err
	}
	resp, err := t.adm.DeleteTopic(ctx, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return mapError(fmt.Errorf("kafkatransport: delete topic %q: %w", name, err))
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := t.waitMetadata(wctx, name, func(_ kadm.TopicDetail, ok bool) bool { return !ok }); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// waitMetadata polls the metadata of topic until done holds.
func (t *Transport) waitMetadata(ctx context.Context, topic string, done func(td kadm.TopicDetail, ok bool) bool) error {
	for {
		md, err := t.adm.Metadata(ctx, topic)
		if err == nil {
			td, ok := md.Topics[topic]
			if ok && errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
				ok = false
			}
			if done(td, ok) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkatransport: waiting for metadata of %q: %w", topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Topic describes one topic, with its configs set on the topic (Kafka's
// DYNAMIC_TOPIC_CONFIG source).
func (t *Transport) Topic(ctx context.Context, name string) (transport.TopicInfo, error) {
	infos, err := t.describe(ctx, []string{name})
	if err != nil {
		return transport.TopicInfo{}, err
	}
	if len(infos) == 0 {
		return transport.TopicInfo{}, fmt.Errorf("kafkatransport: topic %q: %w", name, transport.ErrTopicNotFound)
	}
	return infos[0], nil
}

// Topics lists every topic but internal ones, sorted by name.
func (t *Transport) Topics(ctx context.Context) ([]transport.TopicInfo, error) {
	return t.describe(ctx, nil)
}

// describe lists the named topics (all when names is nil) that exist,
// with their configs, sorted.
func (t *Transport) describe(ctx context.Context, names []string) ([]transport.TopicInfo, error) {
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	details, err := t.adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("kafkatransport: list topics: %w", err)
	}
	var infos []transport.TopicInfo
	for _, td := range details.Sorted() {
		if names == nil && (td.IsInternal || strings.HasPrefix(td.Topic, "__")) {
			continue // Topics lists users' topics; Topic(name) finds any
		}
		if td.Err != nil {
			if errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
				continue
			}
			return nil, fmt.Errorf("kafkatransport: topic %q: %w", td.Topic, td.Err)
		}
		infos = append(infos, transport.TopicInfo{Name: td.Topic, Partitions: int32(len(td.Partitions)), Configs: map[string]string{}})
	}
	if len(infos) == 0 {
		return infos, nil
	}
	topics := make([]string, len(infos))
	for i, ti := range infos {
		topics[i] = ti.Name
	}
	rcs, err := t.adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return nil, mapError(fmt.Errorf("kafkatransport: describe configs: %w", err))
	}
	for _, rc := range rcs {
		i, ok := slices.BinarySearchFunc(infos, rc.Name, func(ti transport.TopicInfo, name string) int { return strings.Compare(ti.Name, name) })
		if !ok {
			continue
		}
		if rc.Err != nil {
			if errors.Is(rc.Err, kerr.UnknownTopicOrPartition) {
				continue // deleted meanwhile
			}
			return nil, fmt.Errorf("kafkatransport: configs of %q: %w", rc.Name, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil {
				infos[i].Configs[c.Key] = *c.Value
			}
		}
	}
	return infos, nil
}

// EndOffsets returns each partition's high watermark.
func (t *Transport) EndOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	listed, err := t.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, mapError(fmt.Errorf("kafkatransport: end offsets of %q: %w", topic, err))
	}
	parts, ok := listed[topic]
	if !ok || len(parts) == 0 {
		return nil, fmt.Errorf("kafkatransport: end offsets of %q: %w", topic, transport.ErrTopicNotFound)
	}
	ends := make(map[int32]int64, len(parts))
	for p, lo := range parts {
		if lo.Err != nil {
			return nil, mapError(fmt.Errorf("kafkatransport: end offset of %s[%d]: %w", topic, p, lo.Err))
		}
		ends[p] = lo.Offset
	}
	return ends, nil
}

// StartOffsets implements transport.Transport.
func (t *Transport) StartOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	listed, err := t.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, mapError(fmt.Errorf("kafkatransport: start offsets of %q: %w", topic, err))
	}
	parts, ok := listed[topic]
	if !ok || len(parts) == 0 {
		return nil, fmt.Errorf("kafkatransport: start offsets of %q: %w", topic, transport.ErrTopicNotFound)
	}
	starts := make(map[int32]int64, len(parts))
	for p, lo := range parts {
		if lo.Err != nil {
			return nil, mapError(fmt.Errorf("kafkatransport: start offset of %s[%d]: %w", topic, p, lo.Err))
		}
		starts[p] = lo.Offset
	}
	return starts, nil
}

// DeleteRecords sends one DeleteRecords request per partition leader
// (kadm).
func (t *Transport) DeleteRecords(ctx context.Context, offsets []transport.PartitionOffset) error {
	if err := t.checkOpen(); err != nil {
		return err
	}
	var req kadm.Offsets
	for _, po := range offsets {
		req.Add(kadm.Offset{Topic: po.Topic, Partition: po.Partition, At: po.Offset, LeaderEpoch: -1})
	}
	resps, err := t.adm.DeleteRecords(ctx, req)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return mapError(fmt.Errorf("kafkatransport: delete records: %w", err))
	}
	return nil
}

// Produce writes records with acks=all from an idempotent producer and
// returns when the cluster has acknowledged every one (or one failed).
func (t *Transport) Produce(ctx context.Context, records []*transport.Record) error {
	if err := t.checkOpen(); err != nil {
		return err
	}
	return produceSync(ctx, t.cl, records)
}

// produceSync writes records with cl (the transport's client, or a
// transactional producer's inside its open transaction) and returns when
// every one is acknowledged or failed, setting Partition and Offset (and a
// zero Timestamp) of those written. It returns up to a few of the errors.
func produceSync(ctx context.Context, cl *kgo.Client, records []*transport.Record) error {
	if len(records) == 0 {
		return nil
	}
	krs := make([]kgo.Record, len(records))
	ptrs := make([]*kgo.Record, len(records))
	nh := 0
	for _, r := range records {
		nh += len(r.Headers)
	}
	headers := make([]kgo.RecordHeader, 0, nh) // one slab for all headers
	for i, r := range records {
		kr := &krs[i]
		kr.Topic, kr.Key, kr.Value, kr.Timestamp, kr.Partition = r.Topic, r.Key, r.Value, r.Timestamp, r.Partition
		if len(r.Headers) > 0 {
			start := len(headers)
			for _, h := range r.Headers {
				headers = append(headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
			}
			kr.Headers = headers[start:len(headers):len(headers)]
		}
		ptrs[i] = kr
	}
	// Results come in completion order, not the order given.
	index := make(map[*kgo.Record]int, len(ptrs))
	for i, kr := range ptrs {
		index[kr] = i
	}
	results := cl.ProduceSync(ctx, ptrs...)
	var errs []error
	for _, res := range results {
		if res.Err != nil {
			errs = append(errs, mapError(fmt.Errorf("kafkatransport: produce to %q: %w", res.Record.Topic, res.Err)))
			continue
		}
		r := records[index[res.Record]]
		r.Partition, r.Offset = res.Record.Partition, res.Record.Offset
		if r.Timestamp.IsZero() {
			r.Timestamp = res.Record.Timestamp
		}
	}
	if len(errs) > 4 {
		errs = append(errs[:4], fmt.Errorf("and %d more", len(errs)-4))
	}
	return errors.Join(errs...)
}

// partitioner honours Record.Partition >= 0, places keyed records as
// Kafka's default partitioner does (murmur2) and spreads the rest
// round-robin, as the embedded transport does.
func partitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
		var next atomic.Uint32
		return func(r *kgo.Record, n int) int {
			switch {
			case r.Partition >= 0:
				return int(r.Partition) // out of range fails the record
			case r.Key != nil:
				return int(record.PartitionForKey(r.Key, int32(n)))
			default:
				return int((next.Add(1) - 1) % uint32(n))
			}
		}
	})
}

// Close closes the producing client and stops the consumers and
// transactional producers still open (their owners should have closed
// them first): consumers leave their groups without calling their
// callbacks, producers abort their open transaction, and later calls of
// either return transport.ErrClosed.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.mu.closed {
		t.mu.Unlock()
		return nil
	}
	t.mu.closed = true
	consumers := make([]*Consumer, 0, len(t.mu.consumers))
	for c := range t.mu.consumers {
		consumers = append(consumers, c)
	}
	producers := make([]*TxnProducer, 0, len(t.mu.producers))
	for p := range t.mu.producers {
		producers = append(producers, p)
	}
	t.mu.Unlock()
	for _, c := range consumers {
		c.abort()
	}
	for _, p := range producers {
		p.abort()
	}
	t.cl.Close()
	return nil
}

// mapError adds the transport's sentinels to the Kafka errors that have one.
func mapError(err error) error {
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return fmt.Errorf("%w: %w", transport.ErrTopicNotFound, err)
	case errors.Is(err, kerr.OffsetOutOfRange):
		return fmt.Errorf("%w: %w", transport.ErrOffsetOutOfRange, err)
	case errors.Is(err, kerr.TopicAlreadyExists):
		return fmt.Errorf("%w: %w", transport.ErrTopicExists, err)
	case errors.Is(err, kgo.ErrClientClosed):
		return fmt.Errorf("%w: %w", transport.ErrClosed, err)
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return fmt.Errorf("%w: %w", transport.ErrRecordTooLarge, err)
	}
	return err
}

// logger sends franz-go's log to slog.
type logger struct{ l *slog.Logger }

func (l logger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case l.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelDebug
	case l.l.Enabled(ctx, slog.LevelInfo):
		return kgo.LogLevelInfo
	case l.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	case l.l.Enabled(ctx, slog.LevelError):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

func (l logger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lvl = slog.LevelError
	case kgo.LogLevelWarn:
		lvl = slog.LevelWarn
	case kgo.LogLevelInfo:
		lvl = slog.LevelInfo
	}
	l.l.Log(context.Background(), lvl, "kgo: "+msg, keyvals...)
}
