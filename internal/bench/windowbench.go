package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"time"

	"github.com/tide-data/tide/internal/engine"
	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/transport"
)

// The stateful pipeline benchmark (issue 9): a tumbling-window count and
// sum by key, read from events already in the embedded log, against the
// stateless pass-through over the same events in the same run; and the
// same windowed query with exactly-once delivery against at-least-once.
const (
	// TargetExactlyOnce is the least ratio of exactly-once throughput
	// (events/s) to at-least-once's, for the same windowed query.
	TargetExactlyOnce = 0.8

	WindowTopic = "bench_window"
	// WindowSource declares WindowTopic with the pipeline benchmark's
	// columns. Events are in event-time order: a second of lateness is
	// plenty.
	WindowSource = `CREATE SOURCE bench_window_events (
    id bigint NOT NULL, user_id bigint, session text, page text, amount double precision,
    currency text, status text, country text, ts timestamptz,
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (connector = 'topic', topic = '` + WindowTopic + `', format = 'json')`
	// WindowSize is the tumbling window's length in event time.
	WindowSize = 10 * time.Second
	// WindowQuery is the measured aggregation; WindowBaselineQuery the
	// pass-through it is compared with.
	WindowQuery = `SELECT user_id, window_start, window_end, count(*) AS n, sum(amount) AS total
FROM TUMBLE(TABLE bench_window_events, DESCRIPTOR(ts), INTERVAL '10' SECOND)
GROUP BY user_id, window_start, window_end`
	WindowBaselineQuery = `SELECT * FROM bench_window_events`

	windowLateness = time.Second // the source's WATERMARK
)

// Kinds of WindowResult.
const (
	KindWindowPassthrough = "passthrough"
	KindWindow            = "window"
	// KindWindowOnDisk is the windowed query at-least-once with the
	// sink's state.memory at WindowOptions.StateMemory ('0' by default:
	// every window leaves memory at each checkpoint and is read back
	// from the task's store).
	KindWindowOnDisk = "window-on-disk"
)

// Delivery guarantees the windowed query runs with, in the sink option
// delivery.guarantee's spelling.
const (
	GuaranteeAtLeastOnce = "at_least_once"
	GuaranteeExactlyOnce = "exactly_once"
)

// WindowOptions configures RunWindow.
type WindowOptions struct {
	// Dir is where the embedded log's (and the state stores') scratch
	// directory is made.
	Dir string `json:"dir"`
	// Events is how many events are written to the log and read by every
	// run; Keys how many distinct user_id values they spread over
	// (uniformly, seeded).
	Events int64 `json:"events"`
	Keys   int   `json:"keys"`
	// WindowEvents is how many events fall in one window: event time
	// advances by WindowSize/WindowEvents per event.
	WindowEvents int64 `json:"window_events"`
	// Rounds runs the four measurements this many times, in alternating
	// order (pass-through, at-least-once, exactly-once, on disk, then
	// backwards).
	Rounds int `json:"rounds"`
	// StateMemory is the state.memory of the on-disk run.
	StateMemory string `json:"state_memory"`
	// CheckpointInterval is the windowed sinks' checkpoint.interval; 0
	// leaves the engine's default.
	CheckpointInterval time.Duration `json:"checkpoint_interval_ns,omitempty"`
	// Progress, if set, is called with each result as it is measured.
	Progress func(WindowResult) `json:"-"`
	// OnRun, if set, is called as each run starts, with a name for it
	// (e.g. "window-exactly_once-1"); the function it returns is called
	// when the run's measurement ends (for CPU profiles).
	OnRun func(name string) func() `json:"-"`
}

// DefaultWindowOptions reads 2,000,000 events over 100,000 keys, 500,000
// events per window (five per key on average), in two rounds.
func DefaultWindowOptions() WindowOptions {
	return WindowOptions{Dir: ".", Events: 2_000_000, Keys: 100_000, WindowEvents: 500_000, Rounds: 2, StateMemory: "0"}
}

