package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tide-data/tide/internal/aggregate"
	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/join"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/state"
	"github.com/tide-data/tide/internal/topn"
	"github.com/tide-data/tide/internal/transport"
)

// aggStage runs the aggregate tasks of a stateful pipeline: one consumer
// of the repartition topic, and per assigned partition a task holding the
// groups' state. One goroutine does everything (poll, fold, fire,
// checkpoint), so a task's state needs no lock; the shuffle tasks run
// beside it. Any failure to checkpoint tears the stage down and starts it
// again: tasks are rebuilt from their stores and changelog, and the
// consumer resumes from the committed offsets, which are exactly what the
// state holds (exactly-once) or at most what it holds (at-least-once).
type aggStage struct {
	p  *pipeline
	st *stateful

	consumer  transport.Consumer
	tasks     map[int32]*aggTask
	lastCkpt  time.Time
	lastEarly time.Time      // the last early results (emit.early)
	lastPurge time.Time      // the last purge of the repartition topic
	late      format.Encoder // for late events, when they go to a topic
	// assignErr is a failure of OnAssigned (restoring state), which runs
	// inside Poll; the loop restarts the stage on it.
	assignErr error
	// foldOut collects the dead letters of a join's rows aggregated as
	// they are folded (a grouped join), for their task's checkpoint.
	foldOut resultWriter
	// memory and evicted are the stage's state sizes; a pipeline's are
	// its stages' together.
	memory, evicted atomic.Int64
}

// aggTask is one repartition partition's groups.
type aggTask struct {
	partition int32
	op        *aggregate.Operator // nil in a join's task
	join      *joinTask           // a join of two streams' (join_stage.go)
	topn      *topnTask           // a top-N's (topn_stage.go)
	store     *state.Store
	wms       *eventtime.Watermarks
	txn       transport.TxnProducer
	args      types.Row
	keys      types.Row // a record's group key, decoded to check it
	// next is the offset after the last record folded in; committed the
	// one the last checkpoint committed.
	next, committed int64
	// updates holds, for an updating GROUP BY, the latest row of each
	// group changed since the last checkpoint; before, when the next
	// stage aggregates those rows, each one's row as the last checkpoint
	// left it (nil for a new group), which the next stage takes back.
	updates map[string]*aggregate.Result
	before  map[string]*aggregate.Result
	// fired holds window results not yet checkpointed.
	fired []aggregate.Result
	late  []*transport.Record
	// dead holds the repartition records refused since the last
	// checkpoint (malformed, or an aggregate failed on them), for the
	// dead-letter topic.
	dead []connector.Output
	// firedWM is the highest watermark fired at, the stamp of results
	// a checkpoint without new input carries (see checkpointTask).
	firedWM int64
	// chained holds the checkpoint's records for the next stage (its
	// fired windows' rows and a punctuation); chainedWM is the watermark
	// the next stage last heard of, pendingWM the one chained carries.
	chained              []*transport.Record
	chainedWM, pendingWM int64
	// savedWM is each origin's watermark as the store holds it: a
	// restarted task must not wait for origins that have gone quiet to
	// send again what they sent before.
	savedWM map[int32]int64
}

// taskState is what the stage checkpoints and restores of a task's
// operator, the aggregation's or the join's.
type taskState interface {
	Changes(fn func(key, value []byte) error) error
	Load(key, value []byte) error
	Memory() (bytes int64, evicted int)
}

func (t *aggTask) state() taskState {
	switch {
	case t.join != nil && t.op != nil:
		return fusedState{t.join.op, t.op}
	case t.join != nil:
		return t.join.op
	case t.topn != nil:
		return t.topn.op
	}
	return t.op
}

// fusedState is the state of a join task that aggregates its joined
// rows: the join's entries and the aggregation's, in one store (their
// keys start with tags of their own).
type fusedState struct {
	join *join.Operator
	agg  *aggregate.Operator
}

func (f fusedState) Changes(fn func(key, value []byte) error) error {
	if err := f.join.Changes(fn); err != nil {
		return err
	}
	return f.agg.Changes(fn)
}

func (f fusedState) ChangesTo(w join.Writer) error {
	if err := f.join.ChangesTo(w); err != nil {
		return err
	}
	return f.agg.Changes(w.Put)
}

