package group

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroups, ListGroups and DeleteGroups: the admin view of groups.

// groupOperations is the AclOperation bitfield DescribeGroups v3+ reports
// when asked: without an authorizer every group operation is allowed,
// READ (3), DELETE (6) and DESCRIBE (8).
const groupOperations = 1<<3 | 1<<6 | 1<<8

// classicGroupType is the ListGroups v5 group type of every group here.
const classicGroupType = "classic"

func (c *Coordinator) describeGroups(ctx context.Context, req *kmsg.DescribeGroupsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range req.Groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = name
		err := c.exec(ctx, name, false, func(g *group) { g.describe(&dg) })
		switch {
		case errors.Is(err, errNoGroup):
			// Kafka describes a group it does not know as Dead, no error.
			dg.State = stateDead.String()
		case errors.Is(err, ErrClosed):
			dg.ErrorCode = kerr.CoordinatorNotAvailable.Code
		case err != nil:
			return nil, err
		}
		if req.IncludeAuthorizedOperations {
			dg.AuthorizedOperations = groupOperations
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp, nil
}

// describe fills dg as Kafka does: member metadata and assignments only
// when Stable, since only then do they belong to one generation.
func (g *group) describe(dg *kmsg.DescribeGroupsResponseGroup) {
	dg.State = g.state.String()
	dg.ProtocolType = g.protocolType
	stable := g.state == stateStable
	if stable {
		dg.Protocol = g.protocol
	}
	for _, m := range g.sortedMembers() {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID = m.id
		dm.InstanceID = m.instanceID
		dm.ClientID = m.clientID
		dm.ClientHost = m.clientHost
		if stable {
			dm.ProtocolMetadata = m.metadataFor(g.protocol)
			dm.MemberAssignment = m.assignment
		}
		dg.Members = append(dg.Members, dm)
	}
}

func (c *Coordinator) listGroups(ctx context.Context, req *kmsg.ListGroupsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	matches := func(filter []string, value string) bool {
		return len(filter) == 0 || slices.ContainsFunc(filter, func(f string) bool { return strings.EqualFold(f, value) })
	}
	if !matches(req.TypesFilter, classicGroupType) {
		return resp, nil
	}
	for _, name := range c.names() {
		var st state
		var protocolType string
		err := c.exec(ctx, name, false, func(g *group) { st, protocolType = g.state, g.protocolType })
		switch {
		case errors.Is(err, errNoGroup):
			continue
		case errors.Is(err, ErrClosed):
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			resp.Groups = nil
			return resp, nil
		case err != nil:
			return nil, err
		}
		if !matches(req.StatesFilter, st.String()) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group = name
		lg.ProtocolType = protocolType
		lg.GroupState = st.String()
		lg.GroupType = classicGroupType
		resp.Groups = append(resp.Groups, lg)
	}
	return resp, nil
}

func (c *Coordinator) deleteGroups(ctx context.Context, req *kmsg.DeleteGroupsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, name := range req.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = name
		err := c.exec(ctx, name, false, func(g *group) { dg.ErrorCode = g.delete() })
		switch {
		case errors.Is(err, errNoGroup):
			dg.ErrorCode = kerr.GroupIDNotFound.Code
		case errors.Is(err, ErrClosed):
			dg.ErrorCode = kerr.CoordinatorNotAvailable.Code
		case err != nil:
			return nil, err
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp, nil
}

// delete deletes an Empty group and its committed offsets (tombstones);
// the goroutine ends after the op. Groups with members are refused, and so
// are groups for which an open transaction holds offsets: their outcome
// must land somewhere.
func (g *group) delete() int16 {
	switch g.state {
	case stateEmpty:
	case stateDead:
		return kerr.GroupIDNotFound.Code
	default:
		return kerr.NonEmptyGroup.Code
	}
	if len(g.txnOffsets) > 0 {
		return kerr.NonEmptyGroup.Code
	}
	all := make(map[string][]int32, len(g.offsets))
	for topic := range g.offsets {
		all[topic] = nil
	}
	if err := g.deleteOffsets(all); err != nil {
		return kerr.NotCoordinator.Code
	}
	for id := range g.pending {
		g.removePending(id)
	}
	g.deleted = true
	g.c.logger.Info("group deleted", "group", g.name)
	return 0
}

// ErrorResponse is req's response with code wherever the request kind
// carries an error (top level, per group, per partition): for requests that
// arrive after Close, and for the listener when Handle fails.
func ErrorResponse(req kmsg.Request, code int16) kmsg.Response {
	switch req := req.(type) {
	case *kmsg.JoinGroupRequest:
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = code
		resp.MemberID = req.MemberID
		return resp
	case *kmsg.SyncGroupRequest:
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.HeartbeatRequest:
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.LeaveGroupRequest:
		resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.OffsetCommitRequest:
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	case *kmsg.OffsetFetchRequest:
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.ErrorCode = code
		for _, g := range req.Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group = g.Group
			rg.ErrorCode = code
			resp.Groups = append(resp.Groups, rg)
		}
		if req.Version < 2 { // no group-level error: report it per partition
			for _, t := range req.Topics {
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition = p
					rp.Offset = -1
					rp.ErrorCode = code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		}
		return resp
	case *kmsg.DescribeGroupsRequest:
		resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
		for _, g := range req.Groups {
			rg := kmsg.NewDescribeGroupsResponseGroup()
			rg.Group = g
			rg.ErrorCode = code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	case *kmsg.ListGroupsRequest:
		resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.DeleteGroupsRequest:
		resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
		for _, g := range req.Groups {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group = g
			rg.ErrorCode = code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	case *kmsg.OffsetDeleteRequest:
		resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.TxnOffsetCommitRequest:
		resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	return req.ResponseKind()
}