// Validate reports options RunWindow cannot run with.
func (o *WindowOptions) Validate() error {
	switch {
	case o.Events < 1:
		return errors.New("bench: events must be positive")
	case o.Keys < 1:
		return errors.New("bench: keys must be positive")
	case o.WindowEvents < 1 || o.WindowEvents > int64(WindowSize/time.Microsecond):
		return fmt.Errorf("bench: window events must be between 1 and %d (one per microsecond of event time)", WindowSize/time.Microsecond)
	case o.Rounds < 1:
		return errors.New("bench: rounds must be positive")
	case o.CheckpointInterval < 0:
		return errors.New("bench: the checkpoint interval must not be negative")
	}
	return nil
}

// WindowResult is one run. CPU is the whole process's user and system
// time over the run (every goroutine: source, shuffle and aggregate
// stages, sink, log, garbage collector); nothing else runs meanwhile.
type WindowResult struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Guarantee string `json:"guarantee,omitempty"`
	Round     int    `json:"round"`
	// Events is what the pipeline read: the benchmark's events and the
	// one that closes the last window.
	Events int64 `json:"events"`
	// Out is the rows the sink got: every event for the pass-through,
	// one per key and window for the aggregation (Expected).
	Out      int64         `json:"out"`
	Expected int64         `json:"expected_out"`
	Wall     time.Duration `json:"wall_ns"`
	CPU      time.Duration `json:"cpu_ns"`
	PerSec   float64       `json:"events_per_sec"`
	PerCPU   float64       `json:"events_per_cpu_sec"`
	// Changelog is the records (and control markers) the windowed run
	// wrote to its changelog topic; Repartition to its repartition topic.
	Changelog   int64 `json:"changelog_records,omitempty"`
	Repartition int64 `json:"repartition_records,omitempty"`
	// PeakHeap is the most heap the process's live and unswept objects
	// took, sampled every 20 ms during the run.
	PeakHeap uint64 `json:"peak_heap_bytes"`
}

func (r *WindowResult) finish() {
	if s := r.Wall.Seconds(); s > 0 {
		r.PerSec = float64(r.Events) / s
	}
	if s := r.CPU.Seconds(); s > 0 {
		r.PerCPU = float64(r.Events) / s
	}
}

// WindowSummary is the means over the rounds, and their ratios.
type WindowSummary struct {
	// Means of each measurement's runs.
	Passthrough WindowMean `json:"passthrough"`
	AtLeastOnce WindowMean `json:"at_least_once"`
	ExactlyOnce WindowMean `json:"exactly_once"`
	OnDisk      WindowMean `json:"on_disk"`
	// Window over pass-through (at-least-once), and exactly-once over
	// at-least-once: per second and per CPU-second.
	WindowRatio    float64 `json:"window_ratio"`
	WindowRatioCPU float64 `json:"window_ratio_per_cpu_sec"`
	ExactlyRatio   float64 `json:"exactly_once_ratio"`
	ExactlyCPU     float64 `json:"exactly_once_ratio_per_cpu_sec"`
	// State on disk over state in memory (both at-least-once).
	OnDiskRatio    float64 `json:"on_disk_ratio"`
	OnDiskRatioCPU float64 `json:"on_disk_ratio_per_cpu_sec"`
}

// WindowMean is the mean of one measurement's runs.
type WindowMean struct {
	PerSec float64 `json:"events_per_sec"`
	PerCPU float64 `json:"events_per_cpu_sec"`
	Runs   int     `json:"runs"`
	// PeakHeap is the largest of the runs'.
	PeakHeap uint64 `json:"peak_heap_bytes"`
}

func (m *WindowMean) add(r WindowResult) {
	n := float64(m.Runs)
	m.PerSec = (m.PerSec*n + r.PerSec) / (n + 1)
	m.PerCPU = (m.PerCPU*n + r.PerCPU) / (n + 1)
	m.PeakHeap = max(m.PeakHeap, r.PeakHeap)
	m.Runs++
}

