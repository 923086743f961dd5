package embedded

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/transport"
)

// Consumer is a member of a consumer group of the embedded coordinator.
//
// Three kinds of goroutine share it. The owner calls Poll and Close, one
// at a time; the rebalance callbacks run on it, inside Poll (or Close), as
// the Java consumer runs them inside poll(). The membership goroutine
// (membership.go) joins, syncs, heartbeats and rejoins, and hands
// assignments and revocations to the owner as events. One fetcher
// goroutine per assigned partition (fetch.go) reads and feeds Poll. Commit
// and Committed may be called from anywhere.
type Consumer struct {
	t      *Transport
	opts   transport.ConsumerOptions
	topics []string // sorted, unique
	group  string

	// ctx is the consumer's lifetime: cancelled by stop, it ends the
	// membership goroutine and the fetchers.
	ctx    context.Context
	cancel context.CancelFunc
	// done is closed when the membership goroutine has returned.
	done     chan struct{}
	stopOnce sync.Once
	// workers starts every goroutine of the consumer, and refuses once
	// shutdown has begun.
	workers workers

	// events carries assignments and revocations from the membership
	// goroutine to the owner; results carries records from the fetchers.
	events  chan event
	results chan fetchResult
	budget  *budget
	// free holds fetches' memory that PollRecycle's callers gave back;
	// recycling says the owner polls with PollRecycle.
	free      chan *fetchMemory
	recycling atomic.Bool

	// member is the membership goroutine's identity in the group, which
	// Commit and Close's LeaveGroup use.
	member struct {
		sync.Mutex
		id         string
		generation int32
		fatal      error // set when the group refused us for good
	}
	// epochs holds the leader epoch of the last record Poll returned per
	// partition, committed with its offset as Kafka clients do.
	epochs struct {
		sync.Mutex
		m map[transport.TopicPartition]int32
	}

	// Owned by the owner goroutine (Poll, Close).
	closed   bool
	assigned []transport.TopicPartition
	fetchers *fetcherSet
	// unstarted is set when the fetchers of the assignment could not be
	// started (the committed offsets could not be read): Poll retries.
	unstarted bool
}

var _ transport.RecyclingConsumer = (*Consumer)(nil)

// event is something the owner must act on inside Poll.
type event struct {
	// assign: the partitions of a new generation.
	assign []transport.TopicPartition
	// revoke, when not nil: stop reading everything, call OnRevoked and
	// close it.
	revoke chan struct{}
}

// The request versions the consumer speaks to the coordinator.
const (
	joinVersion         = 9
	syncVersion         = 5
	heartbeatVersion    = 4
	leaveVersion        = 5
	offsetCommitVersion = 8
	offsetFetchVersion  = 8
)

// NewConsumer starts a member of opts.Group. It returns at once; the
// member joins the group in the background, and Poll delivers its first
// assignment (calling OnAssigned) once the group has formed.
func (t *Transport) NewConsumer(_ context.Context, opts transport.ConsumerOptions) (transport.Consumer, error) {
	if opts.Group == "" {
		return nil, errors.New("embedded: consumer needs a group")
	}
	if len(opts.Topics) == 0 {
		return nil, errors.New("embedded: consumer needs topics")
	}
	topics := slices.Clone(opts.Topics)
	slices.Sort(topics)
	topics = slices.Compact(topics)
	ctx, cancel := context.WithCancel(group.WithClient(context.Background(), t.opts.clientID, clientHost))
	c := &Consumer{
		t:       t,
		opts:    opts,
		topics:  topics,
		group:   opts.Group,
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		events:  make(chan event),
		results: make(chan fetchResult),
		free:    make(chan *fetchMemory, freeFetchMemory),
		budget:  newBudget(t.opts.bufferedBytes),
	}
	c.member.generation = -1
	c.epochs.m = make(map[transport.TopicPartition]int32)
	if err := t.register(c); err != nil {
		cancel()
		return nil, err
	}
	c.workers.spawn(func() {
		defer close(c.done)
		c.runMembership()
	})
	return c, nil
}

// clientHost is the host DescribeGroups reports for embedded members;
// Kafka's form is "/" and the client's address.
const clientHost = "/127.0.0.1"

// Poll returns the records available now from the assigned partitions, or
// waits for some. Rebalance callbacks run inside it.
func (c *Consumer) Poll(ctx context.Context) ([]*transport.Record, error) {
	recs, _, err := c.poll(ctx)
	return recs, err
}

