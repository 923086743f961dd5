package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/tide-data/tide/internal/eventtime"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tide-data/tide/internal/catalog"
	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/tracing"
	"github.com/tide-data/tide/internal/view"
)

// taskQueue is how many batches may wait for one partition's task: with
// the pipeline's byte budget (budget.go), the bound that turns a slow sink
// into a slow source (backpressure).
const taskQueue = 4

// Pipeline states, as SHOW SINKS prints them.
const (
	stateRunning  = "running"
	stateRetrying = "retrying" // the sink or the source is failing; retried with backoff
	stateFinished = "finished" // a bounded source reached its end
	stateStopped  = "stopped"
)

// pipeline runs one sink's query.
type pipeline struct {
	engine   *Engine
	entry    catalog.Entry
	plan     *plan.Pipeline
	group    string
	dlqTopic string
	lagSLO   time.Duration // the lag_slo option; 0 without one
	logger   *slog.Logger

	// inputs are the sources read: one; two for a join of two streams;
	// one per query of a UNION ALL (input.go).
	inputs []*sourceInput
	sink   connector.Sink
	dlq    connector.Sink

	// The output format, split from the WITH options.
	outFormat  string
	outFmtOpts map[string]string
	outColumns []format.Column
	enc        format.Encoder // safe for concurrent use

	// buffer bounds the bytes of the batches handed to tasks and not yet
	// acknowledged or released, across all partitions.
	buffer *budget

	stopReading context.CancelFunc // step one of stopping: read no more
	abortTasks  context.CancelFunc // step two: abandon unwritten batches
	done        chan struct{}      // closed when every goroutine has returned

	stats struct {
		in, out, filtered, dead atomic.Int64
		aggregated, late        atomic.Int64 // events folded into groups; events after their windows closed
		watermark               atomic.Int64 // the lowest of the aggregate tasks'; eventtime.NoWatermark before one
		// The aggregate tasks' state as of their last checkpoint: bytes
		// in memory, and entries left on disk only.
		stateMemory, stateEvicted atomic.Int64
	}
	// view is the table a materialized view's pipeline serves (view.go);
	// nil for a sink.
	view *view.Table
	// joinTables are the tables a pipeline's queries with a join look
	// events up in (join.go): its own, and its UNION ALL queries'.
	joinTables map[*plan.Join]*view.Table
	// stateful is set for a pipeline with GROUP BY (stateful.go).
	stateful *stateful
	// parts run the later queries of a UNION ALL with a stateful query,
	// each a pipeline of its own writing the same sink (unionParts);
	// they start, stop and drop with this one, which runs the first.
	parts []*pipeline
	// whole is the sink's plan when it has parts: the UNION ALL whose
	// first query is plan (sinkPlan).
	whole        *plan.Pipeline
	backpressure waitClock         // the reader's waits to hand batches on (metrics.go)
	errors       errorCounts       // by code
	latency      *latencyHistogram // end to end; nil without Config.Metrics

	// tracer traces records (trace.go); nil: tracing off, and traceparent
	// headers pass through untouched. The span names are made once.
	tracer                   *tracing.Tracer
	processSpan, deliverSpan string

	mu struct {
		sync.Mutex
		state   string
		lastErr string
	}
}

// pipelineStatus is a snapshot for SHOW and DESCRIBE.
type pipelineStatus struct {
	State                           string
	In, Out, Filtered, DeadLettered int64
	LastError                       string
}

func (p *pipeline) status() pipelineStatus {
	p.mu.Lock()
	st := pipelineStatus{State: p.mu.state, LastError: p.mu.lastErr,
		In: p.stats.in.Load(), Out: p.stats.out.Load(), Filtered: p.stats.filtered.Load(), DeadLettered: p.stats.dead.Load()}
	p.mu.Unlock()
	// A sink with parts: their counts added up; retrying while one is,
	// running while one is, finished only when every one is.
	for _, part := range p.parts {
		ps := part.status()
		st.In, st.Out, st.Filtered, st.DeadLettered = st.In+ps.In, st.Out+ps.Out, st.Filtered+ps.Filtered, st.DeadLettered+ps.DeadLettered
		if stateRank[ps.State] > stateRank[st.State] {
			st.State = ps.State
		}
		if st.LastError == "" || ps.State == stateRetrying {
			st.LastError = cmp.Or(ps.LastError, st.LastError)
		}
	}
	return st
}

