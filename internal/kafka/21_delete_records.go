package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(21, 0, 2, (*Server).handleDeleteRecords) }

func (s *Server) handleDeleteRecords(r *request) {
	req := r.req.(*kmsg.DeleteRecordsRequest)
	resp := kmsg.NewPtrDeleteRecordsResponse()
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		t, terr := s.log.Topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition, sp.LowWatermark = rp.Partition, -1
			if p, code := partitionOf(t, terr, rp.Partition, -1); code != 0 {
				sp.ErrorCode = code
			} else {
				var err error
				sp.LowWatermark, err = p.DeleteRecordsBefore(rp.Offset)
				sp.ErrorCode = errorCode(err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	r.respond(resp)
}
