package embedded

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/transport"
)

// The membership goroutine: Kafka's classic consumer protocol, spoken to
// the in-process coordinator. It loops through
//
//	join + sync ──► stable (heartbeats; the assignment goes to the owner)
//	     ▲                 │ REBALANCE_IN_PROGRESS, lost membership,
//	     │                 ▼ or (leader) a partition count changed
//	     └──────── revoke (the owner calls OnRevoked; heartbeats go on)
//
// until the consumer stops. The owner's revocation finishes before the
// rejoin, so commits in OnRevoked carry the generation that owns the
// partitions.

// assignor is the one partition assignment strategy members offer: Kafka's
// RangeAssignor, which franz-go (kgo.RangeBalancer), the Java client and
// librdkafka also implement, so embedded members and Kafka clients can
// share a group on Tide's listener.
const assignor = "range"

// joinBackoff paces retries after errors that may clear up (a coordinator
// restarting, a rebalance racing ours).
const joinBackoff = 100 * time.Millisecond

func (c *Consumer) runMembership() {
	for c.ctx.Err() == nil {
		assignment, counts, err := c.joinAndSync()
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			var fatal *fatalError
			if errors.As(err, &fatal) {
				c.t.opts.logger.Error("consumer cannot join its group", "group", c.group, "err", err)
				c.member.Lock()
				c.member.fatal = err
				c.member.Unlock()
				return
			}
			c.t.opts.logger.Warn("joining group failed, retrying", "group", c.group, "err", err)
			sleep(c.ctx, joinBackoff)
			continue
		}
		delivered := c.stable(event{assign: assignment}, counts)
		if delivered && c.ctx.Err() == nil {
			c.revoke()
		}
	}
}

// fatalError is a refusal that retrying cannot change, such as a session
// timeout outside the coordinator's bounds.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

func (c *Consumer) setMember(id string, generation int32) {
	c.member.Lock()
	c.member.id, c.member.generation = id, generation
	c.member.Unlock()
}

func (c *Consumer) memberID() (string, int32) {
	c.member.Lock()
	defer c.member.Unlock()
	return c.member.id, c.member.generation
}

// joinAndSync joins the group and returns this member's assignment, sorted,
// and, when this member led, the partition counts it assigned from.
func (c *Consumer) joinAndSync() ([]transport.TopicPartition, map[string]int32, error) {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = c.topics
	metadata := meta.AppendTo(nil)
	for {
		id, _ := c.memberID()
		join := kmsg.NewPtrJoinGroupRequest()
		join.SetVersion(joinVersion)
		join.Group, join.MemberID, join.ProtocolType = c.group, id, "consumer"
		join.SessionTimeoutMillis = int32(c.t.opts.sessionTimeout.Milliseconds())
		join.RebalanceTimeoutMillis = int32(c.t.opts.rebalanceTimeout.Milliseconds())
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = assignor, metadata
		join.Protocols = append(join.Protocols, p)
		r, err := c.t.groups.Handle(c.ctx, join)
		if err != nil {
			return nil, nil, err
		}
		jr := r.(*kmsg.JoinGroupResponse)
		switch err := kerr.ErrorForCode(jr.ErrorCode); {
		case err == nil:
		case errors.Is(err, kerr.MemberIDRequired):
			c.setMember(jr.MemberID, -1) // KIP-394: rejoin with this id
			continue
		case errors.Is(err, kerr.UnknownMemberID):
			c.setMember("", -1)
			continue
		case errors.Is(err, kerr.RebalanceInProgress):
			continue
		case errors.Is(err, kerr.InvalidSessionTimeout), errors.Is(err, kerr.InvalidGroupID),
			errors.Is(err, kerr.InconsistentGroupProtocol), errors.Is(err, kerr.GroupAuthorizationFailed),
			errors.Is(err, kerr.GroupMaxSizeReached):
			return nil, nil, &fatalError{fmt.Errorf("embedded: join group %s: %w", c.group, err)}
		default:
			return nil, nil, fmt.Errorf("embedded: join group %s: %w", c.group, err)
		}
		c.setMember(jr.MemberID, jr.Generation)
		c.t.opts.logger.Debug("joined group", "group", c.group, "member", jr.MemberID, "generation", jr.Generation, "leader", jr.LeaderID == jr.MemberID)

		sync := kmsg.NewPtrSyncGroupRequest()
		sync.SetVersion(syncVersion)
		sync.Group, sync.MemberID, sync.Generation = c.group, jr.MemberID, jr.Generation
		protocolType, protocol := "consumer", assignor
		if jr.Protocol != nil {
			protocol = *jr.Protocol
		}
		sync.ProtocolType, sync.Protocol = &protocolType, &protocol
		var counts map[string]int32
		if jr.LeaderID == jr.MemberID && !jr.SkipAssignment {
			sync.GroupAssignment, counts = c.assign(jr.Members)
		}
		r, err = c.t.groups.Handle(c.ctx, sync)
		if err != nil {
			return nil, nil, err
		}
		sr := r.(*kmsg.SyncGroupResponse)
		switch err := kerr.ErrorForCode(sr.ErrorCode); {
		case err == nil:
		case errors.Is(err, kerr.UnknownMemberID):
			c.setMember("", -1)
			continue
		case errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.IllegalGeneration):
			continue
		default:
			return nil, nil, fmt.Errorf("embedded: sync group %s: %w", c.group, err)
		}
		var a kmsg.ConsumerMemberAssignment
		if len(sr.MemberAssignment) > 0 {
			if err := a.ReadFrom(sr.MemberAssignment); err != nil {
				return nil, nil, fmt.Errorf("embedded: sync group %s: assignment: %w", c.group, err)
			}
		}
		var parts []transport.TopicPartition
		for _, t := range a.Topics {
			for _, p := range t.Partitions {
				parts = append(parts, transport.TopicPartition{Topic: t.Topic, Partition: p})
			}
		}
		slices.SortFunc(parts, compareTP)
		return parts, counts, nil
	}
}

