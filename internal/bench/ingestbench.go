package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/server"
)

// Targets of issue 5, on the project's 2-core machine, load generator in
// the same process.
const (
	TargetIngestBatchedEvents  = 300_000
	TargetIngestSingleRequests = 30_000
)

// IngestOptions configures RunIngest.
type IngestOptions struct {
	// Dir is the parent of the server's scratch data directory.
	Dir        string
	Duration   time.Duration
	Partitions int32
	// BatchConns and SingleConns are the keep-alive connections (one
	// request in flight on each) of the two scenarios.
	BatchConns  int
	SingleConns int
	BatchEvents int
	EventBytes  int
	// Schema is SchemaNone (or ""), SchemaAvro or SchemaJSON: with a
	// schema, every scenario also runs on topics with
	// schema.validation=strict (see RunIngest).
	Schema string
	// Warmup precedes every measured scenario (topic creation, connection
	// set-up). Default 1s.
	Warmup   time.Duration
	Progress func(IngestResult)
	// OnScenario, when set, is called as each scenario starts with its
	// short name ("batched", "single", suffixed "-none" or "-avro" and
	// so on in a run with a schema); the function it returns is called as
	// the scenario ends (a CPU profile per scenario).
	OnScenario func(phase string) func()
}

// DefaultIngestOptions are the workloads: NDJSON batches of 100
// events of 200 bytes, and single events per request.
func DefaultIngestOptions() IngestOptions {
	return IngestOptions{Dir: ".", Duration: 5 * time.Second, Partitions: 1, BatchConns: 32, SingleConns: 256, BatchEvents: 100, EventBytes: 200,
		Schema: SchemaNone, Warmup: time.Second}
}

// Validate checks the options.
func (o IngestOptions) Validate() error {
	if o.Duration <= 0 || o.Partitions < 1 || o.BatchConns < 1 || o.SingleConns < 1 || o.BatchEvents < 1 || o.EventBytes < 64 {
		return errors.New("bench ingest: duration, partitions, connections and batch events must be positive, event bytes at least 64")
	}
	switch o.Schema {
	case "", SchemaNone, SchemaAvro, SchemaJSON:
	default:
		return fmt.Errorf("bench ingest: schema %q: want %s, %s or %s", o.Schema, SchemaNone, SchemaAvro, SchemaJSON)
	}
	if o.Warmup < 0 {
		return errors.New("bench ingest: warm-up must not be negative")
	}
	return nil
}

// IngestResult is one scenario's figures.
type IngestResult struct {
	Name        string        `json:"name"`
	Connections int           `json:"connections"`
	Events      float64       `json:"events_per_sec"`
	Requests    float64       `json:"requests_per_sec"`
	MB          float64       `json:"body_mb_per_sec"`
	P50         time.Duration `json:"p50_ns"`
	P99         time.Duration `json:"p99_ns"`
	CPU         float64       `json:"cpu_cores"` // process CPU-seconds per second, server and generator
	Errors      int64         `json:"errors"`
	// Schema is set by runs with --schema: the format the scenario's
	// topic validates with, or "none" for the baseline.
	Schema string `json:"schema,omitempty"`
}

// IngestReport is a run's results and the targets they meet.
type IngestReport struct {
	Results []IngestResult `json:"results"`
	Targets []Target       `json:"targets"`
	// Schema holds the validation figures of a run with a schema, nil
	// otherwise.
	Schema *IngestSchemaReport `json:"schema,omitempty"`
}

// Passed reports whether every target was met.
func (r *IngestReport) Passed() bool { return allPassed(r.Targets) }