// PollRecycle is Poll; done gives the records' memory back for later
// fetches (see transport.RecyclingConsumer).
func (c *Consumer) PollRecycle(ctx context.Context) ([]*transport.Record, func(), error) {
	c.recycling.Store(true)
	recs, mems, err := c.poll(ctx)
	if err != nil {
		return nil, nil, err
	}
	var once atomic.Bool
	return recs, func() {
		if once.Swap(true) {
			return
		}
		for _, m := range mems {
			c.giveBack(m)
		}
	}, nil
}

// poll is Poll, also returning the memory of the fetches it returns.
func (c *Consumer) poll(ctx context.Context) ([]*transport.Record, []*fetchMemory, error) {
	if c.closed {
		return nil, nil, transport.ErrClosed
	}
	for {
		if c.unstarted {
			if err := c.startFetchers(c.assigned); err != nil {
				return nil, nil, err
			}
		}
		// Callbacks first: records of a partition being revoked are not
		// returned once the revocation is known.
		select {
		case ev := <-c.events:
			if err := c.handle(ev); err != nil {
				return nil, nil, err
			}
			continue
		default:
		}
		select {
		case ev := <-c.events:
			if err := c.handle(ev); err != nil {
				return nil, nil, err
			}
		case res := <-c.results:
			recs, mems := c.collect(res)
			return recs, mems, nil
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, nil, transport.ErrClosed
		case <-c.done:
			if err := c.fatal(); err != nil {
				return nil, nil, err
			}
			return nil, nil, transport.ErrClosed
		}
	}
}

// collect returns res's records and whatever else the fetchers have ready.
func (c *Consumer) collect(res fetchResult) ([]*transport.Record, []*fetchMemory) {
	out, mems := res.records, []*fetchMemory{res.mem}
	c.budget.release(res.bytes)
	c.noteEpoch(res)
	for {
		select {
		case more := <-c.results:
			// Appending may write past res.records' length into its own
			// fetch memory's list: the two are given back together.
			out = append(out, more.records...)
			mems = append(mems, more.mem)
			c.budget.release(more.bytes)
			c.noteEpoch(more)
		default:
			return out, mems
		}
	}
}

func (c *Consumer) noteEpoch(res fetchResult) {
	c.epochs.Lock()
	c.epochs.m[res.tp] = res.epoch
	c.epochs.Unlock()
}

// handle acts on an event from the membership goroutine.
func (c *Consumer) handle(ev event) error {
	if ev.revoke != nil {
		c.revokeAll(c.ctx)
		close(ev.revoke)
		return nil
	}
	c.assigned = ev.assign
	if c.opts.OnAssigned != nil && len(ev.assign) > 0 {
		c.opts.OnAssigned(c.ctx, slices.Clone(ev.assign))
	}
	c.unstarted = true
	return c.startFetchers(ev.assign)
}

// revokeAll stops the fetchers and calls OnRevoked for every assigned
// partition.
func (c *Consumer) revokeAll(ctx context.Context) {
	c.fetchers.stop()
	c.fetchers, c.unstarted = nil, false
	held := c.assigned
	c.assigned = nil
	if c.opts.OnRevoked != nil && len(held) > 0 {
		c.opts.OnRevoked(ctx, held)
	}
}