func compareTP(a, b transport.TopicPartition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// assign is the leader's range assignment: for each topic, its partitions
// in order, split into contiguous ranges over the members subscribed to
// it, sorted by member id, the first members taking one extra each when
// the split is uneven. It also returns the partition counts it used.
func (c *Consumer) assign(members []kmsg.JoinGroupResponseMember) ([]kmsg.SyncGroupRequestGroupAssignment, map[string]int32) {
	subscribers := map[string][]string{} // topic -> member ids
	ids := make([]string, 0, len(members))
	for _, m := range members {
		ids = append(ids, m.MemberID)
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.ProtocolMetadata); err != nil {
			c.t.opts.logger.Warn("member metadata does not decode; assigning it nothing", "group", c.group, "member", m.MemberID, "err", err)
			continue
		}
		for _, t := range meta.Topics {
			if !slices.Contains(subscribers[t], m.MemberID) {
				subscribers[t] = append(subscribers[t], m.MemberID)
			}
		}
	}
	plan := map[string]map[string][]int32{} // member -> topic -> partitions
	counts := map[string]int32{}
	for topicName, subs := range subscribers {
		topic, err := c.t.log.Topic(topicName)
		if err != nil {
			continue // not there (yet): nothing to assign
		}
		n := topic.NumPartitions()
		counts[topicName] = n
		slices.Sort(subs)
		per, extra := n/int32(len(subs)), n%int32(len(subs))
		next := int32(0)
		for i, id := range subs {
			take := per
			if int32(i) < extra {
				take++
			}
			for p := next; p < next+take; p++ {
				if plan[id] == nil {
					plan[id] = map[string][]int32{}
				}
				plan[id][topicName] = append(plan[id][topicName], p)
			}
			next += take
		}
	}
	// Every member gets an assignment, empty if need be, in a
	// deterministic order.
	slices.Sort(ids)
	out := make([]kmsg.SyncGroupRequestGroupAssignment, 0, len(ids))
	for _, id := range ids {
		a := kmsg.NewConsumerMemberAssignment()
		topics := make([]string, 0, len(plan[id]))
		for t := range plan[id] {
			topics = append(topics, t)
		}
		slices.Sort(topics)
		for _, t := range topics {
			at := kmsg.NewConsumerMemberAssignmentTopic()
			at.Topic, at.Partitions = t, plan[id][t]
			a.Topics = append(a.Topics, at)
		}
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, a.AppendTo(nil)
		out = append(out, ga)
	}
	return out, counts
}

