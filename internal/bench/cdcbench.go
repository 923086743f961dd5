package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tide-data/tide/internal/cdc"
	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
)

// Targets of the CDC benchmark (the issue's, on the project's 2-core
// machine with PostgreSQL on it): the snapshot copies 600-byte rows at
// >= 150,000 rows/s; a capture catching up on a backlog writes >= 50,000
// changes/s; at 10,000 changes/s, 99% of changes are readable within
// 100 ms of their commit.
const (
	TargetCDCSnapshotRows = 150_000
	TargetCDCCatchUp      = 50_000
	TargetCDCLagP99       = 100 * time.Millisecond
)

// CDCOptions configures RunCDC. DefaultCDCOptions gives the issue's
// settings; DSN has no default.
type CDCOptions struct {
	// DSN is a PostgreSQL server (wal_level = logical) where the role may
	// create databases and replication slots. The benchmark works in a
	// database of its own, tide_bench_cdc_<random>, dropped at the end
	// with its slot, also after an error.
	DSN string `json:"-"`
	// Dir is the parent of the embedded log's scratch directory.
	Dir string `json:"dir"`
	// Rows is the table's size for the snapshot; RowBytes each row's
	// (an 8-byte id and RowBytes-8 characters of md5 hex).
	Rows     int64 `json:"rows"`
	RowBytes int   `json:"row_bytes"`
	// Changes is the backlog of single-row updates the capture catches up
	// on.
	Changes int64 `json:"changes"`
	// Rate is the changes per second of the lag phase, for LagDuration.
	Rate        float64       `json:"rate"`
	LagDuration time.Duration `json:"lag_duration_ns"`
	Partitions  int32         `json:"partitions"`
	// Writers are the Postgres connections that make changes, in both
	// the catch-up and the lag phase.
	Writers int `json:"writers"`
	// CatchUpTxnRows is the rows each transaction of the backlog updates.
	CatchUpTxnRows int `json:"catch_up_txn_rows"`
	// Logf, if set, is told each step as it starts (setup takes a while).
	Logf func(format string, args ...any) `json:"-"`
	// Logger receives the capture's log; default: discarded.
	Logger *slog.Logger `json:"-"`
	// OnPhase, if set, is called as each measured phase ("snapshot",
	// "catch-up", "lag") starts; the function it returns is called when
	// the phase ends. tide bench cdc --cpuprofile profiles each phase so.
	OnPhase func(phase string) (end func()) `json:"-"`
	// Debezium, if set, is a directory built by scripts/bench/debezium.sh:
	// its debezium-bench runs Debezium's embedded engine on the same
	// table after Tide's snapshot and after its catch-up, for the ratio of
	// Tide to it (cdcdebezium.go). It needs Java; empty skips it.
	Debezium string `json:"debezium,omitempty"`
}

// DefaultCDCOptions are the settings.
func DefaultCDCOptions() CDCOptions {
	return CDCOptions{Dir: ".", Rows: 1_000_000, RowBytes: 600, Changes: 200_000, Rate: 10_000, LagDuration: 10 * time.Second,
		Partitions: 1, Writers: 4, CatchUpTxnRows: 500}
}

// Validate reports options RunCDC cannot run with.
func (o *CDCOptions) Validate() error {
	switch {
	case o.DSN == "":
		return errors.New("bench cdc: no dsn: a PostgreSQL server with wal_level = logical is needed")
	case o.Rows < 1 || o.Changes < 1:
		return errors.New("bench cdc: rows and changes must be positive")
	case o.RowBytes < 40:
		return errors.New("bench cdc: rows must be at least 40 bytes (an 8-byte id and an md5)")
	case o.Rate < 1 || o.LagDuration <= 0:
		return errors.New("bench cdc: the lag phase needs a rate of at least 1 change/s and a positive duration")
	case o.Partitions < 1 || o.Writers < 1 || o.CatchUpTxnRows < 1:
		return errors.New("bench cdc: partitions, writers and rows per transaction must be positive")
	case o.Debezium != "":
		return checkDebeziumDir(o.Debezium)
	}
	return nil
}

// CDCThroughput is the snapshot's or the catch-up's measurement. CPU is
// this process's user+system time over Wall: the capture, the embedded
// log and the benchmark's polling (nothing else runs in those phases).
type CDCThroughput struct {
	Name string `json:"name"`
	// Count is the rows or changes the topic received; Bytes the table
	// data they carry (id and payload).
	Count int64 `json:"count"`
	Bytes int64 `json:"bytes"`
	// RecordBytes is the average size of a record's key and value (the
	// Debezium envelope).
	RecordBytes float64 `json:"record_bytes"`
	// Wall runs from Capture.Run to the end: all rows copied and the
	// capture streaming, or all changes in the topic. Setup is the part
	// before the copy started (connecting, creating the slot).
	Wall  time.Duration `json:"wall_ns"`
	Setup time.Duration `json:"setup_ns,omitempty"`
	CPU   time.Duration `json:"cpu_ns"`
	// PostgresCPU is the CPU time of the capture's Postgres sessions (the
	// backend running COPY, the walsender decoding the WAL), read from
	// /proc; zero when the server's processes are not visible.
	PostgresCPU time.Duration `json:"postgres_cpu_ns,omitempty"`
	PerSec      float64       `json:"per_sec"`
	MBPerSec    float64       `json:"mb_per_sec"`
	PerCPU      float64       `json:"per_cpu_sec"`
	// WriteWall is how long Postgres took to make the catch-up's changes,
	// with the capture stopped: not part of Wall.
	WriteWall time.Duration `json:"write_wall_ns,omitempty"`
}

