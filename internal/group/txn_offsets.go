package group

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
)

// Transactional offset commits (TxnOffsetCommit, Kafka's KIP-98).
//
// An offset a transaction commits is pending until the transaction ends:
// OffsetFetch does not return it (and answers UNSTABLE_OFFSET_COMMIT for
// its partition when asked for stable offsets), a commit of the
// transaction makes it the group's committed offset, an abort drops it.
//
// Kafka writes such offsets to __consumer_offsets in a transactional batch
// and lets the commit or abort marker that the transaction coordinator
// writes there settle them. Tide keeps the offsets topic free of
// transactions: a TxnOffsetCommit is written as ordinary records under
// their own key version (keyVersionTxnOffset: group, producer id, topic,
// partition), and the transaction coordinator settles them by calling
// CompleteTransaction, which writes, in one batch per group, the committed
// offsets (on commit) together with tombstones for the pending keys. The
// batch is atomic, so a crash leaves either the pending offsets or their
// outcome, never half; and settling is idempotent (a group with nothing
// pending for the producer writes nothing), so the coordinator, which
// completes every transaction it recorded as PrepareCommit or
// PrepareAbort after a restart, simply settles again.
//
// A settled commit applies its offsets whatever was committed in between:
// a group that mixes transactional and plain commits of one partition gets
// the last one to settle (Kafka compares the positions of the records
// instead).

// txnOffsets are a group's pending transactional offsets: producer id →
// topic → partition → offset.
type txnOffsets map[int64]map[string]map[int32]committedOffset

// set records (v) or drops (v nil) a pending offset.
func (t txnOffsets) set(producerID int64, k offsetKey, v *committedOffset) {
	topics := t[producerID]
	if v == nil {
		if parts := topics[k.topic]; parts != nil {
			delete(parts, k.partition)
			if len(parts) == 0 {
				delete(topics, k.topic)
			}
		}
		if len(topics) == 0 {
			delete(t, producerID)
		}
		return
	}
	if topics == nil {
		topics = make(map[string]map[int32]committedOffset)
		t[producerID] = topics
	}
	if topics[k.topic] == nil {
		topics[k.topic] = make(map[int32]committedOffset)
	}
	topics[k.topic][k.partition] = *v
}

// holds reports whether any open transaction holds an offset for the
// partition.
func (t txnOffsets) holds(topic string, partition int32) bool {
	for _, topics := range t {
		if _, ok := topics[topic][partition]; ok {
			return true
		}
	}
	return false
}

// markUnstable answers UNSTABLE_OFFSET_COMMIT for the partitions an open
// transaction holds an offset for, as Kafka's OffsetFetch with
// require_stable does.
func markUnstable(topics []kmsg.OffsetFetchResponseGroupTopic, pending txnOffsets) {
	for ti := range topics {
		for pi := range topics[ti].Partitions {
			p := &topics[ti].Partitions[pi]
			if pending.holds(topics[ti].Topic, p.Partition) {
				p.ErrorCode = kerr.UnstableOffsetCommit.Code
				p.Offset, p.LeaderEpoch, p.Metadata = -1, -1, kmsg.StringPtr("")
			}
		}
	}
}

// indexTxnLocked adds group to (or removes it from) the groups holding
// pending offsets of producerID. c.mu must be held.
func (c *Coordinator) indexTxnLocked(producerID int64, group string, holds bool) {
	groups := c.mu.txnGroups[producerID]
	if !holds {
		delete(groups, group)
		if len(groups) == 0 {
			delete(c.mu.txnGroups, producerID)
		}
		return
	}
	if groups == nil {
		groups = make(map[string]struct{})
		c.mu.txnGroups[producerID] = groups
	}
	groups[group] = struct{}{}
}

func (c *Coordinator) indexTxn(producerID int64, group string, holds bool) {
	c.mu.Lock()
	c.indexTxnLocked(producerID, group, holds)
	c.mu.Unlock()
}

