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
				sp.Offset, sp.Timestamp, err = listOffset(p, rp.Timestamp, req.Version >= 2 && req.IsolationLevel == readCommitted)
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

// listOffset answers one partition's ListOffsets. read_committed (v2+)
// bounds it by the last stable offset, as Kafka does: latest is the LSO,
// and a timestamp whose record lies at or past the LSO finds nothing.
func listOffset(p *log.Partition, ts int64, committed bool) (offset, timestamp int64, err error) {
	o := p.Offsets()
	end := o.HighWatermark
	if committed {
		end = o.LastStable
	}
	switch ts {
	case latestTimestamp:
		return end, -1, nil
	case earliestTimestamp, earliestLocalTimestamp:
		return o.LogStart, -1, nil
	case maxTimestamp:
		offset, timestamp, err = p.MaxTimestamp()
	default:
		offset, timestamp, err = p.OffsetForTime(ts)
	}
	if err == nil && (offset < 0 || offset >= end) {
		// No record that new (below the bound): Kafka answers -1 with the
		// timestamp -1.
		return -1, -1, nil
	}
	return offset, timestamp, err
}
