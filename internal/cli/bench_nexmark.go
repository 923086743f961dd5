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
		cpuProfile    string
		memProfile    string
	)
	cmd := &cobra.Command{
		Use:   "nexmark",
		Short: "Run the Nexmark queries over the Nexmark generator, in process and from the log",
		Long: `Run the Nexmark queries of examples/nexmark (each file as it is: its sources,
its intermediate sinks) in process, on an embedded log in a scratch directory
under --dir (fsync=always, one partition per topic).

For each query, twice, with its last sink writing to a blackhole, timed from
running the file until that sink has written as many rows as the query's
brute-force evaluation in Go has (a different count fails the run; q4's
result updates, so its run ends when its pipeline has finished, with at
least as many rows as the evaluation has keys):

  generator   the sources are the nexmark connector: --events events of the
              Nexmark stream (people, auctions, bids; 2/6/92%), seed --seed,
              generated in the pipelines' process, unthrottled
  log         the same rows, written to the topics nexmark_person,
              nexmark_auction and nexmark_bid before anything is timed, read
              with scan.bounded.mode = 'latest-offset'

The table shows events/s and events per CPU-second (the process's user+system
time: "per core"), counting every event of the stream as Flink's figures do.
The targets are twice Flink 1.13's per-core figures (q0 >= 310,000 events per
CPU-second, q1 >= 316,000, q2 >= 350,000, q3 >= 304,000, q4 >= 68,000, q5 >= 44,000,
q7 >= 25,000, q8 >= 292,000), checked on the generator runs. A missed target
exits 0 unless --check is given.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if queries != "" {
				opts.Queries = strings.Split(strings.ReplaceAll(queries, " ", ""), ",")
			}
			if err := opts.Validate(); err != nil {
				return usageError(err)
			}
			if cpuProfile != "" {
				opts.OnRun = phaseProfiler(e.stderr, "bench nexmark", cpuProfile)
			}
			if memProfile != "" {
				opts.OnRun = bothProfilers(opts.OnRun, allocProfiler(e.stderr, "bench nexmark", memProfile))
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
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of each run to `file`.<query>-<source>-<round>")
	_ = f.MarkHidden("cpuprofile") // fails only for an undefined flag
	f.StringVar(&memProfile, "memprofile", "", "write a heap profile after each run to `file`.<query>-<source>-<round>")
	_ = f.MarkHidden("memprofile") // fails only for an undefined flag
	return cmd
}
