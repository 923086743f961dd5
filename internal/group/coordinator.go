package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
)

// DefaultOffsetsTopic is Kafka's name for the committed-offsets topic.
const DefaultOffsetsTopic = "__consumer_offsets"

// Kafka's broker settings that Tide does not expose.
const (
	// maxMetadataBytes is offset.metadata.max.bytes.
	maxMetadataBytes = 4096
	// newMemberJoinTimeout is group.new.member.join.timeout: how long a
	// member's first JoinGroup may wait in a rebalance before the member
	// is dropped (it cannot heartbeat yet).
	newMemberJoinTimeout = 5 * time.Minute
	// emptyGroupRetention is how long a group with neither members nor
	// committed offsets lingers (visible to DescribeGroups and ListGroups
	// as Empty) before it is forgotten; Kafka removes such groups on its
	// next offsets.retention.check.interval.ms pass, 10 minutes.
	emptyGroupRetention = 10 * time.Minute
)

// Options configures a Coordinator. The zero value is usable.
type Options struct {
	// OffsetsTopic holds committed offsets; created compacted with one
	// partition if missing. Default "__consumer_offsets". One partition is
	// enough on a single node: Kafka's 50 spread coordinator load over
	// brokers, and here there is one process; concurrent commits of all
	// groups share fsyncs through the log's group commit. A topic created
	// beforehand with more partitions works: groups map to partitions as
	// in Kafka (hash of the group id).
	OffsetsTopic string
	// Logger receives membership changes (Info) and storage failures
	// (Error). Default: discard.
	Logger *slog.Logger
	// Now stamps commits (the commit timestamp stored with each offset and
	// the record timestamp compaction uses). Default time.Now. Session,
	// rebalance and sync timers run on the real clock regardless: tests
	// shorten them with MinSessionTimeout and short client timeouts.
	Now func() time.Time
	// MinSessionTimeout and MaxSessionTimeout bound the session timeout a
	// member may ask for (Kafka's group.min.session.timeout.ms and
	// group.max.session.timeout.ms); JoinGroup outside them fails with
	// INVALID_SESSION_TIMEOUT. Defaults 6s and 30m, Kafka's.
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// InitialRebalanceDelay is Kafka's group.initial.rebalance.delay.ms:
	// how long the first rebalance of an empty group waits for more
	// members, extended by each new member up to the rebalance timeout.
	// Default 0, not Kafka's 3s: the delay batches the joins of a consumer
	// fleet starting at once into one rebalance, which matters on a busy
	// cluster; on a single node an extra quick rebalance is cheap, and
	// the common single consumer (kcat, a test) starts 3s sooner.
	InitialRebalanceDelay time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.OffsetsTopic == "" {
		o.OffsetsTopic = DefaultOffsetsTopic
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MinSessionTimeout == 0 {
		o.MinSessionTimeout = 6 * time.Second
	}
	if o.MaxSessionTimeout == 0 {
		o.MaxSessionTimeout = 30 * time.Minute
	}
	switch {
	case o.MinSessionTimeout < 0 || o.MaxSessionTimeout < o.MinSessionTimeout:
		return o, fmt.Errorf("group: session timeout bounds [%v, %v] are not a range", o.MinSessionTimeout, o.MaxSessionTimeout)
	case o.InitialRebalanceDelay < 0:
		return o, fmt.Errorf("group: negative initial rebalance delay %v", o.InitialRebalanceDelay)
	}
	return o, nil
}

// Coordinator is a classic-protocol consumer group coordinator, as Apache
// Kafka's GroupCoordinator: membership, rebalances and committed offsets.
//
// Each group's state is owned by one goroutine fed through a channel; the
// Coordinator's own mutex guards only the map from group name to group.
// All methods are safe for concurrent use.
type Coordinator struct {
	log    *log.Log
	store  *offsetStore
	opts   Options
	logger *slog.Logger
	// emptyGroupRetention is a field so that tests can shorten it.
	emptyGroupRetention time.Duration

	// stop is closed by Close; every group goroutine watches it.
	stop chan struct{}
	wg   sync.WaitGroup

	mu struct {
		sync.Mutex
		groups map[string]*group
		closed bool
		// txnGroups indexes the groups holding pending transactional
		// offsets by producer id, so that a transaction's end finds its
		// groups without visiting every group. Group goroutines keep it
		// up to date.
		txnGroups map[int64]map[string]struct{}
	}
}

// NewCoordinator opens (creating if needed) the offsets topic in l and
// loads the committed offsets it holds. Close the coordinator before l.
func NewCoordinator(l *log.Log, opts Options) (*Coordinator, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	store, err := openStore(l, opts.OffsetsTopic, opts.Now, opts.Logger)
	if err != nil {
		return nil, err
	}
	c := &Coordinator{
		log:                 l,
		store:               store,
		opts:                opts,
		logger:              opts.Logger,
		emptyGroupRetention: emptyGroupRetention,
		stop:                make(chan struct{}),
	}
	c.mu.groups = make(map[string]*group)
	c.mu.txnGroups = make(map[int64]map[string]struct{})

	offsets := make(map[string]map[string]map[int32]committedOffset)
	pending := make(map[string]txnOffsets)
	start := time.Now()
	n, err := store.load(func(k offsetKey, v *committedOffset) {
		topics := offsets[k.group]
		if v == nil {
			if parts := topics[k.topic]; parts != nil {
				delete(parts, k.partition)
				if len(parts) == 0 {
					delete(topics, k.topic)
				}
			}
			return
		}
		if topics == nil {
			topics = make(map[string]map[int32]committedOffset)
			offsets[k.group] = topics
		}
		if topics[k.topic] == nil {
			topics[k.topic] = make(map[int32]committedOffset)
		}
		topics[k.topic][k.partition] = *v
	}, func(producerID int64, k offsetKey, v *committedOffset) {
		if pending[k.group] == nil {
			pending[k.group] = make(txnOffsets)
		}
		pending[k.group].set(producerID, k, v)
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	for name, topics := range offsets {
		if len(topics) == 0 && len(pending[name]) == 0 {
			continue
		}
		g := newGroup(c, name)
		if topics != nil {
			g.offsets = topics
		}
		c.mu.groups[name] = g
	}
	for name, txns := range pending {
		if len(txns) == 0 {
			continue
		}
		g := c.mu.groups[name]
		if g == nil {
			g = newGroup(c, name)
			c.mu.groups[name] = g
		}
		g.txnOffsets = txns
		for producerID := range txns {
			c.indexTxnLocked(producerID, name, true)
		}
	}
	for _, g := range c.mu.groups {
		c.startLocked(g)
	}
	groups := len(c.mu.groups)
	c.mu.Unlock()
	c.logger.Info("group coordinator loaded committed offsets", "topic", opts.OffsetsTopic,
		"records", n, "groups", groups, "took", time.Since(start))
	return c, nil
}

// Close stops every group. Requests waiting in a rebalance are answered
// with NOT_COORDINATOR; requests arriving afterwards with
// COORDINATOR_NOT_AVAILABLE. A commit being written completes first.
// Close must be called before the log is closed.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.mu.closed = true
	c.mu.Unlock()
	close(c.stop)
	c.wg.Wait()
	return nil
}

// startLocked starts g's goroutine. c.mu must be held and the coordinator
// open, so that Close's Wait covers every goroutine.
func (c *Coordinator) startLocked(g *group) {
	c.wg.Add(1)
	go g.run()
}

// lookup returns the named group, creating it if create is set. It fails
// with ErrClosed or errNoGroup.
func (c *Coordinator) lookup(name string, create bool) (*group, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return nil, ErrClosed
	}
	if g := c.mu.groups[name]; g != nil {
		return g, nil
	}
	if !create {
		return nil, errNoGroup
	}
	g := newGroup(c, strings.Clone(name))
	c.mu.groups[g.name] = g
	c.startLocked(g)
	return g, nil
}

// forget removes g from the group map if it is still there.
func (c *Coordinator) forget(g *group) {
	c.mu.Lock()
	if c.mu.groups[g.name] == g {
		delete(c.mu.groups, g.name)
	}
	c.mu.Unlock()
}

// names returns the names of every group, sorted.
func (c *Coordinator) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.mu.groups))
}

