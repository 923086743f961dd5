package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	nexmarksql "github.com/tide-data/tide/examples/nexmark"
	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/engine"
	"github.com/tide-data/tide/internal/nexmark"
	"github.com/tide-data/tide/internal/transport"
)

// The Nexmark benchmark (issue 10): the repository's query files
// (examples/nexmark) over the Nexmark generator's events, in process and
// read back from the log, per core, against twice the per-core figures
// Flink 1.13 published (../shared/notes/nexmark.md).

// Sources of a NexmarkResult.
const (
	NexmarkGenerator = "generator" // the nexmark connector in the pipeline's process
	NexmarkLog       = "log"       // the same events written to a topic first
)

// nexmarkTargets are the per-core targets, events of the stream
// per CPU-second: twice Flink 1.13's.
var nexmarkTargets = map[string]float64{
	"q0": 310_000, "q1": 316_000, "q2": 350_000, "q3": 304_000, "q4": 68_000, "q5": 44_000, "q7": 25_000, "q8": 292_000,
}

// nexmarkTables are the generator's tables, as the query files name them.
var nexmarkTables = []string{"person", "auction", "bid"}

// NexmarkTopicPrefix names the topics holding each table's rows for the
// log runs: nexmark_person, nexmark_auction, nexmark_bid.
const NexmarkTopicPrefix = "nexmark_"

// nexmarkBaseTime is the generator's first event time: fixed, so every
// run generates the same events.
const nexmarkBaseTime = "2026-01-01T00:00:00Z"

// NexmarkOptions configures RunNexmark.
type NexmarkOptions struct {
	// Dir is where the embedded log's scratch directory is made.
	Dir string `json:"dir"`
	// Queries are the query files' names (q0, q1, ...).
	Queries []string `json:"queries"`
	// Events is how many events of the stream (people, auctions and
	// bids) every run covers; Seed the generator's.
	Events int64  `json:"events"`
	Seed   uint64 `json:"seed"`
	// Rounds runs every measurement this many times.
	Rounds int `json:"rounds"`
	// Progress, if set, is called with each result as it is measured.
	Progress func(NexmarkResult) `json:"-"`
	// OnRun, if set, is called as each run starts, with a name for it
	// (e.g. "q4-generator-1"); the function it returns is called when the
	// run's measurement ends (for CPU profiles).
	OnRun func(name string) func() `json:"-"`
}

// DefaultNexmarkOptions runs every query over 2,000,000 events, once.
func DefaultNexmarkOptions() NexmarkOptions {
	return NexmarkOptions{Dir: ".", Queries: slices.Clone(nexmarksql.Queries), Events: 2_000_000, Rounds: 1}
}

