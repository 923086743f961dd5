package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(10, 0, 4, (*Server).handleFindCoordinator) }

const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

// handleFindCoordinator names this node as the coordinator of every group
// and every transactional id. Other key types (share groups, KIP-932) are
// refused with INVALID_REQUEST, as Kafka refuses a type it does not know.
func (s *Server) handleFindCoordinator(r *request) {
	req := r.req.(*kmsg.FindCoordinatorRequest)
	resp := kmsg.NewPtrFindCoordinatorResponse()
	host, port := s.advertised()
	code := int16(0)
	var msg *string
	if req.CoordinatorType != coordinatorGroup && req.CoordinatorType != coordinatorTransaction {
		code = kerr.InvalidRequest.Code
		m := "unknown coordinator type"
		msg = &m
	}
	if req.Version < 4 {
		resp.ErrorCode, resp.ErrorMessage = code, msg
		if code == 0 {
			resp.NodeID, resp.Host, resp.Port = s.cfg.NodeID, host, port
		} else {
			resp.NodeID, resp.Port = -1, -1
		}
		r.respond(resp)
		return
	}
	for _, key := range req.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.ErrorCode, c.ErrorMessage = key, code, msg
		if code == 0 {
			c.NodeID, c.Host, c.Port = s.cfg.NodeID, host, port
		} else {
			c.NodeID, c.Port = -1, -1
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	r.respond(resp)
}
