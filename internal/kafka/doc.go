// Package kafka serves the Kafka wire protocol over Tide's log, so every
// Kafka client and tool can produce to and consume from Tide.
//
// It is an adapter, as kfake's handlers sit over its data layer: requests
// and responses are encoded and decoded by franz-go's kmsg, and each API
// key lives in its own file named after it (00_produce.go, 01_fetch.go, …)
// that registers the versions it serves. Only versions that are fully
// implemented are advertised.
//
// # Connections
//
// Each connection has a reader goroutine and a writer goroutine. The reader
// parses a request, reserves its place in the connection's response queue
// and starts its handler; the writer sends responses strictly in request
// order (Kafka's rule), waiting for each in turn. Produce handlers write to
// the log in request order on the reader goroutine and wait for durability
// off it, so pipelined produce requests share fsyncs without reordering.
// acks=0 produces take no place in the queue. The queue is bounded, which
// is the connection's backpressure: a client that sends faster than the
// log acknowledges stops being read.
//
// # Transactions
//
// The transaction requests (InitProducerId with a transactional id,
// AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit) go to the
// log's transaction coordinator (internal/txn), which the embedded
// transport shares. Only transaction protocol version 1 is served: the
// versions of KIP-890 part 2 (Produce v12, EndTxn v5, TxnOffsetCommit v5)
// are not advertised, nor is the transaction.version feature. A
// transactional Produce is verified against the producer's open
// transaction while the coordinator is kept from ending it, so no batch
// lands after its transaction's marker. Fetch and ListOffsets at
// isolation level read_committed stop at the last stable offset, and
// Fetch lists the aborted transactions among what it returns.
//
// A malformed frame, an unknown API key or an unsupported version closes
// the connection, as Kafka does; ApiVersions of an unknown version is
// answered with a v0 body and UNSUPPORTED_VERSION so clients can retry
// lower. The server keeps serving every other connection.
package kafka
