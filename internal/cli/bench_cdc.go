package cli

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/bench"
)

func newBenchCDCCommand(e *env) *cobra.Command {
	opts := bench.DefaultCDCOptions()
	var asJSON, check bool
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "cdc",
		Short: "Measure Postgres change data capture into the embedded log: snapshot, catch-up and lag",
		Long: `Measure Tide's Postgres change data capture writing to the embedded log (a
scratch directory under --dir, fsync=always, as tide serve runs it), against
the PostgreSQL server at --dsn (or $TIDE_CDC_DSN; wal_level = logical, a role
that may create databases and replication slots). Everything happens in a
database of its own, tide_bench_cdc_<random>, dropped with its replication
slot at the end, also after an error or an interrupt.

Three phases:

  snapshot  a table (id bigint primary key, payload text) of --rows rows of
            --row-bytes bytes (md5 hex, no two rows alike) is captured with
            snapshot=initial, timed from the capture's start until it
            streams, every row then durable in the topic
  catch-up  with the capture stopped, --changes single-row updates are
            committed (transactions of 500 rows on 4 connections); the
            capture is started again and timed until the topic holds them
            all: the capture's throughput apart from Postgres's write speed
  lag       with the capture streaming, --rate changes/s are committed for
            --lag-duration (a transaction every millisecond) while a
            consumer reads every record as soon as it is durable; lag is the
            read time minus the time the writer's COMMIT returned, matched
            by key (and, for comparison, minus source.ts_ms)

With --debezium DIR (built by scripts/bench/debezium.sh, which prints DIR;
needs Java 17), Debezium Embedded runs on the same table with a slot and
publication of its own: a snapshot (snapshot.mode=initial) after Tide's, and
the same backlog (snapshot.mode=no_data on its slot, which held the changes
as Tide's did) after Tide's catch-up. Its figures are timed inside its JVM,
from the engine's creation to its last event (JIT warm-up included, JVM
start-up not), and Tide's ratio to them is printed below Tide's.

CPU is this process's user+system time; pg CPU that of the capture's
Postgres sessions (the COPY backend, the walsender) when this machine's /proc
shows them. The targets (on the project's 2-core machine, Postgres on it):
snapshot >= 150,000 rows/s of 600-byte rows; catch-up >= 50,000 changes/s;
p99 lag <= 100 ms at 10,000 changes/s. A missed target exits 0 unless --check
is given.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) (err error) {
			if opts.DSN == "" {
				opts.DSN = e.getenv("TIDE_CDC_DSN")
			}
			if opts.DSN == "" {
				return usageErrorf("--dsn (or TIDE_CDC_DSN) is required")
			}
			if err := opts.Validate(); err != nil {
				return usageError(err)
			}
			opts.Logf = func(format string, args ...any) { fmt.Fprintf(e.stderr, "bench cdc: "+format+"\n", args...) }
			opts.Logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			if cpuProfile != "" {
				opts.OnPhase = phaseProfiler(e.stderr, "bench cdc", cpuProfile)
			}
			report, err := bench.RunCDC(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return finishBench(e.stdout, report, asJSON, check, func(w io.Writer) error { return bench.WriteCDCReport(w, report) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&opts.DSN, "dsn", "", "the PostgreSQL server's connection string or URL (default $TIDE_CDC_DSN)")
	f.StringVar(&opts.Dir, "dir", opts.Dir, "parent `directory` of the embedded log's scratch data, on the disk to measure")
	f.Int64Var(&opts.Rows, "rows", opts.Rows, "rows of the snapshot's table")
	f.IntVar(&opts.RowBytes, "row-bytes", opts.RowBytes, "bytes per row (an 8-byte id and the payload)")
	f.Int64Var(&opts.Changes, "changes", opts.Changes, "single-row changes the capture catches up on")
	f.Float64Var(&opts.Rate, "rate", opts.Rate, "changes per second of the lag phase")
	f.DurationVar(&opts.LagDuration, "lag-duration", opts.LagDuration, "how long the lag phase writes")
	f.Int32Var(&opts.Partitions, "partitions", opts.Partitions, "partitions of the table's topic")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&check, "check", false, "exit 1 if a target is missed")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of each phase to `file`.<phase>")
	f.StringVar(&opts.Debezium, "debezium", "", "also run Debezium Embedded from `directory` (scripts/bench/debezium.sh prints it) and report Tide's ratio to it")
	_ = f.MarkHidden("cpuprofile") // fails only for an undefined flag
	return cmd
}