func (r *CDCThroughput) finish() {
	if s := r.Wall.Seconds(); s > 0 {
		r.PerSec = float64(r.Count) / s
		r.MBPerSec = float64(r.Bytes) / s / 1e6
	}
	if s := r.CPU.Seconds(); s > 0 {
		r.PerCPU = float64(r.Count) / s
	}
}

// CDCLag is the lag phase's measurement. Lag is the time a change was
// read from the topic (by a consumer of the embedded transport, which
// returns records only once they are fsync'd) minus the time its
// writer's COMMIT returned, matched by key. By source.ts_ms it is the
// same read time minus the commit timestamp Postgres recorded (ms
// precision, taken before the commit's WAL flush: up to a millisecond
// more, plus Postgres's own commit time).
type CDCLag struct {
	Rate     float64       `json:"rate"`
	Duration time.Duration `json:"duration_ns"`
	// Changes and Transactions are what the writer committed; Achieved
	// is Changes over the writing time.
	Changes      int64   `json:"changes"`
	Transactions int64   `json:"transactions"`
	Achieved     float64 `json:"achieved_rate"`
	// Read is the records the reader took; Samples the ones matched to
	// a commit.
	Read    int64         `json:"read"`
	Samples int           `json:"samples"`
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	Max     time.Duration `json:"max_ns"`
	TsP50   time.Duration `json:"source_ts_p50_ns"`
	TsP99   time.Duration `json:"source_ts_p99_ns"`
	TsMax   time.Duration `json:"source_ts_max_ns"`
	// Early counts changes read before their writer saw COMMIT return
	// (the walsender and the log beat the client's acknowledgement); their
	// lag counts as 0.
	Early       int64         `json:"early"`
	CPU         time.Duration `json:"cpu_ns"`
	PostgresCPU time.Duration `json:"postgres_cpu_ns,omitempty"`
}

// CDCTarget is a checked goal: Value at least Want, or at most Want when
// AtMost.
type CDCTarget struct {
	Target
	AtMost bool `json:"at_most,omitempty"`
}

// CDCReport is what RunCDC measured.
type CDCReport struct {
	Options CDCOptions `json:"options"`
	// Server is the PostgreSQL version.
	Server   string        `json:"server"`
	Snapshot CDCThroughput `json:"snapshot"`
	CatchUp  CDCThroughput `json:"catch_up"`
	Lag      CDCLag        `json:"lag"`
	// Debezium is the baseline run with Options.Debezium; nil without.
	Debezium *CDCDebezium `json:"debezium,omitempty"`
	Targets  []CDCTarget  `json:"targets"`
}

// Passed reports whether every target was met.
func (r *CDCReport) Passed() bool {
	for _, t := range r.Targets {
		if !t.Pass {
			return false
		}
	}
	return true
}

// cdcTable is the benchmark's table in its scratch database.
const cdcTable = "cdc_bench"

// cdcBench is one run's shared state.
type cdcBench struct {
	opts     CDCOptions
	dbName   string
	dsn      string // of the scratch database
	admin    *pgx.Conn
	tr       transport.Transport
	cfg      cdc.Config
	topic    string
	nextID   int64 // the next row to update, 0-based, cycling over Rows
	rowBytes int64
}