// stateRank orders the states for a sink with parts: the one shown is the
// highest of theirs.
var stateRank = map[string]int{stateFinished: 0, stateStopped: 1, stateRunning: 2, stateRetrying: 3}

// all is the pipeline and its parts.
func (p *pipeline) all() []*pipeline { return append([]*pipeline{p}, p.parts...) }

func (p *pipeline) setState(state string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.state = state
	if err != nil {
		p.mu.lastErr = err.Error()
	}
}

// startPipeline builds a pipeline's connectors and starts it; a UNION ALL
// with a stateful query runs each of its queries as a part (unionParts).
func (e *Engine) startPipeline(ctx context.Context, entry catalog.Entry, pl *plan.Pipeline, created bool) error {
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		return errors.New("engine: closed")
	}
	e.mu.Unlock()
	var parts []*pipeline
	closeParts := func(err error) error {
		for _, part := range parts {
			err = errors.Join(err, part.close(ctx))
			if created {
				// A new sink's parts built before the one that failed
				// made their internal topics and state, under an ID no
				// sink will have again: nothing else would remove them.
				err = errors.Join(err, part.dropStateful(ctx))
			}
		}
		return err
	}
	for i, q := range unionParts(pl) {
		ent := entry
		if i > 0 {
			ent.Name = partName(entry.Name, i)
		}
		part, err := e.newPipeline(ctx, ent, q, i)
		if err != nil {
			return closeParts(err)
		}
		// A part reading what an earlier one reads names its input in
		// its outputs' origins, as a UNION ALL's later query does.
		for _, in := range part.inputs {
			if in.tag == "" && slices.ContainsFunc(parts, func(o *pipeline) bool {
				return slices.ContainsFunc(o.inputs, func(oi *sourceInput) bool { return sameStream(oi.def, in.def) })
			}) {
				in.tag = "union" + strconv.Itoa(i)
			}
		}
		parts = append(parts, part)
	}
	p := parts[0]
	if len(parts) > 1 {
		p.parts, p.whole = parts[1:], pl
	}
	type contexts struct{ read, task context.Context }
	ctxs := make([]contexts, len(parts))
	for i, part := range parts {
		readCtx, stopReading := context.WithCancel(context.Background())
		taskCtx, abortTasks := context.WithCancel(context.Background())
		part.stopReading, part.abortTasks = stopReading, abortTasks
		part.setState(stateRunning, nil)
		ctxs[i] = contexts{readCtx, taskCtx}
	}
	e.mu.Lock()
	if e.mu.closed { // Close ran while the connectors were being built
		e.mu.Unlock()
		for _, part := range parts {
			part.stopReading()
			part.abortTasks()
		}
		return closeParts(errors.New("engine: closed"))
	}
	e.mu.pipelines[entry.Name] = p
	e.mu.Unlock()
	for i, part := range parts {
		go part.run(ctxs[i].read, ctxs[i].task)
		part.logger.Info("pipeline started", "source", sourceNames(part.plan), "connector", part.plan.Connector, "group", part.group)
	}
	return nil
}

// sinkPlan is the plan of the whole sink: its UNION ALL when the pipeline
// runs only the first query, with parts for the others.
func (p *pipeline) sinkPlan() *plan.Pipeline {
	if p.whole != nil {
		return p.whole
	}
	return p.plan
}

// unionParts are the queries a pipeline runs as pipelines of their own:
// the plan itself, unless it is a UNION ALL of which a query is stateful
// (aggregates, ranks or joins two streams): then each query, writing the
// same sink, with its own inputs, stages, internal topics and state, and
// named as the sink (its rows' headers, its dead-letter topic).
func unionParts(pl *plan.Pipeline) []*plan.Pipeline {
	if len(pl.Union) == 0 || !slices.ContainsFunc(append([]*plan.Pipeline{pl}, pl.Union...), (*plan.Pipeline).Stateful) {
		return []*plan.Pipeline{pl}
	}
	first := *pl
	first.Union = nil
	parts := []*plan.Pipeline{&first}
	for _, q := range pl.Union {
		part := *q
		part.Name = pl.Name
		parts = append(parts, &part)
	}
	// The options of stateful stages are the sink's: a stateless part
	// has none to apply them to (exactly-once, which it cannot give, is
	// refused for it rather than dropped).
	for _, part := range parts {
		if !part.Stateful() {
			part.Options = maps.Clone(part.Options)
			for _, k := range statefulOptionKeys {
				if k != "delivery.guarantee" {
					delete(part.Options, k)
				}
			}
		}
	}
	return parts
}

