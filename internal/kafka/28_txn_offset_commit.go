package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/group"
)

// v4 adds only TRANSACTION_ABORTABLE to what the client understands; v5
// adds the group to the transaction implicitly (KIP-890 part 2) and is not
// served.
func init() { register(28, 0, 4, (*Server).handleTxnOffsetCommit) }

// handleTxnOffsetCommit commits a consumer group's offsets within the
// producer's transaction: the transaction coordinator checks that the
// group was added to the open transaction (AddOffsetsToTxn) and hands the
// request to the group coordinator, which keeps the offsets pending until
// the transaction ends. A refusal by the transaction coordinator is every
// partition's error, as Kafka's verification makes it.
func (s *Server) handleTxnOffsetCommit(r *request) {
	req := r.req.(*kmsg.TxnOffsetCommitRequest)
	r.async(func(ctx context.Context) {
		if req.Group == "" {
			r.respond(group.ErrorResponse(req, kerr.InvalidGroupID.Code))
			return
		}
		resp, err := s.txns.TxnOffsetCommit(ctx, req)
		if err != nil {
			s.cfg.Logger.Debug("TxnOffsetCommit refused", "transactional_id", req.TransactionalID, "group", req.Group, "err", err)
			// A transaction being completed: Kafka's write path turns
			// CONCURRENT_TRANSACTIONS into a retriable error, and its
			// group coordinator that into COORDINATOR_NOT_AVAILABLE.
			code := txnErrorCode(err, writeCodes(req.Version, 4, kerr.CoordinatorNotAvailable.Code))
			r.respond(group.ErrorResponse(req, code))
			return
		}
		r.respond(resp)
	})
}
