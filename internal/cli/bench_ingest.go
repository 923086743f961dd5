package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/bench"
)

func newBenchIngestCommand(e *env) *cobra.Command {
	opts := bench.DefaultIngestOptions()
	var asJSON, check bool
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
A missed target exits 0 unless --check is given.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if err := opts.Validate(); err != nil {
				return usageError(err)
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
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&check, "check", false, "exit 1 if a target is missed")
	return cmd
}
