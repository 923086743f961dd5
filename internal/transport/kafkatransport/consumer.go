package kafkatransport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/transport"
)

// Consumer is a Kafka consumer group member: a kgo client of its own with
// BlockRebalanceOnPoll, so that a rebalance waits until the owner is back
// in Poll (Poll allows it first thing) and the callbacks never overlap the
// owner's processing of what Poll returned. The callbacks run on kgo's
// group goroutine while the owner is blocked in Poll, or in Close.
type Consumer struct {
	t      *Transport
	opts   transport.ConsumerOptions
	cl     *kgo.Client
	topics []string

	// silenced turns the callbacks off for an abort (Transport.Close).
	silenced atomic.Bool

	mu struct {
		sync.Mutex
		held map[transport.TopicPartition]bool
		// epochs holds the leader epoch of the last record Poll returned
		// per partition, committed with its offset as Kafka clients do.
		epochs map[transport.TopicPartition]int32
	}

	// Owned by the owner goroutine (Poll, Close).
	closed bool
}

var _ transport.Consumer = (*Consumer)(nil)

// NewConsumer creates the member's client; it joins the group in the
// background, and Poll delivers its first assignment.
func (t *Transport) NewConsumer(_ context.Context, opts transport.ConsumerOptions) (transport.Consumer, error) {
	if opts.Group == "" {
		return nil, errors.New("kafkatransport: consumer needs a group")
	}
	if len(opts.Topics) == 0 {
		return nil, errors.New("kafkatransport: consumer needs topics")
	}
	c := &Consumer{t: t, opts: opts, topics: slices.Clone(opts.Topics)}
	c.mu.held = map[transport.TopicPartition]bool{}
	c.mu.epochs = map[transport.TopicPartition]int32{}
	reset := kgo.NewOffset().AtStart()
	if opts.Start == transport.StartLatest {
		reset = kgo.NewOffset().AtEnd()
	}
	kopts := append(t.cfg.baseOpts(),
		kgo.ConsumerGroup(opts.Group),
		kgo.ConsumeTopics(opts.Topics...),
		kgo.ConsumeResetOffset(reset),
		// Committed records only: an open transaction holds the
		// partition back at its first record, aborted ones are dropped.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.Balancers(t.cfg.Balancers...),
		kgo.OnPartitionsAssigned(c.onAssigned),
		kgo.OnPartitionsRevoked(c.onRevoked),
		kgo.OnPartitionsLost(c.onRevoked),
	)
	if d := t.cfg.SessionTimeout; d > 0 {
		kopts = append(kopts, kgo.SessionTimeout(d))
	}
	if d := t.cfg.RebalanceTimeout; d > 0 {
		kopts = append(kopts, kgo.RebalanceTimeout(d))
	}
	if d := t.cfg.HeartbeatInterval; d > 0 {
		kopts = append(kopts, kgo.HeartbeatInterval(d))
	}
	if t.cfg.InstanceID != "" {
		kopts = append(kopts, kgo.InstanceID(t.cfg.InstanceID))
	}
	cl, err := kgo.NewClient(append(kopts, t.cfg.Opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafkatransport: %w", err)
	}
	c.cl = cl
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		cl.Close()
		return nil, transport.ErrClosed
	}
	t.mu.consumers[c] = struct{}{}
	return c, nil
}

func toTPs(m map[string][]int32) []transport.TopicPartition {
	var out []transport.TopicPartition
	for topic, parts := range m {
		for _, p := range parts {
			out = append(out, transport.TopicPartition{Topic: topic, Partition: p})
		}
	}
	slices.SortFunc(out, func(a, b transport.TopicPartition) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

func (c *Consumer) onAssigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	parts := toTPs(assigned)
	c.mu.Lock()
	for _, tp := range parts {
		c.mu.held[tp] = true
	}
	c.mu.Unlock()
	if c.opts.OnAssigned != nil && len(parts) > 0 && !c.silenced.Load() {
		c.opts.OnAssigned(ctx, parts)
	}
}

// onRevoked serves revocations and losses. kgo also calls it at the end
// of every group session; only partitions held are passed on.
func (c *Consumer) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	c.revoke(ctx, toTPs(revoked))
}

func (c *Consumer) revoke(ctx context.Context, parts []transport.TopicPartition) {
	c.mu.Lock()
	held := parts[:0:0]
	for _, tp := range parts {
		if c.mu.held[tp] {
			held = append(held, tp)
			delete(c.mu.held, tp)
		}
	}
	c.mu.Unlock()
	if c.opts.OnRevoked != nil && len(held) > 0 && !c.silenced.Load() {
		c.opts.OnRevoked(ctx, held)
	}
}

