// Package bench holds Tide's benchmarks as library code, so that the
// "tide bench" command and "go test -bench" run the same scenarios.
//
// Every throughput number is reported next to a baseline measured in the
// same run on the same disk, because the machines that run it are shared
// and noisy: for the log (logbench.go) the baseline is raw sequential
// write plus fsync of chunks the size of the log's batches; for SQL
// pipelines (pipelinebench.go) it is a plain fastjson parse and re-encode
// of the same generated events, and rates are per CPU-second of the
// whole process; for Postgres change data capture (cdcbench.go), on
// request, Debezium Embedded on the same table (cdcdebezium.go); for
// windowed aggregations (windowbench.go) the stateless pass-through over
// the same events in the log, and at-least-once for exactly-once.
package bench
