package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/bench"
)

func newBenchWindowCommand(e *env) *cobra.Command {
	opts := bench.DefaultWindowOptions()
	var (
		asJSON, check bool
		cpuProfile    string
	)
	cmd := &cobra.Command{
		Use:   "window",
		Short: "Measure a windowed aggregation against a pass-through, and exactly-once against at-least-once",
		Long: `Measure a stateful pipeline, in process, on an embedded log in a scratch
directory under --dir (fsync=always, one partition).

First --events events (the pipeline benchmark's ~200-byte JSON events, with
user_id drawn uniformly from --keys keys and ts advancing evenly, --window-events
events per 10-second window) are written to a topic, then one event a window
past the last, which closes every window. Nothing is timed meanwhile. Then,
each into a blackhole sink, timed from CREATE SINK until done:

  passthrough               SELECT * FROM bench_window_events
                            (done: every event written)
  window at_least_once      SELECT user_id, window_start, window_end,
  window exactly_once              count(*) AS n, sum(amount) AS total
                            FROM TUMBLE(TABLE bench_window_events,
                                        DESCRIPTOR(ts), INTERVAL '10' SECOND)
                            GROUP BY user_id, window_start, window_end
                            with delivery.guarantee as named (done: the sink
                            has every window's row, one per key and window,
                            as counted while writing the events; rows count
                            at the checkpoint that commits them)
  window at_least_once      the same at-least-once with state.memory =
    on disk                 --state-memory ('0': every window leaves memory
                            at each checkpoint and is read back from the
                            task's pebble store)

--rounds runs the four that many times, in alternating order. The table
shows events/s (wall clock), events per CPU-second (the process's user+system
time: "per core"), and the changelog records each windowed run wrote. The
summary gives the means' ratios: window over passthrough, exactly-once over
at-least-once (target >= 80% of events/s), and state on disk over state in
memory. A missed target exits 0
unless --check is given.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if err := opts.Validate(); err != nil {
				return usageError(err)
			}
			if cpuProfile != "" {
				opts.OnRun = phaseProfiler(e.stderr, "bench window", cpuProfile)
			}
			if !asJSON {
				opts.Progress = func(r bench.WindowResult) { _ = bench.WriteWindowRow(e.stdout, r) }
				if err := bench.WriteWindowHeader(e.stdout, opts); err != nil {
					return err
				}
			}
			report, err := bench.RunWindow(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return finishBench(e.stdout, report, asJSON, check, func(w io.Writer) error { return bench.WriteWindowSummary(w, report) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", opts.Dir, "parent `directory` of the embedded log's and the state's scratch data")
	f.Int64Var(&opts.Events, "events", opts.Events, "events written to the log and read by every run")
	f.IntVar(&opts.Keys, "keys", opts.Keys, "distinct group keys (user_id) the events spread over")
	f.Int64Var(&opts.WindowEvents, "window-events", opts.WindowEvents, "events per 10-second window (sets how fast event time advances)")
	f.IntVar(&opts.Rounds, "rounds", opts.Rounds, "runs of each measurement, in alternating order")
	f.StringVar(&opts.StateMemory, "state-memory", opts.StateMemory, "the on-disk run's state.memory (e.g. '8MiB'; '0' keeps no window in memory between checkpoints)")
	f.DurationVar(&opts.CheckpointInterval, "checkpoint-interval", 0, "the windowed sinks' checkpoint.interval (default: the engine's)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&check, "check", false, "exit 1 if a target is missed")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of each run to `file`.<run>")
	_ = f.MarkHidden("cpuprofile") // fails only for an undefined flag
	return cmd
}
