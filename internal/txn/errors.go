package txn

import "errors"

// Errors of the coordinator's operations. Each is one of Kafka's
// transaction errors, named after it; the Kafka listener maps them to the
// error codes each API version expects (internal/kafka, txn_errors.go) and
// the embedded transport to transport.ErrFenced and its own errors.
var (
	// ErrClosed: the coordinator was closed (COORDINATOR_NOT_AVAILABLE).
	ErrClosed = errors.New("txn: coordinator closed")
	// ErrInvalidRequest: an empty transactional id (INVALID_REQUEST).
	ErrInvalidRequest = errors.New("txn: invalid request")
	// ErrInvalidTimeout: a transaction timeout of zero or less, or above
	// Options.MaxTimeout (INVALID_TRANSACTION_TIMEOUT).
	ErrInvalidTimeout = errors.New("txn: invalid transaction timeout")
	// ErrInvalidProducerIDMapping: the transactional id is unknown or
	// belongs to another producer id (INVALID_PRODUCER_ID_MAPPING).
	ErrInvalidProducerIDMapping = errors.New("txn: producer id does not belong to the transactional id")
	// ErrProducerFenced: the producer's epoch is not the transactional
	// id's current one; a newer producer took over, or the coordinator
	// aborted the transaction on timeout (PRODUCER_FENCED).
	ErrProducerFenced = errors.New("txn: producer fenced by a newer epoch")
	// ErrConcurrentTransactions: the transaction is being completed (its
	// markers written); retry shortly (CONCURRENT_TRANSACTIONS).
	ErrConcurrentTransactions = errors.New("txn: the previous transaction is being completed")
	// ErrInvalidTxnState: the request does not fit the transaction's state,
	// as ending a transaction that was never begun (INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("txn: request invalid in the transaction's state")
	// ErrNotInTransaction: a transactional write to a partition (or
	// group) that was not added to the open transaction (Kafka's
	// verification answers TRANSACTION_ABORTABLE, and INVALID_TXN_STATE to
	// clients that predate it).
	ErrNotInTransaction = errors.New("txn: partition not added to the transaction")
	// ErrStorage wraps a failure to write the transaction state: the
	// transition did not happen (NOT_COORDINATOR, which clients retry).
	ErrStorage = errors.New("txn: writing transaction state failed")
	// ErrCorruptState marks a transaction-state record that passed the
	// log's CRC check but cannot be decoded.
	ErrCorruptState = errors.New("txn: corrupt transaction state record")
)
