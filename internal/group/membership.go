package group

import (
	"context"
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat and LeaveGroup: the requests that keep a member in the group
// and take it out.

func (c *Coordinator) heartbeat(ctx context.Context, req *kmsg.HeartbeatRequest) (kmsg.Response, error) {
	fail := func(code int16) (kmsg.Response, error) {
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = code
		return resp, nil
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	version, memberID, instanceID, generation := req.Version, strings.Clone(req.MemberID), cloneStringPtr(req.InstanceID), req.Generation
	resp, err := c.call(ctx, req.Group, false, func(g *group, _ replyFunc) kmsg.Response {
		return g.heartbeat(version, memberID, instanceID, generation)
	})
	if errors.Is(err, errNoGroup) {
		return fail(kerr.UnknownMemberID.Code)
	}
	return resp, err
}

// heartbeat restarts the member's session timer and tells it whether a
// rebalance is under way.
func (g *group) heartbeat(version int16, memberID string, instanceID *string, generation int32) kmsg.Response {
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.Version = version
	if code := g.validateMember(memberID, instanceID); code != 0 {
		resp.ErrorCode = code
		return resp
	}
	if generation != g.generation {
		resp.ErrorCode = kerr.IllegalGeneration.Code
		return resp
	}
	m := g.members[memberID]
	switch g.state {
	case statePreparingRebalance:
		g.scheduleHeartbeat(m, m.sessionTimeout)
		resp.ErrorCode = kerr.RebalanceInProgress.Code
	case stateCompletingRebalance, stateStable:
		// After its JoinGroup response a member may heartbeat before its
		// SyncGroup returns: that is a normal heartbeat.
		g.scheduleHeartbeat(m, m.sessionTimeout)
	default:
		resp.ErrorCode = kerr.UnknownMemberID.Code
	}
	return resp
}

func (c *Coordinator) leaveGroup(ctx context.Context, req *kmsg.LeaveGroupRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp, nil
	}
	// v0-2 name one member; v3+ a batch, possibly by instance id only
	// (the admin client's removeMembersFromConsumerGroup).
	var leaving []kmsg.LeaveGroupRequestMember
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: strings.Clone(req.MemberID)}}
	} else {
		for _, m := range req.Members {
			lm := kmsg.LeaveGroupRequestMember{MemberID: strings.Clone(m.MemberID), InstanceID: cloneStringPtr(m.InstanceID)}
			if m.Reason != nil {
				lm.Reason = cloneStringPtr(m.Reason)
			}
			leaving = append(leaving, lm)
		}
	}
	var codes []int16
	var ids []string
	err := c.exec(ctx, req.Group, false, func(g *group) { codes, ids = g.leave(leaving) })
	if errors.Is(err, errNoGroup) {
		codes, ids = make([]int16, len(leaving)), make([]string, len(leaving))
		for i, l := range leaving {
			codes[i], ids[i] = kerr.UnknownMemberID.Code, l.MemberID
		}
	} else if err != nil {
		return nil, err
	}
	if req.Version < 3 {
		resp.ErrorCode = codes[0]
		return resp, nil
	}
	for i, l := range leaving {
		mr := kmsg.NewLeaveGroupResponseMember()
		mr.MemberID = ids[i]
		mr.InstanceID = l.InstanceID
		mr.ErrorCode = codes[i]
		resp.Members = append(resp.Members, mr)
	}
	return resp, nil
}

// leave removes the named members and rebalances the rest. It returns a
// code per member and the member id each resolved to.
func (g *group) leave(leaving []kmsg.LeaveGroupRequestMember) (codes []int16, ids []string) {
	codes, ids = make([]int16, len(leaving)), make([]string, len(leaving))
	for i, l := range leaving {
		id := l.MemberID
		if id == "" && l.InstanceID != nil {
			id = g.static[*l.InstanceID] // "" if unknown
		}
		ids[i] = id
		reason := "member " + id + " left"
		if l.Reason != nil && *l.Reason != "" {
			reason += ": " + *l.Reason
		}
		switch {
		case id == "":
			codes[i] = kerr.UnknownMemberID.Code
		case l.InstanceID == nil && g.pending[id] != nil:
			g.removePending(id)
			g.maybeCompleteJoin()
		default:
			if codes[i] = g.validateMember(id, l.InstanceID); codes[i] != 0 {
				continue
			}
			g.c.logger.Info("member left group", "group", g.name, "member", id, "state", g.state.String())
			g.removeMember(g.members[id], reason)
		}
	}
	return codes, ids
}
