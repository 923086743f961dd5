// Package engine runs Tide's SQL: it executes statements (CREATE SOURCE,
// CREATE SINK ... AS SELECT, DROP, SHOW, DESCRIBE, EXPLAIN), keeps the
// catalog of objects persisted in the log, and runs one pipeline per sink.
//
// # Pipelines
//
// A pipeline reads its source connector (or several: the two streams of a
// join, the queries of a UNION ALL; input.go), and for each input
// partition runs one task goroutine that decodes, filters, projects, keys
// and encodes the partition's records in order, writes the outputs to the sink, and only
// then acknowledges the input batch; the source commits acknowledged
// offsets to the pipeline's consumer group (tide-sink-<name>-<id>), the
// same offsets `tide group describe` and any Kafka tool show. This is
// at-least-once: after a crash, the records between the last commit and
// the crash are processed again, so a sink may see each of them twice —
// at most the commit interval's worth (1 s by default) plus the batches in
// flight (the task queues are bounded: 4 batches per partition, and a
// pipeline's batches in flight by its byte budget, Config.PipelineBufferBytes).
//
// A record that fails to decode or evaluate goes to the pipeline's
// dead-letter topic (default <sink>.dlq) with headers naming the error,
// the stage and the origin, is counted, and the pipeline moves on. A sink
// that fails (the topic deleted, the cluster down) is retried with backoff,
// holding the partition's progress: nothing is skipped.
//
// Reading, writing and committing go through transport.Transport, so the
// same pipelines run on the embedded log and on a Kafka cluster.
//
// # Concurrency
//
// Engine.mu guards the object maps; statements that change objects are
// serialised by Engine.ddl so that a CREATE and its catalog write are one
// step. Each pipeline owns its dispatcher and task goroutines and stops
// them in two steps: stop reading, let the tasks drain and acknowledge
// what they hold, then close the source, which commits.
package engine
