package engine

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/transport"
)

// Stages of a stateful pipeline's records, for dead-letter headers.
const (
	stageGroup     = "group"     // evaluating a GROUP BY key or an aggregate's argument
	stageEventTime = "eventtime" // the window's time column or the watermark
	stageAggregate = "aggregate" // folding into a group, computing a result
	stageHaving    = "having"
	// stageRepartition: a repartition record that is not what a shuffle
	// task writes (the topic is open to any producer).
	stageRepartition = "repartition"
)

var errNullEventTime = &types.Error{Code: "22004", Message: "the window's time column is NULL: the event has no event time"}

// shuffleSpec is what the shuffle tasks of one input send the stateful
// stage for each record: a key, values and an event time.
type shuffleSpec struct {
	keys []*expr.Expr
	// args are an aggregation's arguments (nil for count(*)); a join's
	// side sends its whole row instead (row).
	args []*expr.Expr
	row  bool
	// dropNullKeys: a row with a NULL key can never match, so a side
	// that is not outer does not send it.
	dropNullKeys bool
	// time is the event-time column in the row; -1 without event time
	// (an aggregation without a window).
	time int
	// watermark is the source's WATERMARK expression when time is its
	// column; nil: the watermark follows the event time itself.
	watermark *expr.Expr
	// meta marks the metadata columns a join's stage reads (the rows sent
	// carry them); none for an aggregation.
	meta []bool
	// firstOrigin numbers the input's partitions among the stage's
	// origins.
	firstOrigin int32
	// window is a join side's TUMBLE or HOP: window_start and
	// window_end follow the metadata columns in the row sent (windowKind
	// is their type).
	window     *eventtime.Spec
	windowKind types.Kind
	// windowEnds stamps each window's record with the window's end
	// rather than the row's event time (a window top-N's).
	windowEnds bool
	width      int // the columns of the row sent
	// keep marks the columns of a join side's row the join stage reads
	// (ON, WHERE, what follows the join); the others are sent as NULLs,
	// which shrinks the repartition topic, the join's state and its
	// changelog. Nil: every column is sent (a side with a late.topic,
	// whose late rows carry the whole row).
	keep []bool
	// timeMargin keeps a join's event times off the ends of int64
	// (checkJoinTime).
	timeMargin int64
}

