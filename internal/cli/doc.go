// Package cli is the tide command line: a cobra command tree that
// cmd/tide runs with Main, importable so that tests run it in process.
//
// One file per command group: root.go (Main, exit codes, error handling,
// the shared --data-dir flag), serve.go, topic.go, produce.go, consume.go,
// group.go, bench.go, dlq.go (dead-letter topics: list and replay, over a
// transport.Transport, so one code path serves both modes); the Kafka
// side of a command that also works on a data directory is in its
// _kafka.go file (topic_kafka.go, …), and
// kafka.go holds what they share (--server, --timeout, connecting, the
// exit codes of Kafka errors).
//
// # Contract
//
//   - Exit codes: 0 success; 2 bad input (flag and argument errors,
//     unknown command, topic or partition, invalid topic name,
//     configuration or partition count, topic exists, offset out of range,
//     a line too large for max.message.bytes, and their Kafka
//     counterparts, below); 1 any other failure (I/O, data directory in
//     use, server unreachable); 130 produce stopped by SIGINT/SIGTERM
//     before the end of its input.
//   - An error is printed as one line on stderr, "tide: <message>"; cobra's
//     usage dump is silenced, --help prints usage to stdout.
//   - Data goes to stdout (consume records, topic list and describe);
//     confirmations and counts ("produced N records", "consumed N
//     records", "created topic …") go to stderr.
//   - --data-dir defaults to $TIDE_DATA_DIR, else ./data; the flag wins
//     over the variable. Only "topic create" creates a missing data
//     directory; every other command treats it as a usage error.
//   - --server host:port[,host:port] (default $TIDE_SERVER) makes topic,
//     produce and consume talk Kafka to a running server (franz-go's kgo
//     and kadm) instead of opening a data directory, with the same flags
//     and output where they apply; the group commands only talk to a
//     server. --server with an explicit --data-dir is a usage error;
//     --data-dir wins over $TIDE_SERVER, --server over $TIDE_DATA_DIR.
//   - Against a server, the Kafka errors that mean bad input (unknown
//     topic or partition, invalid topic, partitions or configuration,
//     topic exists, unknown or non-empty group, offset out of range,
//     message too large) exit 2; anything else exits 1, an unreachable
//     server included.
//   - No command waits for ever on a server: connecting and each answer
//     are bounded by --timeout (default 10s); produce fails when records
//     wait and none is acknowledged for --timeout; consume without
//     --follow fails when nothing arrives for --timeout although records
//     remain before its end offsets.
//
// Without --server the commands open the data directory directly with the
// storage engine (internal/log), which locks it: they fail with "data
// directory in use" while a server owns it. The log's background cleaner is off, so that no
// CLI command deletes data as a side effect.
//
// # Produce
//
// One goroutine reads stdin and builds batches, one per partition at a
// time; a per-partition appender goroutine appends that partition's
// batches in order, coalescing queued ones into one Append (one write, one
// fsync). Memory is bounded: 32 MiB of records waiting for a batch, 64 MiB
// of batches waiting for an append (reading stops meanwhile).
//
// # Over Kafka
//
// produce --server hands each line to an idempotent kgo producer (acks=all)
// and counts acknowledgements; a watchdog fails it when records wait
// without any outcome for --timeout (kgo's own delivery timeout never
// fails a record sent without an answer). consume --server first asks
// the server for every partition's start and end offsets (ListOffsets),
// then reads with a direct kgo consumer: without --follow one partition
// after the other up to the end offsets, as on a data directory; with
// --follow all at once. consume --group reads as a group member
// (cooperative-sticky, rebalance callbacks between polls): records are
// marked for committing once printed and flushed, committed by the
// client every 5s and on revocation and by the command before it leaves
// the group, and then checked with an OffsetFetch, so that exit 0 means
// the group has what was printed.
package cli
