package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/tracing"
	"github.com/tide-data/tide/internal/transport"
)

// Dead-letter headers. Values are UTF-8 text.
const (
	HeaderError        = "tide.error"            // the error message
	HeaderErrorCode    = "tide.error.code"       // SQLSTATE-style code, when known
	HeaderStage        = "tide.stage"            // decode, filter, project, key, encode
	HeaderPipeline     = "tide.pipeline"         // the sink's name
	HeaderTopic        = "tide.origin.topic"     // where the record came from
	HeaderPartition    = "tide.origin.partition" //
	HeaderOffset       = "tide.origin.offset"    //
	HeaderValueDropped = "tide.value.dropped"    // the dead-letter topic refused the value: its size and why
	HeaderAttempts     = "tide.attempts"         // how many times it was tried (1 for decode and evaluation errors)
)

// Processing stages, for dead-letter headers.
const (
	stageDecode  = "decode"
	stageFilter  = "filter"
	stageProject = "project"
	stageKey     = "key"
	stageEncode  = "encode"
	stageSink    = "sink" // the sink rejected the output (connector.RejectedError)
)

// task processes one input partition's batches in order. It owns its
// decoder, encoder and buffers: nothing in it is shared.
type task struct {
	p         *pipeline
	src       *sourceInput // the input whose partition it is
	partition int32
	in        chan connector.Batch

	dec format.Decoder
	enc format.Encoder
	row types.Row // input row: declared columns, then metadata
	out types.Row // projected row
	// union is the row of a UNION ALL's query whose rows an aggregation
	// reads (sourceInput.feed): its outputs, then the metadata.
	union types.Row

	buf      []byte // encoded values (and keys) of the current batch
	outputs  []connector.Output
	sources  []int // per output, the index of its message in the batch
	rejected int   // outputs of the current batch the sink rejected
	dead     []connector.Output
	filtered int64 // records of the current batch filtered out

	// Instrumentation of the current batch, added to the pipeline's
	// when the batch is acknowledged (metrics.go, trace.go).
	rejections []connector.Rejection // the sink's rejections, by output index
	errs       map[string]int64      // dead letters by error code
	lat        latencyCounts         // end-to-end latencies (with Config.Metrics)
	traced     []tracedRecord        // records with a span

	// A sink that takes typed rows (connector.RowSink) gets them instead
	// of encoded values: vals holds the current batch's output rows end
	// to end, rows slices it, one row per output.
	rowSink connector.RowSink
	vals    []types.Value
	rows    []types.Row

	// What the plan needs, worked out once. Outputs that are plain column
	// references are copied, not evaluated; when every output is the
	// input column of the same position (SELECT *), the input row is
	// encoded as it is. Metadata columns no expression references are
	// not filled in (_key would copy the key for every record).
	notNull  []int  // declared columns that are NOT NULL
	coerced  []int  // declared columns with a type modifier to apply (numeric(p, s))
	outCols  []int  // per output, the row index it copies, or -1
	identity bool   // outputs are the declared columns, in order
	meta     []bool // per metadata column, whether an expression reads it

	// shuffle is set in the tasks of a stateful pipeline (shuffle.go).
	shuffle *shuffleState
	// joins are set in the tasks of a pipeline with joins with tables (join.go).
	joins []*joinState // one per table joined, in order
	// unionJoins are a fed task's joins of the union's row (t.union) with
	// the tables the pipeline joins the union with; none otherwise.
	unionJoins []*joinState
}