// newShuffleSpec works out what an input's shuffle tasks send.
func newShuffleSpec(st *stateful, in *sourceInput) *shuffleSpec {
	spec := &shuffleSpec{time: -1, meta: make([]bool, plan.NumMetadata), firstOrigin: in.firstOrigin}
	if j := st.join; j != nil {
		spec.keys, spec.time, spec.row = j.LeftKeys, j.LeftTime, true
		offset, row := 0, j.LeftRow
		spec.window = j.LeftWindow
		if in.side == 1 {
			spec.keys, spec.time, offset, row = j.RightKeys, j.RightTime, j.Offset, j.RightRow
			spec.window = j.RightWindow
		}
		spec.width = len(row)
		if spec.window != nil {
			spec.windowKind = row[len(row)-1].Type
		}
		spec.dropNullKeys = !j.Outer[in.side] // an outer side's row without a key is emitted unmatched
		spec.timeMargin = joinTimeMargin(st)
		if in.def.Watermark != nil && (in.feed == nil || in.union.Watermark != nil) {
			// A union without a WATERMARK column has _timestamp for time,
			// and the watermark follows it, not its sources' columns.
			spec.watermark = in.def.Watermark.Expr
		}
		// The side's row: the source's, or a UNION ALL's its query feeds,
		// whose time column is this source's WATERMARK column or
		// _timestamp, read in the source's row (feedTime).
		n := len(in.def.Columns)
		if in.feed != nil {
			n = len(in.union.Columns)
		}
		if st.joinLateTopics[in.side] == "" {
			spec.keep = make([]bool, spec.width)
			spec.keep[spec.time] = true
		}
		if in.feed != nil {
			defer func() { spec.time = feedTime(in, spec.time) }()
		}
		for _, e := range joinStageExprs(st) {
			for m := range spec.meta {
				spec.meta[m] = spec.meta[m] || e.References(offset+n+m)
			}
			for i := range spec.keep {
				spec.keep[i] = spec.keep[i] || e.References(offset+i)
			}
		}
		// The pairs aggregated by their windows are stamped with the
		// window's start, which no expression may read.
		if agg := st.query.Aggregation; spec.keep != nil && agg != nil && agg.Window != nil {
			if c := agg.Time - offset; c >= 0 && c < len(spec.keep) {
				spec.keep[c] = true
			}
		}
		return spec
	}
	if t := st.topn; t != nil {
		spec.keys, spec.args = t.Partition, topnShuffleArgs(t)
		// The ranked row: the source's, or a UNION ALL's (fed by this
		// input's query), whose time column is this source's WATERMARK
		// column or _timestamp (feedTime).
		ranked := in.def
		if in.feed != nil {
			ranked = in.union
		}
		switch {
		case t.Window != nil:
			// Each row in each of its windows, stamped with the window's
			// end: when the window's rows are complete.
			spec.window, spec.windowEnds = t.Window, true
			// The row, the tables' columns joined to it, the bounds.
			spec.width = len(ranked.RowColumns()) + st.query.Join.Width() + 2
			spec.windowKind = ranked.RowColumns()[t.WindowTime].Type
			spec.time = t.WindowTime
			if wm := ranked.Watermark; wm != nil && wm.Column == t.WindowTime && in.def.Watermark != nil {
				spec.watermark = in.def.Watermark.Expr
			}
			spec.timeMargin = saturatingAdd(t.Window.Size, max(t.Window.Offset, -t.Window.Offset))
		case !t.Updating():
			spec.time, _ = t.Partition[t.Time].Column()
			spec.watermark = in.def.Watermark.Expr
		}
		if in.feed != nil && spec.time >= 0 {
			spec.time = feedTime(in, spec.time)
		}
		return spec
	}
	for _, k := range st.agg.Keys {
		spec.keys = append(spec.keys, k.Expr)
	}
	for _, a := range st.agg.Aggs {
		spec.args = append(spec.args, a.Arg)
	}
	if st.agg.Window != nil {
		spec.time = st.agg.Time
		if st.wmExpr {
			spec.watermark = in.def.Watermark.Expr
		}
		if in.feed != nil {
			spec.time = feedTime(in, spec.time)
		}
	}
	return spec
}

// feedTime is where a union query's task finds the event time in its
// source's row, given where the aggregation finds it in the union's: the
// union's time column is, in each query, the source's WATERMARK column as
// it is (plan.unionWatermark), or a metadata column (_timestamp), which
// the union's row copies from the source's. Time and watermark are read
// before the query's WHERE and projection, as for any source: a filtered
// event still moves time forward.
func feedTime(in *sourceInput, at int) int {
	n := len(in.union.Columns)
	if at >= n {
		return len(in.def.Columns) + at - n
	}
	c, _ := in.feed.Outputs[at].Expr.Column() // a column: checked by the plan
	return c
}

// shuffleState is a shuffle task's part of a stateful pipeline: it turns
// each input record into a repartition record (see stateful.go).
type shuffleState struct {
	st   *stateful
	spec *shuffleSpec
	// wm is this source partition's watermark; sent the one last sent,
	// at sentAt; punctuated says the current batch sends one.
	wm, sent   int64
	sentAt     time.Time
	punctuated bool

	windows []eventtime.Window // a window join side's windows of the current record
	now     time.Time          // the current batch's processing time, the repartition records' timestamp
	key     []byte             // the current record's group key
	buf     []byte             // keys and values of the current batch's records
	recs    []transport.Record
	records []*transport.Record
	txn     transport.TxnProducer // exactly-once: taken for the first batch and after a failed transaction
}

func newShuffleState(st *stateful, in *sourceInput) (*shuffleState, *shuffleSpec) {
	spec := newShuffleSpec(st, in)
	return &shuffleState{st: st, spec: spec, wm: eventtime.NoWatermark, sent: eventtime.NoWatermark}, spec
}

