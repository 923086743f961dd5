package cli

import (
	"encoding/json"
	"errors"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/bench"
)

func newBenchCommand(e *env) *cobra.Command {
	cmd := groupCommand("bench", "Measure Tide's performance on this machine")
	cmd.AddCommand(newBenchLogCommand(e), newBenchKafkaCommand(e))
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
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				err = enc.Encode(report)
			} else {
				err = bench.WriteSummary(e.stdout, report)
			}
			if err != nil {
				return err
			}
			if check && !report.Passed() {
				return errors.New("bench: targets missed")
			}
			return nil
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