// partName names the part of a sink that runs its UNION ALL's query i+1
// (i >= 1): its consumer groups, internal topics, state directory and
// metrics follow it.
func partName(sink string, i int) string { return sink + ".union" + strconv.Itoa(i) }

// newPipeline builds a pipeline's connectors, stages and tables — part
// i > 0 of a sink with parts (unionParts) — ; close undoes it when the
// pipeline does not run.
func (e *Engine) newPipeline(ctx context.Context, entry catalog.Entry, pl *plan.Pipeline, part int) (*pipeline, error) {
	p := &pipeline{
		engine: e, entry: entry, plan: pl,
		group:  "tide-sink-" + entry.Name + "-" + entry.ID,
		logger: e.logger.With("pipeline", entry.Name),
		buffer: newBudget(e.cfg.PipelineBufferBytes),
		done:   make(chan struct{}),
		tracer: e.cfg.Tracer,
	}
	if e.cfg.Metrics != nil {
		p.latency = newLatencyHistogram()
	}
	p.processSpan, p.deliverSpan = "process "+entry.Name, "deliver "+entry.Name
	p.stats.watermark.Store(eventtime.NoWatermark)
	var err error
	src := pl.Source
	p.outColumns = outputColumns(pl)
	var sinkOpts map[string]string
	p.outFormat, p.outFmtOpts, sinkOpts = splitFormatOptions(pl.Options)
	p.dlqTopic = pl.Name + ".dlq"
	if t, ok := sinkOpts["dlq.topic"]; ok {
		p.dlqTopic = t
		delete(sinkOpts, "dlq.topic")
	}
	if p.lagSLO, err = lagSLOOption(sinkOpts); err != nil {
		return nil, err
	}
	scfg, err := statefulOptions(sinkOpts, pl)
	if err != nil {
		return nil, err
	}
	// Check the formats before starting anything. The encoder is made
	// once (a registry format registers its schema) and shared by the
	// tasks.
	filter := [2]*expr.Expr{pl.Filter}
	chain := pl.StreamJoin.Chain() // the joins of two streams; more than one joins more than two
	if len(chain) > 0 {
		filter = [2]*expr.Expr{chain[0].LeftFilter, chain[0].RightFilter}
	}
	if p.inputs, err = e.sideInputs(pl, nil, 0, p.group, filter[0]); err != nil {
		return nil, err
	}
	main := p.inputs[0]
	for i, q := range pl.Union {
		in, err := e.newSourceInput(q.Source, i+1, p.group+".union"+itoa(int64(i+1)))
		if err != nil {
			return nil, err
		}
		in.filter, in.query = q.Filter, q
		if slices.ContainsFunc(p.inputs, func(o *sourceInput) bool { return sameStream(o.def, q.Source) }) {
			// Only then: a sink that kept progress by the bare topic
			// before finds it where it was.
			in.tag = "union" + itoa(int64(i+1))
		}
		p.inputs = append(p.inputs, in)
	}
	for i, j := range chain {
		group := p.group + ".right"
		if i > 0 {
			group += itoa(int64(i + 1))
		}
		right, err := e.sideInputs(pl, j, 1, group, j.RightFilter)
		if err != nil {
			return nil, err
		}
		for _, in := range right {
			in.stage = i
		}
		p.inputs = append(p.inputs, right...)
	}
	// The sink's name (pl.Name, also a part's): one schema for all parts.
	if p.enc, err = format.NewEncoder(p.outFormat, p.outColumns, p.outFmtOpts, e.formatEnv(pl.Name, sinkOpts)); err != nil {
		return nil, err
	}
	env := connector.Env{Transport: e.cfg.Transport, Logger: p.logger, Group: p.group, Source: src.Name, Pipeline: pl.Name, Now: e.cfg.Now, Stdout: e.cfg.Stdout}
	if part > 0 {
		env.Part = "union" + strconv.Itoa(part)
	}
	sinkEnv := env
	sinkEnv.Columns = p.outColumns
	if p.sink, err = connector.NewSink(pl.Connector, sinkOpts, sinkEnv); err != nil {
		return nil, err
	}
	if p.dlq, err = connector.NewSink("topic", map[string]string{"topic": p.dlqTopic}, env); err != nil {
		return nil, errors.Join(err, p.sink.Close(ctx))
	}
	closeAll := func(err error) error {
		return errors.Join(err, p.closeInputs(ctx), p.sink.Close(ctx), p.dlq.Close(ctx))
	}
	hasState := pl.Aggregation != nil || pl.StreamJoin != nil || pl.TopN != nil
	for _, in := range p.inputs {
		srcEnv := env
		srcEnv.ExternalCommit = scfg.exactlyOnce
		if scfg.exactlyOnce && hasState {
			srcEnv.OnAssigned = func(ctx context.Context, parts []int32) { p.takeShuffleIDs(ctx, in, parts) }
		}
		if err := in.open(srcEnv, e.cfg.CommitInterval); err != nil {
			return nil, closeAll(err)
		}
	}
	if hasState {
		st := &stateful{
			query: pl, agg: pl.Aggregation, join: pl.StreamJoin, topn: pl.TopN, exactlyOnce: scfg.exactlyOnce, interval: scfg.interval, stateMemory: scfg.memory, early: scfg.early,
			ttl: scfg.ttl, idle: main.idle, lateTopic: main.lateTopic,
			repartition: repartitionTopic(entry.Name, entry.ID), changelog: changelogTopic(entry.Name, entry.ID),
			group: "tide-agg-" + entry.Name + "-" + entry.ID, stateDir: e.stateDirFor(entry.Name, entry.ID),
			wmExpr: src.Watermark != nil && pl.Aggregation != nil && pl.Aggregation.Window != nil,
		}
		// The internal topics have a partition per origin: a source that
		// gains partitions changes their count, which setupStateful
		// refuses, rather than renumbering a join's origins unnoticed.
		for _, in := range p.inputs {
			if in.stage > 0 {
				continue // a later join's (chainStreamJoins)
			}
			in.firstOrigin = st.origins
			st.origins += in.partitions
			// A UNION ALL on a join's side: the first query's source's
			// late.topic, as for an aggregation of a union.
			if st.join != nil && in == p.firstInput(in.side) {
				st.joinLateTopics[in.side] = in.lateTopic
			}
		}
		st.partitions = st.origins
		// The stage of the last join of a join of more than two streams
		// plays the first's part for the stages after it.
		joined := st
		if len(chain) > 1 {
			joined = p.chainStreamJoins(st, chain, scfg.ttl)
		}
		grouped := pl.StreamJoin != nil && pl.StreamJoin.Grouped && !e.hasGroupStage(ctx, joined)
		st.topn = nil // a top-N is always a stage of its own, after the others
		switch {
		case pl.StreamJoin != nil && pl.Aggregation != nil && pl.Aggregation.Window != nil: // by the window join's windows
			if e.hasStageState(ctx, st, "") && !e.hasStageState(ctx, st, windowStage) {
				return nil, closeAll(fmt.Errorf("sink %s: %w", entry.Name, errOlderLayout))
			}
			st.agg = nil
			st.next = newNextStage(st, windowStage)
		case pl.StreamJoin != nil && pl.Aggregation != nil && !grouped: // an aggregation of the joined rows
			st.agg = nil
			joined.next = newNextStage(joined, groupStage)
		case pl.StreamJoin != nil && pl.Aggregation != nil: // aggregated in the join's tasks
			joined.agg, joined.retract = pl.Aggregation, pl.StreamJoin.Updates()
		case pl.TopN != nil && pl.Aggregation == nil && pl.StreamJoin == nil: // a top-N over a source's rows: one stage
			st.topn = pl.TopN
		}
		last := st
		for last.next != nil {
			last = last.next
		}
		switch {
		case pl.Outer != nil: // and an aggregation of the groups' rows
			last.next = newNextStage(last, outerStage)
		case st.topn == nil && pl.TopN != nil && pl.StreamJoin != nil && pl.Aggregation == nil && !pl.TopN.Updating():
			// A final top-N over a window join's rows by window_end, in a
			// stage of its own name: one an earlier, updating plan left
			// under the other cannot be read as final.
			if e.hasStageState(ctx, st, "") && !e.hasStageState(ctx, st, windowRankStage) {
				return nil, closeAll(fmt.Errorf("sink %s: %w", entry.Name, errOlderLayout))
			}
			last.next = newNextStage(last, windowRankStage)
		case st.topn == nil && pl.TopN != nil: // and a top-N over the groups' or the joined rows (chain.go)
			last.next = newNextStage(last, rankStage)
		}
		p.stateful = st
		for st := range p.stages() {
			err = p.setupStateful(ctx, st)
			if err == nil {
				st.stage, err = newAggStage(p, st)
			}
			if err != nil {
				p.stateful = nil
				return nil, closeAll(err)
			}
		}
	}
	if err := e.openJoinTables(ctx, p); err != nil {
		return nil, closeAll(err)
	}
	return p, nil
}

