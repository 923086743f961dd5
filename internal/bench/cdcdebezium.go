package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
)

// The Debezium baseline of the CDC benchmark. With CDCOptions.Debezium
// set, RunCDC runs Debezium's embedded engine (a JVM program, built by
// scripts/bench/debezium.sh from scripts/bench/debezium/) on the same
// table of the same database, with a replication slot and publication of
// its own, twice:
//
//   - after Tide's snapshot, with snapshot.mode=initial, timed from the
//     engine's creation to its Rows-th event; the run leaves its slot,
//     so that the catch-up's changes wait in it as they wait in Tide's;
//   - after Tide's catch-up, with snapshot.mode=no_data on that slot (the
//     offsets are in memory, so Debezium resumes from the slot's
//     confirmed position), timed to its Changes-th event.
//
// Its slot is dropped after the catch-up (and, on an error, with the
// database: dropDatabase drops every slot of the database once no
// walsender holds it). Debezium hands its events, serialized to JSON by
// Kafka Connect's JsonConverter, to a handler in memory that measures
// them; Tide writes its events to the embedded log and fsyncs them, so
// the comparison favours Debezium by that write.

// debeziumLauncher is the program in the CDCOptions.Debezium directory.
const debeziumLauncher = "debezium-bench"

// debeziumSessions matches the application_name of Debezium's Postgres
// sessions ("Debezium General", "Debezium Streaming", ...).
const debeziumSessions = "Debezium%"

// CDCDebezium is Debezium Embedded's measurement of the same snapshot and
// catch-up, with Tide's ratio to it.
type CDCDebezium struct {
	Version string `json:"version"`
	// Java is the JVM's name and version; JVMArgs its options (heap).
	Java     string        `json:"java"`
	JVMArgs  []string      `json:"jvm_args"`
	Snapshot DebeziumPhase `json:"snapshot"`
	CatchUp  DebeziumPhase `json:"catch_up"`
}

// DebeziumPhase is one run of the Debezium program.
type DebeziumPhase struct {
	Name string `json:"name"`
	// Count is the events its handler received, Bytes their key and
	// value JSON, RecordBytes the average of that per event.
	Count       int64   `json:"count"`
	Bytes       int64   `json:"bytes"`
	RecordBytes float64 `json:"record_bytes"`
	// Wall runs from the engine's creation (in a JVM already started,
	// JVMStart after its launch) to the Count-th event; FirstEvent to the
	// first. JIT compilation and class loading during the run are part of
	// it: a JVM that has just started is what a restarted Debezium is.
	Wall       time.Duration `json:"wall_ns"`
	FirstEvent time.Duration `json:"first_event_ns"`
	JVMStart   time.Duration `json:"jvm_start_ns"`
	// CPU is the JVM's CPU time over Wall (all its threads: JIT and GC
	// too); GC the collectors' time in it.
	CPU time.Duration `json:"cpu_ns"`
	GC  time.Duration `json:"gc_ns"`
	// ProcessWall and ProcessCPU are the JVM's whole life, launch to exit:
	// start-up and shutdown too.
	ProcessWall time.Duration `json:"process_wall_ns"`
	ProcessCPU  time.Duration `json:"process_cpu_ns"`
	// PostgresCPU is the CPU time of Debezium's Postgres sessions, sampled
	// every 200 ms from /proc until the Count-th event; zero when the
	// server's processes are not visible.
	PostgresCPU time.Duration `json:"postgres_cpu_ns,omitempty"`
	PerSec      float64       `json:"per_sec"`
	PerCPU      float64       `json:"per_cpu_sec"`
	// AfterFirst is the events after the first over the time after it:
	// the rate without the engine's start (slot, publication, snapshot
	// query or replication start), though not without JIT warm-up.
	AfterFirst float64 `json:"after_first_per_sec"`
	// TideRatio is Tide's PerSec over Debezium's for the same phase;
	// TideCPURatio the same for events per CPU-second (each process's own
	// CPU, Postgres's not counted).
	TideRatio    float64 `json:"tide_ratio"`
	TideCPURatio float64 `json:"tide_cpu_ratio"`
}

func (p *DebeziumPhase) finish(tide *CDCThroughput) {
	if s := p.Wall.Seconds(); s > 0 {
		p.PerSec = float64(p.Count) / s
	}
	if s := p.CPU.Seconds(); s > 0 {
		p.PerCPU = float64(p.Count) / s
	}
	if s := (p.Wall - p.FirstEvent).Seconds(); s > 0 && p.Count > 1 {
		p.AfterFirst = float64(p.Count-1) / s
	}
	if p.Count > 0 {
		p.RecordBytes = float64(p.Bytes) / float64(p.Count)
	}
	if p.PerSec > 0 {
		p.TideRatio = tide.PerSec / p.PerSec
	}
	if p.PerCPU > 0 {
		p.TideCPURatio = tide.PerCPU / p.PerCPU
	}
}

