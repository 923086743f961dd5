package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/bench"
)

func newBenchIngestCommand(e *env) *cobra.Command {
	opts := bench.DefaultIngestOptions()
	var (
		asJSON, check bool
		cpuProfile    string
	)
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Measure HTTP ingestion (POST /v1/topics/{topic}/records) with fsync, load generator in process",
		Long: `Measure HTTP ingestion end to end: a server runs in this process on an
embedded log in a scratch directory under --dir with fsync=always, and a lean
HTTP/1.1 load generator in the same process keeps one request in flight on
each of its keep-alive connections. Two scenarios, each after a 1 s warm-up:

  batched  NDJSON bodies of --batch-events events of --event-bytes bytes,
           over --batch-conns connections
  single   one JSON event per request, over --single-conns connections

Every request is answered only once its records are durable (fsync'd), as in
production. The table shows events/s, requests/s, body MB/s, latency p50 and
p99, and the CPU cores the whole process used (server and generator). The
targets (issue 5): >= 300,000 events/s batched, >= 30,000 requests/s single.
A missed target exits 0 unless --check is given.

--schema avro|json measures schema enforcement: a schema that matches the
generated events exactly (Avro record or JSON Schema object with their six
fields) is registered in the built-in registry under the value subjects of
topics created with schema.validation=strict. Each scenario then runs twice,
on plain topics (the baseline, schema "none") and on the validated ones,
where every event is encoded for the schema and framed. The report adds the
validated events/s as a share of the baseline (target >= 70%, which then
replaces the throughput targets) and the ns per event of the registry's
AppendFramedJSON alone, timed on one goroutine.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if err := opts.Validate(); err != nil {
				return usageError(err)
			}
			if cpuProfile != "" {
				opts.OnScenario = phaseProfiler(e.stderr, "bench ingest", cpuProfile)
			}
			report, err := bench.RunIngest(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return finishBench(e.stdout, report, asJSON, check, func(w io.Writer) error { return bench.WriteIngestReport(w, report) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", opts.Dir, "parent `directory` of the server's scratch data, on the disk to measure")
	f.DurationVar(&opts.Duration, "duration", opts.Duration, "how long each scenario is measured")
	f.Int32Var(&opts.Partitions, "partitions", opts.Partitions, "partitions of the benchmark topics")
	f.IntVar(&opts.BatchConns, "batch-conns", opts.BatchConns, "connections of the batched scenario")
	f.IntVar(&opts.SingleConns, "single-conns", opts.SingleConns, "connections of the single-event scenario")
	f.IntVar(&opts.BatchEvents, "batch-events", opts.BatchEvents, "events per NDJSON batch")
	f.IntVar(&opts.EventBytes, "event-bytes", opts.EventBytes, "bytes per event")
	f.StringVar(&opts.Schema, "schema", opts.Schema, "also run the scenarios with schema validation in this `format`: none, avro or json")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&check, "check", false, "exit 1 if a target is missed")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of each scenario to `file`.<scenario>")
	_ = f.MarkHidden("cpuprofile") // fails only for an undefined flag
	return cmd
}