// handleShuffle turns a batch into repartition records and writes them
// (with the batch's offsets, in one transaction, for exactly-once), then
// acknowledges it; if ctx ends first, b is released unacknowledged.
func (t *task) handleShuffle(ctx context.Context, b connector.Batch) {
	t.p.stats.in.Add(int64(len(b.Messages)))
	if t.shuffle.st.exactlyOnce {
		t.handleShuffleTxn(ctx, b)
		return
	}
	t.shuffleBatch(b.Messages)
	if !t.writeShuffle(ctx) {
		clear(t.errs)
		release(b)
		return
	}
	t.shuffleWritten()
	b.Ack()
}

// shuffleBatch evaluates msgs into repartition records and dead letters,
// and a punctuation for every repartition partition when the source
// partition's watermark moved.
func (t *task) shuffleBatch(msgs []connector.Message) {
	sh := t.shuffle
	sh.now = time.Now()
	sh.buf, sh.recs, sh.records = sh.buf[:0], sh.recs[:0], sh.records[:0]
	t.dead, t.filtered = t.dead[:0], 0
	clear(t.errs)
	for i := range msgs {
		m := &msgs[i]
		if stage, err := t.shuffleOne(m); err != nil {
			t.dead = append(t.dead, t.deadLetter(m, stage, err, 1, ""))
		}
	}
	// A punctuation when the watermark moved, and at least every half
	// idle timeout while events come: an aggregate task holds a source
	// partition idle when it hears nothing from it, and one whose events
	// do not move its watermark (a backlog of old events) is not idle.
	sh.punctuated = sh.spec.time >= 0 && sh.wm != eventtime.NoWatermark &&
		(sh.wm > sh.sent || (sh.st.idle > 0 && time.Since(sh.sentAt) >= sh.st.idle/2))
	if sh.punctuated {
		for part := range sh.st.partitions {
			start := len(sh.buf)
			sh.buf = appendPunctuation(sh.buf, sh.spec.firstOrigin+t.partition, sh.wm)
			sh.recs = append(sh.recs, transport.Record{Topic: sh.st.repartition, Partition: part,
				Headers: []transport.Header{{Key: headerWatermark, Value: sh.buf[start:len(sh.buf):len(sh.buf)]}}})
		}
	}
	for i := range sh.recs {
		sh.records = append(sh.records, &sh.recs[i])
	}
}

// shuffleWritten counts a batch whose records are written.
func (t *task) shuffleWritten() {
	sh := t.shuffle
	if sh.punctuated {
		sh.sent, sh.sentAt = max(sh.sent, sh.wm), time.Now()
	}
	if t.filtered > 0 {
		t.p.stats.filtered.Add(t.filtered)
	}
	t.p.stats.dead.Add(int64(len(t.dead)))
	if len(t.errs) > 0 {
		t.p.errors.addAll(t.errs)
	}
}

