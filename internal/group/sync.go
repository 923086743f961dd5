package group

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// emptyConsumerAssignment is an encoded ConsumerMemberAssignment with no
// partitions. A consumer-protocol member the leader left out (or gave
// empty bytes) gets it rather than zero bytes, which Kafka sends but some
// clients fail to decode (franz-go's kfake does the same).
var emptyConsumerAssignment = func() []byte {
	a := kmsg.NewConsumerMemberAssignment()
	return a.AppendTo(nil)
}()

type syncArgs struct {
	version      int16
	memberID     string
	instanceID   *string
	generation   int32
	protocolType *string
	protocol     *string
	assignments  map[string][]byte
}

func (c *Coordinator) syncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) (kmsg.Response, error) {
	fail := func(code int16) (kmsg.Response, error) {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = code
		return resp, nil
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	a := &syncArgs{
		version:      req.Version,
		memberID:     strings.Clone(req.MemberID),
		instanceID:   cloneStringPtr(req.InstanceID),
		generation:   req.Generation,
		protocolType: cloneStringPtr(req.ProtocolType),
		protocol:     cloneStringPtr(req.Protocol),
		assignments:  make(map[string][]byte, len(req.GroupAssignment)),
	}
	for _, ga := range req.GroupAssignment {
		a.assignments[ga.MemberID] = bytes.Clone(ga.MemberAssignment)
	}
	resp, err := c.call(ctx, req.Group, false, func(g *group, reply replyFunc) kmsg.Response {
		return g.sync(a, reply)
	})
	if errors.Is(err, errNoGroup) {
		return fail(kerr.UnknownMemberID.Code)
	}
	return resp, err
}

// sync handles a SyncGroup on the group's goroutine: a follower's waits
// for the leader's; the leader's assignment completes the rebalance.
func (g *group) sync(a *syncArgs, reply replyFunc) kmsg.Response {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.Version = a.version
	if code := g.validateMember(a.memberID, a.instanceID); code != 0 {
		resp.ErrorCode = code
		return resp
	}
	if a.generation != g.generation {
		resp.ErrorCode = kerr.IllegalGeneration.Code
		return resp
	}
	// v5: the client says which protocol it thinks was chosen.
	if (a.protocolType != nil && *a.protocolType != g.protocolType) ||
		(a.protocol != nil && g.protocol != "" && *a.protocol != g.protocol) {
		resp.ErrorCode = kerr.InconsistentGroupProtocol.Code
		return resp
	}
	m := g.members[a.memberID]
	switch g.state {
	case statePreparingRebalance:
		resp.ErrorCode = kerr.RebalanceInProgress.Code
		return resp
	case stateCompletingRebalance:
		if m.sync != nil {
			// A second sync while one waits: the client gave up on the first.
			old := kmsg.NewPtrSyncGroupResponse()
			old.Version = m.sync.version
			old.ErrorCode = kerr.RebalanceInProgress.Code
			m.sync.reply(old)
		}
		m.sync = &parkedSync{version: a.version, reply: reply}
		g.synced(m)
		if m.id == g.leader {
			g.completeSync(a.assignments)
		}
		return nil
	case stateStable:
		// The rebalance completed before this member asked: its
		// assignment is already known.
		g.synced(m)
		resp.ProtocolType = kmsg.StringPtr(g.protocolType)
		resp.Protocol = kmsg.StringPtr(g.protocol)
		resp.MemberAssignment = m.assignment
		return resp
	}
	resp.ErrorCode = kerr.UnknownMemberID.Code
	return resp
}

// synced notes that m sent its SyncGroup for this generation.
func (g *group) synced(m *member) {
	delete(g.pendingSync, m.id)
	if len(g.pendingSync) == 0 {
		g.syncTimer.stop()
		g.syncTimer = nil
	}
}

// completeSync stores the leader's assignment (members it left out get an
// empty one), makes the group Stable and answers every waiting SyncGroup.
func (g *group) completeSync(assignments map[string][]byte) {
	for _, m := range g.members {
		m.assignment = assignments[m.id]
		if len(m.assignment) == 0 && g.protocolType == consumerProtocolType {
			m.assignment = emptyConsumerAssignment
		}
	}
	g.state = stateStable
	for _, m := range g.sortedMembers() {
		if m.sync == nil {
			continue
		}
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.Version = m.sync.version
		resp.ProtocolType = kmsg.StringPtr(g.protocolType)
		resp.Protocol = kmsg.StringPtr(g.protocol)
		resp.MemberAssignment = m.assignment
		m.sync.reply(resp)
		m.sync = nil
		g.scheduleHeartbeat(m, m.sessionTimeout)
	}
	g.c.logger.Info("group is stable", "group", g.name, "generation", g.generation, "members", len(g.members))
}
