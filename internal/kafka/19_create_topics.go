package kafka

import (
	"fmt"
	"maps"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
)

func init() { register(19, 0, 7, (*Server).handleCreateTopics) }

func (s *Server) handleCreateTopics(r *request) {
	req := r.req.(*kmsg.CreateTopicsRequest)
	resp := kmsg.NewPtrCreateTopicsResponse()
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		code, msg := s.createTopic(req, rt, &st, seen[rt.Topic] > 1)
		st.ErrorCode = code
		if msg != "" {
			st.ErrorMessage = &msg
		}
		resp.Topics = append(resp.Topics, st)
	}
	r.respond(resp)
}

func (s *Server) createTopic(req *kmsg.CreateTopicsRequest, rt kmsg.CreateTopicsRequestTopic, st *kmsg.CreateTopicsResponseTopic, duplicate bool) (int16, string) {
	if duplicate {
		return kerr.InvalidRequest.Code, "topic named more than once in one request"
	}
	if err := log.ValidateTopicName(rt.Topic); err != nil {
		return kerr.InvalidTopicException.Code, err.Error()
	}
	partitions := rt.NumPartitions
	if len(rt.ReplicaAssignment) > 0 {
		if partitions != -1 || rt.ReplicationFactor != -1 {
			return kerr.InvalidRequest.Code, "give either a replica assignment or partitions and replication factor"
		}
		partitions = int32(len(rt.ReplicaAssignment))
		for _, a := range rt.ReplicaAssignment {
			if len(a.Replicas) != 1 || a.Replicas[0] != s.cfg.NodeID {
				return kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("this is a single-node log: every replica must be node %d", s.cfg.NodeID)
			}
		}
	}
	if partitions == -1 {
		partitions = s.cfg.DefaultPartitions
	}
	if partitions <= 0 {
		return kerr.InvalidPartitions.Code, fmt.Sprintf("%d partitions", partitions)
	}
	if rt.ReplicationFactor > 1 || rt.ReplicationFactor == 0 || rt.ReplicationFactor < -1 {
		return kerr.InvalidReplicationFactor.Code, fmt.Sprintf("replication factor %d: this single-node log has one replica (use Kafka for replication)", rt.ReplicationFactor)
	}
	configs := map[string]string{}
	for _, c := range rt.Configs {
		if c.Value != nil {
			configs[c.Name] = *c.Value
		}
	}
	cfg, err := s.log.DefaultTopicConfig().With(configs)
	if err != nil {
		return kerr.InvalidConfig.Code, err.Error()
	}
	if req.ValidateOnly {
		if _, err := s.log.Topic(rt.Topic); err == nil {
			return kerr.TopicAlreadyExists.Code, fmt.Sprintf("topic %s already exists", rt.Topic)
		}
	} else {
		t, err := s.log.CreateTopic(rt.Topic, partitions, maps.Clone(configs))
		if err != nil {
			return errorCode(err), err.Error()
		}
		st.TopicID = t.ID()
	}
	st.NumPartitions, st.ReplicationFactor = partitions, 1
	for name, value := range cfg.Map() {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name, c.Value = name, &value
		c.Source = int8(kmsg.ConfigSourceDefaultConfig)
		if _, ok := configs[name]; ok {
			c.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
		}
		st.Configs = append(st.Configs, c)
	}
	return 0, ""
}