// Validate reports options RunNexmark cannot run with.
func (o *NexmarkOptions) Validate() error {
	switch {
	case o.Events < 50:
		return errors.New("bench: events must be at least 50 (one period of the generator's mix)")
	case o.Rounds < 1:
		return errors.New("bench: rounds must be positive")
	case len(o.Queries) == 0:
		return errors.New("bench: no query")
	}
	for _, q := range o.Queries {
		if _, err := nexmarksql.File(q); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	return nil
}

// NexmarkResult is one run: a query over one source. Events counts the
// stream's events (all kinds, as Flink's figures do); Rows the rows of
// the tables the query reads; Out the rows of its last sink.
type NexmarkResult struct {
	Query  string        `json:"query"`
	Source string        `json:"source"`
	Round  int           `json:"round"`
	Events int64         `json:"events"`
	Rows   int64         `json:"rows_in"`
	Out    int64         `json:"rows_out"`
	Wall   time.Duration `json:"wall_ns"`
	CPU    time.Duration `json:"cpu_ns"`
	PerSec float64       `json:"events_per_sec"`
	PerCPU float64       `json:"events_per_cpu_sec"`
}

// NexmarkReport is what RunNexmark measured.
type NexmarkReport struct {
	Options NexmarkOptions  `json:"options"`
	Results []NexmarkResult `json:"results"`
	Targets []Target        `json:"targets"`
}

// Passed reports whether every target was met.
func (r *NexmarkReport) Passed() bool { return allPassed(r.Targets) }

// RunNexmark measures each query, in one process on an embedded log in a
// scratch directory (fsync=always, one partition per topic): first with
// the nexmark connector generating opts.Events events in the pipelines'
// process, then over the same rows written to topics beforehand (not
// timed). Each run executes the query's file as it is — its sources,
// its intermediate sinks — with the sources' WITH clauses replaced and
// its last sink writing to a blackhole; it is timed from the file's
// execution until the last sink has written as many rows as the query's
// brute-force evaluation (nexmarksql.Expected) has, and every object the
// file made is dropped after it.
func RunNexmark(ctx context.Context, opts NexmarkOptions) (_ *NexmarkReport, err error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	report := &NexmarkReport{Options: opts}
	node, err := openBenchNode(ctx, opts.Dir)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, node.close()) }()
	tr, eng := node.tr, node.eng

	rows := map[string]int64{}
	for _, table := range nexmarkTables {
		if rows[table], err = writeNexmarkTable(ctx, tr, opts, table); err != nil {
			return nil, err
		}
	}
	cfg := nexmark.Defaults()
	cfg.Seed = opts.Seed
	if cfg.BaseTime, err = time.Parse(time.RFC3339, nexmarkBaseTime); err != nil {
		return nil, err
	}
	for round := 1; round <= opts.Rounds; round++ {
		for _, q := range opts.Queries {
			expected, err := nexmarksql.Expected(q, cfg, opts.Events)
			if err != nil {
				return nil, fmt.Errorf("bench: %w", err)
			}
			for _, source := range []string{NexmarkGenerator, NexmarkLog} {
				res, err := runNexmarkCase(ctx, eng, tr, opts, q, source, round, rows, int64(len(expected)))
				if err != nil {
					return nil, err
				}
				report.Results = append(report.Results, res)
				if opts.Progress != nil {
					opts.Progress(res)
				}
			}
		}
	}
	report.Targets = checkNexmarkTargets(report.Results)
	return report, nil
}

// nexmarkGeneratorWith are the generator's options of table for opts.
func nexmarkGeneratorWith(opts NexmarkOptions, table string) string {
	return fmt.Sprintf(`connector = 'nexmark', table = '%s', "events-per-second" = '0', "number-of-events" = '%d', seed = '%d', "base-time" = '%s'`,
		table, opts.Events, opts.Seed, nexmarkBaseTime)
}

// writeNexmarkTable writes table's rows among opts.Events events to its
// topic with the nexmark connector itself (so the log runs read exactly
// what the generator runs make) and returns how many there are.
func writeNexmarkTable(ctx context.Context, tr transport.Transport, opts NexmarkOptions, table string) (int64, error) {
	cols, err := benchColumns(nexmarkSourceStatement(table))
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	src, err := connector.NewSource("nexmark", cols, map[string]string{"table": table, "events-per-second": "0",
		"number-of-events": fmt.Sprint(opts.Events), "seed": fmt.Sprint(opts.Seed), "base-time": nexmarkBaseTime}, connector.Env{})
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer func() { _ = src.Close(ctx) }()
	topic := NexmarkTopicPrefix + table
	// The events' times are the fixed base's, likely older than a default
	// retention: keep them for the whole benchmark.
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: topic, Partitions: 1, Configs: map[string]string{"retention.ms": "-1"}}); err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	var n int64
	for {
		b, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("bench: generating the %s table: %w", table, err)
		}
		recs := make([]*transport.Record, len(b.Messages))
		for i, m := range b.Messages {
			recs[i] = &transport.Record{Topic: topic, Partition: 0, Value: m.Value, Timestamp: m.Timestamp}
		}
		if err := tr.Produce(ctx, recs); err != nil {
			return 0, fmt.Errorf("bench: writing the %s table to the log: %w", table, err)
		}
		n += int64(len(recs))
	}
}

// nexmarkSourceStatement is table's CREATE SOURCE as the query files
// declare it, taken from the first file that does.
func nexmarkSourceStatement(table string) string {
	for _, q := range nexmarksql.Queries {
		text, _ := nexmarksql.File(q)
		if m := regexp.MustCompile(`(?s)CREATE SOURCE IF NOT EXISTS ` + table + ` \(.*?\) WITH \([^)]*\);`).FindString(text); m != "" {
			return strings.TrimSuffix(m, ";")
		}
	}
	return ""
}

