// Package connector holds Tide's sources and sinks: the interfaces the
// runtime drives (Source, Sink), and the connectors of this release —
// `topic` (source and sink over a transport.Transport, so embedded or
// Kafka), `datagen` (a seeded, deterministic generator), `stdout` and
// `blackhole` — each in its own file (source_topic.go, sink_stdout.go).
//
// Connectors move bytes: decoding and encoding records is the format
// package's job, evaluating SQL the engine's. Acknowledgements travel
// with the data (Batch.Ack), and a source's offsets move only on ack.
//
// NewSource and NewSink build a connector from its WITH options (keys in
// lower case, without 'connector' and the format's options); a missing,
// unknown or malformed option is an error that lists the valid ones.
//
//	connector  source options                          sink options
//	topic      topic, scan.startup.mode, commit.interval  topic, topic.create, topic.partitions
//	datagen    rows-per-second, number-of-rows, seed,  -
//	           partitions, fields.<col>.{kind, min, max,
//	           length, values, null-rate}
//	stdout     -                                       print.key
//	blackhole  -                                       (none)
//
// Goroutines: only the topic source runs one, its commit loop, started by
// its first Read and stopped by Close. Constructors that call the
// transport (topic) bound those calls by setupTimeout, since they take no
// context.
package connector
