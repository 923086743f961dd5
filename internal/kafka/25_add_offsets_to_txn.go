package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// v4 adds only TRANSACTION_ABORTABLE to what the client understands.
func init() { register(25, 0, 4, (*Server).handleAddOffsetsToTxn) }

// handleAddOffsetsToTxn adds a consumer group's offsets to the producer's
// transaction, so that its TxnOffsetCommit is accepted and settled with
// the transaction.
func (s *Server) handleAddOffsetsToTxn(r *request) {
	req := r.req.(*kmsg.AddOffsetsToTxnRequest)
	r.async(func(ctx context.Context) {
		resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
		err := s.txns.AddOffsets(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group)
		if err != nil {
			s.cfg.Logger.Debug("AddOffsetsToTxn refused", "transactional_id", req.TransactionalID, "group", req.Group, "err", err)
		}
		resp.ErrorCode = txnErrorCode(err, fencedFrom(req.Version, 2))
		r.respond(resp)
	})
}