// stable heartbeats and hands ev to the owner, until the member must
// rejoin or the consumer stops. counts, for a leader, are the partition
// counts it assigned: a change (partitions added, a subscribed topic
// created or deleted) makes it rejoin so that the group is reassigned.
// It reports whether the owner received ev.
func (c *Consumer) stable(ev event, counts map[string]int32) (delivered bool) {
	ticker := time.NewTicker(c.t.opts.heartbeatInterval)
	defer ticker.Stop()
	send := c.events
	for {
		select {
		case send <- ev:
			send, delivered = nil, true
		case <-ticker.C:
			if !c.heartbeat() {
				return delivered
			}
			if counts != nil && c.countsChanged(counts) {
				c.t.opts.logger.Debug("partition counts changed; rejoining", "group", c.group)
				return delivered
			}
		case <-c.ctx.Done():
			return delivered
		}
	}
}

// heartbeat sends one heartbeat; it reports whether the member stays in
// its generation. A lost membership resets the member id if the
// coordinator no longer knows it.
func (c *Consumer) heartbeat() bool {
	id, generation := c.memberID()
	req := kmsg.NewPtrHeartbeatRequest()
	req.SetVersion(heartbeatVersion)
	req.Group, req.MemberID, req.Generation = c.group, id, generation
	r, err := c.t.groups.Handle(c.ctx, req)
	if err != nil {
		return c.ctx.Err() == nil
	}
	switch err := kerr.ErrorForCode(r.(*kmsg.HeartbeatResponse).ErrorCode); {
	case err == nil:
		return true
	case errors.Is(err, kerr.RebalanceInProgress):
		c.t.opts.logger.Debug("group rebalancing", "group", c.group, "member", id)
		return false
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.FencedInstanceID):
		c.t.opts.logger.Warn("membership lost", "group", c.group, "member", id, "err", err)
		c.setMember("", -1)
		return false
	case errors.Is(err, kerr.IllegalGeneration):
		c.t.opts.logger.Warn("membership lost", "group", c.group, "member", id, "err", err)
		return false
	default:
		// COORDINATOR_NOT_AVAILABLE and the like: try again next tick;
		// the session timeout decides.
		return true
	}
}

func (c *Consumer) countsChanged(counts map[string]int32) bool {
	for _, name := range c.topics {
		n := int32(0)
		if t, err := c.t.log.Topic(name); err == nil {
			n = t.NumPartitions()
		}
		if counts[name] != n {
			return true
		}
	}
	return false
}

// revoke has the owner give up the assignment and waits until it has,
// heartbeating meanwhile so that a slow OnRevoked does not cost the
// session (the rebalance timeout still bounds it).
func (c *Consumer) revoke() {
	done := make(chan struct{})
	ev := event{revoke: done}
	ticker := time.NewTicker(c.t.opts.heartbeatInterval)
	defer ticker.Stop()
	send := c.events
	for {
		select {
		case send <- ev:
			send = nil
		case <-done:
			return
		case <-ticker.C:
			c.heartbeat()
		case <-c.ctx.Done():
			return
		}
	}
}

// leave takes the member out of the group, so that the others rebalance
// at once rather than after its session timeout.
func (c *Consumer) leave(ctx context.Context) error {
	id, _ := c.memberID()
	if id == "" {
		return nil
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.SetVersion(leaveVersion)
	req.Group = c.group
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = id
	reason := "consumer closed"
	m.Reason = &reason
	req.Members = append(req.Members, m)
	r, err := c.t.groups.Handle(c.withClient(ctx), req)
	if err != nil {
		return fmt.Errorf("embedded: leave group %s: %w", c.group, err)
	}
	resp := r.(*kmsg.LeaveGroupResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil && !errors.Is(err, kerr.UnknownMemberID) {
		return fmt.Errorf("embedded: leave group %s: %w", c.group, err)
	}
	for _, m := range resp.Members {
		// Already gone (session expired, fenced) is what leaving wants.
		if err := kerr.ErrorForCode(m.ErrorCode); err != nil && !errors.Is(err, kerr.UnknownMemberID) {
			return fmt.Errorf("embedded: leave group %s: %w", c.group, err)
		}
	}
	c.setMember("", -1)
	return nil
}