// shuffleOne evaluates one message into a repartition record.
func (t *task) shuffleOne(m *connector.Message) (stage string, err error) {
	if ok, stage, err := t.decode(m); !ok {
		return stage, err
	}
	sh := t.shuffle
	spec := sh.spec
	// Event time and the watermark come before WHERE: a filtered event
	// still moves time forward (Flink assigns watermarks at the source).
	var ts int64
	if spec.time >= 0 {
		v := t.row[spec.time]
		if v.IsNull() {
			return stageEventTime, errNullEventTime
		}
		ts = v.Micros()
		if agg := sh.st.agg; agg != nil && sh.st.join == nil {
			if err := checkEventTime(agg.Window, ts); err != nil {
				return stageEventTime, err
			}
		} else if err := checkJoinTime(spec.timeMargin, ts); err != nil {
			return stageEventTime, err
		}
		candidate := ts
		if spec.watermark != nil {
			w, err := spec.watermark.Eval(t.row)
			if err != nil {
				return stageEventTime, err
			}
			if !w.IsNull() {
				candidate = w.Micros()
			}
		}
		sh.wm = max(sh.wm, candidate)
	}
	// Tables are joined after: an event the join drops moves time too.
	if ok, stage, err := t.lookup(); !ok {
		return stage, err
	}
	if spec.window == nil {
		if pass, stage, err := t.filter(); !pass {
			return stage, err
		}
		row := t.row
		if t.src.feed != nil {
			if pass, stage, err := t.feedRow(); !pass {
				return stage, err
			}
			row = t.union
		}
		if sent, stage, err := t.shuffleRecord(m, ts, row); !sent && err == nil {
			t.filtered++ // a NULL key: NULL = anything is not true, it cannot match
		} else if err != nil {
			return stage, err
		}
		return "", nil
	}
	// A window join's side or a windowed top-N: a record per window of
	// the row (one for TUMBLE, several for HOP), its bounds in the row,
	// which WHERE and the keys may read. A UNION ALL's query applies its
	// own WHERE to its source's row first; the windows are the union's
	// row's, and the WHERE in them the pipeline's.
	row, filter := t.row, t.src.filter
	if t.src.feed != nil {
		if pass, stage, err := t.filter(); !pass {
			return stage, err
		}
		if pass, stage, err := t.feedProject(); !pass {
			return stage, err
		}
		row, filter = t.union, t.src.unionFilter
	}
	sh.windows = spec.window.Assign(sh.windows[:0], ts)
	recs, buf, sent := len(sh.recs), len(sh.buf), false
	at := spec.width - 2
	for _, w := range sh.windows {
		row[at], row[at+1] = timeValue(spec.windowKind, w.Start), timeValue(spec.windowKind, w.End)
		pass := true
		if f := filter; f != nil {
			v, err := f.Eval(row)
			if err != nil {
				sh.recs, sh.buf = sh.recs[:recs], sh.buf[:buf] // none of its windows, then
				return stageFilter, err
			}
			pass = !v.IsNull() && v.Bool()
		}
		if !pass {
			continue
		}
		stamp := ts
		if spec.windowEnds {
			stamp = w.End
		}
		ok, stage, err := t.shuffleRecord(m, stamp, row)
		if err != nil {
			sh.recs, sh.buf = sh.recs[:recs], sh.buf[:buf]
			return stage, err
		}
		sent = sent || ok
	}
	if !sent {
		t.filtered++
	}
	return "", nil
}

// feedRow evaluates a union query's outputs over the source's row into
// the union's row (t.union), with the metadata the source's row holds,
// and applies the WHERE over the union (the pipeline's own): pass reports
// a row to send.
func (t *task) feedRow() (pass bool, stage string, err error) {
	if pass, stage, err := t.feedProject(); !pass {
		return false, stage, err
	}
	return t.where(t.src.unionFilter, t.union)
}

// feedProject evaluates a union query's outputs over the source's row
// into the union's row, with the metadata the source's row holds, and
// joins it with the tables the pipeline joins the union with: pass false
// without an error is a row an inner join drops (counted as filtered).
func (t *task) feedProject() (pass bool, stage string, err error) {
	n := len(t.src.columns)
	for i, o := range t.src.feed.Outputs {
		if t.union[i], err = o.Expr.Eval(t.row); err != nil {
			return false, stageProject, err
		}
	}
	copy(t.union[len(t.src.feed.Outputs):], t.row[n:n+plan.NumMetadata])
	return t.lookupRow(t.unionJoins, t.union)
}