// close releases what newPipeline built, for a pipeline that never ran.
func (p *pipeline) close(ctx context.Context) error {
	p.closeJoinTables(ctx)
	return errors.Join(p.closeInputs(ctx), p.sink.Close(ctx), p.dlq.Close(ctx))
}

// run reads batches and hands each to its partition's task, until the
// sources end or stop cancels ctx; then it lets the tasks drain (they run
// under taskCtx) and closes the connectors. Handing a batch on waits for
// room in the pipeline's byte budget and in the task's queue, so a slow
// sink stops the reading.
func (p *pipeline) run(ctx, taskCtx context.Context) {
	defer close(p.done)
	var stage sync.WaitGroup // the aggregate stage, stopped after the tasks
	stopStage := func() {}
	if p.stateful != nil {
		stageCtx, cancel := context.WithCancel(context.Background())
		stopStage = cancel
		for st := range p.stages() {
			stage.Go(func() { st.stage.run(stageCtx) })
		}
	}
	var readers sync.WaitGroup
	ended := make([]bool, len(p.inputs))
	for i, in := range p.inputs {
		readers.Go(func() { ended[i] = p.read(ctx, taskCtx, in) })
	}
	readers.Wait()
	finished := !slices.Contains(ended, false) // the sources ended (bounded)
	if finished && p.stateful != nil {
		// A bounded input has ended: its windows all close, and the
		// pipeline is finished once the aggregate stage has them.
		finishCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		if err := p.finishStateful(finishCtx); err != nil {
			p.logger.Warn("the aggregate stage did not catch up with the end of a bounded input; it resumes at the next start", "err", err)
		}
		cancel()
	}
	stopStage()
	stage.Wait()
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := errors.Join(p.closeInputs(closeCtx), p.sink.Close(closeCtx), p.dlq.Close(closeCtx)); err != nil {
		p.logger.Warn("closing the pipeline's connectors", "err", err)
	}
	// Finished only now: every batch read has been written and acknowledged.
	if finished {
		p.setState(stateFinished, nil)
	} else {
		p.setState(stateStopped, nil)
	}
}

