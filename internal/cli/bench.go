package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/bench"
	"github.com/tide-data/tide/internal/gctune"
	"github.com/tide-data/tide/internal/server"
)

func newBenchCommand(e *env) *cobra.Command {
	cmd := groupCommand("bench", "Measure Tide's performance on this machine")
	// Measure the engine as tide serve runs it: with the same collector
	// pacing, from the same setting (TIDE_GC_MIN_HEAP=0 turns it off).
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		cfg := server.DefaultConfig()
		if err := cfg.LoadEnv(os.Environ()); err != nil {
			return usageError(err)
		}
		gctune.Start(uint64(cfg.GCMinHeap))
		return nil
	}
	cmd.AddCommand(newBenchLogCommand(e), newBenchKafkaCommand(e), newBenchPipelineCommand(e), newBenchIngestCommand(e), newBenchCDCCommand(e), newBenchWindowCommand(e), newBenchNexmarkCommand(e))
	return cmd
}

func newBenchLogCommand(e *env) *cobra.Command {
	opts := bench.DefaultLogOptions()
	var asJSON, check bool
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Measure the storage engine's append and read throughput against the disk's",
		Long: `Measure the storage engine against the raw disk, in one run.

First the ceilings: the reference, one file written with --writers batches
per fsync (what a perfect group commit of every concurrent batch could do);
one batch per fsync; and --writers files written at once (what concurrent
fsyncs give, which explains multi-partition results). Then, each on a fresh
topic with
fsync=always:
  - batched appends: --writers goroutines each appending one pre-built batch
    of --batch-bytes, for each record size and partition count (partitions
    taken round-robin);
  - single-record appends: 64 goroutines appending one-record batches of
    100-byte values to one partition (group commit);
  - reads: the 1-partition, 1 KiB data read back with 1 MiB reads (headers
    parsed only; the data is mostly in the page cache).

The table shows records/s, MB/s (10^6 bytes, whole batches), per-operation
latency p50 and p99, and throughput as a ratio of the 1-file ceiling. The
summary checks the targets: batched appends on 1 partition at >= 70% of the
ceiling for every record size; >= 50,000 single-record appends/s; the most
partitions at >= 50% of 1 partition's throughput. A missed target exits 0
unless --check is given.

Data goes to a scratch directory under --dir (default: the current
directory, so that the disk measured is the one you run from), removed
afterwards.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if err := opts.Validate(); err != nil {
				return usageError(err)
			}
			if !asJSON {
				opts.Progress = func(r bench.Result) { _ = bench.WriteRow(e.stdout, r) }
				if err := bench.WriteHeader(e.stdout, opts); err != nil {
					return err
				}
			}
			report, err := bench.RunLog(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return finishBench(e.stdout, report, asJSON, check, func(w io.Writer) error { return bench.WriteSummary(w, report) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", opts.Dir, "parent `directory` of the scratch data, on the disk to measure")
	f.DurationVar(&opts.Duration, "duration", opts.Duration, "how long each scenario runs")
	f.IntVar(&opts.Writers, "writers", opts.Writers, "concurrent appenders of batched appends")
	f.IntVar(&opts.BatchBytes, "batch-bytes", opts.BatchBytes, "batch (and ceiling chunk) size")
	f.IntSliceVar(&opts.RecordSizes, "record-sizes", opts.RecordSizes, "value sizes of batched appends")
	f.IntSliceVar(&opts.Partitions, "partitions", opts.Partitions, "partition counts of batched appends")
	f.IntVar(&opts.SingleWriters, "single-writers", opts.SingleWriters, "writers of single-record appends")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&check, "check", false, "exit 1 if a target is missed")
	return cmd
}

func newBenchPipelineCommand(e *env) *cobra.Command {
	opts := bench.DefaultPipelineOptions()
	var asJSON, check bool
	var cases, cpuProfile string
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Measure SQL pipelines in process against a plain fastjson decode+encode loop",
		Long: `Measure stateless SQL pipelines over ~200-byte JSON events, per core, and
in the same run the ceiling they are compared with.

First the ceiling: a plain loop that parses the generator's events with
fastjson and writes them back (MarshalTo), over --events events generated
beforehand; then the generator alone (datagen), for context. Then, for each
--case, the whole engine runs in this process on an embedded log in a
scratch directory under --dir: CREATE SOURCE with connector 'datagen'
(unlimited rate, --events rows) and CREATE SINK with connector 'blackhole'
running the case's query, timed from CREATE SINK until the pipeline has
finished the source:

  passthrough     SELECT * FROM bench_events
  filter_project  SELECT id, user_id, upper(status) AS status,
                  amount * 1.1 AS amount_eur, currency, country, ts
                  FROM bench_events WHERE amount > 150 KEY BY user_id

The table shows events/s (wall clock) and events per CPU-second: the
process's user+system CPU time over the run, generator, garbage collector
and log included ("per core"). The ceiling column is events per CPU-second
over the ceiling's. The summary checks the targets: every case at >= 70% of
the ceiling; filter_project at >= 500,000 events per CPU-second with the
generator in process. A missed target exits 0 unless --check is given.

With --instrumentation (issue 8) each case runs instead with metrics and
tracing off and on, alternately (off, on, then on, off, ...), for
--instrumentation-rounds rounds, each run on an engine of its own: "on" has
a Prometheus registry gathered every second and a tracer that starts a
trace for 1% of the events (datagen's carry no traceparent), exporting
over OTLP/HTTP to a receiver in this process that decodes and counts the
spans. The summary gives the ratio of the means of events per CPU-second,
on over off, against the target of >= 95%.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if cases != "all" {
				opts.Cases = strings.Split(cases, ",")
			}
			if err := opts.Validate(); err != nil {
				return usageError(err)
			}
			if cpuProfile != "" {
				opts.OnRun = phaseProfiler(e.stderr, "bench pipeline", cpuProfile)
			}
			if !asJSON {
				opts.Progress = func(r bench.PipelineResult) { _ = bench.WritePipelineRow(e.stdout, r) }
				if err := bench.WritePipelineHeader(e.stdout, opts); err != nil {
					return err
				}
			}
			report, err := bench.RunPipeline(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return finishBench(e.stdout, report, asJSON, check, func(w io.Writer) error { return bench.WritePipelineSummary(w, report) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", opts.Dir, "parent `directory` of the embedded log's scratch data")
	f.Int64Var(&opts.Events, "events", opts.Events, "events per case (and for the ceiling)")
	f.StringVar(&cases, "case", "all", "passthrough, filter_project, a comma-separated list, or all")
	f.BoolVar(&opts.Instrumentation, "instrumentation", false, "run each case with metrics and tracing off and on, and print the ratio")
	f.IntVar(&opts.Rounds, "rounds", opts.Rounds, "measurements of the codec ceiling and each case from the log, alternately (the targets take the median ratio)")
	f.IntVar(&opts.InstrumentationRounds, "instrumentation-rounds", opts.InstrumentationRounds, "runs of each case with instrumentation off, and as many on")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&check, "check", false, "exit 1 if a target is missed")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of each case to `file`.<case>")
	_ = f.MarkHidden("cpuprofile") // fails only for an undefined flag
	return cmd
}

// finishBench prints a benchmark's report, as JSON or as text, and with
// check fails the command when a target was missed (a missed target
// otherwise exits 0: the figures are the result).
func finishBench(w io.Writer, report interface{ Passed() bool }, asJSON, check bool, writeText func(io.Writer) error) error {
	var err error
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(report)
	} else {
		err = writeText(w)
	}
	if err != nil {
		return err
	}
	if check && !report.Passed() {
		return errors.New("bench: targets missed")
	}
	return nil
}

// allocProfiler returns a hook that writes a heap profile at the end of
// each phase of a benchmark to <path>.<phase> (the hidden --memprofile
// flags). Its alloc_space counts from the process's start: compare two
// phases with pprof's -base.
func allocProfiler(stderr io.Writer, what, path string) func(phase string) func() {
	return func(phase string) func() {
		return func() {
			f, err := os.Create(path + "." + phase)
			if err == nil {
				runtime.GC() // the profile shows the heap as of the last collection
				err = pprof.WriteHeapProfile(f)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				fmt.Fprintf(stderr, "%s: heap profile of %s: %v\n", what, phase, err)
			}
		}
	}
}

// bothProfilers runs two phase hooks, either of which may be nil.
func bothProfilers(a, b func(string) func()) func(string) func() {
	if a == nil || b == nil {
		if a == nil {
			return b
		}
		return a
	}
	return func(phase string) func() {
		stopA, stopB := a(phase), b(phase)
		return func() { stopB(); stopA() }
	}
}

// phaseProfiler returns a hook that writes a CPU profile of each phase of a
// benchmark to <path>.<phase> (the hidden --cpuprofile flags); failures are
// reported on stderr and do not stop the benchmark.
func phaseProfiler(stderr io.Writer, what, path string) func(phase string) func() {
	return func(phase string) func() {
		f, err := os.Create(path + "." + phase)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: cpu profile of %s: %v\n", what, phase, err)
			if f != nil {
				_ = f.Close()
			}
			return func() {}
		}
		return func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintf(stderr, "%s: cpu profile of %s: %v\n", what, phase, err)
			}
		}
	}
}