// shuffleRecord appends the repartition record of row, the current one;
// not sent for a key with a NULL that cannot match.
func (t *task) shuffleRecord(m *connector.Message, ts int64, row types.Row) (sent bool, stage string, err error) {
	sh := t.shuffle
	spec := sh.spec
	sh.key = sh.key[:0]
	for _, k := range spec.keys {
		v, err := k.Eval(row)
		if err != nil {
			return false, stageGroup, err
		}
		if v.IsNull() && spec.dropNullKeys {
			return false, "", nil
		}
		sh.key = types.AppendGroupKey(sh.key, v)
	}
	start := len(sh.buf)
	sh.buf = binary.AppendVarint(sh.buf, ts)
	sh.buf = binary.AppendVarint(sh.buf, int64(spec.firstOrigin+m.Origin.Partition))
	sh.buf = binary.AppendVarint(sh.buf, m.Origin.Offset)
	if spec.row {
		for i, v := range row[:spec.width] {
			if spec.keep != nil && !spec.keep[i] {
				v = types.Null(v.Kind())
			}
			sh.buf = types.AppendBinary(sh.buf, v)
		}
	}
	for _, a := range spec.args {
		if a == nil { // count(*)
			sh.buf = types.AppendBinary(sh.buf, types.Value{})
			continue
		}
		v, err := a.Eval(row)
		if err != nil {
			sh.buf = sh.buf[:start]
			return false, stageGroup, err
		}
		sh.buf = types.AppendBinary(sh.buf, v)
	}
	value := sh.buf[start:len(sh.buf):len(sh.buf)]
	start = len(sh.buf)
	sh.buf = append(sh.buf, sh.key...)
	key := sh.buf[start:len(sh.buf):len(sh.buf)]
	sh.recs = append(sh.recs, transport.Record{Topic: sh.st.repartition, Partition: groupPartition(key, sh.st.partitions),
		// Stamped now, not with the input's timestamp: the topic's
		// time-based retention must count from when the record was
		// written (an input stamped weeks ago, a backfill, would be
		// deleted before the aggregate stage reads it); event time
		// travels in the value.
		Key: key, Value: value, Timestamp: sh.now})
	return true, "", nil
}

// writeShuffle writes the batch's records, then its dead letters, retrying
// until they are durable (at-least-once).
func (t *task) writeShuffle(ctx context.Context) bool {
	backoff := newBackoff()
	for len(t.shuffle.records) > 0 {
		err := t.p.engine.cfg.Transport.Produce(ctx, t.shuffle.records)
		if err == nil {
			if t.p.status().State == stateRetrying {
				t.p.setState(stateRunning, nil)
			}
			break
		}
		if ctx.Err() != nil {
			return false
		}
		t.p.errors.add(errorCodeSinkWrite, 1)
		t.p.setState(stateRetrying, err)
		t.p.logger.Warn("writing to the repartition topic failed; retrying", "partition", t.partition, "err", err)
		if !backoff.wait(ctx) {
			return false
		}
	}
	return t.writeDead(ctx)
}

// handleShuffleTxn writes a batch's repartition records and dead letters
// and commits its offsets in one transaction, retrying until that
// commits; if ctx ends first, b is released unacknowledged.
//
// Exactly-once rests on one rule: a transaction that commits the source
// partition's offsets up to o holds the records of exactly the inputs
// from the group's committed offset c to o, where c is read after this
// task took the partition's transactional id. Taking the id (a new
// producer) fences every other producer of it (another worker that had
// the partition, a zombie; this task's own attempt whose commit timed
// out) and settles their open transaction, so c stays what was read until
// someone takes the id again, which fails this task's commit. The task
// takes the id for its first batch and again after any failed commit,
// and aligns the batch to c: inputs before c are someone's committed
// output already (all of them: the batch is done); inputs between c and
// the batch (the consumer read past them: another producer committed an
// offset behind its position) are read back from the source topic and
// processed first.
func (t *task) handleShuffleTxn(ctx context.Context, b connector.Batch) {
	backoff := newBackoff()
	for retry := false; ; retry = true {
		err := t.shuffleTxnOnce(ctx, b.Messages, retry)
		if err == nil {
			if t.p.status().State == stateRetrying {
				t.p.setState(stateRunning, nil)
			}
			b.Ack()
			return
		}
		t.closeShuffleTxn()
		if ctx.Err() != nil {
			clear(t.errs)
			release(b)
			return
		}
		t.p.errors.add(errorCodeSinkWrite, 1)
		t.p.setState(stateRetrying, err)
		if errors.Is(err, transport.ErrFenced) {
			t.p.logger.Warn("transaction fenced: another producer took the partition's transactional id; realigning with the committed offsets",
				"partition", t.partition, "err", err)
		} else {
			t.p.logger.Warn("transaction failed; retrying from the committed offsets", "partition", t.partition, "err", err)
		}
		if !backoff.wait(ctx) {
			clear(t.errs)
			release(b)
			return
		}
	}
}