// read reads one input until it ends (true) or ctx does, handing each
// batch to its partition's task, and waits for its tasks to finish. An
// input of a stateful pipeline that ends moves its partitions'
// watermarks to the end of time (the other input's still hold the
// stage's).
func (p *pipeline) read(ctx, taskCtx context.Context, in *sourceInput) (ended bool) {
	tasks := map[int32]*task{}
	var wg sync.WaitGroup
	backoff := newBackoff()
	for {
		b, err := in.source.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, io.EOF) {
				ended = true
				break
			}
			p.setState(stateRetrying, err)
			p.errors.add(errorCodeSourceRead, 1)
			p.logger.Warn("source read failed; retrying", "source", in.def.Name, "err", err)
			if !backoff.wait(ctx) {
				break
			}
			continue
		}
		backoff.reset()
		t := tasks[b.Partition]
		if t == nil {
			t = p.newTask(in, b.Partition)
			tasks[b.Partition] = t
			wg.Go(func() { t.run(taskCtx) })
		}
		p.handOff(taskCtx, t, b)
		if ctx.Err() != nil {
			break
		}
	}
	for _, t := range tasks {
		close(t.in)
	}
	wg.Wait()
	if ended && p.stateful != nil && len(p.inputs) > 1 {
		endCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		if err := p.endInput(endCtx, in); err != nil {
			p.logger.Warn("announcing the end of a bounded input failed", "source", in.def.Name, "err", err)
		}
		cancel()
	}
	return ended
}