// WindowReport is what RunWindow measured.
type WindowReport struct {
	Options WindowOptions `json:"options"`
	// EventBytes is the average JSON size of the events; Windows the
	// windows they fall in; Expected the rows the aggregation emits (one
	// per key present in a window).
	EventBytes float64        `json:"event_bytes"`
	Windows    int64          `json:"windows"`
	Expected   int64          `json:"expected_out"`
	Results    []WindowResult `json:"results"`
	Summary    WindowSummary  `json:"summary"`
	Targets    []Target       `json:"targets"`
}

// Passed reports whether every target was met.
func (r *WindowReport) Passed() bool { return allPassed(r.Targets) }

// RunWindow measures, in one process and one run, on an embedded log in a
// scratch directory with the events written beforehand (opts.Events of the
// pipeline benchmark's generator, user_id drawn from opts.Keys keys and ts
// advancing steadily through WindowSize windows, then one event a window
// past the last, which moves the watermark past every window and whose
// own window never closes):
//
//   - the pass-through WindowBaselineQuery into a blackhole sink, timed
//     from CREATE SINK until every event has been written;
//   - WindowQuery into a blackhole sink with delivery.guarantee
//     at_least_once, and again with exactly_once, timed from CREATE SINK
//     until the sink has received every window's row: one per key and
//     window, counted while writing the events. The rows are counted at
//     the checkpoint that writes them, so every event has been folded in
//     and the state behind them made durable.
//
// Each run drops its sink (and with it the internal topics and state)
// after it is measured.
func RunWindow(ctx context.Context, opts WindowOptions) (_ *WindowReport, err error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	report := &WindowReport{Options: opts}
	node, err := openBenchNode(ctx, opts.Dir)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, node.close()) }()
	l, tr, eng := node.log, node.tr, node.eng

	written, err := produceWindowEvents(ctx, tr, opts)
	if err != nil {
		return nil, err
	}
	report.EventBytes, report.Windows, report.Expected = written.avgBytes, written.windows, written.expected
	if _, err := eng.Execute(ctx, WindowSource, engine.ExecOptions{}); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	total := opts.Events + 1 // and the flush event
	type run struct{ kind, guarantee string }
	order := []run{{KindWindowPassthrough, ""}, {KindWindow, GuaranteeAtLeastOnce}, {KindWindow, GuaranteeExactlyOnce},
		{KindWindowOnDisk, GuaranteeAtLeastOnce}}
	for round := range opts.Rounds {
		runs := slices.Clone(order)
		if round%2 == 1 {
			slices.Reverse(runs)
		}
		for _, r := range runs {
			res, err := runWindowCase(ctx, eng, l, tr, opts, r.kind, r.guarantee, round+1, total, written.expected)
			if err != nil {
				return nil, err
			}
			report.Results = append(report.Results, res)
			if opts.Progress != nil {
				opts.Progress(res)
			}
		}
	}
	report.summarize()
	return report, nil
}

// windowEvents says what produceWindowEvents wrote.
type windowEvents struct {
	avgBytes          float64
	windows, expected int64
}