// Poll allows a pending rebalance (the owner is done with the previous
// batch), then waits for records.
func (c *Consumer) Poll(ctx context.Context) ([]*transport.Record, error) {
	if c.closed {
		return nil, transport.ErrClosed
	}
	for {
		c.cl.AllowRebalance()
		fetches := c.cl.PollFetches(ctx)
		if fetches.IsClientClosed() {
			return nil, transport.ErrClosed
		}
		if err := ctx.Err(); err != nil && fetches.NumRecords() == 0 {
			return nil, err
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			// kgo keeps retrying what it can; say what happened.
			c.t.cfg.Logger.Warn("fetch error", "group", c.opts.Group, "topic", topic, "partition", partition, "err", err)
		})
		n := fetches.NumRecords()
		if n == 0 {
			continue
		}
		slab := make([]transport.Record, 0, n)
		out := make([]*transport.Record, 0, n)
		c.mu.Lock()
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			for _, kr := range p.Records {
				r := transport.Record{
					Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset,
					Key: kr.Key, Value: kr.Value, Timestamp: kr.Timestamp,
				}
				if len(kr.Headers) > 0 {
					r.Headers = make([]transport.Header, len(kr.Headers))
					for i, h := range kr.Headers {
						r.Headers[i] = transport.Header{Key: h.Key, Value: h.Value}
					}
				}
				slab = append(slab, r)
				out = append(out, &slab[len(slab)-1])
			}
			last := p.Records[len(p.Records)-1]
			c.mu.epochs[transport.TopicPartition{Topic: p.Topic, Partition: p.Partition}] = last.LeaderEpoch
		})
		c.mu.Unlock()
		return out, nil
	}
}

// Commit commits exactly the given offsets, with the leader epoch of the
// last record polled from each partition, for the member's current
// generation; it fails with the Kafka error (for example
// kerr.RebalanceInProgress or kerr.IllegalGeneration) once the partitions
// may belong to another member.
func (c *Consumer) Commit(ctx context.Context, offsets []transport.PartitionOffset) error {
	if len(offsets) == 0 {
		return nil
	}
	m := map[string]map[int32]kgo.EpochOffset{}
	c.mu.Lock()
	for _, o := range offsets {
		if m[o.Topic] == nil {
			m[o.Topic] = map[int32]kgo.EpochOffset{}
		}
		epoch, ok := c.mu.epochs[o.TopicPartition]
		if !ok {
			epoch = -1
		}
		m[o.Topic][o.Partition] = kgo.EpochOffset{Epoch: epoch, Offset: o.Offset}
	}
	c.mu.Unlock()
	var errs []error
	c.cl.CommitOffsetsSync(ctx, m, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			errs = append(errs, mapError(fmt.Errorf("kafkatransport: commit: %w", err)))
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					errs = append(errs, fmt.Errorf("kafkatransport: commit %s[%d]: %w", t.Topic, p.Partition, err))
				}
			}
		}
	})
	return errors.Join(errs...)
}

// Committed returns the group's committed offsets for the consumer's
// topics.
func (c *Consumer) Committed(ctx context.Context) (map[transport.TopicPartition]int64, error) {
	resps, err := kadm.NewClient(c.cl).FetchOffsetsForTopics(ctx, c.opts.Group, c.topics...)
	if err != nil {
		return nil, mapError(fmt.Errorf("kafkatransport: committed offsets of %s: %w", c.opts.Group, err))
	}
	out := map[transport.TopicPartition]int64{}
	for topic, parts := range resps {
		for p, r := range parts {
			if r.Err != nil {
				if errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
					continue
				}
				return nil, fmt.Errorf("kafkatransport: committed offset of %s[%d]: %w", topic, p, r.Err)
			}
			if r.At >= 0 {
				out[transport.TopicPartition{Topic: topic, Partition: p}] = r.At
			}
		}
	}
	return out, nil
}

// Close leaves the group, which has kgo revoke everything the member
// holds (OnRevoked runs, and may commit, before the LeaveGroup), and
// closes the member's client.
func (c *Consumer) Close(ctx context.Context) error {
	if c.closed {
		return nil
	}
	c.closed = true
	if !c.unregister() {
		return nil // aborted by Transport.Close
	}
	c.cl.AllowRebalance() // the owner is done with what it polled
	err := c.cl.LeaveGroupContext(ctx)
	// Anything kgo did not revoke (it had not joined yet, or the leave
	// gave up) is revoked here, as the contract wants.
	c.mu.Lock()
	var rest []transport.TopicPartition
	for tp := range c.mu.held {
		rest = append(rest, tp)
	}
	c.mu.Unlock()
	if len(rest) > 0 {
		slices.SortFunc(rest, func(a, b transport.TopicPartition) int {
			if a.Topic != b.Topic {
				if a.Topic < b.Topic {
					return -1
				}
				return 1
			}
			return int(a.Partition - b.Partition)
		})
		c.revoke(ctx, rest)
	}
	c.cl.Close()
	if err != nil && !errors.Is(err, kgo.ErrClientClosed) {
		return fmt.Errorf("kafkatransport: leave group %s: %w", c.opts.Group, err)
	}
	return nil
}

// unregister removes the consumer from its transport; false if the
// transport already aborted it.
func (c *Consumer) unregister() bool {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	if _, ok := c.t.mu.consumers[c]; !ok {
		return false
	}
	delete(c.t.mu.consumers, c)
	return true
}

// abort leaves the group and closes the client without callbacks, for
// Transport.Close.
func (c *Consumer) abort() {
	c.silenced.Store(true)
	c.t.mu.Lock()
	delete(c.t.mu.consumers, c)
	c.t.mu.Unlock()
	c.cl.AllowRebalance()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.cl.LeaveGroupContext(ctx)
	c.cl.Close()
}