// handOff queues b for t once the byte budget has room for it and t's
// queue has space. It waits under taskCtx, not the reading context: a
// batch read is drained with the ones already queued when the pipeline
// stops (waiting for the tasks to free bytes and queue space as they
// finish theirs), and only an abort gives it up, released, so that the
// source never waits for a batch nobody holds. Time spent waiting is the
// pipeline's backpressure; the clock is read only when it waits.
func (p *pipeline) handOff(taskCtx context.Context, t *task, b connector.Batch) {
	waiting := false
	defer func() {
		if waiting {
			p.backpressure.stop(time.Now())
		}
	}()
	n := batchBytes(b)
	if !p.buffer.tryAcquire(n) {
		waiting = true
		p.backpressure.start(time.Now())
		if p.buffer.acquire(taskCtx, n) != nil {
			release(b)
			return
		}
	}
	b = p.buffer.hold(b, n)
	select {
	case t.in <- b:
		return
	default:
	}
	if !waiting {
		waiting = true
		p.backpressure.start(time.Now())
	}
	select {
	case t.in <- b:
	case <-taskCtx.Done():
		release(b) // and its bytes
	}
}

// drainTimeout bounds how long stopping a pipeline waits for its tasks to
// write what they hold, whatever the caller's context: a sink that keeps
// failing must not hold a DROP or a shutdown for ever.
const drainTimeout = 30 * time.Second

// stop stops reading, lets the tasks finish the batches they hold (they
// are written and acknowledged unless ctx, or drainTimeout, ends first)
// and waits; abandoned batches are released, to be read again.
func (p *pipeline) stop(parent context.Context) {
	var parts sync.WaitGroup // each drains within its own limit, at once
	for _, part := range p.parts {
		parts.Go(func() { part.stop(parent) })
	}
	defer parts.Wait()
	ctx, cancel := context.WithTimeout(parent, drainTimeout)
	defer cancel()
	p.stopReading()
	defer p.closeJoinTables(ctx) // once the tasks that look rows up are done
	select {
	case <-p.done:
		p.abortTasks()
		return
	case <-ctx.Done():
	}
	p.logger.Warn("pipeline did not drain in time; abandoning unwritten batches (they are read again after a restart)")
	p.abortTasks()
	<-p.done
}

// backoff is an exponential retry delay from 100 ms to 10 s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 100 * time.Millisecond} }

func (b *backoff) reset() { b.d = 100 * time.Millisecond }

// wait sleeps for the current delay and doubles it; false if ctx ended.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(2*b.d, 10*time.Second)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func sourceColumns(s *plan.Source) []format.Column {
	cols := make([]format.Column, len(s.Columns))
	for i, c := range s.Columns {
		cols[i] = format.Column{Name: c.Name, Type: c.Type}
	}
	return cols
}

func outputColumns(p *plan.Pipeline) []format.Column {
	cols := make([]format.Column, len(p.Outputs))
	for i, o := range p.Outputs {
		cols[i] = format.Column{Name: o.Name, Type: o.Type}
	}
	return cols
}

// checkSource checks a source's format and connector options without
// connecting to anything.
func (e *Engine) checkSource(def *plan.Source) error {
	name, formatOpts, rest := splitFormatOptions(def.Options)
	if _, err := format.NewDecoder(name, sourceColumns(def), formatOpts, e.formatEnv(def.Name, rest)); err != nil {
		return err
	}
	if _, _, err := sourceTimeOptions(rest); err != nil {
		return err
	}
	return connector.CheckSource(def.Connector, sourceColumns(def), rest)
}

