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

// OffsetCommit, OffsetFetch and OffsetDelete, and the group's offset
// bookkeeping.

type commitArgs struct {
	version    int16
	memberID   string
	instanceID *string
	generation int32
	entries    []storeEntry
	// transactional marks a TxnOffsetCommit, which Kafka validates more
	// loosely (see validateCommit).
	transactional bool
}

func (c *Coordinator) offsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) (kmsg.Response, error) {
	// codes[t][p] answers req.Topics[t].Partitions[p]; pos[i] says which
	// one a.entries[i] is.
	codes := make([][]int16, len(req.Topics))
	type position struct{ t, p int }
	var pos []position
	a := &commitArgs{
		version:    req.Version,
		memberID:   strings.Clone(req.MemberID),
		instanceID: cloneStringPtr(req.InstanceID),
		generation: req.Generation,
	}
	if req.Version == 0 {
		a.generation = -1 // v0 commits are simple commits, with no generation
	}
	now := c.opts.Now().UnixMilli()
	groupName := strings.Clone(req.Group)
	for ti, t := range req.Topics {
		codes[ti] = make([]int16, len(t.Partitions))
		topic, terr := c.log.Topic(t.Topic)
		for pi, p := range t.Partitions {
			// Kafka 4 answers UNKNOWN_TOPIC_OR_PARTITION before it looks
			// at the group.
			if terr != nil {
				codes[ti][pi] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			if _, err := topic.Partition(p.Partition); err != nil {
				codes[ti][pi] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			v := &committedOffset{offset: p.Offset, leaderEpoch: -1, commitTime: now}
			if req.Version >= 6 {
				v.leaderEpoch = p.LeaderEpoch
			}
			if p.Metadata != nil {
				v.metadata = strings.Clone(*p.Metadata)
			}
			key := offsetKey{group: groupName, topic: topic.Name(), partition: p.Partition}
			a.entries = append(a.entries, storeEntry{key: key, value: v})
			pos = append(pos, position{ti, pi})
		}
	}
	if len(a.entries) > 0 {
		var results []int16
		var err error
		if len(req.Group) > math.MaxInt16 {
			err = errGroupIDTooLong
		} else {
			// A simple commit (generation < 0) creates the group.
			err = c.exec(ctx, req.Group, a.generation < 0, func(g *group) { results = g.commit(a) })
		}
		if err != nil {
			var code int16
			switch {
			case errors.Is(err, errGroupIDTooLong):
				code = kerr.InvalidGroupID.Code
			case errors.Is(err, errNoGroup) && req.Version >= 9:
				code = kerr.GroupIDNotFound.Code
			case errors.Is(err, errNoGroup):
				// A member commit to a group that does not exist comes
				// from an older generation.
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
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	for ti, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for pi, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = codes[ti][pi]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

var errGroupIDTooLong = errors.New("group: group id longer than 32767 bytes")

// commit validates a commit against the group, as Kafka's classic group
// does, and stores it. It returns a code per entry.
func (g *group) commit(a *commitArgs) []int16 {
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
	if err := g.storeOffsets(entries); err != nil {
		code := kerr.NotCoordinator.Code
		if errors.Is(err, log.ErrMessageTooLarge) {
			code = kerr.InvalidCommitOffsetSize.Code
		}
		for _, i := range idx {
			codes[i] = code
		}
		return codes
	}
	if m := g.members[a.memberID]; m != nil && a.generation >= 0 {
		// A commit is a sign of life, as a heartbeat is.
		g.scheduleHeartbeat(m, m.sessionTimeout)
	}
	return codes
}

// validateCommit is Kafka's ClassicGroup.validateOffsetCommit.
func (g *group) validateCommit(a *commitArgs) int16 {
	if a.generation < 0 && g.state == stateEmpty {
		// A simple or admin commit: no member, no generation.
		return 0
	}
	if a.generation >= 0 || a.memberID != "" || a.instanceID != nil {
		if code := g.validateMember(a.memberID, a.instanceID); code != 0 {
			return code
		}
		if a.generation != g.generation {
			return kerr.IllegalGeneration.Code
		}
	} else if !a.transactional {
		// Without member and generation, commits need an empty group;
		// not transactional ones, whose versions before 3 cannot carry a
		// member.
		return kerr.UnknownMemberID.Code
	}
	if a.transactional {
		return 0
	}
	if g.state == stateCompletingRebalance {
		// The member has its new generation but not yet its assignment.
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// storeOffsets writes entries durably, then applies them in memory.
func (g *group) storeOffsets(entries []storeEntry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := g.c.store.write(g.name, entries); err != nil {
		g.c.logger.Error("writing committed offsets failed", "group", g.name, "offsets", len(entries), "err", err)
		return err
	}
	for _, e := range entries {
		parts := g.offsets[e.key.topic]
		if parts == nil {
			parts = make(map[int32]committedOffset)
			g.offsets[strings.Clone(e.key.topic)] = parts
		}
		parts[e.key.partition] = *e.value
	}
	return nil
}

// deleteOffsets removes committed offsets, writing tombstones: for each
// topic the listed partitions, or every partition when the list is nil.
// Offsets that are not committed are ignored.
func (g *group) deleteOffsets(sel map[string][]int32) error {
	var keys []offsetKey
	for topic, parts := range sel {
		have := g.offsets[topic]
		if parts == nil {
			for p := range have {
				keys = append(keys, offsetKey{group: g.name, topic: topic, partition: p})
			}
			continue
		}
		for _, p := range parts {
			if _, ok := have[p]; ok {
				keys = append(keys, offsetKey{group: g.name, topic: topic, partition: p})
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, b offsetKey) int {
		return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	n, err := g.c.store.deleteKeys(g.name, keys)
	for _, k := range keys[:n] {
		delete(g.offsets[k.topic], k.partition)
		if len(g.offsets[k.topic]) == 0 {
			delete(g.offsets, k.topic)
		}
	}
	if err != nil {
		g.c.logger.Error("deleting committed offsets failed", "group", g.name, "offsets", len(keys)-n, "err", err)
	}
	return err
}

// fetchTopic is one topic of an OffsetFetch.
type fetchTopic struct {
	topic      string
	partitions []int32
}

func (c *Coordinator) offsetFetch(ctx context.Context, req *kmsg.OffsetFetchRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			var want []fetchTopic
			for _, t := range rg.Topics {
				want = append(want, fetchTopic{topic: t.Topic, partitions: t.Partitions})
			}
			// Null topics: every committed offset of the group.
			topics, code, err := c.fetchOffsets(ctx, rg.Group, want, rg.Topics == nil, req.RequireStable)
			if err != nil {
				return nil, err
			}
			sg := kmsg.NewOffsetFetchResponseGroup()
			sg.Group = rg.Group
			sg.ErrorCode = code
			sg.Topics = topics
			resp.Groups = append(resp.Groups, sg)
		}
		return resp, nil
	}
	var want []fetchTopic
	for _, t := range req.Topics {
		want = append(want, fetchTopic{topic: t.Topic, partitions: t.Partitions})
	}
	// v0 and v1 cannot send null topics; an empty list there means none.
	all := req.Version >= 2 && req.Topics == nil
	topics, code, err := c.fetchOffsets(ctx, req.Group, want, all, req.Version >= 7 && req.RequireStable)
	if err != nil {
		return nil, err
	}
	if req.Version >= 2 {
		resp.ErrorCode = code
	}
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition = p.Partition
			rp.Offset = p.Offset
			rp.LeaderEpoch = p.LeaderEpoch
			rp.Metadata = p.Metadata
			rp.ErrorCode = p.ErrorCode
			if req.Version < 2 && code != 0 {
				rp.ErrorCode = code // v0-1 have no group-level error
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// fetchOffsets reads a group's committed offsets. A group that does not
// exist has none: every requested partition gets offset -1, as in Kafka.
// The code is a group-level error. With requireStable (OffsetFetch v7+),
// a partition for which an open transaction holds an offset gets
// UNSTABLE_OFFSET_COMMIT instead, as in Kafka: the client retries until
// the transaction ends.
func (c *Coordinator) fetchOffsets(ctx context.Context, name string, want []fetchTopic, all, requireStable bool) ([]kmsg.OffsetFetchResponseGroupTopic, int16, error) {
	var topics []kmsg.OffsetFetchResponseGroupTopic
	err := c.exec(ctx, name, false, func(g *group) {
		topics = readOffsets(g.offsets, want, all)
		if requireStable && len(g.txnOffsets) > 0 {
			markUnstable(topics, g.txnOffsets)
		}
	})
	switch {
	case errors.Is(err, errNoGroup):
		return readOffsets(nil, want, all), 0, nil
	case errors.Is(err, ErrClosed):
		topics = readOffsets(nil, want, all)
		return topics, kerr.CoordinatorNotAvailable.Code, nil
	case err != nil:
		return nil, 0, err
	}
	return topics, 0, nil
}

// readOffsets answers an OffsetFetch from offsets, in the v8 shape.
func readOffsets(offsets map[string]map[int32]committedOffset, want []fetchTopic, all bool) []kmsg.OffsetFetchResponseGroupTopic {
	partition := func(p int32, o committedOffset, ok bool) kmsg.OffsetFetchResponseGroupTopicPartition {
		rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		rp.Partition = p
		rp.Offset, rp.LeaderEpoch, rp.Metadata = -1, -1, kmsg.StringPtr("")
		if ok {
			rp.Offset, rp.LeaderEpoch, rp.Metadata = o.offset, o.leaderEpoch, kmsg.StringPtr(o.metadata)
		}
		return rp
	}
	var out []kmsg.OffsetFetchResponseGroupTopic
	if all {
		for _, topic := range slices.Sorted(maps.Keys(offsets)) {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = topic
			for _, p := range slices.Sorted(maps.Keys(offsets[topic])) {
				rt.Partitions = append(rt.Partitions, partition(p, offsets[topic][p], true))
			}
			out = append(out, rt)
		}
		return out
	}
	for _, t := range want {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic = t.topic
		for _, p := range t.partitions {
			o, ok := offsets[t.topic][p]
			rt.Partitions = append(rt.Partitions, partition(p, o, ok))
		}
		out = append(out, rt)
	}
	return out
}

func (c *Coordinator) offsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp, nil
	}
	type tp struct {
		topic     string
		partition int32
	}
	codes := make(map[tp]int16)
	valid := make(map[string][]int32)
	for _, t := range req.Topics {
		topic, terr := c.log.Topic(t.Topic)
		for _, p := range t.Partitions {
			switch {
			case terr != nil:
				codes[tp{t.Topic, p.Partition}] = kerr.UnknownTopicOrPartition.Code
			default:
				if _, err := topic.Partition(p.Partition); err != nil {
					codes[tp{t.Topic, p.Partition}] = kerr.UnknownTopicOrPartition.Code
					continue
				}
				valid[t.Topic] = append(valid[t.Topic], p.Partition)
			}
		}
	}
	var groupCode int16
	var partCodes map[string]map[int32]int16
	err := c.exec(ctx, req.Group, false, func(g *group) { groupCode, partCodes = g.offsetDelete(valid) })
	switch {
	case errors.Is(err, errNoGroup):
		groupCode = kerr.GroupIDNotFound.Code
	case errors.Is(err, ErrClosed):
		groupCode = kerr.CoordinatorNotAvailable.Code
	case err != nil:
		return nil, err
	}
	if groupCode != 0 {
		resp.ErrorCode = groupCode
		return resp, nil
	}
	for topic, parts := range partCodes {
		for p, code := range parts {
			codes[tp{topic, p}] = code
		}
	}
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = codes[tp{t.Topic, p.Partition}]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// offsetDelete deletes the given offsets as Kafka's OffsetDelete does: all
// of them in an Empty group; in an active consumer group only those of
// topics no member subscribes to (GROUP_SUBSCRIBED_TO_TOPIC for the rest);
// none in an active group of another protocol type (NON_EMPTY_GROUP).
func (g *group) offsetDelete(sel map[string][]int32) (int16, map[string]map[int32]int16) {
	switch g.state {
	case stateEmpty:
	case statePreparingRebalance, stateCompletingRebalance, stateStable:
		if g.protocolType != consumerProtocolType {
			return kerr.NonEmptyGroup.Code, nil
		}
	default:
		return kerr.GroupIDNotFound.Code, nil
	}
	codes := make(map[string]map[int32]int16, len(sel))
	del := make(map[string][]int32)
	for topic, parts := range sel {
		codes[topic] = make(map[int32]int16, len(parts))
		for _, p := range parts {
			if g.state != stateEmpty && g.isSubscribed(topic) {
				codes[topic][p] = kerr.GroupSubscribedToTopic.Code
				continue
			}
			codes[topic][p] = 0
			del[topic] = append(del[topic], p)
		}
	}
	if err := g.deleteOffsets(del); err != nil {
		for topic, parts := range del {
			for _, p := range parts {
				codes[topic][p] = kerr.NotCoordinator.Code
			}
		}
	}
	return 0, codes
}
