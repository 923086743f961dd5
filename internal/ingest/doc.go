// Package ingest is HTTP ingestion: POST /v1/topics/{topic}/records turns
// a JSON, JSON-array or NDJSON body into records and writes them through
// a transport.Transport (the embedded log or Kafka), answering only once
// every record is durable. docs/INGEST.md is the API reference; this is
// how the package keeps its promises.
//
// # A request's path
//
//	limit ─► read body ─► verify HMAC ─► parse all ─► topic ─► idempotency ─► write ─► answer
//	(429)    (413)        (401)         (400)        (404)    (replay/wait)   (503)
//
// All or nothing: the whole body is parsed and checked before anything is
// written, so a 4xx writes nothing. A write the transport fails part-way
// may have written some records (Produce's contract): the answer is 503,
// and a retry with the same Idempotency-Key writes only what is missing.
//
// # Memory
//
// A byteLimiter counts the memory of every request from reading its body
// until its write has settled — including writes whose request already
// timed out (503) while the disk is stalled: the body's bytes, and
// recordMemory per record (charged for maxElements before parsing,
// trimmed to the real count after), because for small events the records
// weigh more than the body. A request that does not fit is refused at
// once with 429 and Retry-After: nothing queues. Record keys, values and
// header values point into the body buffer, which is pooled with the
// request's other scratch (work) and released by whichever of the handler
// and the write goroutine finishes last.
//
// # Idempotency
//
// idemStore holds, per topic and Idempotency-Key (or per event id), the
// positions written and when, in memory and in the compacted topic
// __tide_idempotency (retention: the window), read back by New. An entry
// is pending while its owner writes: a concurrent duplicate waits for it
// (bounded by the request timeout), then replays the answer. Event ids of
// one request are claimed together under one lock, so two requests never
// wait on each other. Entries leave memory when the window passes, in
// settling order (a FIFO, no scan, no goroutine) — or earlier, oldest
// first from the same FIFO, when more than Config.IdempotencyMaxKeys are
// settled (loading too): idempotency holds for the window or the newest
// IdempotencyMaxKeys keys, whichever is shorter. In memory an entry is
// keyed by a 128-bit hash of its text key (idemKey explains why a
// collision is not a concern) and takes about 130 bytes for an event id.
//
// # Goroutines
//
// One per write in flight, so that a stalled disk cannot hold a request
// past its timeout; Close waits for them.
package ingest