// writeChanges hands a task's state changes to its checkpoint: a join's
// through ChangesTo, whose rows written once are deleted with
// SingleDelete.
func writeChanges(st taskState, ckpt *state.Checkpoint) error {
	if j, ok := st.(interface{ ChangesTo(join.Writer) error }); ok {
		return j.ChangesTo(ckpt)
	}
	return st.Changes(ckpt.Put)
}

func (f fusedState) Load(key, value []byte) error {
	if join.Owns(key) {
		return f.join.Load(key, value)
	}
	return f.agg.Load(key, value)
}

func (f fusedState) Memory() (bytes int64, evicted int) {
	b1, e1 := f.join.Memory()
	b2, e2 := f.agg.Memory()
	return b1 + b2, e1 + e2
}

// The store keys of the origins' watermarks: a tag the operator does not
// use (aggregate's keys start 0x00 or 0x01), 'w', the origin (4 bytes).
const tagOriginWatermark = 0x02

func originWatermarkKey(k []byte) (int32, bool) {
	if len(k) != 6 || k[0] != tagOriginWatermark || k[1] != 'w' {
		return 0, false
	}
	return int32(binary.BigEndian.Uint32(k[2:])), true
}

// saveWatermarks puts the origins' watermarks that moved since the last
// checkpoint into ckpt.
func (t *aggTask) saveWatermarks(ckpt *state.Checkpoint, origins int32) error {
	for origin := range origins {
		wm := t.wms.Input(origin)
		if wm == eventtime.NoWatermark || wm == t.savedWM[origin] {
			continue
		}
		key := binary.BigEndian.AppendUint32([]byte{tagOriginWatermark, 'w'}, uint32(origin))
		if err := ckpt.Put(key, binary.AppendVarint(nil, wm)); err != nil {
			return err
		}
		t.savedWM[origin] = wm
	}
	return nil
}

