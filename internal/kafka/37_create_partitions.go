package kafka

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(37, 0, 3, (*Server).handleCreatePartitions) }

func (s *Server) handleCreatePartitions(r *request) {
	req := r.req.(*kmsg.CreatePartitionsRequest)
	resp := kmsg.NewPtrCreatePartitionsResponse()
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		t, err := s.log.Topic(rt.Topic)
		switch {
		case err != nil:
			st.ErrorCode = errorCode(err)
		case strings.HasPrefix(rt.Topic, "__"):
			// Internal topics place groups and catalog entries by
			// partition; more partitions would misplace them.
			st.ErrorCode = kerr.InvalidRequest.Code
			m := fmt.Sprintf("topic %s is internal: its partitions cannot be added to", rt.Topic)
			st.ErrorMessage = &m
		case rt.Count <= t.NumPartitions():
			st.ErrorCode = kerr.InvalidPartitions.Code
			m := fmt.Sprintf("topic %s has %d partitions; the new count must be larger, not %d", rt.Topic, t.NumPartitions(), rt.Count)
			st.ErrorMessage = &m
		case req.ValidateOnly:
		default:
			err = s.log.CreatePartitions(rt.Topic, rt.Count)
			st.ErrorCode, st.ErrorMessage = errorCode(err), errMessage(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	r.respond(resp)
}
