package cli

import (
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/bench"
)

func newBenchNexmarkCommand(e *env) *cobra.Command {
	opts := bench.DefaultNexmarkOptions()
	var (
		asJSON, check bool
		queries       string
	)
	cmd := &cobra.Command{
		Use:   "nexmark",
		Short: "Run the Nexmark queries over the Nexmark generator, in process and from the log",
		Long: `Run Nexmark queries (the SELECTs of examples/nexmark/qN.sql) in process, on an
embedded log in a scratch directory under --dir (fsync=always, one partition).

For each query, twice, into a blackhole sink, timed from CREATE SINK until
every bid has been read and every row written:

  generator   the source is the nexmark connector: --events events of the
              Nexmark stream (people, auctions, bids; 2/6/92%), seed --seed,
              generated in the pipeline's process, unthrottled
  log         the same bids, written to a topic before anything is timed

The table shows events/s and events per CPU-second (the process's user+system
time: "per core"), counting every event of the stream as Flink's figures do.
The targets are twice Flink 1.13's per-core figures (q0 >= 310,000 events per
CPU-second, q1 >= 316,000, q2 >= 350,000), checked on the generator runs. A
missed target exits 0 unless --check is given.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if queries != "" {
				opts.Queries = strings.Split(strings.ReplaceAll(queries, " ", ""), ",")
			}
			if err := opts.Validate(); err != nil {
				return usageError(err)
			}
			if !asJSON {
				opts.Progress = func(r bench.NexmarkResult) { _ = bench.WriteNexmarkRow(e.stdout, r) }
				if err := bench.WriteNexmarkHeader(e.stdout, opts); err != nil {
					return err
				}
			}
			report, err := bench.RunNexmark(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return finishBench(e.stdout, report, asJSON, check, func(w io.Writer) error { return bench.WriteNexmarkSummary(w, report) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", opts.Dir, "parent `directory` of the embedded log's scratch data")
	f.StringVar(&queries, "query", "", "the queries to run, comma-separated (default: all of examples/nexmark)")
	f.Int64Var(&opts.Events, "events", opts.Events, "events of the Nexmark stream per run")
	f.Uint64Var(&opts.Seed, "seed", opts.Seed, "the generator's seed")
	f.IntVar(&opts.Rounds, "rounds", opts.Rounds, "runs of each measurement")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&check, "check", false, "exit 1 if a target is missed")
	return cmd
}