func (p *pipeline) newTask(in *sourceInput, partition int32) *task {
	// The decoder's format was checked when the pipeline started.
	dec, _ := format.NewDecoder(in.format, in.columns, in.formatOpts, in.env)
	t := &task{
		p: p, src: in, partition: partition, in: make(chan connector.Batch, taskQueue),
		dec: dec, enc: p.enc,
		row:  make(types.Row, len(in.columns)+plan.NumMetadata+joinWidth(in.rowQuery())+windowWidth(p.plan, in)),
		out:  make(types.Row, len(p.plan.Outputs)),
		meta: make([]bool, plan.NumMetadata),
		errs: map[string]int64{},
	}
	if p.latency != nil {
		t.lat = newLatencyCounts()
	}
	t.rowSink, _ = p.sink.(connector.RowSink)
	t.joins = p.newJoinStates(in.rowQuery().Join)
	pl, n := in.query, len(in.columns)
	for i, c := range in.def.Columns {
		if c.NotNull {
			t.notNull = append(t.notNull, i)
		}
		if c.Coerce != nil {
			t.coerced = append(t.coerced, i)
		}
	}
	if st := p.inputStage(in); st != nil {
		var spec *shuffleSpec
		t.shuffle, spec = newShuffleState(st, in)
		exprs := append(slices.Clone(spec.keys), spec.args...)
		exprs = append(append(exprs, in.filter, spec.watermark), joinExprs(pl)...)
		if in.feed != nil {
			// The keys, the arguments and WHERE read the union's row; the
			// query's outputs, its WHERE and the watermark the source's.
			// (and a windowed top-N's window bounds after them).
			t.union = make(types.Row, max(len(in.union.RowColumns())+joinWidth(pl), spec.width))
			t.unionJoins = p.newJoinStates(pl.Join)
			t.markMeta(len(in.union.Columns), append(append(append(slices.Clone(spec.keys), spec.args...), in.unionFilter), joinExprs(pl)...)...)
			exprs = append([]*expr.Expr{in.filter, spec.watermark}, joinExprs(in.feed)...)
			for _, o := range in.feed.Outputs {
				exprs = append(exprs, o.Expr)
			}
		}
		t.markMeta(n, exprs...)
		if spec.time >= n { // event time is a metadata column (_timestamp)
			t.meta[spec.time-n] = true
		}
		for j := range t.meta { // a join's row carries what the stage reads
			t.meta[j] = t.meta[j] || spec.meta[j]
		}
		return t
	}
	// The join's key is evaluated over the row too (ON o._partition = ...).
	exprs := append([]*expr.Expr{pl.Filter, pl.Key}, joinExprs(pl)...)
	t.identity = len(pl.Outputs) == n && pl.Join == nil
	for i, o := range pl.Outputs {
		exprs = append(exprs, o.Expr)
		col, ok := o.Expr.Column()
		if !ok {
			col = -1
		}
		t.outCols = append(t.outCols, col)
		t.identity = t.identity && col == i && o.Type == in.columns[i].Type
	}
	for _, e := range exprs {
		for j := range t.meta {
			t.meta[j] = t.meta[j] || (e != nil && e.References(n+j))
		}
	}
	if !t.identity {
		t.project(n, exprs)
	}
	return t
}

// project has the decoder build only the declared columns the task reads
// (when its format can skip the others, as Flink pushes projections into
// its formats): those an expression references, the NOT NULL ones (their
// check) and those with a type modifier (its cast). A value of another
// column is not converted, so one it could not hold is no error.
func (t *task) project(n int, exprs []*expr.Expr) {
	pd, ok := t.dec.(format.ProjectingDecoder)
	if !ok {
		return
	}
	read := make([]bool, n)
	for i := range read {
		for _, e := range exprs {
			if e != nil && e.References(i) {
				read[i] = true
				break
			}
		}
	}
	for _, i := range t.notNull {
		read[i] = true
	}
	for _, i := range t.coerced {
		read[i] = true
	}
	pd.Project(read)
}

// origin is m's origin as its outputs carry it: named after the input of
// a UNION ALL's later query, which may read the topic another reads.
func (t *task) origin(m *connector.Message) connector.Origin {
	o := m.Origin
	o.Input = t.src.tag
	return o
}

// markMeta marks the metadata columns the expressions read, in a row of
// n declared columns.
func (t *task) markMeta(n int, exprs ...*expr.Expr) {
	for _, e := range exprs {
		for j := range t.meta {
			t.meta[j] = t.meta[j] || (e != nil && e.References(n+j))
		}
	}
}

