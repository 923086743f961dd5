package kafka

import (
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
)

func init() { register(3, 0, 12, (*Server).handleMetadata) }

func (s *Server) handleMetadata(r *request) {
	req := r.req.(*kmsg.MetadataRequest)
	resp := kmsg.NewPtrMetadataResponse()
	host, port := s.advertised()
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = s.cfg.NodeID, host, port
	resp.Brokers = []kmsg.MetadataResponseBroker{b}
	resp.ClusterID = &s.cfg.ClusterID
	resp.ControllerID = s.cfg.NodeID

	// v0: an empty list means every topic; v1+: null means every topic.
	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range s.log.Topics() {
			resp.Topics = append(resp.Topics, s.topicMetadata(t))
		}
		r.respond(resp)
		return
	}
	// Before v4 a metadata request always allowed auto-creation.
	autoCreate := s.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		var t *log.Topic
		var err error
		switch {
		case rt.Topic != nil:
			t, err = s.topic(*rt.Topic, autoCreate)
		default:
			t, err = s.log.TopicByID(rt.TopicID)
		}
		if err != nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
			mt.ErrorCode = errorCode(err)
			if errors.Is(err, log.ErrUnknownTopic) && rt.Topic == nil {
				mt.ErrorCode = kerr.UnknownTopicID.Code
			}
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, s.topicMetadata(t))
	}
	r.respond(resp)
}

// topic returns the named topic, creating it with the default partition
// count when create is set and it does not exist.
func (s *Server) topic(name string, create bool) (*log.Topic, error) {
	t, err := s.log.Topic(name)
	if err == nil || !create || !errors.Is(err, log.ErrUnknownTopic) {
		return t, err
	}
	if strings.HasPrefix(name, "__") {
		return nil, err // internal names are never auto-created
	}
	t, err = s.log.CreateTopic(name, s.cfg.DefaultPartitions, nil)
	if errors.Is(err, log.ErrTopicExists) { // another request created it first
		return s.log.Topic(name)
	}
	if err == nil {
		s.cfg.Logger.Info("auto-created topic", "topic", name, "partitions", s.cfg.DefaultPartitions)
	}
	return t, err
}

func (s *Server) topicMetadata(t *log.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name()
	mt.Topic = &name
	mt.TopicID = t.ID()
	mt.IsInternal = strings.HasPrefix(name, "__")
	for _, p := range t.Partitions() {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.ID()
		mp.Leader = s.cfg.NodeID
		mp.LeaderEpoch = p.LeaderEpoch()
		mp.Replicas = []int32{s.cfg.NodeID}
		mp.ISR = []int32{s.cfg.NodeID}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