// produceWindowEvents writes opts.Events events and the flush event to
// WindowTopic, one partition, counting the rows the aggregation will emit.
// The events are the pipeline benchmark's (PipelineSource, a pool of at
// most 100,000 generated and cycled), re-encoded with user_id and ts set.
func produceWindowEvents(ctx context.Context, tr transport.Transport, opts WindowOptions) (windowEvents, error) {
	var out windowEvents
	sourceSQL := fmt.Sprintf(PipelineSource, min(opts.Events, ceilingPool))
	pool, err := benchPool(sourceSQL, min(opts.Events, ceilingPool))
	if err != nil {
		return out, err
	}
	cols, err := benchColumns(sourceSQL)
	if err != nil {
		return out, fmt.Errorf("bench: %w", err)
	}
	dec, err := format.NewDecoder("json", cols, nil, format.Env{})
	if err != nil {
		return out, fmt.Errorf("bench: %w", err)
	}
	enc, err := format.NewEncoder("json", cols, nil, format.Env{})
	if err != nil {
		return out, fmt.Errorf("bench: %w", err)
	}
	userCol := slices.IndexFunc(cols, func(c format.Column) bool { return c.Name == "user_id" })
	tsCol := slices.IndexFunc(cols, func(c format.Column) bool { return c.Name == "ts" })
	if userCol < 0 || tsCol < 0 {
		return out, errors.New("bench: PipelineSource lost user_id or ts")
	}
	rows := make([]types.Row, len(pool.values))
	for i, v := range pool.values {
		rows[i] = make(types.Row, len(cols))
		if err := dec.Decode(v, rows[i]); err != nil {
			return out, fmt.Errorf("bench: %w", err)
		}
	}
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: WindowTopic, Partitions: 1}); err != nil {
		return out, fmt.Errorf("bench: %w", err)
	}

	size := WindowSize.Microseconds()
	// Event time starts at a window boundary of 2026-01-01 and advances
	// evenly, WindowEvents per window.
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	eventTime := func(i int64) int64 { return base + i*size/opts.WindowEvents }
	rng := rand.New(rand.NewPCG(9, uint64(opts.Keys)))
	// seen[k] is 1 + the last window key k+1 was seen in: a key's first
	// event in a window is one more row to expect.
	seen := make([]int64, opts.Keys)
	const batch = 2000
	recs := make([]*transport.Record, 0, batch)
	var buf []byte
	var bytes int64
	flush := func() error {
		if err := tr.Produce(ctx, recs); err != nil {
			return fmt.Errorf("bench: writing the events to the log: %w", err)
		}
		recs, buf = recs[:0], nil
		return nil
	}
	write := func(row types.Row) error {
		if buf == nil {
			buf = make([]byte, 0, batch*256) // the log may keep the values until the next batch
		}
		start := len(buf)
		if buf, err = enc.Encode(buf, row); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		bytes += int64(len(buf) - start)
		recs = append(recs, &transport.Record{Topic: WindowTopic, Partition: 0, Value: buf[start:len(buf):len(buf)]})
		if len(recs) == batch {
			return flush()
		}
		return nil
	}
	for i := range opts.Events {
		row := rows[i%int64(len(rows))]
		key := rng.IntN(opts.Keys)
		ts := eventTime(i)
		w := (ts-base)/size + 1
		if seen[key] != w {
			seen[key] = w
			out.expected++
		}
		out.windows = w
		row[userCol], row[tsCol] = types.NewInt8(int64(key)+1), types.NewTimestampTZ(ts)
		if err := write(row); err != nil {
			return out, err
		}
	}
	// The flush event: user_id 0 (no other key), its watermark past the
	// end of the last window.
	row := slices.Clone(rows[0])
	lastEnd := base + out.windows*size
	row[userCol], row[tsCol] = types.NewInt8(0), types.NewTimestampTZ(lastEnd+size+windowLateness.Microseconds())
	if err := write(row); err != nil {
		return out, err
	}
	if len(recs) > 0 {
		if err := flush(); err != nil {
			return out, err
		}
	}
	out.avgBytes = float64(bytes) / float64(opts.Events+1)
	return out, nil
}

