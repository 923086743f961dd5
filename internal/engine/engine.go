package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tide-data/tide/internal/catalog"
	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/parser"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/tracing"
	"github.com/tide-data/tide/internal/transport"
)

// Config configures an Engine.
type Config struct {
	Transport transport.Transport
	Logger    *slog.Logger
	// WorkerID names this worker among several sharing a Kafka cluster.
	WorkerID string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Stdout receives the stdout sink's lines; nil means os.Stdout.
	Stdout io.Writer
	// CommitInterval is how often sources commit acknowledged offsets;
	// 0 means the connector's default (1 s).
	CommitInterval time.Duration
	// PipelineBufferBytes bounds, per pipeline, the bytes (keys, values,
	// headers) of the input batches handed to its tasks and not yet
	// acknowledged, across all its partitions; reading waits while it is
	// spent. A batch larger than the whole budget passes alone. 0 means
	// DefaultPipelineBufferBytes (64 MiB).
	PipelineBufferBytes int64
	// Schemas is the schema registry the registry formats ('avro',
	// 'json_sr') read and register with; nil when it is off.
	Schemas format.Schemas
	// Metrics, if set, gets the pipelines' metrics (tide_pipeline_*,
	// read at scrape time; a dropped pipeline's series go with it);
	// nil: none, and no latency is measured.
	Metrics prometheus.Registerer
	// Tracer traces records through pipelines (a span per traced record
	// and per delivery); nil: tracing off, traceparent headers pass
	// through unchanged.
	Tracer *tracing.Tracer
	// StateDir holds the stateful pipelines' local state (a pebble store
	// per task, rebuilt from changelog topics when lost); "" means a
	// temporary directory removed at Close.
	StateDir string
	// RepartitionPurgeInterval is how often an aggregate stage deletes
	// the repartition records its committed offsets have passed; 0 means
	// 30 s (Kafka Streams' repartition.purge.interval.ms).
	RepartitionPurgeInterval time.Duration
}

// Engine executes statements and runs pipelines. Safe for concurrent use.
type Engine struct {
	cfg      Config
	logger   *slog.Logger
	catalog  *catalog.Catalog
	stateDir string
	tempDir  bool // stateDir is temporary

	// ddl serialises statements that change objects, so that checking a
	// name and writing the catalog are one step.
	ddl sync.Mutex
	mu  struct {
		sync.Mutex
		sources   map[string]*sourceObject
		pipelines map[string]*pipeline
		closed    bool
	}
	watchCancel context.CancelFunc
	watchDone   chan struct{}
}

type sourceObject struct {
	entry catalog.Entry
	def   *plan.Source
	// capture runs a capturing source (postgres-cdc); nil for others.
	capture *captureRun
}

// Open loads the catalog from the transport and starts every persisted
// pipeline from its committed offsets.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Transport == nil {
		return nil, errors.New("engine: no transport")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WorkerID == "" {
		cfg.WorkerID = catalog.NewID()
	}
	if cfg.PipelineBufferBytes <= 0 {
		cfg.PipelineBufferBytes = DefaultPipelineBufferBytes
	}
	e := &Engine{cfg: cfg, logger: cfg.Logger, stateDir: cfg.StateDir}
	if e.stateDir == "" {
		dir, err := os.MkdirTemp("", "tide-state-")
		if err != nil {
			return nil, fmt.Errorf("engine: state directory: %w", err)
		}
		e.stateDir, e.tempDir = dir, true
	}
	e.mu.sources = map[string]*sourceObject{}
	e.mu.pipelines = map[string]*pipeline{}
	cat, err := catalog.Open(ctx, cfg.Transport, catalog.Options{WorkerID: cfg.WorkerID, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	e.catalog = cat
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(pipelineCollector{e}); err != nil {
			return nil, errors.Join(fmt.Errorf("engine: metrics: %w", err), cat.Close(ctx))
		}
	}
	for _, entry := range cat.Entries() {
		if err := e.restore(ctx, entry); err != nil {
			e.logger.Error("engine: cannot restore catalog object; it stays in the catalog but does not run",
				"name", entry.Name, "kind", entry.Kind, "err", err)
		}
	}
	watchCtx, cancel := context.WithCancel(context.Background())
	e.watchCancel, e.watchDone = cancel, make(chan struct{})
	go func() {
		defer close(e.watchDone)
		if err := cat.Watch(watchCtx, e.applyRemote); err != nil {
			e.logger.Error("engine: catalog watch stopped", "err", err)
		}
	}()
	return e, nil
}

