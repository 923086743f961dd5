package kafka

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
)

// v9+ adds tiered-storage timestamps.
func init() { register(2, 0, 8, (*Server).handleListOffsets) }

// Special timestamps of ListOffsets.
const (
	latestTimestamp        = -1
	earliestTimestamp      = -2
	maxTimestamp           = -3
	earliestLocalTimestamp = -4 // no tiered storage: the same as earliest
)

func (s *Server) handleListOffsets(r *request) {
	req := r.req.(*kmsg.ListOffsetsRequest)
	resp := kmsg.NewPtrListOffsetsResponse()
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		t, terr := s.log.Topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Offset, sp.Timestamp = -1, -1
			if p, code := partitionOf(t, terr, rp.Partition, rp.CurrentLeaderEpoch); code != 0 {
				sp.ErrorCode = code
			} else {
				var err error
				sp.LeaderEpoch = p.LeaderEpoch()
				sp.Offset, sp.Timestamp, err = listOffset(p, rp.Timestamp)
				sp.ErrorCode = errorCode(err)
			}
			if req.Version == 0 && sp.Offset >= 0 {
				sp.OldStyleOffsets = []int64{sp.Offset}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	r.respond(resp)
}

func listOffset(p *log.Partition, ts int64) (offset, timestamp int64, err error) {
	o := p.Offsets()
	switch ts {
	case latestTimestamp:
		return o.HighWatermark, -1, nil
	case earliestTimestamp, earliestLocalTimestamp:
		return o.LogStart, -1, nil
	case maxTimestamp:
		return p.MaxTimestamp()
	}
	offset, timestamp, err = p.OffsetForTime(ts)
	if err == nil && offset < 0 {
		// No record that new: Kafka answers -1 with the timestamp -1.
		return -1, -1, nil
	}
	return offset, timestamp, err
}
