package group

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// joinArgs is a JoinGroup request, copied so that the group never touches
// the caller's buffers.
type joinArgs struct {
	version      int16
	memberID     string
	instanceID   *string
	clientID     string
	clientHost   string
	session      time.Duration
	rebalance    time.Duration
	protocolType string
	protocols    []kmsg.JoinGroupRequestProtocol
	reason       string
}

func (c *Coordinator) joinGroup(ctx context.Context, req *kmsg.JoinGroupRequest) (kmsg.Response, error) {
	fail := func(code int16) (kmsg.Response, error) {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = code
		resp.MemberID = req.MemberID
		return resp, nil
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	if session < c.opts.MinSessionTimeout || session > c.opts.MaxSessionTimeout {
		return fail(kerr.InvalidSessionTimeout.Code)
	}
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version == 0 || rebalance <= 0 {
		// v0 has no rebalance timeout: Kafka uses the session timeout.
		rebalance = session
	}
	client := clientFrom(ctx)
	a := &joinArgs{
		version:      req.Version,
		memberID:     strings.Clone(req.MemberID),
		instanceID:   cloneStringPtr(req.InstanceID),
		clientID:     strings.Clone(client.ID),
		clientHost:   strings.Clone(client.Host),
		session:      session,
		rebalance:    rebalance,
		protocolType: strings.Clone(req.ProtocolType),
		protocols:    make([]kmsg.JoinGroupRequestProtocol, len(req.Protocols)),
	}
	for i, p := range req.Protocols {
		a.protocols[i] = kmsg.JoinGroupRequestProtocol{Name: strings.Clone(p.Name), Metadata: bytes.Clone(p.Metadata)}
	}
	if req.Reason != nil {
		a.reason = *req.Reason
	}
	// A join without a member id creates the group; one with a member id
	// is for a group that must exist.
	resp, err := c.call(ctx, req.Group, a.memberID == "", func(g *group, reply replyFunc) kmsg.Response {
		return g.join(a, reply)
	})
	if errors.Is(err, errNoGroup) {
		return fail(kerr.UnknownMemberID.Code)
	}
	return resp, err
}

func (g *group) joinError(a *joinArgs, code int16, memberID string) kmsg.Response {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = a.version
	resp.ErrorCode = code
	resp.MemberID = memberID
	return resp
}

// join handles a JoinGroup on the group's goroutine. It returns the
// response, or nil when the request is parked until the join phase ends.
func (g *group) join(a *joinArgs, reply replyFunc) kmsg.Response {
	if a.memberID == "" {
		return g.joinNew(a, reply)
	}
	return g.joinExisting(a, reply)
}

// joinNew handles a join without a member id: a new member, or a static
// member coming back under a new member id.
func (g *group) joinNew(a *joinArgs, reply replyFunc) kmsg.Response {
	if !g.supportsProtocols(a.protocolType, a.protocols) {
		return g.joinError(a, kerr.InconsistentGroupProtocol.Code, "")
	}
	id := newMemberID(a.clientID, a.instanceID)
	if a.instanceID != nil {
		if old, ok := g.static[*a.instanceID]; ok && g.members[old] != nil {
			return g.replaceStatic(g.members[old], id, a, reply)
		}
		// A static member needs no MEMBER_ID_REQUIRED round trip: its
		// instance id already identifies it.
		m := g.newMember(id, a)
		m.join = &parkedJoin{version: a.version, reply: reply}
		g.addMember(m)
		return nil
	}
	if a.version >= 4 {
		// KIP-394: the member must come back with this id within its
		// session timeout; until then it holds up the join phase.
		g.addPending(id, a.session)
		g.c.logger.Debug("member id required", "group", g.name, "member", id)
		return g.joinError(a, kerr.MemberIDRequired.Code, id)
	}
	m := g.newMember(id, a)
	m.join = &parkedJoin{version: a.version, reply: reply}
	g.addMember(m)
	return nil
}

// joinExisting handles a join with a member id: a pending member coming
// back after MEMBER_ID_REQUIRED, or a member rejoining.
func (g *group) joinExisting(a *joinArgs, reply replyFunc) kmsg.Response {
	if !g.supportsProtocols(a.protocolType, a.protocols) {
		return g.joinError(a, kerr.InconsistentGroupProtocol.Code, a.memberID)
	}
	if _, ok := g.pending[a.memberID]; ok && a.instanceID == nil {
		g.removePending(a.memberID)
		m := g.newMember(a.memberID, a)
		m.join = &parkedJoin{version: a.version, reply: reply}
		g.addMember(m)
		return nil
	}
	if code := g.validateMember(a.memberID, a.instanceID); code != 0 {
		return g.joinError(a, code, a.memberID)
	}
	m := g.members[a.memberID]
	switch g.state {
	case statePreparingRebalance:
		g.updateMember(m, a, reply)
		g.maybeCompleteJoin()
	case stateCompletingRebalance:
		if m.sameProtocols(a.protocols) {
			// The member lost its JoinGroup response: send it again.
			return g.joinResponse(m, a.version)
		}
		g.updateMember(m, a, reply)
		g.prepareRebalance("member " + m.id + " changed its metadata")
	case stateStable:
		if m.id != g.leader && m.sameProtocols(a.protocols) {
			// A follower with nothing new: the current generation stands.
			return g.joinResponse(m, a.version)
		}
		// The leader rejoins to have the group reassigned (its metadata
		// may not show why, for example a new partition); a follower with
		// new metadata needs it too.
		g.updateMember(m, a, reply)
		reason := "member " + m.id + " changed its metadata"
		if m.id == g.leader {
			reason = "leader " + m.id + " rejoined"
		}
		if a.reason != "" {
			reason += ": " + a.reason
		}
		g.prepareRebalance(reason)
	default:
		// Members exist only in the other states; tell it to start over.
		return g.joinError(a, kerr.UnknownMemberID.Code, a.memberID)
	}
	return nil
}

func (g *group) newMember(id string, a *joinArgs) *member {
	return &member{
		id:               id,
		instanceID:       a.instanceID,
		clientID:         a.clientID,
		clientHost:       a.clientHost,
		sessionTimeout:   a.session,
		rebalanceTimeout: a.rebalance,
		protocolType:     a.protocolType,
		protocols:        a.protocols,
	}
}

// updateMember takes a rejoining member's new protocols and timeouts and
// parks its JoinGroup.
func (g *group) updateMember(m *member, a *joinArgs, reply replyFunc) {
	if m.join != nil {
		// A second join while one waits: the client gave up on the first.
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = m.join.version
		resp.ErrorCode = kerr.RebalanceInProgress.Code
		resp.MemberID = m.id
		m.join.reply(resp)
	}
	m.protocolType = a.protocolType
	m.protocols = a.protocols
	m.sessionTimeout = a.session
	m.rebalanceTimeout = a.rebalance
	m.join = &parkedJoin{version: a.version, reply: reply}
}

// replaceStatic handles a static member that rejoins without its member
// id (it restarted): the new member id replaces the old one, whose
// waiting requests are fenced, and the member keeps its assignment. In a
// Stable group whose protocol choice does not change, no rebalance
// happens (KIP-345); a leader is told to skip the assignment (KIP-814).
func (g *group) replaceStatic(old *member, id string, a *joinArgs, reply replyFunc) kmsg.Response {
	g.answerParked(old, kerr.FencedInstanceID.Code)
	old.heartbeat.stop()
	m := g.newMember(id, a)
	m.seq = old.seq
	m.assignment = old.assignment
	delete(g.members, old.id)
	g.members[id] = m
	g.static[*a.instanceID] = id
	if g.leader == old.id {
		g.leader = id
	}
	if _, ok := g.pendingSync[old.id]; ok {
		delete(g.pendingSync, old.id)
		g.pendingSync[id] = struct{}{}
	}
	g.scheduleHeartbeat(m, m.sessionTimeout)
	g.c.logger.Info("static member rejoined with a new member id", "group", g.name,
		"instance", *a.instanceID, "old_member", old.id, "member", id, "state", g.state.String())
	switch g.state {
	case stateStable:
		if g.selectProtocol() == g.protocol {
			resp := g.joinResponse(m, a.version)
			resp.SkipAssignment = m.id == g.leader
			return resp
		}
		m.join = &parkedJoin{version: a.version, reply: reply}
		g.prepareRebalance("static member " + *a.instanceID + " rejoined with other protocols")
	case stateCompletingRebalance:
		// The leader may be assigning to the old member id: start over.
		m.join = &parkedJoin{version: a.version, reply: reply}
		g.prepareRebalance("static member " + *a.instanceID + " rejoined during CompletingRebalance")
	default: // PreparingRebalance
		m.join = &parkedJoin{version: a.version, reply: reply}
		g.maybeCompleteJoin()
	}
	return nil
}

// newMemberID is Kafka's member id: the instance id, or else the client
// id, a dash and a random UUID.
func newMemberID(clientID string, instanceID *string) string {
	prefix := clientID
	if instanceID != nil {
		prefix = *instanceID
	}
	var u [16]byte
	_, _ = rand.Read(u[:])  // crypto/rand.Read does not fail
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func cloneStringPtr(s *string) *string {
	if s == nil {
		return nil
	}
	c := strings.Clone(*s)
	return &c
}