// restore re-creates one object from its catalog entry.
func (e *Engine) restore(ctx context.Context, entry catalog.Entry) error {
	stmt, err := parser.ParseOne(entry.SQL)
	if err != nil {
		return err
	}
	switch s := stmt.(type) {
	case *ast.CreateSource:
		def, err := plan.AnalyzeSource(s, connector.SourceKinds(), e.planOptions())
		if err != nil {
			return err
		}
		obj := &sourceObject{entry: entry, def: def}
		if connector.IsCapture(def.Connector) {
			if obj.capture, err = e.startCapture(entry, def); err != nil {
				return err
			}
		}
		e.mu.Lock()
		e.mu.sources[entry.Name] = obj
		e.mu.Unlock()
	case *ast.CreateSink:
		analyzed := s
		if s.View {
			if analyzed, err = viewSink(s, entry.ID); err != nil {
				return err
			}
		}
		p, err := plan.AnalyzeSink(analyzed, e.lookupSource, connector.SinkKinds(), e.planOptions())
		if err != nil {
			return err
		}
		if s.View {
			if err := e.createViewTopic(ctx, viewTopic(entry.Name, entry.ID)); err != nil {
				return err
			}
		}
		if err := e.startPipeline(ctx, entry, p, false); err != nil {
			return err
		}
		if err := e.startView(ctx, entry); err != nil {
			// A view not served does not run either (the log says so).
			e.removeObject(ctx, entry.Name)
			return err
		}
	default:
		return fmt.Errorf("engine: catalog entry %s holds a %T", entry.Name, stmt)
	}
	return nil
}

// applyRemote follows a change another worker made to the catalog.
func (e *Engine) applyRemote(ch catalog.Change) {
	e.ddl.Lock()
	defer e.ddl.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	e.mu.Lock()
	old := e.mu.pipelines[ch.Name]
	e.mu.Unlock()
	e.removeObject(ctx, ch.Name)
	if old != nil && (ch.Deleted || ch.Entry.ID != old.entry.ID) {
		// Dropped (or re-created) on another worker, which deletes the
		// internal topics: this worker's copy of the state goes too,
		// its parts' included.
		for _, p := range old.all() {
			if p.stateful == nil {
				continue
			}
			if err := os.RemoveAll(p.stateful.stateDir); err != nil {
				e.logger.Warn("removing a dropped pipeline's local state", "pipeline", p.entry.Name, "err", err)
			}
		}
	}
	if ch.Deleted {
		return
	}
	// A local DROP may have run between Watch applying the change and
	// this call: restore only what the catalog still holds.
	if cur, ok := e.catalog.Get(ch.Name); !ok || cur.ID != ch.Entry.ID {
		return
	}
	if err := e.restore(ctx, ch.Entry); err != nil {
		e.logger.Error("engine: cannot apply a catalog change from another worker", "name", ch.Name, "err", err)
	}
}

// removeObject stops and forgets name locally (not in the catalog). It
// returns the capture it stopped, if name was a capturing source.
func (e *Engine) removeObject(ctx context.Context, name string) *captureRun {
	e.mu.Lock()
	p := e.mu.pipelines[name]
	src := e.mu.sources[name]
	delete(e.mu.pipelines, name)
	delete(e.mu.sources, name)
	e.mu.Unlock()
	if p != nil {
		p.stop(ctx)
		p.closeView(ctx)
	}
	if src != nil && src.capture != nil {
		src.capture.stop()
		return src.capture
	}
	return nil
}

func (e *Engine) planOptions() plan.Options {
	return plan.Options{Compile: expr.CompileOptions{Now: e.cfg.Now}}
}

func (e *Engine) lookupSource(name string) (*plan.Source, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.mu.sources[name]
	if !ok {
		return nil, false
	}
	return s.def, true
}

// Close stops every pipeline (each drains, acknowledges and commits what
// it holds) and the catalog reader. ctx bounds the drain.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		return nil
	}
	e.mu.closed = true
	pipes := make([]*pipeline, 0, len(e.mu.pipelines))
	for _, p := range e.mu.pipelines {
		pipes = append(pipes, p)
	}
	var captures []*captureRun
	for _, s := range e.mu.sources {
		if s.capture != nil {
			captures = append(captures, s.capture)
		}
	}
	e.mu.Unlock()
	e.watchCancel()
	<-e.watchDone
	var wg sync.WaitGroup
	for _, p := range pipes {
		wg.Go(func() {
			p.stop(ctx)
			p.closeView(ctx)
		})
	}
	for _, c := range captures {
		wg.Go(c.stop)
	}
	wg.Wait()
	if e.tempDir {
		_ = os.RemoveAll(e.stateDir)
	}
	if e.cfg.Metrics != nil {
		e.cfg.Metrics.Unregister(pipelineCollector{e})
	}
	return e.catalog.Close(ctx)
}