func (c *Coordinator) txnOffsetCommit(ctx context.Context, req *kmsg.TxnOffsetCommitRequest) (kmsg.Response, error) {
	codes := make([][]int16, len(req.Topics))
	type position struct{ t, p int }
	var pos []position
	a := &commitArgs{
		version:       req.Version,
		memberID:      strings.Clone(req.MemberID),
		instanceID:    cloneStringPtr(req.InstanceID),
		generation:    req.Generation,
		transactional: true,
	}
	if req.Version < 3 {
		a.generation = -1 // no member or generation before v3
	}
	now := c.opts.Now().UnixMilli()
	groupName := strings.Clone(req.Group)
	for ti, t := range req.Topics {
		codes[ti] = make([]int16, len(t.Partitions))
		topic, terr := c.log.Topic(t.Topic)
		for pi, p := range t.Partitions {
			if terr != nil {
				codes[ti][pi] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			if _, err := topic.Partition(p.Partition); err != nil {
				codes[ti][pi] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			v := &committedOffset{offset: p.Offset, leaderEpoch: -1, commitTime: now}
			if req.Version >= 2 {
				v.leaderEpoch = p.LeaderEpoch
			}
			if p.Metadata != nil {
				v.metadata = strings.Clone(*p.Metadata)
			}
			key := offsetKey{group: groupName, topic: topic.Name(), partition: p.Partition}
			a.entries = append(a.entries, storeEntry{key: key, value: v, txn: true, producerID: req.ProducerID})
			pos = append(pos, position{ti, pi})
		}
	}
	if len(a.entries) > 0 {
		var results []int16
		var err error
		if len(req.Group) > math.MaxInt16 {
			err = errGroupIDTooLong
		} else {
			// Kafka creates a missing group for a commit without a
			// generation, as for a simple commit.
			err = c.exec(ctx, req.Group, a.generation < 0, func(g *group) { results = g.txnCommit(req.ProducerID, a) })
		}
		if err != nil {
			var code int16
			switch {
			case errors.Is(err, errGroupIDTooLong):
				code = kerr.InvalidGroupID.Code
			case errors.Is(err, errNoGroup):
				code = kerr.IllegalGeneration.Code
			case errors.Is(err, ErrClosed):
				code = kerr.CoordinatorNotAvailable.Code
			default:
				return nil, err
			}
			results = make([]int16, len(a.entries))
			for i := range results {
				results[i] = code
			}
		}
		for i, at := range pos {
			codes[at.t][at.p] = results[i]
		}
	}
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	for ti, t := range req.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for pi, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = codes[ti][pi]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// txnCommit validates a transactional commit against the group and
// records its offsets as pending for producerID. It returns a code per
// entry.
func (g *group) txnCommit(producerID int64, a *commitArgs) []int16 {
	codes := make([]int16, len(a.entries))
	if code := g.validateCommit(a); code != 0 {
		for i := range codes {
			codes[i] = code
		}
		return codes
	}
	var entries []storeEntry
	var idx []int
	for i, e := range a.entries {
		if len(e.value.metadata) > maxMetadataBytes {
			codes[i] = kerr.OffsetMetadataTooLarge.Code
			continue
		}
		entries = append(entries, e)
		idx = append(idx, i)
	}
	if len(entries) == 0 {
		return codes
	}
	if err := g.c.store.write(g.name, entries); err != nil {
		g.c.logger.Error("writing transactional offsets failed", "group", g.name, "producer_id", producerID, "err", err)
		code := kerr.NotCoordinator.Code
		if errors.Is(err, log.ErrMessageTooLarge) {
			code = kerr.InvalidCommitOffsetSize.Code
		}
		for _, i := range idx {
			codes[i] = code
		}
		return codes
	}
	if g.txnOffsets == nil {
		g.txnOffsets = make(txnOffsets)
	}
	for _, e := range entries {
		g.txnOffsets.set(producerID, e.key, e.value)
	}
	g.c.indexTxn(producerID, g.name, true)
	return codes
}

// CompleteTransaction settles the offsets that producerID's transaction
// committed with TxnOffsetCommit, in every group: on commit they become
// the groups' committed offsets, on abort they are dropped. It returns
// once the outcome is durable. It is idempotent: a producer with nothing
// pending settles nothing, so the transaction coordinator may call it
// again after a crash. Offsets of a topic deleted meanwhile are dropped.
// On error some groups may be settled and others not; calling it again
// settles the rest.
func (c *Coordinator) CompleteTransaction(ctx context.Context, producerID int64, commit bool) error {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	names := slices.Sorted(maps.Keys(c.mu.txnGroups[producerID]))
	c.mu.Unlock()
	var errs []error
	for _, name := range names {
		var werr error
		err := c.exec(ctx, name, false, func(g *group) { werr = g.completeTxn(producerID, commit) })
		if errors.Is(err, errNoGroup) {
			c.indexTxn(producerID, name, false)
			continue
		}
		errs = append(errs, err, werr)
	}
	return errors.Join(errs...)
}

// PendingTransactions returns the producer ids whose transactions hold
// pending offsets in some group, sorted. The transaction coordinator
// aborts those it does not know as open after it loads (a lost or deleted
// transaction state).
func (c *Coordinator) PendingTransactions() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.mu.txnGroups))
}

