package kafka

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/group"
)

// Group requests go to the coordinator, on their own goroutine because
// JoinGroup and SyncGroup wait for the rest of the group. Versions: the
// ones the coordinator implements; OffsetFetch stops at v8 (v9 brings
// member epochs of the new protocol, v10 topic ids).
func init() {
	for _, g := range []struct{ key, min, max int16 }{
		{8, 0, 9},  // OffsetCommit
		{9, 0, 8},  // OffsetFetch
		{11, 0, 9}, // JoinGroup
		{12, 0, 4}, // Heartbeat
		{13, 0, 5}, // LeaveGroup
		{14, 0, 5}, // SyncGroup
		{15, 0, 5}, // DescribeGroups
		{16, 0, 5}, // ListGroups
		{42, 0, 2}, // DeleteGroups
		{47, 0, 0}, // OffsetDelete
	} {
		register(g.key, g.min, g.max, (*Server).handleGroupRequest)
	}
}

func (s *Server) handleGroupRequest(r *request) {
	r.async(func(ctx context.Context) {
		clientID := ""
		if r.header.clientID != nil {
			clientID = *r.header.clientID
		}
		// Kafka reports a member's host as "/" and its address.
		host, _, _ := net.SplitHostPort(r.conn.remote)
		resp, err := s.groups.Handle(group.WithClient(ctx, clientID, "/"+host), r.req)
		if err != nil {
			// The coordinator is shutting down or the connection went away:
			// answer so the writer is not left waiting; clients retry.
			s.cfg.Logger.Debug("group request failed", "api", kmsg.NameForKey(r.header.key), "err", err)
			resp = group.ErrorResponse(r.req, kerr.CoordinatorNotAvailable.Code)
		}
		r.respond(resp)
	})
}
