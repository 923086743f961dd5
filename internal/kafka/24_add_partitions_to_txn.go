package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/txn"
)

// Versions 0-3 are the clients' (franz-go and Java use at most 3); v4+ is
// the brokers' batched form with VerifyOnly (KIP-890), which a single node
// never sends itself, so it is not served.
func init() { register(24, 0, 3, (*Server).handleAddPartitionsToTxn) }

// handleAddPartitionsToTxn adds partitions to the producer's transaction.
// As in Kafka, a partition that does not exist fails the whole request:
// it gets UNKNOWN_TOPIC_OR_PARTITION and every other partition
// OPERATION_NOT_ATTEMPTED; otherwise every partition gets the
// coordinator's answer.
func (s *Server) handleAddPartitionsToTxn(r *request) {
	req := r.req.(*kmsg.AddPartitionsToTxnRequest)
	codes := make(map[txn.TopicPartition]int16)
	var add []txn.TopicPartition
	missing := false
	for _, rt := range req.Topics {
		t, terr := s.log.Topic(rt.Topic)
		for _, p := range rt.Partitions {
			tp := txn.TopicPartition{Topic: rt.Topic, Partition: p}
			if terr == nil {
				if _, err := t.Partition(p); err == nil {
					add = append(add, tp)
					continue
				}
			}
			codes[tp] = kerr.UnknownTopicOrPartition.Code
			missing = true
		}
	}
	respond := func(code int16) {
		resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewAddPartitionsToTxnResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				sp.Partition = p
				sp.ErrorCode = code
				if c, ok := codes[txn.TopicPartition{Topic: rt.Topic, Partition: p}]; ok {
					sp.ErrorCode = c
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		r.respond(resp)
	}
	if missing {
		respond(kerr.OperationNotAttempted.Code)
		return
	}
	r.async(func(ctx context.Context) {
		err := s.txns.AddPartitions(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, add)
		if err != nil {
			s.cfg.Logger.Debug("AddPartitionsToTxn refused", "transactional_id", req.TransactionalID, "err", err)
		}
		respond(txnErrorCode(err, fencedFrom(req.Version, 2)))
	})
}
