package kafka

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tide-data/tide/internal/txn"
)

// txnCodes says how one API version reports the transaction
// coordinator's errors that Kafka translates for older clients.
type txnCodes struct {
	// fenced: PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH for versions
	// that predate it (and for writes, which Kafka always answers so).
	fenced int16
	// notAdded: a write to a partition or group not in the transaction;
	// TRANSACTION_ABORTABLE, or INVALID_TXN_STATE for versions that
	// predate it.
	notAdded int16
	// concurrent: CONCURRENT_TRANSACTIONS for the coordinator's own
	// requests; writes get a retriable error older clients know.
	concurrent int16
}

// fencedFrom is the coordinator requests' translation: PRODUCER_FENCED
// from version from on (KIP-588), INVALID_PRODUCER_EPOCH before.
func fencedFrom(version, from int16) txnCodes {
	c := txnCodes{fenced: kerr.ProducerFenced.Code, notAdded: kerr.InvalidTxnState.Code, concurrent: kerr.ConcurrentTransactions.Code}
	if version < from {
		c.fenced = kerr.InvalidProducerEpoch.Code
	}
	return c
}

// writeCodes is the translation of a transactional write's verification
// (Produce, TxnOffsetCommit), as Kafka's AddPartitionsToTxnManager does
// it: a fenced producer is INVALID_PRODUCER_EPOCH, a partition not added
// TRANSACTION_ABORTABLE from the version given on (INVALID_TXN_STATE
// before), and a transaction being completed the retriable code given.
func writeCodes(version, abortableFrom, concurrent int16) txnCodes {
	c := txnCodes{fenced: kerr.InvalidProducerEpoch.Code, notAdded: kerr.InvalidTxnState.Code, concurrent: concurrent}
	if version >= abortableFrom {
		c.notAdded = kerr.TransactionAbortable.Code
	}
	return c
}

// txnErrorCode maps an error of the transaction coordinator to the code
// Kafka answers it with.
func txnErrorCode(err error, codes txnCodes) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, txn.ErrProducerFenced):
		return codes.fenced
	case errors.Is(err, txn.ErrNotInTransaction):
		return codes.notAdded
	case errors.Is(err, txn.ErrConcurrentTransactions):
		return codes.concurrent
	case errors.Is(err, txn.ErrInvalidProducerIDMapping):
		return kerr.InvalidProducerIDMapping.Code
	case errors.Is(err, txn.ErrInvalidTxnState):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, txn.ErrInvalidTimeout):
		return kerr.InvalidTransactionTimeout.Code
	case errors.Is(err, txn.ErrInvalidRequest):
		return kerr.InvalidRequest.Code
	case errors.Is(err, txn.ErrClosed):
		return kerr.CoordinatorNotAvailable.Code
	case errors.Is(err, txn.ErrStorage):
		// Kafka's answer when the state log's partition fails under it;
		// clients look the coordinator up again and retry.
		return kerr.NotCoordinator.Code
	}
	return kerr.UnknownServerError.Code
}