// RunIngest starts a server in this process (embedded log in a scratch
// directory, fsync=always) and drives POST /v1/topics/{topic}/records over
// keep-alive connections with a lean HTTP/1.1 client: first NDJSON
// batches, then single events.
//
// With opts.Schema avro or json, a schema matching benchEvent's events is
// registered under the value subjects of topics created with
// schema.validation=strict, each scenario runs on the plain topics and
// then on those, and the report adds the validated rate as a share of the
// plain one (target TargetIngestSchemaRatio) and the cost of the
// registry's AppendFramedJSON per event, timed alone.
func RunIngest(ctx context.Context, opts IngestOptions) (*IngestReport, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(opts.Dir, "tide-bench-ingest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cfg := server.DefaultConfig()
	cfg.DataDir, cfg.KafkaAddr, cfg.HTTPAddr = dir, "127.0.0.1:0", "127.0.0.1:0"
	cfg.Fsync = log.FsyncAlways
	cfg.DefaultPartitions = opts.Partitions
	srv, err := server.Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer func() { _ = srv.Shutdown() }()
	addr := srv.HTTPAddr().String()

	var validation *ingestValidation
	if opts.Schema != "" && opts.Schema != SchemaNone {
		if validation, err = setUpIngestValidation(ctx, srv, opts); err != nil {
			return nil, fmt.Errorf("bench ingest: %w", err)
		}
	}

	// With a schema, each scenario runs on the plain topics (the
	// baseline) and right after on the validated ones, so that drift of a
	// shared machine hits both alike.
	report := &IngestReport{}
	runs := [][]ingestScenario{ingestScenarios(addr, ingestBatchedTopic, ingestSingleTopic, opts)}
	labels := []string{""}
	if validation != nil {
		runs = append(runs, ingestScenarios(addr, validation.batchedTopic, validation.singleTopic, opts))
		labels = []string{SchemaNone, opts.Schema}
	}
	for i := range runs[0] {
		for r, scenarios := range runs {
			sc := scenarios[i]
			end := func() {}
			if opts.OnScenario != nil {
				phase := sc.phase
				if labels[r] != "" {
					phase += "-" + labels[r]
				}
				end = opts.OnScenario(phase)
			}
			res, err := runIngestScenario(ctx, addr, sc.conns, sc.events, sc.reqs, opts.Warmup, opts.Duration)
			end()
			res.Name, res.Schema = sc.name, labels[r]
			if err != nil {
				return report, fmt.Errorf("bench ingest: %s: %w", sc.name, err)
			}
			if opts.Progress != nil {
				opts.Progress(res)
			}
			report.Results = append(report.Results, res)
		}
	}
	if validation != nil {
		validation.finish(report)
		return report, nil
	}
	report.Targets = []Target{
		{Name: "batched events/s", Value: report.Results[0].Events, Want: TargetIngestBatchedEvents, Pass: report.Results[0].Events >= TargetIngestBatchedEvents,
			Detail: fmt.Sprintf("%.0f events/s (target >= %d)", report.Results[0].Events, TargetIngestBatchedEvents)},
		{Name: "single-event requests/s", Value: report.Results[1].Requests, Want: TargetIngestSingleRequests, Pass: report.Results[1].Requests >= TargetIngestSingleRequests,
			Detail: fmt.Sprintf("%.0f requests/s (target >= %d)", report.Results[1].Requests, TargetIngestSingleRequests)},
	}
	return report, nil
}

// The topics of the scenarios; with a schema, the validated runs write to
// these names suffixed with "_" and the format.
const (
	ingestBatchedTopic = "ingest_batched"
	ingestSingleTopic  = "ingest_single"
)

// ingestScenario is one workload: prepared requests, each carrying events
// events, sent over conns connections.
type ingestScenario struct {
	phase  string // short name, for OnScenario
	name   string
	conns  int
	events int
	reqs   [][]byte
}

// ingestScenarios prepares the batched and single-event workloads against
// the two topics.
func ingestScenarios(addr, batchedTopic, singleTopic string, opts IngestOptions) []ingestScenario {
	batch := make([][]byte, 64)
	for i := range batch {
		var b bytes.Buffer
		for j := range opts.BatchEvents {
			b.Write(benchEvent(i*opts.BatchEvents+j, opts.EventBytes))
			b.WriteByte('\n')
		}
		batch[i] = httpRequest(addr, "/v1/topics/"+batchedTopic+"/records", "application/x-ndjson", b.Bytes())
	}
	single := make([][]byte, 1024)
	for i := range single {
		single[i] = httpRequest(addr, "/v1/topics/"+singleTopic+"/records", "application/json", benchEvent(i, opts.EventBytes))
	}
	return []ingestScenario{
		{"batched", fmt.Sprintf("ndjson batches of %d × %d B", opts.BatchEvents, opts.EventBytes), opts.BatchConns, opts.BatchEvents, batch},
		{"single", fmt.Sprintf("single %d B events", opts.EventBytes), opts.SingleConns, 1, single},
	}
}

// benchEvent is a JSON object of about size bytes.
func benchEvent(i, size int) []byte {
	b := fmt.Appendf(nil, `{"id":%d,"user_id":"user-%d","type":"page_view","amount":%d.%02d,"ts":"2026-11-26T10:00:00.000Z","pad":"`, i, i%1000, i%500, i%100)
	for len(b) < size-2 {
		b = append(b, 'x')
	}
	return append(b, '"', '}')
}

func httpRequest(addr, path, contentType string, body []byte) []byte {
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", path, addr, contentType, len(body))
	return append([]byte(head), body...)
}

// runIngestScenario keeps one request in flight on each of conns
// connections: warm-up, then duration measured.
func runIngestScenario(ctx context.Context, addr string, conns, eventsPerReq int, reqs [][]byte, warmup, duration time.Duration) (IngestResult, error) {
	res := IngestResult{Connections: conns}
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		requests  atomic.Int64
		errCount  atomic.Int64
		bodyBytes atomic.Int64
		firstErr  error
		errOnce   sync.Once
		latMu     sync.Mutex
		lats      []time.Duration
		wg        sync.WaitGroup
	)
	for c := range conns {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			stop.Store(true)
			wg.Wait()
			return res, err
		}
		wg.Go(func() {
			defer conn.Close()
			r := bufio.NewReaderSize(conn, 4096)
			var local []time.Duration
			for i := c; !stop.Load() && ctx.Err() == nil; i++ {
				req := reqs[i%len(reqs)]
				t0 := time.Now()
				if _, err := conn.Write(req); err != nil {
					errOnce.Do(func() { firstErr = err })
					errCount.Add(1)
					return
				}
				status, err := readResponse(r)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					errCount.Add(1)
					return
				}
				if !measuring.Load() {
					continue
				}
				if status != 200 {
					errCount.Add(1)
					continue
				}
				requests.Add(1)
				bodyBytes.Add(int64(len(req)))
				if i%8 == 0 {
					local = append(local, time.Since(t0))
				}
			}
			latMu.Lock()
			lats = append(lats, local...)
			latMu.Unlock()
		})
	}
	time.Sleep(warmup) // topic creation, connection set-up
	measuring.Store(true)
	cpu0, wall0 := selfCPU(), time.Now()
	select {
	case <-time.After(duration):
	case <-ctx.Done():
	}
	measuring.Store(false)
	wall, cpu := time.Since(wall0), selfCPU()-cpu0
	n := requests.Load()
	stop.Store(true)
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	secs := wall.Seconds()
	res.Requests = float64(n) / secs
	res.Events = res.Requests * float64(eventsPerReq)
	res.MB = float64(bodyBytes.Load()) / secs / 1e6
	res.CPU = cpu.Seconds() / secs
	res.Errors = errCount.Load()
	if len(lats) > 0 {
		slices.Sort(lats)
		res.P50, res.P99 = lats[len(lats)/2], lats[len(lats)*99/100]
	}
	return res, ctx.Err()
}