// run processes batches until its queue is closed and drained, or ctx
// ends (then the batch in hand is abandoned unacknowledged).
func (t *task) run(ctx context.Context) {
	for b := range t.in {
		if ctx.Err() != nil {
			release(b) // drain the queue without acknowledging
			continue
		}
		if t.shuffle != nil {
			t.handleShuffle(ctx, b)
			continue
		}
		t.handle(ctx, b)
	}
	if t.shuffle != nil && t.shuffle.txn != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		_ = t.shuffle.txn.Close(closeCtx)
		cancel()
	}
}

// handle processes b, writes its outputs and dead letters, and
// acknowledges it; if ctx ends first, b is released unacknowledged.
func (t *task) handle(ctx context.Context, b connector.Batch) {
	t.process(b)
	var writeStart time.Time
	if len(t.traced) > 0 {
		writeStart = time.Now()
	}
	ok := t.writeOutputs(ctx, b)
	var written time.Time // when the outputs became durable
	if ok && (t.p.latency != nil || len(t.traced) > 0) {
		written = time.Now()
	}
	if !ok || !t.writeDead(ctx) {
		t.endSpans(time.Time{}, time.Time{}, true)
		clear(t.errs)
		release(b)
		return
	}
	t.p.stats.out.Add(int64(len(t.outputs) - t.rejected))
	t.p.stats.dead.Add(int64(len(t.dead)))
	if t.p.latency != nil {
		t.observeLatency(written)
	}
	if len(t.errs) > 0 {
		t.p.errors.addAll(t.errs)
	}
	b.Ack()
	t.endSpans(writeStart, written, false)
}

// observeLatency adds the end-to-end latency of every output written
// durably at written (not the ones the sink rejected) to the pipeline's
// histogram: from the input record's timestamp, when it was produced or
// ingested.
func (t *task) observeLatency(written time.Time) {
	now := written.UnixNano()
	next, r := -1, 0 // the next rejected output index
	if len(t.rejections) > 0 {
		next = t.rejections[0].Index
	}
	for i := range t.outputs {
		if i == next {
			for r < len(t.rejections) && t.rejections[r].Index <= i {
				r++
			}
			next = -1
			if r < len(t.rejections) {
				next = t.rejections[r].Index
			}
			continue
		}
		if ts := t.outputs[i].Timestamp; !ts.IsZero() {
			t.lat.observe(now - ts.UnixNano())
		}
	}
	t.lat.flushTo(t.p.latency)
}

// release gives up a batch the task abandons, so that a source waiting
// for it (a rebalance, a close) does not wait for ever.
func release(b connector.Batch) {
	if b.Release != nil {
		b.Release()
	}
}

// writeOutputs writes the batch's outputs to the sink; outputs the sink
// rejects for good become dead letters (of the input they came from).
func (t *task) writeOutputs(ctx context.Context, b connector.Batch) bool {
	var rejected *connector.RejectedError
	sink := t.p.sink
	if t.rowSink != nil {
		sink = t.rowWriter()
	}
	if !t.writeRejecting(ctx, sink, t.outputs, &rejected) {
		return false
	}
	if rejected != nil {
		for _, r := range rejected.Rejected {
			if r.Index < 0 || r.Index >= len(t.sources) {
				continue
			}
			m := &b.Messages[t.sources[r.Index]]
			t.dead = append(t.dead, t.deadLetter(m, stageSink, r.Err, max(r.Attempts, 1), r.Code))
			t.rejections = append(t.rejections, r)
		}
		slices.SortFunc(t.rejections, func(a, b connector.Rejection) int { return a.Index - b.Index })
		t.rejected = len(rejected.Rejected)
	}
	return true
}

// writeDead writes the batch's dead letters. A dead letter the topic
// refuses (its value is larger than the topic allows) is written again
// without its value, with a header saying so, rather than blocking the
// partition for ever.
func (t *task) writeDead(ctx context.Context) bool {
	dead := t.dead
	for attempt := 0; len(dead) > 0; attempt++ {
		var rejected *connector.RejectedError
		if !t.writeRejecting(ctx, t.p.dlq, dead, &rejected) {
			return false
		}
		if rejected == nil {
			return true
		}
		if attempt > 0 {
			t.p.logger.Error("dead letters refused even without their values; dropped", "count", len(rejected.Rejected), "err", rejected)
			return true
		}
		again := make([]connector.Output, 0, len(rejected.Rejected))
		for _, r := range rejected.Rejected {
			dl := dead[r.Index]
			dl.Headers = append(slices.Clip(dl.Headers), transport.Header{Key: HeaderValueDropped,
				Value: fmt.Appendf(nil, "%d bytes: %v", len(dl.Value), r.Err)})
			dl.Value = nil
			again = append(again, dl)
		}
		dead = again
	}
	return true
}