func newAggStage(p *pipeline, st *stateful) (*aggStage, error) {
	s := &aggStage{p: p, st: st, tasks: map[int32]*aggTask{}, foldOut: resultWriter{p: p}}
	if st.lateTopic != "" && st.agg != nil && st.join == nil {
		var err error
		if s.late, err = format.NewEncoder("json", lateColumns(st), nil, format.Env{}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// run runs the stage until ctx ends, restarting it after failures.
func (s *aggStage) run(ctx context.Context) {
	backoff := newBackoff()
	for ctx.Err() == nil {
		started := time.Now()
		err := s.runOnce(ctx)
		s.teardown(err != nil)
		if time.Since(started) > time.Minute {
			backoff.reset() // a failure after a good run is a new one
		}
		if ctx.Err() != nil {
			return
		}
		s.p.errors.add(errorCodeSinkWrite, 1)
		s.p.setState(stateRetrying, err)
		s.p.logger.Warn("aggregate stage failed; restarting it from its checkpoint", "err", err)
		if !backoff.wait(ctx) {
			return
		}
	}
}

func (s *aggStage) runOnce(ctx context.Context) error {
	c, err := s.p.engine.cfg.Transport.NewConsumer(ctx, transport.ConsumerOptions{
		Group:      s.st.group,
		Topics:     []string{s.st.repartition},
		Start:      transport.StartEarliest,
		OnAssigned: s.onAssigned,
		OnRevoked:  s.onRevoked,
	})
	if err != nil {
		return err
	}
	s.consumer = c
	s.lastCkpt = time.Now()
	for {
		pollCtx, cancel := context.WithTimeout(ctx, s.st.interval)
		recs, err := c.Poll(pollCtx)
		cancel()
		if s.assignErr != nil {
			return s.assignErr
		}
		if ctx.Err() != nil {
			// Stopping: checkpoint what is folded in, so a restart does
			// not read it again.
			cctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
			err := s.checkpoint(cctx, s.tasks)
			cancel()
			if err != nil {
				s.p.logger.Warn("the aggregate stage's last checkpoint failed; the next start resumes from the one before", "err", err)
			}
			return err
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		if err := s.fold(recs); err != nil {
			return err
		}
		if err := s.fire(time.Now()); err != nil {
			return err
		}
		if s.st.early > 0 && time.Since(s.lastEarly) >= s.st.early {
			s.early()
			s.lastEarly = time.Now()
		}
		if time.Since(s.lastCkpt) >= s.st.interval {
			// A checkpoint runs to its end even when the stage is told to
			// stop meanwhile: cut short after the sink write, it would be
			// written again by the next one.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
			err := s.checkpoint(cctx, s.tasks)
			cancel()
			if err != nil {
				return err
			}
			s.lastCkpt = time.Now()
			s.publishStateSize()
			s.purge(ctx)
			if s.p.status().State == stateRetrying {
				s.p.setState(stateRunning, nil) // recovered from a restart
			}
		}
	}
}

// purge deletes, every Config.RepartitionPurgeInterval, the records of
// the tasks' repartition partitions before their committed offsets: the
// stage never reads them again (a restart resumes from the committed
// offsets, a new owner from the group's), so the internal topic holds
// what is in flight, not its retention's worth of input. Best effort: a
// failure is logged and the next interval tries again.
func (s *aggStage) purge(ctx context.Context) {
	every := s.p.engine.cfg.RepartitionPurgeInterval
	if every <= 0 {
		every = defaultPurgeInterval
	}
	if time.Since(s.lastPurge) < every {
		return
	}
	s.lastPurge = time.Now()
	var offsets []transport.PartitionOffset
	for _, t := range s.tasks {
		if t.committed > 0 {
			offsets = append(offsets, transport.PartitionOffset{
				TopicPartition: transport.TopicPartition{Topic: s.st.repartition, Partition: t.partition}, Offset: t.committed})
		}
	}
	if len(offsets) == 0 {
		return
	}
	if err := s.p.engine.cfg.Transport.DeleteRecords(ctx, offsets); err != nil && ctx.Err() == nil {
		s.p.logger.Warn("purging the repartition topic; retrying at the next interval", "err", err)
	}
}

// publishStateSize sets the state metrics from the tasks' operators.
func (s *aggStage) publishStateSize() {
	var memory, evicted int64
	for _, t := range s.tasks {
		m, e := t.state().Memory()
		memory, evicted = memory+m, evicted+int64(e)
	}
	s.memory.Store(memory)
	s.evicted.Store(evicted)
	memory, evicted = 0, 0
	for st := s.p.stateful; st != nil; st = st.next {
		memory, evicted = memory+st.stage.memory.Load(), evicted+st.stage.evicted.Load()
	}
	s.p.stats.stateMemory.Store(memory)
	s.p.stats.stateEvicted.Store(evicted)
}

// teardown closes the consumer and forgets the tasks (their state is in
// their stores and changelog). After a failure the tasks are dropped
// first, without the checkpoint Close's OnRevoked would make: a failed
// checkpoint leaves operators that no longer match their stores, and
// results that may have been written; they are rebuilt and recomputed
// from the last checkpoint.
func (s *aggStage) teardown(failed bool) {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if failed {
		for part, t := range s.tasks {
			s.closeTask(ctx, t)
			delete(s.tasks, part)
		}
	}
	if s.consumer != nil {
		if err := s.consumer.Close(ctx); err != nil {
			s.p.logger.Debug("closing the aggregate stage's consumer", "err", err)
		}
		s.consumer = nil
	}
	for part, t := range s.tasks {
		s.closeTask(ctx, t)
		delete(s.tasks, part)
	}
	s.assignErr = nil
}

func (s *aggStage) closeTask(ctx context.Context, t *aggTask) {
	if t.txn != nil {
		_ = t.txn.Close(ctx)
	}
	if err := t.store.Close(); err != nil {
		s.p.logger.Warn("closing a state store", "partition", t.partition, "err", err)
	}
}

func (s *aggStage) onAssigned(ctx context.Context, tps []transport.TopicPartition) {
	for _, tp := range tps {
		if tp.Topic != s.st.repartition || s.tasks[tp.Partition] != nil || s.assignErr != nil {
			continue
		}
		t, err := s.openTask(ctx, tp.Partition)
		if err != nil {
			s.assignErr = fmt.Errorf("restoring the state of partition %d: %w", tp.Partition, err)
			return
		}
		s.tasks[tp.Partition] = t
	}
	s.publishStateSize()
}

func (s *aggStage) onRevoked(ctx context.Context, tps []transport.TopicPartition) {
	revoked := map[int32]*aggTask{}
	for _, tp := range tps {
		if t := s.tasks[tp.Partition]; tp.Topic == s.st.repartition && t != nil {
			revoked[tp.Partition] = t
		}
	}
	if err := s.checkpoint(ctx, revoked); err != nil {
		s.p.logger.Warn("checkpoint on revoke failed; the next owner starts from the last checkpoint", "err", err)
	}
	for part, t := range revoked {
		s.closeTask(ctx, t)
		delete(s.tasks, part)
	}
}

// openTask opens a partition's store, brings it up to date from the
// changelog and loads it into a new operator. With exactly-once it first
// takes the partition's transactional id, which aborts a former owner's
// open transaction so the changelog can be read to its end.
func (s *aggStage) openTask(ctx context.Context, part int32) (*aggTask, error) {
	tr := s.p.engine.cfg.Transport
	t := &aggTask{partition: part, wms: eventtime.NewWatermarks(s.st.idle), next: -1, committed: -1,
		updates: map[string]*aggregate.Result{}, savedWM: map[int32]int64{}, firedWM: eventtime.NoWatermark,
		chainedWM: eventtime.NoWatermark, pendingWM: eventtime.NoWatermark}
	// A later join's left side is the join before's tasks: never idle,
	// as no stage's is (newNextStage); its stream's partitions may be.
	t.wms.KeepActive(s.st.leftOrigins)
	var err error
	if s.st.exactlyOnce {
		if t.txn, err = tr.NewTxnProducer(ctx, s.txnID(part)); err != nil {
			return nil, err
		}
	}
	store, err := state.Open(filepath.Join(s.st.stateDir, strconv.Itoa(int(part))), state.WithMemTableSize(storeMemTable(s.st.stateMemory)))
	if err != nil {
		return nil, errors.Join(err, s.closeTxn(ctx, t))
	}
	t.store = store
	fail := func(err error) (*aggTask, error) {
		return nil, errors.Join(err, s.closeTxn(ctx, t), store.Close())
	}
	if s.st.join != nil {
		t.join = newJoinTask(s.st, store)
		t.join.tables = s.p.newJoinStates(s.st.join.Tables)
	}
	switch {
	case s.st.topn != nil:
		t.topn = newTopNTask(s.st)
	case s.st.agg != nil:
		// The operator holds what fits in its memory budget; the rest of
		// its state stays in the store, read back when needed.
		aggs := aggFuncs(s.st.agg)
		if s.st.retract {
			aggs = append(aggs, rowCount) // the group's rows: gone at zero
		}
		op, err := aggregate.New(aggregate.Spec{Window: s.st.agg.Window, Aggs: aggs, Retract: s.st.retract,
			Spill: store, MaxMemory: s.st.stateMemory, Early: s.st.early > 0})
		if err != nil {
			return fail(err)
		}
		t.op = op
		t.args, t.keys = make(types.Row, len(aggs)), make(types.Row, len(s.st.agg.Keys))
		if next := s.st.next; next != nil && next.retract {
			t.before = map[string]*aggregate.Result{}
		}
	}
	op := t.state()
	start := time.Now()
	stats, err := store.Restore(ctx, tr, transport.TopicPartition{Topic: s.st.changelog, Partition: part})
	if err != nil {
		return fail(err)
	}
	loaded := 0
	now := time.Now()
	if err := store.Scan(func(k, v []byte) error {
		loaded++
		if origin, ok := originWatermarkKey(k); ok {
			wm, n := binary.Varint(v)
			if n <= 0 {
				return fmt.Errorf("origin watermark %x: %w", v, aggregate.ErrCorruptState)
			}
			if wm == endOfInput {
				return nil // that run's end: a later run's origins start afresh (Expect below)
			}
			t.wms.Observe(origin, wm, now)
			t.savedWM[origin] = wm
			return nil
		}

		return op.Load(k, v)
	}); err != nil {
		return fail(fmt.Errorf("loading state: %w", err))
	}
	for origin := range s.st.origins {
		t.wms.Expect(origin, now)
	}
	if t.join != nil {
		t.join.op.Evict() // loading stopped holding rows at the budget; the rest within it
	}
	mem, evicted := op.Memory()
	s.p.logger.Info("aggregate task restored", "partition", part, "entries", loaded,
		"changelog_records", stats.Records, "took", time.Since(start).Round(time.Millisecond),
		"state_memory_bytes", mem, "entries_left_on_disk", evicted)
	return t, nil
}

func (s *aggStage) closeTxn(ctx context.Context, t *aggTask) error {
	if t.txn == nil {
		return nil
	}
	return t.txn.Close(ctx)
}

func (s *aggStage) txnID(part int32) string {
	return s.st.group + "-" + strconv.Itoa(int(part))
}

// fold adds polled records to their tasks' groups. A record that is
// not what a shuffle task writes (the topic is open to any producer), or
// that an aggregate cannot fold, is dead-lettered and skipped: it must
// neither crash the worker nor stop the partition. A failure to read
// state back from a task's store fails the stage, which rebuilds it.
func (s *aggStage) fold(recs []*transport.Record) error {
	now := time.Now()
	for _, r := range recs {
		t := s.tasks[r.Partition]
		if t == nil {
			continue // revoked meanwhile
		}
		t.next = r.Offset + 1
		if len(r.Headers) > 0 && r.Headers[0].Key == headerWatermark {
			origin, wm, err := readPunctuation(r.Headers[0].Value)
			if err == nil && (origin < 0 || origin >= s.st.origins) {
				err = fmt.Errorf("%w: punctuation of origin %d; the sources have %d partitions", errMalformedRepartition, origin, s.st.origins)
			}
			if err != nil {
				s.refuse(t, r, stageRepartition, err)
				continue
			}
			t.wms.Observe(origin, wm, now)
			continue
		}
		if t.join != nil {
			if err := s.foldJoin(t, r); err != nil {
				return fmt.Errorf("partition %d: %w", t.partition, err)
			}
			continue
		}
		if t.topn != nil {
			s.foldTopN(t, r)
			continue
		}
		sh, err := s.decodeShuffled(r, t)
		if err != nil {
			s.refuse(t, r, stageRepartition, err)
			continue
		}
		s.p.stats.aggregated.Add(1)
		if t.before != nil {
			if err := t.keepBefore(string(r.Key)); err != nil {
				return fmt.Errorf("partition %d: %w", t.partition, err)
			}
		}
		var res *aggregate.Result
		retract := isRetraction(r)
		if retract && !s.st.retract {
			s.refuse(t, r, stageRepartition, fmt.Errorf("%w: a retraction for a stage whose input takes nothing back", errMalformedRepartition))
			continue
		}
		switch w := s.st.agg.Window; {
		case retract:
			res, err = t.op.Retract(string(r.Key), t.args)
		case w != nil && w.Kind == eventtime.Given: // a session's row, by its window
			span, werr := givenWindow(r, sh.ts)
			if werr != nil {
				s.refuse(t, r, stageRepartition, werr)
				continue
			}
			err = t.op.AddWindow(string(r.Key), span, t.args)
		default:
			res, err = t.op.Add(string(r.Key), sh.ts, t.args)
		}
		switch {
		case errors.Is(err, aggregate.ErrSpill):
			return fmt.Errorf("partition %d: %w", t.partition, err)
		case errors.Is(err, aggregate.ErrLate):
			s.p.stats.late.Add(1)
			if s.late != nil {
				if rec, err := s.lateRecord(r, sh, t.args); err == nil {
					t.late = append(t.late, rec)
				}
			}
		case err != nil:
			// An aggregate that cannot fold the value (a sum out of
			// range): the event cannot count.
			s.p.logger.Warn("an event could not be aggregated; dead-lettered", "err", err, "origin_partition", sh.origin.Partition, "origin_offset", sh.origin.Offset)
			s.refuse(t, r, stageAggregate, err)
		case res != nil:
			t.updates[res.Key] = res
		}
	}
	return nil
}

// keepBefore remembers key's group row as the last checkpoint left it,
// the first time the group changes after it: the row the next stage will
// take back.
func (t *aggTask) keepBefore(key string) error {
	if _, kept := t.before[key]; kept {
		return nil
	}
	cur, err := t.op.Current(key)
	if errors.Is(err, aggregate.ErrSpill) {
		return err
	}
	// A row that cannot be computed (an aggregate out of range) was not
	// sent when it was new either: there is nothing to take back.
	t.before[key] = cur
	return nil
}

// decodeShuffled decodes a repartition record's value into t.args and
// checks it against the plan: a group key and arguments of the query's
// types (an accumulator trusts its argument's type), an event time whose
// windows have bounds.
func (s *aggStage) decodeShuffled(r *transport.Record, t *aggTask) (shuffled, error) {
	agg := s.st.agg
	sh, err := readShuffled(r.Value, t.args[:len(agg.Aggs)]) // a retracting stage's row count takes no argument
	if err != nil {
		return sh, err
	}
	for i, a := range agg.Aggs {
		if v := t.args[i]; a.Arg != nil && !v.IsNull() && v.Kind() != a.Agg.Arg {
			return sh, fmt.Errorf("%w: argument of %s is %s, not %s", errMalformedRepartition, a.Text, v.Kind(), a.Agg.Arg)
		}
	}
	rest, err := types.ReadBinaryRow(r.Key, t.keys)
	if err != nil || len(rest) != 0 {
		return sh, fmt.Errorf("%w: group key %x", errMalformedRepartition, r.Key)
	}
	for i, k := range agg.Keys {
		if v := t.keys[i]; !v.IsNull() && v.Kind() != k.Type {
			return sh, fmt.Errorf("%w: group key %s is %s, not %s", errMalformedRepartition, k.Name, v.Kind(), k.Type)
		}
	}
	if agg.Window != nil {
		if err := checkEventTime(agg.Window, sh.ts); err != nil {
			return sh, err
		}
	}
	return sh, nil
}

// refuse dead-letters a repartition record at the task's next checkpoint.
func (s *aggStage) refuse(t *aggTask, r *transport.Record, stage string, err error) {
	code := stageErrorCode(stage)
	if te := (*types.Error)(nil); errors.As(err, &te) && te.Code != "" {
		code = te.Code
	}
	s.p.errors.add(code, 1)
	t.dead = append(t.dead, connector.Output{Key: r.Key, Value: r.Value, Timestamp: r.Timestamp,
		Headers: append(slices.Clip(r.Headers),
			transport.Header{Key: HeaderError, Value: []byte(err.Error())},
			transport.Header{Key: HeaderErrorCode, Value: []byte(code)},
			transport.Header{Key: HeaderStage, Value: []byte(stage)},
			transport.Header{Key: HeaderPipeline, Value: []byte(s.p.plan.Name)},
			transport.Header{Key: HeaderTopic, Value: []byte(r.Topic)},
			transport.Header{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
			transport.Header{Key: HeaderOffset, Value: strconv.AppendInt(nil, r.Offset, 10)},
			transport.Header{Key: HeaderAttempts, Value: []byte("1")})})
}

// fire emits the windows each task's watermark closed.
func (s *aggStage) fire(now time.Time) error {
	if !s.st.waitsForWatermark() {
		return nil
	}
	low := int64(math.MaxInt64)
	defer func() {
		// The results' watermark: the last stage's that waits for one.
		if low != math.MaxInt64 && (s.st.next == nil || !s.st.next.waitsForWatermark()) {
			s.p.stats.watermark.Store(low)
		}
	}()
	for _, t := range s.tasks {
		wm := t.wms.Current(now)
		low = min(low, wm)
		t.firedWM = max(t.firedWM, wm)
		if t.join != nil {
			if err := t.expireJoin(s.st.join, wm); err != nil {
				return fmt.Errorf("partition %d: %w", t.partition, err)
			}
			continue
		}
		if t.topn != nil {
			t.fireTopN(s.st, wm, s.p.logger)
			continue
		}
		res, err := t.op.Fire(wm)
		if errors.Is(err, aggregate.ErrSpill) {
			return fmt.Errorf("partition %d: %w", t.partition, err)
		}
		if err != nil {
			s.p.logger.Warn("a window's result could not be computed; it is dropped", "partition", t.partition, "err", err)
		}
		t.fired = append(t.fired, res...)
	}
	return nil
}

// early adds the current rows of the open windows that changed since
// the last early results to each task's results: the next checkpoint
// writes them, as upserts of the windows' rows (emit.early).
func (s *aggStage) early() {
	for _, t := range s.tasks {
		res, err := t.op.Early()
		if err != nil {
			s.p.logger.Warn("a window's early result could not be computed", "partition", t.partition, "err", err)
		}
		t.fired = append(t.fired, res...)
	}
}

// checkpoint writes, per task with anything new, the results, the state
// changes and the input offsets — in one transaction with exactly-once —
// and then commits the changes to the task's store.
func (s *aggStage) checkpoint(ctx context.Context, tasks map[int32]*aggTask) error {
	for _, t := range tasks {
		if err := s.checkpointTask(ctx, t); err != nil {
			return fmt.Errorf("checkpoint of partition %d: %w", t.partition, err)
		}
	}
	return nil
}

func (s *aggStage) checkpointTask(ctx context.Context, t *aggTask) error {
	// The results carry the last input offset the checkpoint covers: a
	// sink that skips what it applied before a crash (postgres) compares
	// it, and a replay recomputes the same results up to it. Windows that
	// fire with no new input (an origin went idle) would carry the offset
	// of the checkpoint before, which the sink holds, and be skipped:
	// they carry the watermark they fired at instead, under a name of
	// their own. A replay fires them again at that watermark or a later
	// one; the final rows of windows are the same.
	origin := connector.Origin{Topic: s.st.repartition, Partition: t.partition, Offset: max(t.next, t.committed) - 1}
	if t.next <= t.committed {
		origin = connector.Origin{Topic: s.st.repartition + idleResultsSuffix, Partition: t.partition, Offset: t.firedWM}
	}
	out := newResultWriter(s.p, origin)
	out.dead = append(out.dead, t.dead...)
	next := s.st.next
	for i := range t.fired {
		switch {
		case next == nil:
			out.add(&t.fired[i])
		case next.topn != nil:
			s.chainWindow(t, out, &t.fired[i])
		default:
			s.chainClosed(t, out, &t.fired[i])
		}
	}
	if t.join != nil && t.op != nil {
		for _, r := range t.join.out { // an outer side's rows without a partner
			if err := s.aggregateJoined(t, out, r.row, false); err != nil {
				return err
			}
		}
	}
	// In key order, not the map's: the results share one origin, and a
	// sink names each by its place among them (postgres' rejections, the
	// http sink's Idempotency-Key), which a replay must give it again.
	for _, key := range slices.Sorted(maps.Keys(t.updates)) {
		r := t.updates[key]
		if t.before != nil {
			s.chainUpdate(t, out, t.before[key], r)
		} else {
			out.add(r)
		}
	}
	if t.join != nil && t.op == nil {
		for _, r := range t.join.out {
			if !s.lookupJoined(t, out, r.row) {
				continue
			}
			switch next := s.st.next; {
			case next != nil && next.join != nil:
				s.chainPairs(t, out, &r)
			case next != nil && next.topn != nil:
				s.chainRankedJoined(t, out, &r)
			case next != nil:
				s.chainJoined(t, out, r.row, r.ts, r.retract)
			default:
				out.addJoined(r.row, r.ts, r.retract)
			}
		}
	}
	// The watermark goes after the rows of the windows it closed (and
	// after the pairs a window join found before it moved).
	if next != nil && (next.topn != nil || next.join != nil || next.agg != nil && next.agg.Window != nil) {
		s.chainWatermark(t)
	}
	if tt := t.topn; tt != nil {
		if err := t.updatesTopN(s.st); err != nil {
			return err
		}
		for i := range tt.out {
			r := &tt.out[i]
			if rest, err := types.ReadBinaryRow([]byte(r.key), tt.keys); err != nil || len(rest) != 0 {
				return fmt.Errorf("%w: a stored partition key does not decode", topn.ErrCorruptState)
			}
			out.addRanked(r, tt.keys)
		}
	}
	ckpt := t.store.NewCheckpoint(transport.TopicPartition{Topic: s.st.changelog, Partition: t.partition})
	if err := writeChanges(t.state(), ckpt); err != nil {
		ckpt.Discard()
		return err
	}
	if err := t.saveWatermarks(ckpt, s.st.origins); err != nil {
		ckpt.Discard()
		return err
	}
	changelog := ckpt.Records()
	if len(changelog) == 0 && len(out.outputs) == 0 && len(out.dead) == 0 && len(t.late) == 0 && len(t.chained) == 0 && t.next <= t.committed {
		ckpt.Discard()
		return nil
	}
	offsets := []transport.PartitionOffset{{TopicPartition: transport.TopicPartition{Topic: s.st.repartition, Partition: t.partition}, Offset: t.next}}
	if t.next < 0 { // nothing read: only fired windows (a watermark moved by idleness)
		offsets = nil
	}
	records := append(append(slices.Clip(changelog), t.late...), t.chained...)
	var err error
	if s.st.exactlyOnce {
		err = s.commitTxn(ctx, t, out, records, offsets)
	} else {
		err = s.commitPlain(ctx, out, records, offsets)
	}
	if err != nil {
		ckpt.Discard()
		return err
	}
	if err := t.store.Commit(ckpt); err != nil {
		return err
	}
	// The store holds every change now: what is past the memory budget
	// can leave memory.
	if t.op != nil {
		t.op.Evict()
	}
	if t.join != nil {
		t.join.op.Evict()
	}
	s.p.stats.out.Add(int64(len(out.outputs)))
	if s.st.exactlyOnce {
		s.p.stats.dead.Add(int64(len(out.dead))) // commitPlain's write counts its own
	}
	t.committed = t.next
	t.fired, t.late = t.fired[:0], t.late[:0]
	if t.chained != nil {
		clear(t.chained)
		t.chained = t.chained[:0]
		t.chainedWM = max(t.chainedWM, t.pendingWM)
	}
	if t.join != nil {
		clear(t.join.out)
		t.join.out = t.join.out[:0]
	}
	if t.topn != nil {
		clear(t.topn.out)
		t.topn.out = t.topn.out[:0]
	}
	clear(t.dead)
	t.dead = t.dead[:0]
	clear(t.updates)
	clear(t.before)
	return nil
}

// commitPlain writes outputs, then state changes and late events, then
// commits the offsets: a crash in between replays what the state may
// already hold (at-least-once).
func (s *aggStage) commitPlain(ctx context.Context, out *resultWriter, records []*transport.Record, offsets []transport.PartitionOffset) error {
	if err := out.write(ctx); err != nil {
		return err
	}
	tr := s.p.engine.cfg.Transport
	if len(records) > 0 {
		if err := tr.Produce(ctx, records); err != nil {
			return err
		}
	}
	if offsets == nil {
		return nil
	}
	return s.consumer.Commit(ctx, offsets)
}

// commitTxn writes everything in one transaction with the offsets. A sink
// that is not a topic gets its outputs first (idempotent upserts for
// postgres, duplicates possible for others); the dead letters, those it
// rejected among them, go in the transaction.
func (s *aggStage) commitTxn(ctx context.Context, t *aggTask, out *resultWriter, records []*transport.Record, offsets []transport.PartitionOffset) error {
	if out.topic == "" {
		if err := out.writeSink(ctx); err != nil {
			return err
		}
	} else {
		records = append(records, out.records()...)
	}
	records = append(records, out.deadRecords()...)
	if err := t.txn.Begin(ctx); err != nil {
		return err
	}
	if len(records) > 0 {
		if err := t.txn.Produce(ctx, records); err != nil {
			return errors.Join(err, t.txn.Abort(ctx))
		}
	}
	return t.txn.Commit(ctx, s.st.group, offsets)
}

// lateColumns are the columns of a late event written to the late topic:
// the group keys, the event time, the aggregates' arguments (argN for the
// Nth aggregate; count(*) has none), the origin.
func lateColumns(st *stateful) []format.Column {
	var cols []format.Column
	for _, k := range st.agg.Keys {
		cols = append(cols, format.Column{Name: k.Name, Type: k.Type})
	}
	cols = append(cols, format.Column{Name: "event_time", Type: types.KindTimestampTZ})
	for i, a := range st.agg.Aggs {
		if a.Arg != nil {
			cols = append(cols, format.Column{Name: "arg" + strconv.Itoa(i), Type: a.Agg.Arg})
		}
	}
	return append(cols,
		format.Column{Name: "origin_partition", Type: types.KindInt4},
		format.Column{Name: "origin_offset", Type: types.KindInt8})
}

func (s *aggStage) lateRecord(r *transport.Record, sh shuffled, args types.Row) (*transport.Record, error) {
	row := make(types.Row, 0, len(s.st.agg.Keys)+len(args)+3)
	keys := make(types.Row, len(s.st.agg.Keys))
	if _, err := types.ReadBinaryRow(r.Key, keys); err != nil {
		return nil, err
	}
	row = append(row, keys...)
	row = append(row, types.NewTimestampTZ(sh.ts))
	for i, a := range s.st.agg.Aggs {
		if a.Arg != nil {
			row = append(row, args[i])
		}
	}
	in, partition := s.p.inputOf(sh.origin.Partition)
	row = append(row, types.NewInt4(partition), types.NewInt8(sh.origin.Offset))
	value, err := s.late.Encode(nil, row)
	if err != nil {
		return nil, err
	}
	return &transport.Record{Topic: s.st.lateTopic, Partition: -1, Key: r.Key, Value: value, Timestamp: time.UnixMicro(sh.ts),
		Headers: []transport.Header{{Key: HeaderPipeline, Value: []byte(s.p.plan.Name)},
			{Key: HeaderTopic, Value: []byte(in.def.Name)},
			{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(partition), 10)},
			{Key: HeaderOffset, Value: strconv.AppendInt(nil, sh.origin.Offset, 10)}}}, nil
}

// aggFuncs are the aggregate functions of an aggregation, in order.
func aggFuncs(agg *plan.Aggregation) []expr.Aggregate {
	out := make([]expr.Aggregate, len(agg.Aggs))
	for i, a := range agg.Aggs {
		out[i] = a.Agg
	}
	return out
}
