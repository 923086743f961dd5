package kafka

import (
	"context"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/txn"
)

// v5 adds no field, only TRANSACTION_ABORTABLE to what a client
// understands; v6 is KIP-939's two-phase commit.
func init() { register(22, 0, 5, (*Server).handleInitProducerID) }

// handleInitProducerID gives an idempotent producer a new producer id, or
// a transactional producer its id and a new epoch from the transaction
// coordinator (which aborts a transaction its predecessor left open and
// answers CONCURRENT_TRANSACTIONS; the client retries). Producer ids come
// from the coordinator either way, so they never collide.
func (s *Server) handleInitProducerID(r *request) {
	req := r.req.(*kmsg.InitProducerIDRequest)
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	// v3+ (KIP-360): the id and epoch the producer had, both or neither.
	var expected *txn.ProducerIDEpoch
	if req.Version >= 3 {
		switch {
		case req.ProducerID == -1 && req.ProducerEpoch == -1:
		case req.ProducerID == -1 || req.ProducerEpoch == -1:
			resp.ErrorCode = kerr.InvalidRequest.Code
			r.respond(resp)
			return
		default:
			expected = &txn.ProducerIDEpoch{ProducerID: req.ProducerID, Epoch: req.ProducerEpoch}
		}
	}
	if req.TransactionalID == nil {
		// An idempotent producer may ask to bump its epoch after an error
		// instead of taking a new id (KIP-360).
		if expected != nil && expected.Epoch < math.MaxInt16 {
			resp.ProducerID, resp.ProducerEpoch = expected.ProducerID, expected.Epoch+1
			r.respond(resp)
			return
		}
		id, err := s.txns.NextProducerID()
		if err != nil {
			s.cfg.Logger.Error("allocating producer id", "err", err)
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		} else {
			resp.ProducerID, resp.ProducerEpoch = id, 0
		}
		r.respond(resp)
		return
	}
	// The coordinator writes its state durably: off the reader goroutine.
	r.async(func(ctx context.Context) {
		timeout := time.Duration(req.TransactionTimeoutMillis) * time.Millisecond
		got, err := s.txns.InitProducerID(ctx, *req.TransactionalID, timeout, expected)
		if err != nil {
			resp.ErrorCode = txnErrorCode(err, fencedFrom(req.Version, 4))
			s.cfg.Logger.Debug("InitProducerId refused", "transactional_id", *req.TransactionalID, "err", err)
		} else {
			resp.ProducerID, resp.ProducerEpoch = got.ProducerID, got.Epoch
		}
		r.respond(resp)
	})
}
