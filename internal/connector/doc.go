// Package connector holds Tide's sources and sinks: the interfaces the
// runtime drives (Source, Sink), and the connectors of this release —
// `topic` (source and sink over a transport.Transport, so embedded or
// Kafka), `datagen` (a seeded, deterministic generator), `stdout` and
// `blackhole` — each in its own file (source_topic.go, sink_stdout.go).
//
// Connectors move bytes: decoding and encoding records is the format
// package's job, evaluating SQL the engine's. Acknowledgements travel
// with the data (Batch.Ack), and a source's offsets move only on ack.
package connector