// RunCDC measures Tide's Postgres change data capture on the embedded log
// (a scratch directory under opts.Dir, fsync=always, as tide serve runs
// it), in a scratch database on opts.DSN:
//
//  1. snapshot: a table of opts.Rows rows is captured with
//     snapshot=initial, timed from Capture.Run until the capture streams
//     (every row is then durable in the topic);
//  2. catch-up: with the capture stopped, opts.Changes single-row updates
//     are committed; the capture is started again and timed until the
//     topic holds them all;
//  3. lag: with the capture streaming, writers commit opts.Rate changes/s
//     for opts.LagDuration while a consumer reads every record as soon as
//     it is durable; lag = read time - commit time.
//
// With opts.Debezium, Debezium's embedded engine takes the same snapshot
// after phase 1 and the same backlog after phase 2 (cdcdebezium.go),
// while Tide's capture streams with nothing to stream.
func RunCDC(ctx context.Context, opts CDCOptions) (_ *CDCReport, err error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := &cdcBench{opts: opts, rowBytes: int64(opts.RowBytes)}
	report := &CDCReport{Options: opts}

	b.admin, err = pgx.Connect(ctx, opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("bench cdc: connecting to %s: %w", redactDSN(opts.DSN), err)
	}
	defer func() { _ = b.admin.Close(context.Background()) }()
	var walLevel string
	if err := b.admin.QueryRow(ctx, `SELECT version(), current_setting('wal_level')`).Scan(&report.Server, &walLevel); err != nil {
		return nil, fmt.Errorf("bench cdc: %w", err)
	}
	if walLevel != "logical" {
		return nil, fmt.Errorf("bench cdc: the server runs with wal_level = %s; change data capture needs logical", walLevel)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix) // never fails
	b.dbName = "tide_bench_cdc_" + hex.EncodeToString(suffix)
	if b.dsn, err = databaseDSN(opts.DSN, b.dbName); err != nil {
		return nil, err
	}
	opts.Logf("creating database %s", b.dbName)
	if _, err := b.admin.Exec(ctx, "CREATE DATABASE "+b.dbName); err != nil {
		return nil, fmt.Errorf("bench cdc: %w", err)
	}
	defer func() { err = errors.Join(err, b.dropDatabase()) }()

	root, err := os.MkdirTemp(opts.Dir, ".tide-bench-cdc-")
	if err != nil {
		return nil, fmt.Errorf("bench cdc: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(root)) }()
	defaults, err := log.DefaultTopicConfig().With(map[string]string{log.ConfigFsync: string(log.FsyncAlways)})
	if err != nil {
		return nil, fmt.Errorf("bench cdc: %w", err)
	}
	l, err := log.Open(filepath.Join(root, "data"), log.WithDefaultTopicConfig(defaults))
	if err != nil {
		return nil, fmt.Errorf("bench cdc: %w", err)
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	groups, err := group.NewCoordinator(l, group.Options{})
	if err != nil {
		return nil, fmt.Errorf("bench cdc: %w", err)
	}
	defer func() { err = errors.Join(err, groups.Close()) }()
	tr := embedded.New(l, groups)
	defer func() { err = errors.Join(err, tr.Close()) }()
	b.tr = tr

	table := cdc.TableName{Schema: "public", Name: cdcTable}
	b.cfg = cdc.Config{Name: "bench", SourceID: b.dbName, DSN: b.dsn, Tables: []cdc.TableName{table},
		Slot: b.dbName, Publication: "tide_bench", Snapshot: cdc.SnapshotInitial, TopicPrefix: "bench",
		TopicPartitions: opts.Partitions, Heartbeat: 10 * time.Second, Transport: tr, Logger: opts.Logger}
	b.topic = cdc.TopicName(b.cfg.TopicPrefix, table)

	if err := b.fill(ctx); err != nil {
		return nil, err
	}
	capture, err := b.snapshot(ctx, &report.Snapshot)
	if err != nil {
		return nil, err
	}
	defer func() {
		if capture != nil {
			err = errors.Join(err, capture.stop())
		}
	}()
	if opts.Debezium != "" {
		if err := b.debeziumSnapshot(ctx, report); err != nil {
			return nil, err
		}
	}
	if capture, err = b.catchUp(ctx, capture, &report.CatchUp); err != nil {
		return nil, err
	}
	if opts.Debezium != "" {
		if err := b.debeziumCatchUp(ctx, report); err != nil {
			return nil, err
		}
	}
	if err := b.lag(ctx, capture, &report.Lag); err != nil {
		return nil, err
	}
	report.Targets = checkCDCTargets(report)
	return report, nil
}

// databaseDSN is base (a URL or keyword/value string) naming database
// name instead.
func databaseDSN(base, name string) (string, error) {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("bench cdc: dsn: %w", err)
		}
		u.Path, u.RawPath = "/"+name, ""
		return u.String(), nil
	}
	// In keyword/value strings the last setting of a keyword wins.
	return strings.TrimSpace(base) + " dbname=" + name, nil
}

// redactDSN drops the password from a URL DSN for error messages.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "the dsn"
}

// dropDatabase drops the scratch database and its replication slot; it
// runs after the captures have stopped, even when ctx was cancelled.
func (b *cdcBench) dropDatabase() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A stopped capture's walsender may hold the slot a moment longer;
	// after 5 s it is terminated.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := b.admin.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, b.dbName); err != nil {
			return fmt.Errorf("bench cdc: dropping the slots of %s: %w", b.dbName, err)
		}
		var left int
		if err := b.admin.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE database = $1`, b.dbName).Scan(&left); err != nil {
			return fmt.Errorf("bench cdc: %w", err)
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			_, _ = b.admin.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active`, b.dbName)
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			return fmt.Errorf("bench cdc: the slot of %s stays active; drop it and the database by hand", b.dbName)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := b.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+b.dbName+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("bench cdc: dropping database %s: %w", b.dbName, err)
	}
	return nil
}

// fill creates the table and inserts the rows, in a few big INSERTs run
// on the writer connections: each payload is md5 hashes of the id and
// its position, distinct from every other row's, so that no row repeats
// another's bytes.
func (b *cdcBench) fill(ctx context.Context) error {
	o := b.opts
	o.Logf("filling %s: %d rows of %d bytes", cdcTable, o.Rows, o.RowBytes)
	conn, err := pgx.Connect(ctx, b.dsn)
	if err != nil {
		return fmt.Errorf("bench cdc: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "CREATE TABLE "+cdcTable+" (id bigint PRIMARY KEY, payload text)"); err != nil {
		return fmt.Errorf("bench cdc: %w", err)
	}
	payload := o.RowBytes - 8
	terms := make([]string, (payload+31)/32)
	for i := range terms {
		terms[i] = fmt.Sprintf("md5(i::text || '.%d')", i)
	}
	insert := fmt.Sprintf("INSERT INTO %s SELECT i, left(%s, %d) FROM generate_series($1::bigint, $2::bigint) i",
		cdcTable, strings.Join(terms, " || "), payload)
	const chunk = 250_000
	err = b.parallel(ctx, min(o.Writers, 2), func(ctx context.Context, conn *pgx.Conn, next func() (lo, n int64, ok bool)) error {
		for {
			lo, n, ok := next()
			if !ok {
				return nil
			}
			if _, err := conn.Exec(ctx, insert, lo+1, lo+n); err != nil {
				return err
			}
		}
	}, b.opts.Rows, chunk)
	if err != nil {
		return fmt.Errorf("bench cdc: filling the table: %w", err)
	}
	// A table at rest: hint bits set and statistics known, as a
	// production table's mostly are, so that the snapshot measures the
	// copy rather than the first visit of fresh rows.
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+cdcTable); err != nil {
		return fmt.Errorf("bench cdc: %w", err)
	}
	return nil
}

