package kafka

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
)

func init() { register(20, 0, 6, (*Server).handleDeleteTopics) }

func (s *Server) handleDeleteTopics(r *request) {
	req := r.req.(*kmsg.DeleteTopicsRequest)
	resp := kmsg.NewPtrDeleteTopicsResponse()
	targets := req.Topics
	for _, name := range req.TopicNames { // v0-v5
		targets = append(targets, kmsg.DeleteTopicsRequestTopic{Topic: &name})
	}
	for _, rt := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var t *log.Topic
		var err error
		if rt.Topic != nil {
			t, err = s.log.Topic(*rt.Topic)
		} else {
			t, err = s.log.TopicByID(rt.TopicID)
			if err != nil {
				st.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, st)
				continue
			}
		}
		if err == nil && strings.HasPrefix(t.Name(), "__") {
			st.ErrorCode = kerr.InvalidTopicException.Code
			m := "internal topics cannot be deleted"
			st.ErrorMessage = &m
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if err == nil {
			name := t.Name()
			st.Topic, st.TopicID = &name, t.ID()
			err = s.log.DeleteTopic(name)
			if err == nil && s.groups != nil {
				if gerr := s.groups.DeleteTopicOffsets(name); gerr != nil {
					s.cfg.Logger.Warn("dropping committed offsets of deleted topic", "topic", name, "err", gerr)
				}
			}
		}
		st.ErrorCode, st.ErrorMessage = errorCode(err), errMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	r.respond(resp)
}