// writeRejecting is write that, given rejected, accepts a
// *connector.RejectedError as success and hands it back.
func (t *task) writeRejecting(ctx context.Context, sink connector.Sink, outputs []connector.Output, rejected **connector.RejectedError) bool {
	if len(outputs) == 0 {
		return true
	}
	backoff := newBackoff()
	for {
		err := sink.Write(ctx, outputs)
		if rejected != nil && errors.As(err, rejected) {
			err = nil
		}
		if err == nil {
			if t.p.status().State == stateRetrying {
				t.p.setState(stateRunning, nil)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if sink == t.p.dlq {
			t.p.errors.add(errorCodeDeadLetterWrite, 1)
		} else {
			t.p.errors.add(errorCodeSinkWrite, 1)
		}
		t.p.setState(stateRetrying, err)
		t.p.logger.Warn("sink write failed; retrying", "partition", t.partition, "records", len(outputs), "err", err)
		if !backoff.wait(ctx) {
			return false
		}
	}
}

// process evaluates a batch into t.outputs and t.dead.
func (t *task) process(b connector.Batch) {
	t.buf, t.outputs, t.sources, t.dead, t.filtered, t.rejected = t.buf[:0], t.outputs[:0], t.sources[:0], t.dead[:0], 0, 0
	t.vals, t.rejections = t.vals[:0], t.rejections[:0]
	clear(t.errs)
	t.p.stats.in.Add(int64(len(b.Messages)))
	tracer := t.p.tracer
	var batchStart time.Time // when the first traced record's span starts
	for i := range b.Messages {
		m := &b.Messages[i]
		var span *tracing.Span
		if tracer != nil {
			span = t.startSpan(m, &batchStart)
		}
		outputs := len(t.outputs)
		stage, err := t.evaluate(m)
		if err != nil {
			t.dead = append(t.dead, t.deadLetter(m, stage, err, 1, ""))
		}
		if span != nil {
			t.traceRecord(span, outputs, stage, err)
		}
		for len(t.sources) < len(t.outputs) {
			t.sources = append(t.sources, i)
		}
	}
	if t.filtered > 0 {
		t.p.stats.filtered.Add(t.filtered)
	}
}

// evaluate runs one message through the pipeline, appending its output
// (if it passes the filter) to t.outputs.
func (t *task) evaluate(m *connector.Message) (stage string, err error) {
	pl := t.src.query
	n := len(t.src.columns)
	if pass, stage, err := t.decodeFilter(m); !pass {
		return stage, err
	}
	out := t.row[:n]
	if !t.identity {
		out = t.out
		for i, o := range pl.Outputs {
			if col := t.outCols[i]; col >= 0 {
				out[i] = t.row[col]
				continue
			}
			v, err := o.Expr.Eval(t.row)
			if err != nil {
				return stageProject, err
			}
			out[i] = v
		}
	}
	key := m.Key
	if pl.Key != nil {
		v, err := pl.Key.Eval(t.row)
		if err != nil {
			return stageKey, err
		}
		key = t.encodeKey(v)
	}
	if t.rowSink != nil {
		t.vals = append(t.vals, out[:len(pl.Outputs)]...)
		t.outputs = append(t.outputs, connector.Output{Key: key, Headers: m.Headers, Timestamp: m.Timestamp, Origin: t.origin(m)})
		return "", nil
	}
	start := len(t.buf)
	t.buf, err = t.enc.Encode(t.buf, out)
	if err != nil {
		t.buf = t.buf[:start]
		return stageEncode, err
	}
	t.outputs = append(t.outputs, connector.Output{
		Key: key, Value: t.buf[start:len(t.buf):len(t.buf)], Headers: m.Headers, Timestamp: m.Timestamp, Origin: t.origin(m),
	})
	return "", nil
}

// decodeFilter decodes m into t.row, joins its tables and applies the
// WHERE clause: pass reports a row to go on with; a row filtered out (or skipped by the
// format) is counted and has no error.
func (t *task) decodeFilter(m *connector.Message) (pass bool, stage string, err error) {
	if ok, stage, err := t.decode(m); !ok {
		return false, stage, err
	}
	if ok, stage, err := t.lookup(); !ok {
		return false, stage, err
	}
	return t.filter()
}

// decode decodes m into t.row: the declared columns, coerced and checked,
// and the metadata columns an expression reads. ok false without an error
// is a record the format skips (counted as filtered).
func (t *task) decode(m *connector.Message) (ok bool, stage string, err error) {
	def := t.src.def
	n := len(t.src.columns)
	if err := t.dec.Decode(m.Value, t.row[:n]); err != nil {
		if errors.Is(err, format.ErrSkip) { // the format was told to drop what it cannot read
			t.filtered++
			return false, "", nil
		}
		return false, stageDecode, err
	}
	for _, i := range t.coerced {
		v, err := def.Columns[i].Coerce.Eval(t.row)
		if err != nil {
			return false, stageDecode, fmt.Errorf("column %q: %w", def.Columns[i].Name, err)
		}
		t.row[i] = v
	}
	for _, i := range t.notNull {
		if t.row[i].IsNull() {
			return false, stageDecode, &types.Error{Code: "23502", Message: "null value in column \"" + def.Columns[i].Name + "\" violates not-null constraint"}
		}
	}
	t.setMetadata(m, t.row[n:])
	return true, "", nil
}

// lookup joins t.row, decoded, with the tables of the task's query: each
// one's columns filled from its row for the event's key. ok false without
// an error is an event an inner join (or the filter before the lookups)
// drops, counted as filtered.
func (t *task) lookup() (ok bool, stage string, err error) {
	return t.lookupRow(t.joins, t.row)
}

// lookupRow joins row with the tables of joins, in order, as lookup does
// t.row with the task's.
func (t *task) lookupRow(joins []*joinState, row types.Row) (ok bool, stage string, err error) {
	if len(joins) == 0 {
		return true, "", nil
	}
	// A merged subquery's WHERE drops an event before its lookups.
	if pass, stage, err := t.where(joins[0].j.StreamFilter, row); !pass {
		return false, stage, err
	}
	for _, js := range joins {
		found, err := js.join(row)
		if err != nil {
			return false, stageJoin, err
		}
		if !found { // an inner join drops an event its table has no row for
			t.filtered++
			return false, "", nil
		}
	}
	return true, "", nil
}

// joinWidth is how many columns a pipeline's joins with tables add to its
// rows.
func joinWidth(pl *plan.Pipeline) int {
	if pl.Join == nil {
		return 0
	}
	return pl.Join.Width()
}

// windowWidth is how many columns a window join adds to a side's rows:
// window_start and window_end.
func windowWidth(pl *plan.Pipeline, in *sourceInput) int {
	if j := pl.StreamJoin; j != nil && (in.side == 0 && j.LeftWindow != nil || in.side == 1 && j.RightWindow != nil) {
		return 2
	}
	if pl.TopN != nil && pl.TopN.Window != nil {
		return 2
	}
	return 0
}

// joinExprs are what a pipeline's joins with tables evaluate over the
// event's row: each one's key, and the filter before the lookups.
func joinExprs(pl *plan.Pipeline) []*expr.Expr {
	var out []*expr.Expr
	for j := range pl.Join.Joins() {
		out = append(out, j.Key, j.StreamFilter)
	}
	return out
}

// filter applies the WHERE clause to t.row; a row filtered out is
// counted.
func (t *task) filter() (pass bool, stage string, err error) {
	return t.where(t.src.filter, t.row)
}

// where applies the predicate f (nil: none) to row, counting a row it
// filters out.
func (t *task) where(f *expr.Expr, row types.Row) (pass bool, stage string, err error) {
	if f == nil {
		return true, "", nil
	}
	v, err := f.Eval(row)
	if err != nil {
		return false, stageFilter, err
	}
	if v.IsNull() || !v.Bool() {
		t.filtered++
		return false, "", nil
	}
	return true, "", nil
}

// setMetadata fills in the metadata columns an expression reads.
func (t *task) setMetadata(m *connector.Message, meta types.Row) {
	if t.meta[0] {
		if m.Key == nil {
			meta[0] = types.Null(types.KindBytea)
		} else {
			meta[0] = types.NewBytea(m.Key)
		}
	}
	if t.meta[1] {
		meta[1] = types.NewText(m.Origin.Topic)
	}
	if t.meta[2] {
		meta[2] = types.NewInt4(m.Origin.Partition)
	}
	if t.meta[3] {
		meta[3] = types.NewInt8(m.Origin.Offset)
	}
	if t.meta[4] {
		meta[4] = types.NewTimestampTZ(m.Timestamp.UnixMicro())
	}
}

// encodeKey renders a KEY BY value as the record key: bytea as its bytes,
// anything else as its text form, NULL as no key.
func (t *task) encodeKey(v types.Value) []byte {
	if v.IsNull() {
		return nil
	}
	if v.Kind() == types.KindBytea {
		return []byte(v.Bytes())
	}
	start := len(t.buf)
	t.buf = v.AppendText(t.buf)
	return t.buf[start:len(t.buf):len(t.buf)]
}

// stageErrorCode is the error code of a dead letter whose error has
// none: <stage>_error.
func stageErrorCode(stage string) string {
	switch stage {
	case stageDecode:
		return "decode_error"
	case stageFilter:
		return "filter_error"
	case stageProject:
		return "project_error"
	case stageKey:
		return "key_error"
	case stageEncode:
		return "encode_error"
	case stageSink:
		return "sink_error"
	case stageGroup, stageEventTime, stageAggregate, stageHaving, stageRepartition, stageJoin:
		return stage + "_error"
	}
	return "error"
}

// deadLetter wraps a failed message for the dead-letter topic: the input
// as it came, with headers saying what failed where and after how many
// attempts, and counts it by its error code: code if given (the sink's),
// else the error's SQLSTATE, else <stage>_error.
func (t *task) deadLetter(m *connector.Message, stage string, err error, attempts int, code string) connector.Output {
	headers := make([]transport.Header, 0, len(m.Headers)+8)
	headers = append(headers, m.Headers...)
	headers = append(headers,
		transport.Header{Key: HeaderError, Value: []byte(err.Error())},
		transport.Header{Key: HeaderStage, Value: []byte(stage)},
		transport.Header{Key: HeaderPipeline, Value: []byte(t.p.plan.Name)},
		transport.Header{Key: HeaderTopic, Value: []byte(m.Origin.Topic)},
		transport.Header{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(m.Origin.Partition), 10)},
		transport.Header{Key: HeaderOffset, Value: strconv.AppendInt(nil, m.Origin.Offset, 10)},
		transport.Header{Key: HeaderAttempts, Value: strconv.AppendInt(nil, int64(attempts), 10)},
	)
	var te *types.Error
	if code == "" && errors.As(err, &te) && te.Code != "" {
		code = te.Code
	}
	if code != "" {
		headers = append(headers, transport.Header{Key: HeaderErrorCode, Value: []byte(code)})
		t.errs[code]++
	} else {
		t.errs[stageErrorCode(stage)]++
	}
	ts := m.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	return connector.Output{Key: m.Key, Value: m.Value, Headers: headers, Timestamp: ts}
}

// rowWriter is the row sink as a connector.Sink over the current batch's
// rows, for the retry loop: Write(outputs) is WriteRows(rows, outputs).
func (t *task) rowWriter() connector.Sink {
	n := len(t.p.plan.Outputs)
	t.rows = t.rows[:0]
	for i := range t.outputs {
		t.rows = append(t.rows, t.vals[i*n:(i+1)*n:(i+1)*n])
	}
	return rowWriter{t.rowSink, t.rows}
}

type rowWriter struct {
	connector.RowSink
	rows []types.Row
}

func (w rowWriter) Write(ctx context.Context, outputs []connector.Output) error {
	return w.WriteRows(ctx, w.rows, outputs)
}