// readResponse reads one HTTP/1.1 response with a Content-Length and
// returns its status.
func readResponse(r *bufio.Reader) (int, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte{':'}); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", v)
			}
		}
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length")
	}
	_, err = r.Discard(length)
	return status, err
}

// WriteIngestReport prints the results and the targets.
func WriteIngestReport(w io.Writer, r *IngestReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	schemaColumn := ""
	if r.Schema != nil {
		schemaColumn = "schema\t"
	}
	fmt.Fprintln(tw, "scenario\t"+schemaColumn+"connections\tevents/s\trequests/s\tMB/s\tp50\tp99\tCPU cores\terrors\t")
	for _, res := range r.Results {
		name := res.Name + "\t"
		if r.Schema != nil {
			name += res.Schema + "\t"
		}
		fmt.Fprintf(tw, "%s%d\t%.0f\t%.0f\t%.1f\t%s\t%s\t%.2f\t%d\t\n", name, res.Connections, res.Events, res.Requests, res.MB,
			res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond), res.CPU, res.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Schema != nil {
		if err := writeIngestSchema(w, r.Schema); err != nil {
			return err
		}
	}
	for _, t := range r.Targets {
		mark := "MET"
		if !t.Pass {
			mark = "MISSED"
		}
		if _, err := fmt.Fprintf(w, "target %s: %s — %s\n", t.Name, mark, t.Detail); err != nil {
			return err
		}
	}
	return nil
}