// debeziumLine is the JSON line the Debezium program prints on its
// Nth event.
type debeziumLine struct {
	Events            int64    `json:"events"`
	Seconds           float64  `json:"seconds"`
	FirstEventSeconds float64  `json:"first_event_seconds"`
	Bytes             int64    `json:"bytes"`
	CPUSeconds        float64  `json:"cpu_seconds"`
	GCSeconds         float64  `json:"gc_seconds"`
	JVMStartSeconds   float64  `json:"jvm_start_seconds"`
	DebeziumVersion   string   `json:"debezium_version"`
	JavaVersion       string   `json:"java_version"`
	JVMArgs           []string `json:"jvm_args"`
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// checkDebeziumDir reports a CDCOptions.Debezium without a launcher.
func checkDebeziumDir(dir string) error {
	fi, err := os.Stat(filepath.Join(dir, debeziumLauncher))
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("bench cdc: %s has no executable %s: build it with scripts/bench/debezium.sh and pass the directory it prints", dir, debeziumLauncher)
	}
	return nil
}

// debeziumSlot is the Debezium program's replication slot: the scratch
// database's name, as Tide's, plus _dbz.
func (b *cdcBench) debeziumSlot() string { return b.dbName + "_dbz" }

// debeziumSnapshot runs the Debezium program's snapshot, leaving its slot.
func (b *cdcBench) debeziumSnapshot(ctx context.Context, r *CDCReport) error {
	o := b.opts
	o.Logf("debezium: snapshot of %d rows", o.Rows)
	p, line, err := b.runDebezium(ctx, "initial", o.Rows)
	if err != nil {
		return fmt.Errorf("bench cdc: debezium snapshot: %w", err)
	}
	p.Name = "snapshot"
	p.finish(&r.Snapshot)
	r.Debezium = &CDCDebezium{Version: line.DebeziumVersion, Java: line.JavaVersion, JVMArgs: line.JVMArgs, Snapshot: *p}
	o.Logf("debezium: snapshot: %d rows in %s (Tide %.2fx)", p.Count, p.Wall.Round(time.Millisecond), p.TideRatio)
	// The walsender of the stopped engine lets go of the slot a moment
	// after the JVM exits.
	return b.awaitSlotIdle(ctx, b.debeziumSlot())
}

// debeziumCatchUp runs the Debezium program on its slot, which holds the
// catch-up's changes, and drops the slot.
func (b *cdcBench) debeziumCatchUp(ctx context.Context, r *CDCReport) error {
	o := b.opts
	o.Logf("debezium: catch-up of %d changes", o.Changes)
	p, _, err := b.runDebezium(ctx, "no_data", o.Changes)
	if err != nil {
		return fmt.Errorf("bench cdc: debezium catch-up: %w", err)
	}
	p.Name = "catch-up"
	p.finish(&r.CatchUp)
	r.Debezium.CatchUp = *p
	o.Logf("debezium: catch-up: %d changes in %s (Tide %.2fx)", p.Count, p.Wall.Round(time.Millisecond), p.TideRatio)
	if err := b.awaitSlotIdle(ctx, b.debeziumSlot()); err != nil {
		return err
	}
	if _, err := b.admin.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, b.debeziumSlot()); err != nil {
		return fmt.Errorf("bench cdc: dropping slot %s: %w", b.debeziumSlot(), err)
	}
	return nil
}

// runDebezium runs the Debezium program until it has received events
// events with the given snapshot.mode, sampling the CPU of its Postgres
// sessions meanwhile.
func (b *cdcBench) runDebezium(ctx context.Context, snapshotMode string, events int64) (*DebeziumPhase, *debeziumLine, error) {
	cfg, err := pgx.ParseConfig(b.dsn)
	if err != nil {
		return nil, nil, err
	}
	if strings.HasPrefix(cfg.Host, "/") {
		return nil, nil, fmt.Errorf("the dsn names the Unix socket %s; Debezium's JDBC driver needs a TCP host", cfg.Host)
	}
	args := []string{
		"--host", cfg.Host, "--port", strconv.Itoa(int(cfg.Port)), "--user", cfg.User, "--database", cfg.Database,
		"--table", "public." + cdcTable, "--slot", b.debeziumSlot(), "--publication", "tide_bench_dbz",
		"--events", strconv.FormatInt(events, 10), "--snapshot-mode", snapshotMode,
	}
	var env []string
	if cfg.Password != "" {
		env = append(env, "PGPASSWORD="+cfg.Password)
	}
	pg := map[int32]time.Duration{}
	sample := func() {
		for pid, cpu := range b.sessionCPUsOf(ctx, debeziumSessions) {
			pg[pid] = max(pg[pid], cpu)
		}
	}
	line, proc, err := runDebeziumProcess(ctx, filepath.Join(b.opts.Debezium, debeziumLauncher), args, env, sample)
	if err != nil {
		return nil, nil, err
	}
	if line.Events != events {
		return nil, nil, fmt.Errorf("the program reported %d events for %d", line.Events, events)
	}
	p := &DebeziumPhase{Count: line.Events, Bytes: line.Bytes, Wall: seconds(line.Seconds), FirstEvent: seconds(line.FirstEventSeconds),
		JVMStart: seconds(line.JVMStartSeconds), CPU: seconds(line.CPUSeconds), GC: seconds(line.GCSeconds),
		ProcessWall: proc.wall, ProcessCPU: proc.cpu}
	for _, cpu := range pg {
		p.PostgresCPU += cpu
	}
	return p, line, nil
}

