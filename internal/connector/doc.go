// Package connector holds Tide's sources and sinks: the interfaces the
// runtime drives (Source, Sink), and the connectors of this release —
// `topic` (source and sink over a transport.Transport, so embedded or
// Kafka), `datagen` (a seeded, deterministic generator), `nexmark` (the
// Nexmark benchmark's auction events), `stdout` and
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
//	nexmark    table, events-per-second,               -
//	           number-of-events, seed, partitions,
//	           first-event-rate, base-time (the Nexmark
//	           benchmark's events, source_nexmark.go)
//	stdout     -                                       print.key
//	blackhole  -                                       (none)
//	postgres   -                                       url, table, primary-key, table.create,
//	                                                   batch.size, pool.size, retry.max-attempts,
//	                                                   retry.backoff (sink_postgres.go: exactly-once
//	                                                   upserts and deletes; a RowSink, fed typed rows)
//	http       -                                       url, batch, hmac.secret, max.attempts,
//	                                                   timeout, headers.<name>, … (sink_http.go)
//	file       -                                       path, rotation.bytes, rotation.interval,
//	                                                   prefix (sink_file.go)
//
// Goroutines: only the topic source runs one, its commit loop, started by
// its first Read and stopped by Close. (The file sink's idle-rotation
// timer runs a short function on the timer's goroutine; Close stops it.) Constructors that call the
// transport (topic) bound those calls by setupTimeout, since they take no
// context.
package connector