// parallel runs fn on conns connections of its own to the scratch
// database, handing out [lo, lo+n) ranges of total rows in pieces of at
// most step, and returns the first error (which cancels the others).
func (b *cdcBench) parallel(ctx context.Context, conns int, fn func(ctx context.Context, conn *pgx.Conn, next func() (lo, n int64, ok bool)) error, total, step int64) error {
	var (
		mu   sync.Mutex
		done int64
	)
	next := func() (int64, int64, bool) {
		mu.Lock()
		defer mu.Unlock()
		if done >= total {
			return 0, 0, false
		}
		lo := done
		done = min(total, done+step)
		return lo, done - lo, true
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		cancel()
	}
	for range conns {
		wg.Go(func() {
			conn, err := pgx.Connect(ctx, b.dsn)
			if err != nil {
				fail(err)
				return
			}
			defer func() { _ = conn.Close(context.Background()) }()
			if err := fn(ctx, conn, next); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	return firstErr
}

// runningCapture is a capture running on a goroutine of its own.
type runningCapture struct {
	c      *cdc.Capture
	cancel context.CancelFunc
	done   chan error
}

func (b *cdcBench) startCapture(ctx context.Context) (*runningCapture, error) {
	c, err := cdc.New(b.cfg)
	if err != nil {
		return nil, fmt.Errorf("bench cdc: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &runningCapture{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	return r, nil
}

// stop cancels the capture and waits for Run to return.
func (r *runningCapture) stop() error {
	r.cancel()
	return <-r.done
}

// await polls the capture every 10 ms until cond holds. A capture that
// retries has failed (its backoff would spoil the figures), and one that
// shows no progress (stalled reports) for a minute too.
func (r *runningCapture) await(ctx context.Context, what string, cond func(cdc.Status) (bool, error)) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	stall := time.Now().Add(time.Minute)
	var last cdc.Status
	for {
		st := r.c.Status()
		ok, err := cond(st)
		switch {
		case err != nil:
			return err
		case ok:
			return nil
		case st.State == "retrying":
			return fmt.Errorf("bench cdc: %s: the capture failed: %s", what, st.Err)
		case st.State == "stopped":
			return fmt.Errorf("bench cdc: %s: the capture stopped", what)
		}
		if st != last {
			last, stall = st, time.Now().Add(time.Minute)
		} else if time.Now().After(stall) {
			return fmt.Errorf("bench cdc: %s: no progress for a minute (capture %s)", what, st.State)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench cdc: %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// records is the sum of the topic's end offsets.
func (b *cdcBench) records(ctx context.Context) (int64, error) {
	ends, err := b.tr.EndOffsets(ctx, b.topic)
	if errors.Is(err, transport.ErrTopicNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("bench cdc: %w", err)
	}
	var n int64
	for _, end := range ends {
		n += end
	}
	return n, nil
}

// recordBytes is the average key+value size of up to 1,000 records of
// partition 0 from its offset in from on.
func (b *cdcBench) recordBytes(ctx context.Context, from map[int32]int64) float64 {
	recs, err := b.tr.ReadAt(ctx, transport.TopicPartition{Topic: b.topic}, from[0], 1<<20)
	if err != nil || len(recs) == 0 {
		return 0
	}
	recs = recs[:min(len(recs), 1000)]
	var n int
	for _, r := range recs {
		n += len(r.Key) + len(r.Value)
	}
	return float64(n) / float64(len(recs))
}

// snapshot measures phase 1 and returns the capture, left streaming.
func (b *cdcBench) snapshot(ctx context.Context, res *CDCThroughput) (_ *runningCapture, err error) {
	o := b.opts
	*res = CDCThroughput{Name: "snapshot", Bytes: o.Rows * b.rowBytes}
	o.Logf("snapshot: capturing %d rows", o.Rows)
	end := b.phase("snapshot")
	pg0 := b.sessionCPUs(ctx)
	wall0, cpu0 := time.Now(), selfCPU()
	capture, err := b.startCapture(ctx)
	if err != nil {
		end()
		return nil, err
	}
	var copyStart time.Time
	err = capture.await(ctx, "snapshot", func(st cdc.Status) (bool, error) {
		if st.State == "snapshot" && copyStart.IsZero() {
			copyStart = time.Now()
		}
		return st.State == "streaming", nil
	})
	res.Wall, res.CPU = time.Since(wall0), selfCPU()-cpu0
	end()
	if err != nil {
		return nil, errors.Join(err, capture.stop())
	}
	if !copyStart.IsZero() {
		res.Setup = copyStart.Sub(wall0)
	}
	res.PostgresCPU = b.sessionCPU(ctx, pg0)
	st := capture.c.Status()
	if res.Count, err = b.records(ctx); err != nil {
		return nil, errors.Join(err, capture.stop())
	}
	if res.Count != o.Rows || st.SnapshotRows != o.Rows {
		return nil, errors.Join(fmt.Errorf("bench cdc: snapshot: the topic holds %d records and the capture reports %d rows, for %d rows in the table",
			res.Count, st.SnapshotRows, o.Rows), capture.stop())
	}
	res.RecordBytes = b.recordBytes(ctx, nil)
	res.finish()
	o.Logf("snapshot: %d rows in %s", res.Count, res.Wall.Round(time.Millisecond))
	return capture, nil
}

// phase calls OnPhase, if set.
func (b *cdcBench) phase(name string) func() {
	if b.opts.OnPhase == nil {
		return func() {}
	}
	return b.opts.OnPhase(name)
}

// sessionCPU sums the CPU time of the capture's Postgres sessions (by
// its application_name) that /proc shows, minus what before held for
// them (a session not in before started during the phase). Sessions that
// ended meanwhile are missed.
func (b *cdcBench) sessionCPU(ctx context.Context, before map[int32]time.Duration) time.Duration {
	now := b.sessionCPUs(ctx)
	var sum time.Duration
	for pid, cpu := range now {
		sum += cpu - before[pid]
	}
	return sum
}

func (b *cdcBench) sessionCPUs(ctx context.Context) map[int32]time.Duration {
	return b.sessionCPUsOf(ctx, "tide-cdc")
}

// sessionCPUsOf is the CPU time of each session of the scratch database
// whose application_name is LIKE appName.
func (b *cdcBench) sessionCPUsOf(ctx context.Context, appName string) map[int32]time.Duration {
	rows, err := b.admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE $2`, b.dbName, appName)
	if err != nil {
		return nil
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil
	}
	out := map[int32]time.Duration{}
	for _, pid := range pids {
		if cpu := processCPU(int(pid)); cpu > 0 {
			out[pid] = cpu
		}
	}
	return out
}

// catchUp measures phase 2: it stops capture, commits the backlog,
// starts a new capture and times it until the topic holds every change.
// It returns the new capture, left streaming.
func (b *cdcBench) catchUp(ctx context.Context, capture *runningCapture, res *CDCThroughput) (*runningCapture, error) {
	o := b.opts
	*res = CDCThroughput{Name: "catch-up", Count: o.Changes, Bytes: o.Changes * b.rowBytes}
	if err := capture.stop(); err != nil {
		return nil, err
	}
	base, err := b.records(ctx)
	if err != nil {
		return nil, err
	}
	baseEnds, err := b.tr.EndOffsets(ctx, b.topic)
	if err != nil {
		return nil, fmt.Errorf("bench cdc: %w", err)
	}
	o.Logf("catch-up: committing %d changes with the capture stopped", o.Changes)
	write0 := time.Now()
	first := b.nextID
	b.nextID += o.Changes
	err = b.parallel(ctx, o.Writers, func(ctx context.Context, conn *pgx.Conn, next func() (lo, n int64, ok bool)) error {
		for {
			lo, n, ok := next()
			if !ok {
				return nil
			}
			// One statement, one transaction: updates of the rows with
			// the ids at positions [first+lo, first+lo+n), cycling.
			for n > 0 {
				id := (first + lo) % o.Rows
				k := min(n, o.Rows-id)
				if err := b.update(ctx, conn, id, k, lo); err != nil {
					return err
				}
				lo, n = lo+k, n-k
			}
		}
	}, o.Changes, int64(o.CatchUpTxnRows))
	if err != nil {
		return nil, fmt.Errorf("bench cdc: catch-up: writing changes: %w", err)
	}
	res.WriteWall = time.Since(write0)
	if err := b.awaitSlotIdle(ctx, b.cfg.Slot); err != nil {
		return nil, err
	}

	o.Logf("catch-up: capturing them")
	end := b.phase("catch-up")
	pg0 := b.sessionCPUs(ctx)
	wall0, cpu0 := time.Now(), selfCPU()
	if capture, err = b.startCapture(ctx); err != nil {
		end()
		return nil, err
	}
	want := base + o.Changes
	var got int64
	err = capture.await(ctx, "catch-up", func(cdc.Status) (bool, error) {
		var err error
		got, err = b.records(ctx)
		return got >= want, err
	})
	res.Wall, res.CPU = time.Since(wall0), selfCPU()-cpu0
	end()
	if err != nil {
		return nil, errors.Join(err, capture.stop())
	}
	res.PostgresCPU = b.sessionCPU(ctx, pg0)
	if got != want {
		return nil, errors.Join(fmt.Errorf("bench cdc: catch-up: the topic received %d records for %d changes", got-base, o.Changes), capture.stop())
	}
	res.RecordBytes = b.recordBytes(ctx, baseEnds)
	res.finish()
	o.Logf("catch-up: %d changes in %s", o.Changes, res.Wall.Round(time.Millisecond))
	return capture, nil
}

// update changes the payload of the n rows from 0-based position id on
// (the ids id+1 .. id+n), in one transaction, and fails unless it changed
// n rows. salt makes the new payloads differ from the old.
func (b *cdcBench) update(ctx context.Context, conn *pgx.Conn, id, n, salt int64) error {
	tag, err := conn.Exec(ctx, "UPDATE "+cdcTable+" SET payload = md5(id::text || $3::bigint::text) || substr(payload, 33) WHERE id BETWEEN $1 AND $2",
		id+1, id+n, salt)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != n {
		return fmt.Errorf("updated %d rows of %d", tag.RowsAffected(), n)
	}
	return nil
}

// awaitSlotIdle waits until the stopped capture's walsender has released
// slot, so that the next capture does not find it in use.
func (b *cdcBench) awaitSlotIdle(ctx context.Context, slot string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var active bool
		err := b.admin.QueryRow(ctx, `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&active)
		if err != nil {
			return fmt.Errorf("bench cdc: slot %s: %w", slot, err)
		}
		if !active {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench cdc: slot %s still in use 30 s after its capture stopped", slot)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// lagCommit is one transaction of the lag phase's writer.
type lagCommit struct {
	id, n  int64 // the rows at positions id .. id+n-1
	commit time.Time
}

// lagRead is one record the lag phase's reader took.
type lagRead struct {
	id   int64 // the key's id, 1-based as in the table; -1 if unparsable
	read time.Time
	tsMs int64 // source.ts_ms; -1 if unparsable
}

// lag measures phase 3 with capture streaming.
func (b *cdcBench) lag(ctx context.Context, capture *runningCapture, res *CDCLag) error {
	o := b.opts
	*res = CDCLag{Rate: o.Rate, Duration: o.LagDuration}
	ends, err := b.tr.EndOffsets(ctx, b.topic)
	if err != nil {
		return fmt.Errorf("bench cdc: %w", err)
	}
	// The reader is a consumer of its own group that starts where the
	// topic ends now: its first assignment commits those offsets before
	// its fetchers start from the committed ones.
	// OnAssigned runs on the reader's goroutine; ready's closing hands
	// readyErr to this one.
	var (
		cons     transport.Consumer
		assigned int
		ready    = make(chan struct{})
		isReady  bool
		readyErr error
	)
	cons, err = b.tr.NewConsumer(ctx, transport.ConsumerOptions{Group: "tide-bench-cdc-lag", Topics: []string{b.topic},
		Start: transport.StartLatest,
		OnAssigned: func(ctx context.Context, parts []transport.TopicPartition) {
			if isReady {
				return
			}
			offsets := make([]transport.PartitionOffset, len(parts))
			for i, tp := range parts {
				offsets[i] = transport.PartitionOffset{TopicPartition: tp, Offset: ends[tp.Partition]}
			}
			readyErr = cons.Commit(ctx, offsets)
			if assigned += len(parts); assigned >= int(o.Partitions) || readyErr != nil {
				isReady = true
				close(ready)
			}
		}})
	if err != nil {
		return fmt.Errorf("bench cdc: lag reader: %w", err)
	}
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var (
		reads    []lagRead
		readN    atomic.Int64
		readDone = make(chan error, 1)
	)
	go func() {
		var err error
		defer func() { readDone <- errors.Join(err, cons.Close(context.Background())) }()
		for {
			var recs []*transport.Record
			recs, err = cons.Poll(readCtx)
			if err != nil {
				if readCtx.Err() != nil {
					err = nil
				}
				return
			}
			now := time.Now()
			for _, r := range recs {
				reads = append(reads, lagRead{id: keyID(r.Key), read: now, tsMs: sourceTsMs(r.Value)})
			}
			readN.Add(int64(len(recs)))
		}
	}()
	select {
	case <-ready:
	case err := <-readDone:
		return fmt.Errorf("bench cdc: lag reader stopped before its assignment: %w", err)
	case <-time.After(30 * time.Second):
		stopReading()
		return errors.Join(errors.New("bench cdc: the lag reader got no assignment in 30 s"), <-readDone)
	}
	if readyErr != nil {
		stopReading()
		return errors.Join(fmt.Errorf("bench cdc: lag reader: committing its start: %w", readyErr), <-readDone)
	}

	o.Logf("lag: %.0f changes/s for %s", o.Rate, o.LagDuration)
	end := b.phase("lag")
	pg0 := b.sessionCPUs(ctx)
	cpu0 := selfCPU()
	commits, elapsed, werr := b.pacedWrites(ctx)
	if werr == nil {
		// Every committed change is read within a grace period.
		deadline := time.Now().Add(max(30*time.Second, o.LagDuration))
		want := sumRows(commits)
		for readN.Load() < want && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	stopReading()
	rerr := <-readDone
	res.CPU = selfCPU() - cpu0
	res.PostgresCPU = b.sessionCPU(ctx, pg0)
	end()
	if err := errors.Join(werr, rerr); err != nil {
		return fmt.Errorf("bench cdc: lag: %w", err)
	}
	if st := capture.c.Status(); st.State != "streaming" {
		return fmt.Errorf("bench cdc: lag: the capture is %s: %s", st.State, st.Err)
	}
	res.Transactions = int64(len(commits))
	res.Changes = sumRows(commits)
	res.Achieved = float64(res.Changes) / elapsed.Seconds()
	res.Read = int64(len(reads))
	if res.Read < res.Changes {
		return fmt.Errorf("bench cdc: lag: read %d of %d changes within the grace period", res.Read, res.Changes)
	}
	b.lagFigures(commits, reads, res)
	o.Logf("lag: %d changes at %.0f/s, p99 lag %s", res.Changes, res.Achieved, res.P99.Round(100*time.Microsecond))
	return nil
}

func sumRows(commits []lagCommit) int64 {
	var n int64
	for _, c := range commits {
		n += c.n
	}
	return n
}

// pacedWrites commits about Rate changes/s for LagDuration: a pacer
// hands out, every millisecond, the changes owed by the elapsed time as
// one transaction (cut at 1,000 rows and at the end of the table) to the
// first idle writer connection; while all are busy the debt grows and the
// next transaction is larger. Each writer notes the time its COMMIT
// returned.
func (b *cdcBench) pacedWrites(ctx context.Context) ([]lagCommit, time.Duration, error) {
	o := b.opts
	type job struct{ id, n int64 }
	jobs := make(chan job)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conns := make([]*pgx.Conn, o.Writers)
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close(context.Background())
			}
		}
	}()
	for i := range conns {
		var err error
		if conns[i], err = pgx.Connect(ctx, b.dsn); err != nil {
			return nil, 0, err
		}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		commits []lagCommit
		errs    = make([]error, o.Writers)
	)
	for w, conn := range conns {
		wg.Go(func() {
			var mine []lagCommit
			for j := range jobs {
				if err := b.update(ctx, conn, j.id, j.n, j.id); err != nil {
					errs[w] = err
					cancel()
					break
				}
				mine = append(mine, lagCommit{id: j.id, n: j.n, commit: time.Now()})
			}
			for range jobs { // drain after a failure
			}
			mu.Lock()
			commits = append(commits, mine...)
			mu.Unlock()
		})
	}
	start := time.Now()
	deadline := start.Add(o.LagDuration)
	tick := time.NewTicker(time.Millisecond)
	var sent int64
	for now := start; now.Before(deadline) && ctx.Err() == nil; now = <-tick.C {
		owed := int64(o.Rate*now.Sub(start).Seconds()) - sent
		if owed <= 0 {
			continue
		}
		id := b.nextID % o.Rows
		n := min(owed, 1000, o.Rows-id)
		select {
		case jobs <- job{id: id, n: n}:
			b.nextID += n
			sent += n
		default: // every writer busy: owed next time
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	slices.SortFunc(commits, func(a, b lagCommit) int { return a.commit.Compare(b.commit) })
	return commits, elapsed, errors.Join(errs...)
}

// lagFigures matches each read record to the commit of its row, by key:
// a row updated more than once (the phase wrapped around the table) is
// matched in commit order, which is the order of its records.
func (b *cdcBench) lagFigures(commits []lagCommit, reads []lagRead, res *CDCLag) {
	byID := map[int64][]time.Time{}
	for _, c := range commits {
		for id := c.id + 1; id <= c.id+c.n; id++ {
			byID[id] = append(byID[id], c.commit)
		}
	}
	lags := make([]time.Duration, 0, len(reads))
	tsLags := make([]time.Duration, 0, len(reads))
	for _, r := range reads {
		if r.tsMs >= 0 {
			tsLags = append(tsLags, max(r.read.Sub(time.UnixMilli(r.tsMs)), 0))
		}
		times := byID[r.id]
		if len(times) == 0 {
			continue
		}
		byID[r.id] = times[1:]
		d := r.read.Sub(times[0])
		if d < 0 {
			res.Early++
			d = 0
		}
		lags = append(lags, d)
	}
	res.Samples = len(lags)
	l := &latencies{samples: lags}
	slices.Sort(l.samples)
	res.P50, res.P99 = l.percentile(50), l.percentile(99)
	if len(lags) > 0 {
		res.Max = lags[len(lags)-1]
	}
	l = &latencies{samples: tsLags}
	slices.Sort(l.samples)
	res.TsP50, res.TsP99 = l.percentile(50), l.percentile(99)
	if len(tsLags) > 0 {
		res.TsMax = tsLags[len(tsLags)-1]
	}
}

// keyID reads the id of a key {"id":N}; -1 if it is not one.
func keyID(key []byte) int64 {
	s, ok := strings.CutPrefix(string(key), `{"id":`)
	if !ok {
		return -1
	}
	s, ok = strings.CutSuffix(s, "}")
	if !ok {
		return -1
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return id
}

// sourceTsMs reads source.ts_ms from a Debezium envelope without parsing
// the rest; -1 if it is not found. The payloads are hex, so the first
// "ts_ms" after "source" is source's.
func sourceTsMs(value []byte) int64 {
	s := string(value)
	i := strings.Index(s, `"source":{`)
	if i < 0 {
		return -1
	}
	s = s[i:]
	j := strings.Index(s, `"ts_ms":`)
	if j < 0 {
		return -1
	}
	s = s[j+len(`"ts_ms":`):]
	k := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if k <= 0 {
		return -1
	}
	ms, err := strconv.ParseInt(s[:k], 10, 64)
	if err != nil {
		return -1
	}
	return ms
}

func checkCDCTargets(r *CDCReport) []CDCTarget {
	note := ""
	if r.Options.RowBytes != 600 {
		note = fmt.Sprintf("; the target is for 600-byte rows, these are %d", r.Options.RowBytes)
	}
	lagNote := ""
	if r.Options.Rate != 10_000 {
		lagNote = fmt.Sprintf("; the target is at 10,000 changes/s, this ran at %.0f", r.Options.Rate)
	}
	targets := []CDCTarget{
		{Target: Target{Name: "snapshot rows/s", Value: r.Snapshot.PerSec, Want: TargetCDCSnapshotRows,
			Pass:   r.Snapshot.PerSec >= TargetCDCSnapshotRows,
			Detail: fmt.Sprintf("%.0f rows/s (target >= %d%s)", r.Snapshot.PerSec, TargetCDCSnapshotRows, note)}},
		{Target: Target{Name: "catch-up changes/s", Value: r.CatchUp.PerSec, Want: TargetCDCCatchUp,
			Pass:   r.CatchUp.PerSec >= TargetCDCCatchUp,
			Detail: fmt.Sprintf("%.0f changes/s (target >= %d)", r.CatchUp.PerSec, TargetCDCCatchUp)}},
		{Target: Target{Name: "p99 lag", Value: float64(r.Lag.P99) / float64(time.Millisecond), Want: float64(TargetCDCLagP99 / time.Millisecond),
			Pass:   r.Lag.Samples > 0 && r.Lag.P99 <= TargetCDCLagP99,
			Detail: fmt.Sprintf("%s at %.0f changes/s (target <= %s%s)", formatLatency(r.Lag.P99), r.Lag.Achieved, TargetCDCLagP99, lagNote)}, AtMost: true},
	}
	return targets
}

// WriteCDCReport prints the report as tables, then the targets.
func WriteCDCReport(w io.Writer, r *CDCReport) error {
	o := r.Options
	fmt.Fprintf(w, "tide bench cdc: %d rows of %d B, %d changes, %.0f changes/s for %s, %d partition(s); embedded log, fsync=always\n",
		o.Rows, o.RowBytes, o.Changes, o.Rate, o.LagDuration, o.Partitions)
	fmt.Fprintf(w, "server: %s\n", r.Server)
	fmt.Fprintf(w, "CPU = this process's user+sys; pg CPU = the capture's Postgres sessions (COPY backend, walsender); MB = 10^6 bytes of table data\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tcount\twall\tsetup\tper s\tMB/s\tCPU\tper CPU-s\tpg CPU\trecord B\t")
	for _, p := range []CDCThroughput{r.Snapshot, r.CatchUp} {
		setup := "-"
		if p.Setup > 0 {
			setup = p.Setup.Round(time.Millisecond).String()
		}
		pg := "-"
		if p.PostgresCPU > 0 {
			pg = p.PostgresCPU.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.0f\t%.1f\t%s\t%.0f\t%s\t%.0f\t\n", p.Name, p.Count, p.Wall.Round(time.Millisecond), setup,
			p.PerSec, p.MBPerSec, p.CPU.Round(time.Millisecond), p.PerCPU, pg, p.RecordBytes)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.CatchUp.WriteWall > 0 {
		fmt.Fprintf(w, "(catch-up: Postgres committed the %d changes in %s with the capture stopped, %.0f/s, %d writers, %d rows per transaction)\n",
			r.CatchUp.Count, r.CatchUp.WriteWall.Round(time.Millisecond), float64(r.CatchUp.Count)/r.CatchUp.WriteWall.Seconds(), o.Writers, o.CatchUpTxnRows)
	}
	if r.Debezium != nil {
		if err := writeDebeziumReport(w, r.Debezium); err != nil {
			return err
		}
	}
	l := r.Lag
	pg := ""
	if l.PostgresCPU > 0 {
		pg = fmt.Sprintf(", pg CPU %s", l.PostgresCPU.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "\nlag: %d changes in %d transactions at %.0f/s (asked %.0f/s for %s); %d read, %d matched; CPU %s%s\n",
		l.Changes, l.Transactions, l.Achieved, l.Rate, l.Duration, l.Read, l.Samples, l.CPU.Round(time.Millisecond), pg)
	fmt.Fprintf(w, "  read - COMMIT returned:  p50 %s  p99 %s  max %s", formatLatency(l.P50), formatLatency(l.P99), formatLatency(l.Max))
	if l.Early > 0 {
		fmt.Fprintf(w, "  (%d read before COMMIT returned, counted as 0)", l.Early)
	}
	fmt.Fprintf(w, "\n  read - source.ts_ms:     p50 %s  p99 %s  max %s\n\n", formatLatency(l.TsP50), formatLatency(l.TsP99), formatLatency(l.TsMax))
	for _, t := range r.Targets {
		verdict := "met"
		if !t.Pass {
			verdict = "not met"
		}
		if _, err := fmt.Fprintf(w, "%-8s %s: %s\n", verdict, t.Name, t.Detail); err != nil {
			return err
		}
	}
	return nil
}