// debeziumProcess is what the OS says of one run of the program.
type debeziumProcess struct {
	wall, cpu time.Duration
}

// runDebeziumProcess runs launcher with args (and env added to this
// process's), calls sample every 200 ms until the program prints its
// JSON line and once more then, and waits for the program to exit (a
// minute at most after the line). An exit other than 0, or one without
// the line, is an error holding the end of its stderr. The program is
// killed if ctx ends.
func runDebeziumProcess(ctx context.Context, launcher string, args, env []string, sample func()) (*debeziumLine, *debeziumProcess, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, launcher, args...)
	cmd.Env = append(os.Environ(), env...)
	lines := make(chan []byte, 1)
	cmd.Stdout = &lineWriter{lines: lines}
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var (
		raw     []byte
		waitErr error
		done    bool
	)
	sample()
	for raw == nil && !done {
		select {
		case raw = <-lines:
			sample()
		case waitErr = <-exited:
			done = true
		case <-tick.C:
			sample()
		}
	}
	if !done {
		select {
		case waitErr = <-exited:
		case <-time.After(time.Minute):
			cancel()
			waitErr = errors.Join(errors.New("still running a minute after its last event; killed"), <-exited)
		}
	}
	proc := &debeziumProcess{wall: time.Since(start)}
	if st := cmd.ProcessState; st != nil {
		proc.cpu = st.UserTime() + st.SystemTime()
	}
	if raw == nil { // the line may have come with the exit
		select {
		case raw = <-lines:
		default:
		}
	}
	if waitErr == nil && raw == nil {
		waitErr = errors.New("exited without its result line")
	}
	if waitErr != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			waitErr = fmt.Errorf("%w; its stderr ends:\n%s", waitErr, msg)
		}
		return nil, nil, fmt.Errorf("%s: %w", launcher, waitErr)
	}
	var line debeziumLine
	if err := json.Unmarshal(raw, &line); err != nil {
		return nil, nil, fmt.Errorf("%s: its result line %q: %w", launcher, raw, err)
	}
	return &line, proc, nil
}

// lineWriter sends the first line of its input that starts with '{' to
// lines; the rest is dropped. exec.Cmd calls Write from one goroutine.
type lineWriter struct {
	buf   []byte
	sent  bool
	lines chan<- []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if w.sent {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	for !w.sent {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := bytes.TrimSpace(w.buf[:i])
		w.buf = w.buf[i+1:]
		if len(line) > 0 && line[0] == '{' {
			w.lines <- bytes.Clone(line)
			w.sent = true
		}
	}
	return len(p), nil
}

// tailBuffer keeps the last max bytes written to it; safe for one writer
// and readers after it is done.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// writeDebeziumReport prints the Debezium baseline below Tide's phases.
func writeDebeziumReport(w io.Writer, d *CDCDebezium) error {
	fmt.Fprintf(w, "\nDebezium Embedded %s on the same table, its own slot; %s, %s\n", d.Version, d.Java, strings.Join(d.JVMArgs, " "))
	fmt.Fprintf(w, "wall = engine created to last event, in a JVM just started (JIT warm-up included); events go to a handler in memory, not to a log\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tcount\twall\tfirst event\tper s\tafter 1st\tCPU\tper CPU-s\tGC\tpg CPU\trecord B\tTide/Debezium\tper CPU-s\t")
	for _, p := range []DebeziumPhase{d.Snapshot, d.CatchUp} {
		if p.Count == 0 {
			continue
		}
		pg := "-"
		if p.PostgresCPU > 0 {
			pg = p.PostgresCPU.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.0f\t%.0f\t%s\t%.0f\t%s\t%s\t%.0f\t%.2fx\t%.2fx\t\n", p.Name, p.Count, p.Wall.Round(time.Millisecond),
			p.FirstEvent.Round(time.Millisecond), p.PerSec, p.AfterFirst, p.CPU.Round(time.Millisecond), p.PerCPU, p.GC.Round(time.Millisecond), pg,
			p.RecordBytes, p.TideRatio, p.TideCPURatio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range []DebeziumPhase{d.Snapshot, d.CatchUp} {
		if p.Count == 0 {
			continue
		}
		if _, err := fmt.Fprintf(w, "(%s: the JVM started %s before the engine; launch to exit %s, %s CPU)\n", p.Name,
			p.JVMStart.Round(time.Millisecond), p.ProcessWall.Round(time.Millisecond), p.ProcessCPU.Round(time.Millisecond)); err != nil {
			return err
		}
	}
	return nil
}