// OffsetsPartition returns the offsets-topic partition that holds group's
// records, which the transaction coordinator adds to a transaction for
// AddOffsetsToTxn, as Kafka does.
func (c *Coordinator) OffsetsPartition(group string) (topic string, partition int32) {
	p, err := c.store.partitionFor(group)
	if err != nil {
		return c.store.topic.Name(), 0 // cannot happen: partitionFor stays in range
	}
	return c.store.topic.Name(), p.ID()
}

// settleBatchBytes bounds one batch of a settlement; a pending offset and
// its outcome always share a batch.
const settleBatchBytes = 256 << 10

// completeTxn settles producerID's pending offsets in g.
func (g *group) completeTxn(producerID int64, commit bool) error {
	topics := g.txnOffsets[producerID]
	if len(topics) == 0 {
		delete(g.txnOffsets, producerID)
		g.c.indexTxn(producerID, g.name, false)
		return nil
	}
	type settled struct {
		key   offsetKey
		value committedOffset
		apply bool
	}
	var all []settled
	for topic, parts := range topics {
		_, terr := g.c.log.Topic(topic)
		for p, v := range parts {
			all = append(all, settled{key: offsetKey{group: g.name, topic: topic, partition: p}, value: v, apply: commit && terr == nil})
		}
	}
	slices.SortFunc(all, func(a, b settled) int {
		return cmp.Or(strings.Compare(a.key.topic, b.key.topic), cmp.Compare(a.key.partition, b.key.partition))
	})
	now := g.c.opts.Now().UnixMilli()
	for len(all) > 0 {
		var entries []storeEntry
		n, size := 0, 0
		for n < len(all) && (n == 0 || size < settleBatchBytes) {
			s := all[n]
			if s.apply {
				v := s.value
				v.commitTime = now
				entries = append(entries, storeEntry{key: s.key, value: &v})
			}
			entries = append(entries, storeEntry{key: s.key, txn: true, producerID: producerID})
			size += 2*(len(s.key.group)+len(s.key.topic)) + len(s.value.metadata) + 80
			n++
		}
		if err := g.c.store.write(g.name, entries); err != nil {
			g.c.logger.Error("settling transactional offsets failed", "group", g.name, "producer_id", producerID, "commit", commit, "err", err)
			return err
		}
		for _, s := range all[:n] {
			if s.apply {
				parts := g.offsets[s.key.topic]
				if parts == nil {
					parts = make(map[int32]committedOffset)
					g.offsets[s.key.topic] = parts
				}
				v := s.value
				v.commitTime = now
				parts[s.key.partition] = v
			}
			g.txnOffsets.set(producerID, s.key, nil)
		}
		all = all[n:]
	}
	g.c.indexTxn(producerID, g.name, false)
	return nil
}