// checkSink checks a sink's format and connector options. A registry
// format registers the schema of what the sink writes here.
func (e *Engine) checkSink(p *plan.Pipeline) error {
	name, formatOpts, rest := splitFormatOptions(p.Options)
	if _, err := format.NewEncoder(name, outputColumns(p), formatOpts, e.formatEnv(p.Name, rest)); err != nil {
		return err
	}
	delete(rest, "dlq.topic")
	if _, err := lagSLOOption(rest); err != nil {
		return err
	}
	// Each part's stateful options, from its own (a stateless part has
	// none); then none is left for the connector, which knows none.
	for _, q := range unionParts(p) {
		_, _, opts := splitFormatOptions(q.Options)
		if err := checkStateful(q, opts); err != nil {
			return err
		}
	}
	for _, k := range statefulOptionKeys {
		delete(rest, k)
	}
	for _, j := range p.TableJoins() {
		if err := checkJoin(j); err != nil {
			return err
		}
	}
	return connector.CheckSink(p.Connector, rest)
}

// lagSLOOption takes the lag_slo option (a duration: '5s', '2m') out of a
// sink's connector options; 0 without it.
func lagSLOOption(opts map[string]string) (time.Duration, error) {
	v, ok := opts["lag_slo"]
	if !ok {
		return 0, nil
	}
	delete(opts, "lag_slo")
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("option 'lag_slo' must be a positive duration such as '5s' or '2m', not '%s'", v)
	}
	return d, nil
}

// formatEnv is what a format of the named source or sink needs: the
// schema registry, and the value subject of its topic.
func (e *Engine) formatEnv(name string, connectorOpts map[string]string) format.Env {
	env := format.Env{Schemas: e.cfg.Schemas, Name: name}
	if topic := connectorOpts["topic"]; topic != "" {
		env.Subject = topic + "-value"
	}
	return env
}

// registryColumns completes a source in a registry format that declares
// no columns with those of its subject's latest schema, or checks the
// declared ones against it. It returns the completed statement, or nil
// when the source declared its columns.
func (e *Engine) registryColumns(s *ast.CreateSource, def *plan.Source) (*ast.CreateSource, error) {
	name, formatOpts, rest := splitFormatOptions(def.Options)
	cols, err := format.SourceColumns(name, sourceColumns(def), formatOpts, e.formatEnv(def.Name, rest))
	if err != nil || len(def.Columns) > 0 {
		return nil, err
	}
	completed := *s
	completed.Columns = make([]ast.ColumnDef, len(cols))
	for i, c := range cols {
		completed.Columns[i] = ast.ColumnDef{Pos: s.Pos, Name: ast.Ident(c.Name), Type: ast.TypeName{Pos: s.Pos, Name: c.Type.String()}}
	}
	return &completed, nil
}

// registryHint is the hint of an error of registryColumns: what to do
// depends on whether the registry is off, the subject has no schema yet,
// or its schema does not fit the declared columns.
func registryHint(formatName string, err error) string {
	switch {
	case errors.Is(err, format.ErrNoRegistry):
		return "start Tide with schema_registry = true, or read the topic in another format"
	case errors.Is(err, format.ErrNotRegistered):
		return "register the schema first (tide schema register <topic>-value --file ...), name another subject with '" + formatName + ".subject', or declare the columns"
	}
	return "declare columns the subject's latest schema can fill (tide schema get <topic>-value shows it), or leave them out to take its fields"
}

// splitFormatOptions separates the format options ('format' and keys
// prefixed with "format." or "<format>.") from the connector's.
func splitFormatOptions(opts map[string]string) (name string, formatOpts, rest map[string]string) {
	name = "json"
	if f, ok := opts["format"]; ok {
		name = f
	}
	formatOpts, rest = map[string]string{}, map[string]string{}
	for k, v := range opts {
		switch {
		case k == "format":
		case strings.HasPrefix(k, "format.") || strings.HasPrefix(k, name+"."):
			formatOpts[k] = v
		default:
			rest[k] = v
		}
	}
	return name, formatOpts, rest
}