// ExecOptions change how Execute treats statements.
type ExecOptions struct {
	// Idempotent makes CREATE of an object that exists with the same
	// definition a no-op (for applying a directory of SQL files at every
	// start); a different definition is still an error.
	Idempotent bool
}

// Result is one statement's outcome.
type Result struct {
	Statement string     `json:"statement"`
	Message   string     `json:"message,omitempty"`
	Columns   []string   `json:"columns,omitempty"`
	Rows      [][]string `json:"rows,omitempty"`
}

// Execute runs the statements in text in order and returns one Result per
// statement. It stops at the first failing statement: the results of the
// ones before it are returned with the error (an *Error).
func (e *Engine) Execute(ctx context.Context, text string, opts ExecOptions) ([]Result, error) {
	var results []Result
	for i, frag := range parser.Split(text) {
		stmt, err := parser.ParseOne(frag.Text)
		if err != nil {
			return results, classify(err, i, frag.Pos)
		}
		if stmt == nil {
			continue
		}
		res, err := e.execute(ctx, stmt, strings.TrimSpace(frag.Text), opts)
		if err != nil {
			return results, classify(err, i, frag.Pos)
		}
		results = append(results, res)
	}
	return results, nil
}

func (e *Engine) execute(ctx context.Context, stmt ast.Statement, text string, opts ExecOptions) (Result, error) {
	switch s := stmt.(type) {
	case *ast.CreateSource:
		return e.createSource(ctx, s, text, opts)
	case *ast.CreateSink:
		return e.createSink(ctx, s, text, opts)
	case *ast.Drop:
		return e.drop(ctx, s)
	case *ast.Show:
		return e.show(ctx, s)
	case *ast.Describe:
		return e.describe(s)
	case *ast.Explain:
		return e.explain(s)
	case *ast.Select:
		return Result{}, &Error{Code: CodeNotSupported, Pos: s.Pos, Message: fmt.Sprintf("line %s: ad-hoc SELECT is not supported yet", s.Pos),
			Hint: "run a query continuously with CREATE SINK name WITH (connector = 'stdout') AS SELECT ..., or see its plan with EXPLAIN SELECT ..."}
	}
	return Result{}, newError(CodeNotSupported, "statement %T is not supported", stmt)
}

func (e *Engine) checkFree(name string, kind ast.ObjectKind, sql string, ifNotExists bool, opts ExecOptions) (exists bool, err error) {
	entry, ok := e.catalog.Get(name)
	if !ok {
		return false, nil
	}
	if ifNotExists {
		return true, nil
	}
	written := entry.SQL
	if entry.Written != "" {
		written = entry.Written
	}
	if opts.Idempotent && entry.Kind == kind && sameStatement(written, sql) {
		return true, nil
	}
	return true, &Error{Code: CodeExists, Message: fmt.Sprintf("%s %q already exists", strings.ToLower(string(entry.Kind)), name),
		Hint: "DROP it first, or use CREATE ... IF NOT EXISTS"}
}

// sameStatement compares two statements by their canonical form.
func sameStatement(a, b string) bool {
	sa, errA := parser.ParseOne(a)
	sb, errB := parser.ParseOne(b)
	return errA == nil && errB == nil && ast.Format(sa) == ast.Format(sb)
}