// shuffleTxnOnce is one attempt of handleShuffleTxn; nil when msgs are
// written and their offsets committed, by this attempt or before it.
// retry says an attempt failed before.
func (t *task) shuffleTxnOnce(ctx context.Context, msgs []connector.Message, retry bool) error {
	sh := t.shuffle
	last := msgs[len(msgs)-1].Origin
	tp := transport.TopicPartition{Topic: last.Topic, Partition: last.Partition}
	if sh.txn == nil {
		var done bool
		var err error
		if msgs, done, err = t.alignShuffle(ctx, tp, msgs, retry); err != nil || done {
			return err
		}
	}
	t.shuffleBatch(msgs)
	records := slices.Clip(sh.records)
	for i := range t.dead {
		d := &t.dead[i]
		records = append(records, &transport.Record{Topic: t.p.dlqTopic, Partition: -1, Key: d.Key, Value: d.Value, Headers: d.Headers, Timestamp: d.Timestamp})
	}
	txn := sh.txn
	if err := txn.Begin(ctx); err != nil {
		return err
	}
	if len(records) > 0 {
		if err := txn.Produce(ctx, records); err != nil {
			return errors.Join(err, txn.Abort(ctx))
		}
	}
	offsets := []transport.PartitionOffset{{TopicPartition: tp, Offset: last.Offset + 1}}
	if err := txn.Commit(ctx, t.src.group, offsets); err != nil {
		return err
	}
	t.shuffleWritten()
	return nil
}

// alignShuffle takes the partition's transactional id and aligns msgs, a
// batch, to the group's committed offset (see handleShuffleTxn): done
// when the whole batch is committed already. With retry, a batch found
// committed before the id is taken does not take it: a zombie's stale
// batches leave the partition's owner alone.
//
// Reading the committed offset lists the groups (Transport has no
// narrower call), which a busy or locked-down cluster may answer slowly
// or refuse. A first batch, which the consumer started at the committed
// offset, is then written as it is, as before a failure it can be (only
// a zombie committing meanwhile would be missed); a retry must align.
func (t *task) alignShuffle(ctx context.Context, tp transport.TopicPartition, msgs []connector.Message, retry bool) (aligned []connector.Message, done bool, err error) {
	tr := t.p.engine.cfg.Transport
	first, last := msgs[0].Origin.Offset, msgs[len(msgs)-1].Origin.Offset
	if retry {
		if c, ok, err := committedOffset(ctx, tr, t.src.group, tp); err == nil && ok && last < c {
			return nil, true, nil
		}
	}
	txn, err := tr.NewTxnProducer(ctx, shuffleTxnID(t.src.group, tp.Topic, tp.Partition))
	if err != nil {
		return nil, false, err
	}
	t.shuffle.txn = txn
	c, ok, err := committedOffset(ctx, tr, t.src.group, tp)
	if err != nil {
		if !retry && ctx.Err() == nil {
			t.p.logger.Warn("reading the committed offsets failed; the first batch is written from where the consumer started",
				"partition", tp.Partition, "err", err)
			return msgs, false, nil
		}
		return nil, false, err
	}
	if !ok {
		if strings.EqualFold(strings.TrimSpace(t.src.def.Options["scan.startup.mode"]), "latest") {
			return msgs, false, nil // the consumer started at the end: nothing to align to
		}
		starts, err := tr.StartOffsets(ctx, tp.Topic)
		if err != nil {
			return nil, false, err
		}
		c = starts[tp.Partition]
	}
	switch {
	case last < c:
		return nil, true, nil
	case first < c:
		i, _ := slices.BinarySearchFunc(msgs, c, func(m connector.Message, c int64) int { return cmp.Compare(m.Origin.Offset, c) })
		t.p.logger.Info("a batch starts before the committed offset; its committed part is skipped",
			"partition", tp.Partition, "committed", c, "skipped", i)
		return msgs[i:], false, nil
	case first > c:
		gap, err := readInputs(ctx, tr, tp, c, first)
		if err != nil {
			return nil, false, err
		}
		if len(gap) > 0 {
			t.p.logger.Info("a batch starts after the committed offset; the inputs between are read again",
				"partition", tp.Partition, "committed", c, "read", len(gap))
			return append(gap, msgs...), false, nil
		}
	}
	return msgs, false, nil
}