// runWindowCase creates one run's sink, waits until it has processed
// every event (and, windowed, emitted every window's rows), and drops it.
func runWindowCase(ctx context.Context, eng *engine.Engine, l *log.Log, tr transport.Transport, opts WindowOptions,
	kind, guarantee string, round int, total, expected int64) (WindowResult, error) {
	res := WindowResult{Kind: kind, Guarantee: guarantee, Round: round}
	name := "passthrough"
	query, with := WindowBaselineQuery, "connector = 'blackhole'"
	if kind != KindWindowPassthrough {
		name = "window-" + guarantee
		query = WindowQuery
		with += ", delivery.guarantee = '" + guarantee + "'"
		if kind == KindWindowOnDisk {
			name += "-on-disk"
			with += ", state.memory = '" + strings.ReplaceAll(opts.StateMemory, "'", "''") + "'"
		}
		if opts.CheckpointInterval > 0 {
			with += ", checkpoint.interval = '" + opts.CheckpointInterval.String() + "'"
		}
		res.Expected = expected
	} else {
		res.Expected = total
	}
	res.Name = strings.ReplaceAll(name, "-", " ")
	sink := fmt.Sprintf("bench_%s_%d", strings.ReplaceAll(name, "-", "_"), round)
	runtime.GC() // start each run from a clean heap
	var stop func()
	if opts.OnRun != nil {
		stop = opts.OnRun(fmt.Sprintf("%s-%d", name, round))
	}
	wall0, cpu0 := time.Now(), selfCPU()
	if _, err := eng.Execute(ctx, fmt.Sprintf("CREATE SINK %s WITH (%s) AS %s", sink, with, query), engine.ExecOptions{}); err != nil {
		if stop != nil {
			stop()
		}
		return res, fmt.Errorf("bench: %s: %w", name, err)
	}
	var st sinkStatus
	var err error
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	lastSample := time.Time{}
	for {
		if time.Since(lastSample) >= 20*time.Millisecond {
			metrics.Read(heap)
			res.PeakHeap = max(res.PeakHeap, heap[0].Value.Uint64())
			lastSample = time.Now()
		}
		if st, err = showSink(ctx, eng, sink); err != nil {
			break
		}
		if st.in == total && st.out >= res.Expected {
			break
		}
		if st.state != "running" && st.state != "retrying" {
			err = fmt.Errorf("pipeline %s (DESCRIBE %s says why)", st.state, sink)
			break
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if err != nil {
			break
		}
	}
	res.Wall, res.CPU = time.Since(wall0), selfCPU()-cpu0
	if stop != nil {
		stop()
	}
	if err != nil {
		return res, fmt.Errorf("bench: %s: %w", name, err)
	}
	res.Events, res.Out = st.in, st.out
	res.finish()
	if kind != KindWindowPassthrough {
		res.Changelog, res.Repartition = internalRecords(ctx, l, tr, sink)
	}
	if _, err := eng.Execute(ctx, "DROP SINK "+sink, engine.ExecOptions{}); err != nil {
		return res, fmt.Errorf("bench: %s: %w", name, err)
	}
	switch {
	case st.dead != 0 || st.filtered != 0:
		return res, fmt.Errorf("bench: %s: %d events dead-lettered, %d filtered", name, st.dead, st.filtered)
	case st.out != res.Expected:
		// More rows than windows: a stage restarted and replayed.
		return res, fmt.Errorf("bench: %s: %d rows out, expected %d", name, st.out, res.Expected)
	}
	return res, nil
}

// internalRecords counts the records (offsets, control markers included)
// of a stateful sink's changelog and repartition topics.
func internalRecords(ctx context.Context, l *log.Log, tr transport.Transport, sink string) (changelog, repartition int64) {
	prefix := "__tide." + sink + "-"
	for _, t := range l.Topics() {
		n := t.Name()
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		ends, err := tr.EndOffsets(ctx, n)
		if err != nil {
			continue
		}
		var sum int64
		for _, e := range ends {
			sum += e
		}
		switch {
		case strings.HasSuffix(n, ".changelog"):
			changelog += sum
		case strings.HasSuffix(n, ".repartition"):
			repartition += sum
		}
	}
	return changelog, repartition
}

func (r *WindowReport) summarize() {
	s := &r.Summary
	for _, res := range r.Results {
		switch {
		case res.Kind == KindWindowPassthrough:
			s.Passthrough.add(res)
		case res.Kind == KindWindowOnDisk:
			s.OnDisk.add(res)
		case res.Guarantee == GuaranteeAtLeastOnce:
			s.AtLeastOnce.add(res)
		case res.Guarantee == GuaranteeExactlyOnce:
			s.ExactlyOnce.add(res)
		}
	}
	s.WindowRatio = ratio(s.AtLeastOnce.PerSec, s.Passthrough.PerSec)
	s.WindowRatioCPU = ratio(s.AtLeastOnce.PerCPU, s.Passthrough.PerCPU)
	s.ExactlyRatio = ratio(s.ExactlyOnce.PerSec, s.AtLeastOnce.PerSec)
	s.ExactlyCPU = ratio(s.ExactlyOnce.PerCPU, s.AtLeastOnce.PerCPU)
	s.OnDiskRatio = ratio(s.OnDisk.PerSec, s.AtLeastOnce.PerSec)
	s.OnDiskRatioCPU = ratio(s.OnDisk.PerCPU, s.AtLeastOnce.PerCPU)
	r.Targets = []Target{{
		Name:  "exactly-once vs at-least-once, events/s",
		Value: s.ExactlyRatio,
		Want:  TargetExactlyOnce,
		Pass:  s.ExactlyRatio >= TargetExactlyOnce,
		Detail: fmt.Sprintf("%.1f%% (target >= %.0f%%); per CPU-second %.1f%%",
			100*s.ExactlyRatio, 100*TargetExactlyOnce, 100*s.ExactlyCPU),
	}}
}

// WriteWindowHeader writes the heading of the text report.
func WriteWindowHeader(w io.Writer, opts WindowOptions) error {
	_, err := fmt.Fprintf(w, "tide bench window: %d events over %d keys, %d per %s window, from an embedded log in %s; CPU = process user+sys\n\n%-32s %5s %10s %10s %11s %9s %9s %13s %11s %10s\n",
		opts.Events, opts.Keys, opts.WindowEvents, WindowSize, opts.Dir, "run", "round", "events", "rows out", "events/s", "wall", "cpu", "events/cpu-s", "changelog", "peak heap")
	return err
}

// WriteWindowRow writes one result as a table row.
func WriteWindowRow(w io.Writer, r WindowResult) error {
	changelog := "-"
	if r.Kind != KindWindowPassthrough {
		changelog = fmt.Sprintf("%d", r.Changelog)
	}
	_, err := fmt.Fprintf(w, "%-32s %5d %10d %10d %11.0f %9s %9s %13.0f %11s %7.1f MiB\n",
		r.Name, r.Round, r.Events, r.Out, r.PerSec, r.Wall.Round(time.Millisecond), r.CPU.Round(time.Millisecond), r.PerCPU, changelog,
		float64(r.PeakHeap)/(1<<20))
	return err
}

// WriteWindowSummary writes the means, the ratios and the target check.
func WriteWindowSummary(w io.Writer, r *WindowReport) error {
	var b strings.Builder
	s := r.Summary
	fmt.Fprintf(&b, "\nevents: %.1f bytes of JSON on average, %d windows, %d rows expected from the aggregation\n", r.EventBytes, r.Windows, r.Expected)
	fmt.Fprintf(&b, "means: passthrough %.0f events/s, %.0f events/cpu-s; at-least-once %.0f, %.0f; exactly-once %.0f, %.0f\n",
		s.Passthrough.PerSec, s.Passthrough.PerCPU, s.AtLeastOnce.PerSec, s.AtLeastOnce.PerCPU, s.ExactlyOnce.PerSec, s.ExactlyOnce.PerCPU)
	fmt.Fprintf(&b, "window (at-least-once) / passthrough: %.3f events/s, %.3f per CPU-second\n", s.WindowRatio, s.WindowRatioCPU)
	fmt.Fprintf(&b, "exactly-once / at-least-once:         %.3f events/s, %.3f per CPU-second\n", s.ExactlyRatio, s.ExactlyCPU)
	fmt.Fprintf(&b, "state on disk / in memory:            %.3f events/s, %.3f per CPU-second (on disk: %.0f events/s, %.0f events/cpu-s)\n",
		s.OnDiskRatio, s.OnDiskRatioCPU, s.OnDisk.PerSec, s.OnDisk.PerCPU)
	fmt.Fprintf(&b, "peak heap: passthrough %.1f MiB; window in memory %.1f MiB, on disk %.1f MiB (at-least-once)\n",
		float64(s.Passthrough.PeakHeap)/(1<<20), float64(s.AtLeastOnce.PeakHeap)/(1<<20), float64(s.OnDisk.PeakHeap)/(1<<20))
	for _, t := range r.Targets {
		verdict := "PASS"
		if !t.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, "%s  %s: %s\n", verdict, t.Name, t.Detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