var (
	nexmarkSourceWith = regexp.MustCompile(`WITH \(connector = 'nexmark', table = '(\w+)'\)`)
	createdSink       = regexp.MustCompile(`CREATE SINK (\w+) WITH \(connector = 'topic', topic = '(\w+)'\)`)
	createdSource     = regexp.MustCompile(`CREATE SOURCE IF NOT EXISTS (\w+)`)
)

// nexmarkRun is a query file rewritten for one run: its sources read
// the generator or the log, its last sink writes to a blackhole.
type nexmarkRun struct {
	text    string
	sink    string   // the last sink, which the run waits for
	drop    []string // DROP statements of what the file makes, in order
	topics  []string // the intermediate sinks' topics, deleted after the run
	tables  []string // the nexmark tables its sources read
	chained bool     // more than one sink: the last reads another's topic
}

func newNexmarkRun(text string, opts NexmarkOptions, source string) (*nexmarkRun, error) {
	run := &nexmarkRun{}
	for _, m := range nexmarkSourceWith.FindAllStringSubmatch(text, -1) {
		run.tables = append(run.tables, m[1])
	}
	text = nexmarkSourceWith.ReplaceAllStringFunc(text, func(with string) string {
		table := nexmarkSourceWith.FindStringSubmatch(with)[1]
		if source == NexmarkLog {
			return fmt.Sprintf("WITH (connector = 'topic', topic = '%s%s', format = 'json', scan.bounded.mode = 'latest-offset')", NexmarkTopicPrefix, table)
		}
		return "WITH (" + nexmarkGeneratorWith(opts, table) + ")"
	})
	sinks := createdSink.FindAllStringSubmatchIndex(text, -1)
	if len(sinks) == 0 {
		return nil, errors.New("bench: the query file has no CREATE SINK ... WITH (connector = 'topic', topic = '...')")
	}
	last := sinks[len(sinks)-1]
	run.sink = "bench_" + text[last[2]:last[3]]
	run.chained = len(sinks) > 1
	for _, s := range sinks[:len(sinks)-1] {
		run.drop = append(run.drop, "DROP SINK IF EXISTS "+text[s[2]:s[3]])
		run.topics = append(run.topics, text[s[4]:s[5]])
	}
	run.drop = append([]string{"DROP SINK IF EXISTS " + run.sink}, run.drop...)
	text = text[:last[0]] + "CREATE SINK " + run.sink + " WITH (connector = 'blackhole')" + text[last[1]:]
	sources := createdSource.FindAllStringSubmatch(text, -1)
	for i := len(sources) - 1; i >= 0; i-- {
		run.drop = append(run.drop, "DROP SOURCE IF EXISTS "+sources[i][1])
	}
	run.text = text
	return run, nil
}