// readInputs reads the committed records of tp in [from, to) as messages.
func readInputs(ctx context.Context, tr transport.Transport, tp transport.TopicPartition, from, to int64) ([]connector.Message, error) {
	var out []connector.Message
	for from < to {
		recs, err := tr.ReadAt(ctx, tp, from, 1<<20)
		if errors.Is(err, transport.ErrOffsetOutOfRange) {
			starts, serr := tr.StartOffsets(ctx, tp.Topic)
			if serr != nil {
				return nil, serr
			}
			if start := starts[tp.Partition]; start > from {
				from = start // retention removed them: the consumer would skip them too
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if r.Offset >= to {
				return out, nil
			}
			out = append(out, connector.Message{Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp,
				Origin: connector.Origin{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}})
			from = r.Offset + 1
		}
	}
	return out, nil
}

// takeShuffleIDs takes the transactional ids of newly assigned source
// partitions (connector.Env.OnAssigned): a producer for each fences the
// former owner and aborts its open transaction, which would otherwise
// hold the group's offsets, and the consumer starting from them, until
// the transaction timed out. The producer is closed at once: a task takes
// the id again for its first batch (alignShuffle).
func (p *pipeline) takeShuffleIDs(ctx context.Context, in *sourceInput, partitions []int32) {
	topic := in.def.Options["topic"]
	for _, part := range partitions {
		txn, err := p.engine.cfg.Transport.NewTxnProducer(ctx, shuffleTxnID(in.group, topic, part))
		if err != nil {
			p.logger.Warn("taking a source partition's transactional id failed; a dead owner's open transaction holds it until it times out",
				"partition", part, "err", err)
			continue
		}
		if err := txn.Close(ctx); err != nil {
			p.logger.Debug("closing a transactional producer", "err", err)
		}
	}
}

// shuffleTxnID is the transactional id of a shuffle task: one per source
// partition (Kafka Streams' exactly-once, version 1).
func shuffleTxnID(group, topic string, partition int32) string {
	return group + "-" + topic + "-" + itoa(int64(partition))
}

// closeShuffleTxn drops the task's producer after a failed transaction;
// the next attempt takes the transactional id again.
func (t *task) closeShuffleTxn() {
	if t.shuffle.txn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	_ = t.shuffle.txn.Close(ctx)
	t.shuffle.txn = nil
}

// committedOffset returns group's committed offset of tp; ok false when
// it has none. It gives up after offsetsTimeout.
func committedOffset(ctx context.Context, tr transport.Transport, group string, tp transport.TopicPartition) (offset int64, ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, offsetsTimeout)
	defer cancel()
	groups, err := tr.Groups(ctx)
	if err != nil {
		return 0, false, err
	}
	for _, g := range groups {
		if g.Group == group {
			offset, ok = g.Offsets[tp]
			return offset, ok, nil
		}
	}
	return 0, false, nil
}

// offsetsTimeout bounds a read of the committed offsets.
const offsetsTimeout = 10 * time.Second

// committedPast reports whether group's committed offsets reached every
// one of offsets.
func committedPast(ctx context.Context, tr transport.Transport, group string, offsets []transport.PartitionOffset) (bool, error) {
	groups, err := tr.Groups(ctx)
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		if g.Group != group {
			continue
		}
		for _, o := range offsets {
			if g.Offsets[o.TopicPartition] < o.Offset {
				return false, nil
			}
		}
		return true, nil
	}
	return false, nil
}

// timeValue is a timestamp or timestamptz of kind.
func timeValue(kind types.Kind, micros int64) types.Value {
	if kind == types.KindTimestamp {
		return types.NewTimestamp(micros)
	}
	return types.NewTimestampTZ(micros)
}