func (e *Engine) createSource(ctx context.Context, s *ast.CreateSource, text string, opts ExecOptions) (Result, error) {
	e.ddl.Lock()
	defer e.ddl.Unlock()
	res := Result{Statement: "CREATE SOURCE"}
	name := string(s.Name)
	if exists, err := e.checkFree(name, ast.KindSource, text, s.IfNotExists, opts); exists || err != nil {
		res.Message = fmt.Sprintf("source %s already exists, skipping", name)
		return res, err
	}
	def, err := plan.AnalyzeSource(s, connector.SourceKinds(), e.planOptions())
	if err != nil {
		return res, err
	}
	written := ""
	if fmtName, _, _ := splitFormatOptions(def.Options); format.UsesRegistry(fmtName) {
		completed, err := e.registryColumns(s, def)
		if err != nil {
			return res, &Error{Code: CodeInvalid, Pos: s.Pos, Message: fmt.Sprintf("line %s: source %s: %v", s.Pos, name, err), err: err,
				Hint: registryHint(fmtName, err)}
		}
		if completed != nil {
			// The columns are part of the source from now on: a new
			// schema version does not change them under its pipelines.
			written, text = text, ast.Format(completed)
			if def, err = plan.AnalyzeSource(completed, connector.SourceKinds(), e.planOptions()); err != nil {
				return res, err
			}
		}
	}
	if len(def.Columns) == 0 && !connector.IsCapture(def.Connector) {
		return res, &Error{Code: CodeInvalid, Pos: s.Pos, Message: fmt.Sprintf("line %s: source %s declares no columns", s.Pos, name),
			Hint: "CREATE SOURCE name (column type, ...) WITH (...); only a capturing source (postgres-cdc) or a registry format ('avro', 'json_sr') may leave them out"}
	}
	if err := e.checkSource(def); err != nil {
		return res, &Error{Code: CodeInvalid, Pos: s.Pos, Message: fmt.Sprintf("line %s: source %s: %v", s.Pos, name, err), err: err}
	}
	if connector.IsCapture(def.Connector) {
		_, _, rest := splitFormatOptions(def.Options)
		if co, err := connector.ParseCaptureOptions(name, "", rest, connector.Env{}); err == nil {
			if other, topic := e.captureConflict(co); other != "" {
				return res, &Error{Code: CodeInvalid, Pos: s.Pos,
					Message: fmt.Sprintf("line %s: source %s would write topic %s, which source %s already captures into", s.Pos, name, topic, other),
					Hint:    "give one of them another topic_prefix"}
			}
		}
	}
	entry := catalog.Entry{Kind: ast.KindSource, Name: name, SQL: text, Written: written, Created: e.cfg.Now().UTC(), ID: catalog.NewID()}
	if err := e.catalog.Put(ctx, entry); err != nil {
		return res, &Error{Code: CodeUnavailable, Message: err.Error(), err: err}
	}
	obj := &sourceObject{entry: entry, def: def}
	if connector.IsCapture(def.Connector) {
		if obj.capture, err = e.startCapture(entry, def); err != nil {
			return res, errors.Join(&Error{Code: CodeInvalid, Message: fmt.Sprintf("source %s: %v", name, err), err: err}, e.catalog.Delete(ctx, name))
		}
		res.Message = "created source " + name + "; its capture is starting (SHOW SOURCES tells how it goes)"
	} else {
		res.Message = "created source " + name
	}
	e.mu.Lock()
	e.mu.sources[name] = obj
	e.mu.Unlock()
	return res, nil
}

func (e *Engine) createSink(ctx context.Context, s *ast.CreateSink, text string, opts ExecOptions) (Result, error) {
	e.ddl.Lock()
	defer e.ddl.Unlock()
	res := Result{Statement: "CREATE SINK"}
	kind, what := ast.KindSink, "sink"
	if s.View {
		res.Statement, kind, what = "CREATE MATERIALIZED VIEW", ast.KindView, "materialized view"
	}
	name := string(s.Name)
	if exists, err := e.checkFree(name, kind, text, s.IfNotExists, opts); exists || err != nil {
		res.Message = fmt.Sprintf("%s %s already exists, skipping", what, name)
		return res, err
	}
	id := catalog.NewID()
	analyzed := s
	if s.View {
		var err error
		if analyzed, err = viewSink(s, id); err != nil {
			return res, err
		}
	}
	p, err := plan.AnalyzeSink(analyzed, e.lookupSource, connector.SinkKinds(), e.planOptions())
	if err != nil {
		return res, err
	}
	if s.View {
		if err := checkView(s, p); err != nil {
			return res, err
		}
	}
	for _, src := range p.Sources() {
		if len(src.Columns) == 0 {
			return res, &Error{Code: CodeInvalid, Pos: s.Pos, Message: fmt.Sprintf("line %s: source %s declares no columns to read", s.Pos, src.Name),
				Hint: "re-create the source with its columns, e.g. (before JSON, after JSON, op TEXT) for a postgres-cdc source"}
		}
	}
	if err := e.checkSink(p); err != nil {
		return res, &Error{Code: CodeInvalid, Pos: s.Pos, Message: fmt.Sprintf("line %s: sink %s: %v", s.Pos, name, err), err: err}
	}
	entry := catalog.Entry{Kind: kind, Name: name, SQL: text, Created: e.cfg.Now().UTC(), ID: id}
	if s.View {
		if err := e.createViewTopic(ctx, viewTopic(name, id)); err != nil {
			return res, &Error{Code: CodeUnavailable, Message: fmt.Sprintf("view %s: %v", name, err), err: err}
		}
	}
	if err := e.catalog.Put(ctx, entry); err != nil {
		return res, errors.Join(&Error{Code: CodeUnavailable, Message: err.Error(), err: err}, e.dropView(ctx, entry))
	}
	if err := e.startPipeline(ctx, entry, p, true); err != nil {
		// The pipeline could not start (its source topic is missing, the
		// cluster refused): undo the catalog entry (and the view's topic)
		// so the user can retry.
		return res, errors.Join(&Error{Code: CodeInvalid, Message: fmt.Sprintf("%s %s: %v", what, name, err), err: err}, e.catalog.Delete(ctx, name), e.dropView(ctx, entry))
	}
	if err := e.startView(ctx, entry); err != nil {
		e.mu.Lock()
		started := e.mu.pipelines[name]
		e.mu.Unlock()
		e.removeObject(ctx, name)
		var dropErr error
		if started != nil {
			dropErr = started.dropStateful(ctx)
		}
		return res, errors.Join(&Error{Code: CodeUnavailable, Message: fmt.Sprintf("view %s: %v", name, err), err: err}, e.catalog.Delete(ctx, name), dropErr, e.dropView(ctx, entry))
	}
	res.Message = "created " + what + " " + name + "; its pipeline is running"
	if s.View {
		res.Message += " (GET /v1/views/" + name + " serves its rows)"
	}
	return res, nil
}

