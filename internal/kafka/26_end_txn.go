package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// v4 adds only TRANSACTION_ABORTABLE to what the client understands; v5
// bumps the epoch at every EndTxn (KIP-890 part 2, transaction version 2),
// which is not served.
func init() { register(26, 0, 4, (*Server).handleEndTxn) }

// handleEndTxn commits or aborts the producer's transaction. It answers
// once the markers are written and the offsets settled (or, if that
// failed, once the outcome is durable and its completion retried in the
// background, as Kafka answers once its PrepareCommit is written), so a
// read_committed consumer sees a committed transaction as soon as its
// producer learns it committed.
func (s *Server) handleEndTxn(r *request) {
	req := r.req.(*kmsg.EndTxnRequest)
	r.async(func(ctx context.Context) {
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		err := s.txns.EndTxn(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit)
		if err != nil {
			s.cfg.Logger.Debug("EndTxn refused", "transactional_id", req.TransactionalID, "commit", req.Commit, "err", err)
		}
		resp.ErrorCode = txnErrorCode(err, fencedFrom(req.Version, 2))
		r.respond(resp)
	})
}