// exec runs fn on the named group's goroutine and waits for it to return.
// A group that goes away before taking fn (deleted, forgotten when empty)
// is looked up again. It fails with ErrClosed, errNoGroup (create unset)
// or the context's error.
func (c *Coordinator) exec(ctx context.Context, name string, create bool, fn func(*group)) error {
	ran := make(chan struct{})
	op := func(g *group) func() {
		return func() {
			defer close(ran)
			fn(g)
		}
	}
	for {
		g, err := c.lookup(name, create)
		if err != nil {
			return err
		}
		select {
		case g.ops <- op(g):
		case <-g.done:
			continue
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-ran:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// replyFunc delivers a response to a waiting Handle call. It never blocks
// and only the first call counts.
type replyFunc func(kmsg.Response)

// call runs fn on the named group's goroutine and returns the response fn
// returns or, if fn returns nil (the request is parked, as a JoinGroup
// waiting for the rebalance), the one it later passes to reply.
func (c *Coordinator) call(ctx context.Context, name string, create bool, fn func(g *group, reply replyFunc) kmsg.Response) (kmsg.Response, error) {
	res := make(chan kmsg.Response, 1)
	reply := func(r kmsg.Response) {
		select {
		case res <- r:
		default:
		}
	}
	err := c.exec(ctx, name, create, func(g *group) {
		if r := fn(g, reply); r != nil {
			reply(r)
		}
	})
	if err != nil {
		return nil, err
	}
	select {
	case r := <-res:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// maxVersions are the highest versions Handle serves, per request key.
var maxVersions = map[int16]int16{
	kmsg.OffsetCommit.Int16():   9,
	kmsg.OffsetFetch.Int16():    8,
	kmsg.JoinGroup.Int16():      9,
	kmsg.Heartbeat.Int16():      4,
	kmsg.LeaveGroup.Int16():     5,
	kmsg.SyncGroup.Int16():      5,
	kmsg.DescribeGroups.Int16(): 5,
	kmsg.ListGroups.Int16():     5,
	kmsg.DeleteGroups.Int16():   2,
	kmsg.OffsetDelete.Int16():   0,
	// v4 differs from v3 only in the errors a client understands
	// (TRANSACTION_ABORTABLE, which the transaction coordinator sends);
	// v5 joins the offsets to the transaction implicitly (KIP-890 part 2).
	kmsg.TxnOffsetCommit.Int16(): 4,
}

// Handle serves one classic group request and returns its response, of
// the request's version: JoinGroup (0-9), SyncGroup (0-5), Heartbeat (0-4),
// LeaveGroup (0-5), OffsetCommit (0-9), OffsetFetch (0-8), DescribeGroups
// (0-5), ListGroups (0-5), DeleteGroups (0-2), OffsetDelete (0) and
// TxnOffsetCommit (0-4). A TxnOffsetCommit is taken as it comes: checking
// that its producer's transaction is open and holds the group is the
// transaction coordinator's job, done before it calls Handle (see
// txn_offsets.go).
//
// It blocks as Kafka's coordinator does: JoinGroup until the rebalance's
// join phase completes, SyncGroup until the leader's assignment arrives,
// OffsetCommit until the offsets are durable. Failures that Kafka reports
// in the response (including a closed coordinator) are in the response.
// The error is non-nil only for a request of another kind or version
// (ErrUnsupportedRequest, ErrUnsupportedVersion) or when ctx ends first;
// a request parked in a rebalance stays part of it, as in Kafka, whose
// coordinator cannot see a client go away.
//
// Handle keeps copies of what it retains from req; the caller may reuse
// req's buffers once it returns. Client ID and host for DescribeGroups come
// from WithClient.
func (c *Coordinator) Handle(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	maxVersion, ok := maxVersions[req.Key()]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedRequest, kmsg.NameForKey(req.Key()))
	}
	if v := req.GetVersion(); v < 0 || v > maxVersion {
		return nil, fmt.Errorf("%w: %s v%d (served: 0 to %d)", ErrUnsupportedVersion, kmsg.NameForKey(req.Key()), v, maxVersion)
	}
	var resp kmsg.Response
	var err error
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		resp, err = c.joinGroup(ctx, r)
	case *kmsg.SyncGroupRequest:
		resp, err = c.syncGroup(ctx, r)
	case *kmsg.HeartbeatRequest:
		resp, err = c.heartbeat(ctx, r)
	case *kmsg.LeaveGroupRequest:
		resp, err = c.leaveGroup(ctx, r)
	case *kmsg.OffsetCommitRequest:
		resp, err = c.offsetCommit(ctx, r)
	case *kmsg.OffsetFetchRequest:
		resp, err = c.offsetFetch(ctx, r)
	case *kmsg.DescribeGroupsRequest:
		resp, err = c.describeGroups(ctx, r)
	case *kmsg.ListGroupsRequest:
		resp, err = c.listGroups(ctx, r)
	case *kmsg.DeleteGroupsRequest:
		resp, err = c.deleteGroups(ctx, r)
	case *kmsg.OffsetDeleteRequest:
		resp, err = c.offsetDelete(ctx, r)
	case *kmsg.TxnOffsetCommitRequest:
		resp, err = c.txnOffsetCommit(ctx, r)
	default:
		return nil, fmt.Errorf("%w: %T", ErrUnsupportedRequest, req)
	}
	if errors.Is(err, ErrClosed) {
		resp, err = ErrorResponse(req, kerr.CoordinatorNotAvailable.Code), nil
	}
	if err != nil {
		return nil, err
	}
	resp.SetVersion(req.GetVersion())
	return resp, nil
}

type clientKey struct{}

// ClientInfo identifies the client connection a request came from.
type ClientInfo struct {
	ID   string // the request header's client id
	Host string // Kafka reports "/" + the client's IP address
}

// WithClient returns a context carrying the client id and host of the
// connection a request came from. JoinGroup builds member ids from the
// client id and DescribeGroups reports both; without it they are empty.
func WithClient(ctx context.Context, id, host string) context.Context {
	return context.WithValue(ctx, clientKey{}, ClientInfo{ID: id, Host: host})
}

func clientFrom(ctx context.Context) ClientInfo {
	ci, _ := ctx.Value(clientKey{}).(ClientInfo)
	return ci
}

// Summary describes a group for metrics, the CLI and admin tools.
type Summary struct {
	Group        string
	State        string // Empty, PreparingRebalance, CompletingRebalance, Stable
	ProtocolType string // "consumer" for consumer groups; "" for offsets-only groups
	Protocol     string // the chosen assignor, once a generation has formed
	Generation   int32
	Members      []MemberSummary
}

// MemberSummary describes one member of a group.
type MemberSummary struct {
	MemberID   string
	InstanceID string // group.instance.id of a static member; "" otherwise
	ClientID   string
	ClientHost string
	// Assigned is the member's assignment in the current generation,
	// decoded when the group uses the consumer protocol; nil otherwise.
	Assigned map[string][]int32
}

// Groups returns a summary of every group, sorted by name. The caller owns
// the result.
func (c *Coordinator) Groups() []Summary {
	var out []Summary
	for _, name := range c.names() {
		var s Summary
		var ok bool
		err := c.exec(context.Background(), name, false, func(g *group) {
			s, ok = g.summary(), g.state != stateDead
		})
		if err == nil && ok {
			out = append(out, s)
		}
	}
	return out
}

// CommittedOffsets returns a group's committed offsets, topic to partition
// to offset, or nil if it has none. The caller owns the result.
func (c *Coordinator) CommittedOffsets(groupID string) map[string]map[int32]int64 {
	var out map[string]map[int32]int64
	_ = c.exec(context.Background(), groupID, false, func(g *group) {
		for topic, parts := range g.offsets {
			if out == nil {
				out = make(map[string]map[int32]int64)
			}
			out[topic] = make(map[int32]int64, len(parts))
			for p, o := range parts {
				out[topic][p] = o.offset
			}
		}
	})
	return out
}

// DeleteTopicOffsets drops every group's committed offsets for topic,
// writing tombstones, as Kafka does when a topic is deleted.
func (c *Coordinator) DeleteTopicOffsets(topic string) error {
	var errs []error
	for _, name := range c.names() {
		var werr error
		err := c.exec(context.Background(), name, false, func(g *group) {
			werr = g.deleteOffsets(map[string][]int32{topic: nil})
		})
		if errors.Is(err, errNoGroup) {
			continue
		}
		errs = append(errs, err, werr)
	}
	return errors.Join(errs...)
}

// ResetOffsets sets committed offsets for a group without active members,
// creating the group if needed, as kafka-consumer-groups --reset-offsets
// does: the metadata of each offset is cleared. It fails with
// ErrGroupNotEmpty while the group has members, with ErrInvalidOffset for
// a negative offset, and with log.ErrUnknownTopic or
// log.ErrUnknownPartition (wrapped) for a partition that does not exist.
// Either every offset is stored or none.
func (c *Coordinator) ResetOffsets(ctx context.Context, groupID string, offsets map[string]map[int32]int64) error {
	var entries []storeEntry
	now := c.opts.Now().UnixMilli()
	for _, topic := range slices.Sorted(maps.Keys(offsets)) {
		t, err := c.log.Topic(topic)
		if err != nil {
			return fmt.Errorf("group: reset offsets of %s: %w", groupID, err)
		}
		for _, p := range slices.Sorted(maps.Keys(offsets[topic])) {
			if _, err := t.Partition(p); err != nil {
				return fmt.Errorf("group: reset offsets of %s: %w", groupID, err)
			}
			o := offsets[topic][p]
			if o < 0 {
				return fmt.Errorf("%w: %d for %s-%d", ErrInvalidOffset, o, topic, p)
			}
			entries = append(entries, storeEntry{
				key:   offsetKey{group: groupID, topic: topic, partition: p},
				value: &committedOffset{offset: o, leaderEpoch: -1, commitTime: now},
			})
		}
	}
	if len(entries) == 0 {
		return nil
	}
	var werr error
	err := c.exec(ctx, groupID, true, func(g *group) {
		if g.state != stateEmpty {
			werr = fmt.Errorf("%w: %s is %s with %d members", ErrGroupNotEmpty, groupID, g.state, len(g.members))
			return
		}
		werr = g.storeOffsets(entries)
	})
	return errors.Join(err, werr)
}