// runNexmarkCase runs one query file over one source and drops what it
// made.
func runNexmarkCase(ctx context.Context, eng *engine.Engine, tr transport.Transport, opts NexmarkOptions, query, source string, round int,
	rows map[string]int64, expected int64) (NexmarkResult, error) {
	res := NexmarkResult{Query: query, Source: source, Round: round, Events: opts.Events}
	text, err := nexmarksql.File(query)
	if err != nil {
		return res, err
	}
	run, err := newNexmarkRun(text, opts, source)
	if err != nil {
		return res, fmt.Errorf("bench: %s: %w", query, err)
	}
	for _, t := range slices.Compact(slices.Sorted(slices.Values(run.tables))) {
		res.Rows += rows[t]
	}
	exec := func(sql string) error {
		_, err := eng.Execute(ctx, sql, engine.ExecOptions{})
		return err
	}
	runtime.GC()
	stop := func() {}
	if opts.OnRun != nil {
		stop = opts.OnRun(fmt.Sprintf("%s-%s-%d", query, source, round))
	}
	wall0, cpu0 := time.Now(), selfCPU()
	err = exec(run.text)
	var st sinkStatus
	for err == nil {
		if st, err = showSink(ctx, eng, run.sink); err != nil {
			break
		}
		// Every row of the query is out; a single pipeline has also read
		// every row of its tables (a filter's last rows write nothing).
		// An updating result writes its keys' rows again as they change,
		// as often as checkpoints fall: the pipeline has finished once
		// its bounded sources ended and every stage committed.
		if nexmarksql.Updating(query) {
			if st.state == "finished" {
				break
			}
		} else if st.out >= expected && (run.chained || st.in == res.Rows) {
			break
		}
		if st.state != "running" && st.state != "retrying" && st.state != "finished" {
			err = fmt.Errorf("pipeline %s (DESCRIBE %s says why)", st.state, run.sink)
			break
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	res.Wall, res.CPU = time.Since(wall0), selfCPU()-cpu0
	stop()
	if s := res.Wall.Seconds(); s > 0 {
		res.PerSec = float64(res.Events) / s
	}
	if s := res.CPU.Seconds(); s > 0 {
		res.PerCPU = float64(res.Events) / s
	}
	if err == nil { // a moment more, untimed: rows beyond the expected count would come now
		time.Sleep(200 * time.Millisecond)
		st, err = showSink(ctx, eng, run.sink)
	}
	res.Out = st.out
	for _, d := range run.drop {
		err = errors.Join(err, exec(d))
	}
	for _, t := range run.topics {
		if derr := tr.DeleteTopic(ctx, t); derr != nil && !errors.Is(derr, transport.ErrTopicNotFound) {
			err = errors.Join(err, derr)
		}
	}
	switch {
	case err == nil && st.dead != 0:
		err = fmt.Errorf("%d rows dead-lettered", st.dead)
	case err == nil && nexmarksql.Updating(query) && st.out < expected:
		err = fmt.Errorf("%d rows out, fewer than the brute-force evaluation's %d keys", st.out, expected)
	case err == nil && !nexmarksql.Updating(query) && st.out != expected:
		err = fmt.Errorf("%d rows out, the brute-force evaluation has %d", st.out, expected)
	}
	if err != nil {
		return res, fmt.Errorf("bench: %s over the %s: %w", query, source, err)
	}
	return res, nil
}

// checkNexmarkTargets compares each query's generator runs (Flink's
// setup: the generator in process) with the per-core target.
func checkNexmarkTargets(results []NexmarkResult) []Target {
	best := map[string]float64{}
	var order []string
	for _, r := range results {
		if r.Source != NexmarkGenerator {
			continue
		}
		if _, ok := best[r.Query]; !ok {
			order = append(order, r.Query)
		}
		best[r.Query] = max(best[r.Query], r.PerCPU)
	}
	var targets []Target
	for _, q := range order {
		want, ok := nexmarkTargets[q]
		if !ok {
			continue
		}
		targets = append(targets, Target{
			Name: "nexmark " + q + ", events per CPU-second, generator in process", Value: best[q], Want: want, Pass: best[q] >= want,
			Detail: fmt.Sprintf("%.0f (target >= %.0f, twice Flink 1.13's per core)", best[q], want),
		})
	}
	return targets
}

// WriteNexmarkHeader writes the heading of the text report.
func WriteNexmarkHeader(w io.Writer, opts NexmarkOptions) error {
	_, err := fmt.Fprintf(w, "tide bench nexmark: %d events (seed %d) per run, queries %s, embedded log in %s; CPU = process user+sys\n\n%-6s %-10s %5s %10s %10s %10s %9s %9s %11s %13s\n",
		opts.Events, opts.Seed, strings.Join(opts.Queries, ","), opts.Dir, "query", "source", "round", "events", "rows in", "rows out", "wall", "cpu", "events/s", "events/cpu-s")
	return err
}

// WriteNexmarkRow writes one result as a table row.
func WriteNexmarkRow(w io.Writer, r NexmarkResult) error {
	_, err := fmt.Fprintf(w, "%-6s %-10s %5d %10d %10d %10d %9s %9s %11.0f %13.0f\n", r.Query, r.Source, r.Round, r.Events, r.Rows, r.Out,
		r.Wall.Round(time.Millisecond), r.CPU.Round(time.Millisecond), r.PerSec, r.PerCPU)
	return err
}

// WriteNexmarkSummary writes the target checks.
func WriteNexmarkSummary(w io.Writer, r *NexmarkReport) error {
	var b strings.Builder
	b.WriteString("\n")
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
