// Package cli is the tide command line: a cobra command tree that
// cmd/tide runs with Main, importable so that tests run it in process.
//
// One file per command group: root.go (Main, exit codes, error handling,
// the shared --data-dir flag), topic.go, produce.go, consume.go, bench.go.
//
// # Contract
//
//   - Exit codes: 0 success; 2 bad input (flag and argument errors,
//     unknown command, topic or partition, invalid topic name,
//     configuration or partition count, topic exists, offset out of range,
//     a line too large for max.message.bytes); 1 any other failure (I/O,
//     data directory in use); 130 produce stopped by SIGINT/SIGTERM
//     before the end of its input.
//   - An error is printed as one line on stderr, "tide: <message>"; cobra's
//     usage dump is silenced, --help prints usage to stdout.
//   - Data goes to stdout (consume records, topic list and describe);
//     confirmations and counts ("produced N records", "consumed N
//     records", "created topic …") go to stderr.
//   - --data-dir defaults to $TIDE_DATA_DIR, else ./data; the flag wins
//     over the variable. Only "topic create" creates a missing data
//     directory; every other command treats it as a usage error.
//
// The commands open the data directory directly with the storage engine
// (internal/log), which locks it: they fail with "data directory in use"
// while a server owns it. The log's background cleaner is off, so that no
// CLI command deletes data as a side effect.
//
// # Produce
//
// One goroutine reads stdin and builds batches, one per partition at a
// time; a per-partition appender goroutine appends that partition's
// batches in order, coalescing queued ones into one Append (one write, one
// fsync). Memory is bounded: 32 MiB of records waiting for a batch, 64 MiB
// of batches waiting for an append (reading stops meanwhile).
package cli