// Commit stores offsets for the group with the member's current
// generation, as a Kafka consumer's OffsetCommit does: it fails (with the
// Kafka error, for example kerr.RebalanceInProgress or
// kerr.IllegalGeneration) once the partitions may belong to someone else.
func (c *Consumer) Commit(ctx context.Context, offsets []transport.PartitionOffset) error {
	if c.ctx.Err() != nil {
		return transport.ErrClosed
	}
	if len(offsets) == 0 {
		return nil
	}
	c.member.Lock()
	id, generation := c.member.id, c.member.generation
	c.member.Unlock()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.SetVersion(offsetCommitVersion)
	req.Group, req.MemberID, req.Generation = c.group, id, generation
	byTopic := map[string]int{}
	c.epochs.Lock()
	for _, o := range offsets {
		i, ok := byTopic[o.Topic]
		if !ok {
			i = len(req.Topics)
			byTopic[o.Topic] = i
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = o.Topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = o.Partition, o.Offset, -1
		if e, ok := c.epochs.m[o.TopicPartition]; ok {
			rp.LeaderEpoch = e
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	c.epochs.Unlock()
	resp, err := c.t.groups.Handle(c.withClient(ctx), req)
	if err != nil {
		return fmt.Errorf("embedded: commit: %w", err)
	}
	var errs []error
	for _, rt := range resp.(*kmsg.OffsetCommitResponse).Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				errs = append(errs, fmt.Errorf("embedded: commit %s[%d]: %w", rt.Topic, rp.Partition, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Committed returns the group's committed offsets for the consumer's
// topics, from the coordinator (what OffsetFetch and Kafka tools see).
func (c *Consumer) Committed(ctx context.Context) (map[transport.TopicPartition]int64, error) {
	if c.ctx.Err() != nil {
		return nil, transport.ErrClosed
	}
	offsets, err := c.fetchCommitted(ctx, c.topics)
	if err != nil {
		return nil, err
	}
	out := make(map[transport.TopicPartition]int64, len(offsets))
	for tp, o := range offsets {
		out[tp] = o.offset
	}
	return out, nil
}

type committedOffset struct {
	offset int64
	epoch  int32
}

// fetchCommitted asks the coordinator for the group's stable offsets of
// topics: while a transaction holds offsets of the group's partitions it
// waits for the transaction to end, as a read_committed Kafka consumer
// does (require_stable), so a consumer never starts from an offset a
// pending commit is about to move.
func (c *Consumer) fetchCommitted(ctx context.Context, topics []string) (map[transport.TopicPartition]committedOffset, error) {
	for {
		out, err := c.fetchCommittedOnce(ctx, topics)
		if !errors.Is(err, kerr.UnstableOffsetCommit) {
			return out, err
		}
		if !sleep(ctx, 20*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

func (c *Consumer) fetchCommittedOnce(ctx context.Context, topics []string) (map[transport.TopicPartition]committedOffset, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.SetVersion(offsetFetchVersion)
	req.RequireStable = true
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = c.group
	for _, name := range topics {
		topic, err := c.t.log.Topic(name)
		if err != nil {
			continue // nothing committed for a topic that is not there
		}
		rt := kmsg.NewOffsetFetchRequestGroupTopic()
		rt.Topic = name
		for id := range topic.NumPartitions() {
			rt.Partitions = append(rt.Partitions, id)
		}
		rg.Topics = append(rg.Topics, rt)
	}
	out := map[transport.TopicPartition]committedOffset{}
	if len(rg.Topics) == 0 {
		return out, nil
	}
	req.Groups = append(req.Groups, rg)
	resp, err := c.t.groups.Handle(c.withClient(ctx), req)
	if err != nil {
		return nil, fmt.Errorf("embedded: committed offsets: %w", err)
	}
	for _, g := range resp.(*kmsg.OffsetFetchResponse).Groups {
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			return nil, fmt.Errorf("embedded: committed offsets of %s: %w", c.group, err)
		}
		for _, rt := range g.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return nil, fmt.Errorf("embedded: committed offset of %s[%d]: %w", rt.Topic, rp.Partition, err)
				}
				if rp.Offset >= 0 {
					out[transport.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}] = committedOffset{rp.Offset, rp.LeaderEpoch}
				}
			}
		}
	}
	return out, nil
}

// Close revokes what the consumer holds (calling OnRevoked while the
// member can still commit), then leaves the group and stops every
// goroutine of the consumer.
func (c *Consumer) Close(ctx context.Context) error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.revokeAll(ctx)
	return c.shutdown(ctx)
}

// stop is Close without the callbacks, for Transport.Close.
func (c *Consumer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.shutdown(ctx)
}

// shutdown ends the membership goroutine and the fetchers and leaves the
// group, once.
func (c *Consumer) shutdown(ctx context.Context) error {
	var err error
	c.stopOnce.Do(func() {
		c.cancel()
		c.workers.wait() // the membership goroutine and every fetcher
		c.t.unregister(c)
		err = c.leave(ctx)
	})
	return err
}

// withClient marks ctx with the consumer's client id, as the listener
// marks requests with the connection's.
func (c *Consumer) withClient(ctx context.Context) context.Context {
	return group.WithClient(ctx, c.t.opts.clientID, clientHost)
}

// workers runs goroutines and waits for them; once wait has begun it
// starts no more.
type workers struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// spawn runs fn on a new goroutine unless wait has begun.
func (w *workers) spawn(fn func()) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		fn()
	}()
	return true
}

// wait refuses new goroutines and waits for the running ones.
func (w *workers) wait() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.wg.Wait()
}

func (c *Consumer) fatal() error {
	c.member.Lock()
	defer c.member.Unlock()
	return c.member.fatal
}