// startView serves the view entry names once its pipeline runs.
func (e *Engine) startView(ctx context.Context, entry catalog.Entry) error {
	if entry.Kind != ast.KindView {
		return nil
	}
	e.mu.Lock()
	p := e.mu.pipelines[entry.Name]
	e.mu.Unlock()
	if p == nil {
		return fmt.Errorf("view %s: its pipeline is not running", entry.Name)
	}
	return e.openView(ctx, p)
}

func (e *Engine) drop(ctx context.Context, s *ast.Drop) (Result, error) {
	e.ddl.Lock()
	defer e.ddl.Unlock()
	res := Result{Statement: "DROP " + string(s.Kind)}
	name := string(s.Name)
	entry, ok := e.catalog.Get(name)
	if !ok || entry.Kind != s.Kind {
		if s.IfExists {
			res.Message = fmt.Sprintf("%s %s does not exist, skipping", strings.ToLower(string(s.Kind)), name)
			return res, nil
		}
		hint := ""
		if ok {
			hint = fmt.Sprintf("%s is a %s: DROP %s %s", name, strings.ToLower(string(entry.Kind)), entry.Kind, name)
		}
		return res, &Error{Code: CodeNotFound, Pos: s.Pos, Message: fmt.Sprintf("%s %q does not exist", strings.ToLower(string(s.Kind)), name), Hint: hint}
	}
	if s.Kind == ast.KindSource {
		if users := e.sinksReading(name); len(users) > 0 {
			return res, &Error{Code: CodeDependent, Pos: s.Pos, Message: fmt.Sprintf("cannot drop source %s because sink %s reads it", name, strings.Join(users, ", ")),
				Hint: "drop the sinks first"}
		}
	}
	if err := e.catalog.Delete(ctx, name); err != nil {
		return res, &Error{Code: CodeUnavailable, Message: err.Error(), err: err}
	}
	e.mu.Lock()
	dropped := e.mu.pipelines[name]
	e.mu.Unlock()
	captured := e.removeObject(ctx, name)
	var dropErr error
	if dropped != nil {
		dropErr = dropped.dropStateful(ctx)
	}
	// A view's topic goes even when the view did not run.
	if err := errors.Join(dropErr, e.dropView(ctx, entry)); err != nil {
		e.logger.Warn("removing a dropped pipeline's internal topics and state", "pipeline", name, "err", err)
	}
	if err := e.dropCaptured(ctx, captured); err != nil {
		return res, &Error{Code: CodeUnavailable, Message: err.Error(), err: err}
	}
	res.Message = fmt.Sprintf("dropped %s %s", strings.ToLower(string(s.Kind)), name)
	return res, nil
}

func (e *Engine) sinksReading(source string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var names []string
	for name, p := range e.mu.pipelines {
		pl := p.sinkPlan()
		reads := slices.ContainsFunc(pl.TableJoins(), func(j *plan.Join) bool { return j.Table.Name == source })
		for _, src := range pl.Sources() {
			reads = reads || src.Name == source
		}
		if reads {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
