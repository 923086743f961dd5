package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/transport"
)

// A pipeline with GROUP BY runs in two stages joined by an internal
// repartition topic, so that each group's state lives in one task
// whatever the input's partitioning (Kafka Streams and Flink do the same):
//
//	source partitions ──► shuffle tasks ──► __tide.<sink>-<id>.repartition ──► aggregate tasks ──► sink
//	 (decode, WHERE,       (one per source    (keyed by the group key,          (one per repartition
//	  keys, arguments,      partition)          one partition per task)           partition: state,
//	  event time)                                                                 windows, HAVING,
//	                                                                              SELECT)
//
// The shuffle tasks run in the pipeline's usual task machinery (task.go);
// the aggregate tasks in aggregate_stage.go, with their state in a pebble
// store mirrored to the changelog topic __tide.<sink>-<id>.changelog.
//
// A repartition record's key is the group key (types.AppendGroupKey of
// each key value); its value is
//
//	varint event time (µs) | varint origin partition | varint origin offset | argument values (types.AppendBinary)
//
// and a shuffle task that moved its partition's watermark sends a
// punctuation record to every repartition partition: no key, no value, a
// header tide.wm holding varint origin partition | varint watermark. An
// aggregate task's watermark is the minimum over the origins (source
// partitions) it heard from within the idle timeout (eventtime.Watermarks).

// Delivery guarantees, the sink option delivery.guarantee.
const (
	guaranteeAtLeastOnce = "at_least_once"
	guaranteeExactlyOnce = "exactly_once"
)

// headerWatermark marks a punctuation record of a repartition topic.
const headerWatermark = "tide.wm"

// Defaults of the stateful options.
const (
	defaultCheckpointInterval = 200 * time.Millisecond
	// defaultIdleTimeout is long on purpose: the aggregate stage takes a
	// silent source partition for idle, and a partition whose worker died
	// is silent too until another worker takes it over (the session
	// timeout, 10 s, plus a rebalance and a restore). Shorter, a window
	// could close before the dead worker's events are processed.
	defaultIdleTimeout = 60 * time.Second
	// defaultStateMemory is each aggregate task's: beyond it, state
	// lives in the task's store on disk.
	defaultStateMemory = 64 << 20
	// defaultPurgeInterval is Config.RepartitionPurgeInterval's default.
	defaultPurgeInterval = 30 * time.Second
)

// stateful is what a pipeline with an aggregation needs on top of a
// stateless one, worked out at start.
type stateful struct {
	query *plan.Pipeline
	agg   *plan.Aggregation
	join  *plan.StreamJoin // instead of agg: a join of two streams (join_stage.go)
	topn  *plan.TopN       // instead of agg: a top-N (topn_stage.go)
	// next is the stage the results go to instead of the sink: the
	// top-N over this stage's windows, the aggregation of its joined
	// rows or of its groups' rows (chain.go); nil for the last.
	next *stateful
	// retract marks an aggregation whose input takes back rows it
	// replaces: another's groups' rows (plan.Outer), or an updating
	// join's (its NULL-padded rows, at their first match).
	retract     bool
	repartition string // internal topic between the stages
	changelog   string // internal compacted topic of the aggregate state
	partitions  int32  // of both internal topics: the source's partitions (the larger of a join's two)
	// origins counts the inputs' partitions, whose watermarks the stage
	// follows: the source's, or both of a join's (the right's numbered
	// after the left's).
	origins int32
	// joinIndex is which join of a chain of joins of two streams the
	// stage runs (plan.StreamJoin.Chain): 0 for the first (and for any
	// stage that is not a join); leftOrigins, for a later one, the
	// origins that are the tasks of the join before, whose pairs are its
	// left side, numbered before its right side's input partitions.
	joinIndex   int
	leftOrigins int32
	group       string // the aggregate stage's consumer group
	exactlyOnce bool
	interval    time.Duration // between checkpoints of the aggregate stage
	stateMemory int64         // each aggregate and join operator's state in memory, at most (per task)
	early       time.Duration // between early results of open windows; 0: none
	ttl         time.Duration // a join's rows without a time bound stay this long in event time; 0: for ever
	idle        time.Duration // an origin silent this long stops holding the watermark
	lateTopic   string        // where late events go; "" drops them (counted)
	// joinLateTopics are a join's sides' late.topic options, "" for none.
	joinLateTopics [2]string
	stateDir       string // this pipeline's pebble stores, one per task
	// wmExpr is the source's WATERMARK expression when the window's time
	// column is the declared one; nil when it is _timestamp (the
	// watermark is then the largest record timestamp seen).
	wmExpr bool

	stage *aggStage
}

// waitsForWatermark reports whether the stage's work waits for the
// watermark: windows that close, a join's rows that expire, a top-N's
// partitions complete in event time.
func (st *stateful) waitsForWatermark() bool {
	return st.join != nil || st.agg != nil && st.agg.Window != nil || st.topn != nil && !st.topn.Updating()
}

// fused reports whether the stage's join tasks also aggregate the joined
// rows (plan.StreamJoin.Grouped): agg and join are both set.
func (st *stateful) fused() bool { return st.join != nil && st.agg != nil }

// statefulConfig is a stateful pipeline's sink options.
type statefulConfig struct {
	exactlyOnce bool
	interval    time.Duration // between checkpoints
	memory      int64         // the state each aggregate and join operator holds in memory, per task
	early       time.Duration // between early results of open windows; 0: none
	ttl         time.Duration // state.ttl of a join; 0: none
}

// statefulOptions takes the stateful pipeline options out of a sink's
// connector options.
func statefulOptions(opts map[string]string, pl *plan.Pipeline) (cfg statefulConfig, err error) {
	agg := pl.Aggregation
	if v, ok := opts["state.ttl"]; ok {
		delete(opts, "state.ttl")
		if pl.StreamJoin == nil {
			return cfg, errors.New("option 'state.ttl' applies to joins of two streams")
		}
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			return cfg, fmt.Errorf("option 'state.ttl' must be a positive duration such as '1h', not '%s'", v)
		}
		cfg.ttl = d
	}
	stateful := agg != nil || pl.StreamJoin != nil || pl.TopN != nil
	g, ok := opts["delivery.guarantee"]
	delete(opts, "delivery.guarantee")
	switch strings.ToLower(g) {
	case "", guaranteeAtLeastOnce, "at-least-once":
	case guaranteeExactlyOnce, "exactly-once":
		cfg.exactlyOnce = true
	default:
		return cfg, fmt.Errorf("option 'delivery.guarantee' must be 'at_least_once' or 'exactly_once', not '%s'", g)
	}
	if ok && cfg.exactlyOnce && !stateful {
		return cfg, errors.New("option 'delivery.guarantee' = 'exactly_once' applies to pipelines with GROUP BY, a join of two streams or a top-N for now; stateless pipelines are at-least-once")
	}
	cfg.interval = defaultCheckpointInterval
	if v, ok := opts["checkpoint.interval"]; ok {
		delete(opts, "checkpoint.interval")
		if !stateful {
			return cfg, errors.New("option 'checkpoint.interval' applies to pipelines with GROUP BY, a join of two streams or a top-N")
		}
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			return cfg, fmt.Errorf("option 'checkpoint.interval' must be a positive duration such as '200ms', not '%s'", v)
		}
		cfg.interval = d
	}
	cfg.memory = defaultStateMemory
	if v, ok := opts["state.memory"]; ok {
		delete(opts, "state.memory")
		if agg == nil && pl.StreamJoin == nil {
			return cfg, errors.New("option 'state.memory' applies to pipelines with GROUP BY or a join of two streams (a top-N's state is held in memory, and in its store)")
		}
		n, err := parseByteSize(v)
		if err != nil {
			return cfg, fmt.Errorf("option 'state.memory' must be a size such as '64MiB', '1GiB' or '0' (everything on disk), not '%s'", v)
		}
		cfg.memory = n
	}
	if v, ok := opts["emit.early"]; ok {
		delete(opts, "emit.early")
		if agg == nil || agg.Window == nil || agg.Window.Kind == eventtime.Session || pl.TopN != nil || pl.Outer != nil || pl.StreamJoin != nil {
			return cfg, errors.New("option 'emit.early' applies to GROUP BY over TUMBLE or HOP windows of a source (a GROUP BY without a window updates its rows already; SESSION windows have no early results yet; a top-N ranks final rows only; a GROUP BY over windows' rows or a window join's pairs aggregates them once)")
		}
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			return cfg, fmt.Errorf("option 'emit.early' must be a positive duration such as '5s', not '%s'", v)
		}
		cfg.early = d
	}
	return cfg, nil
}

// parseByteSize reads a size in bytes, with an optional binary (KiB,
// MiB, GiB) or decimal (kB, MB, GB) unit.
func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	units := map[string]int64{"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
		"kb": 1e3, "mb": 1e6, "gb": 1e9}
	unit, ok := units[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	return n * unit, nil
}

// sourceTimeOptions takes the event-time options out of a source's
// connector options: the idle timeout and the late-event topic.
func sourceTimeOptions(opts map[string]string) (idle time.Duration, lateTopic string, err error) {
	idle = defaultIdleTimeout
	if v, ok := opts["watermark.idle_timeout"]; ok {
		delete(opts, "watermark.idle_timeout")
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < 0 {
			return 0, "", fmt.Errorf("option 'watermark.idle_timeout' must be a duration such as '10s' ('0s': never idle), not '%s'", v)
		}
		idle = d
	}
	lateTopic = opts["late.topic"]
	delete(opts, "late.topic")
	return idle, lateTopic, nil
}

// updatingSinks are the connectors that apply a changelog (an updating
// GROUP BY's result): rows keyed by the group key, upserted; a NULL value
// deletes. Others append and would show every update as a new row.
var updatingSinks = map[string]bool{"topic": true, "postgres": true, "stdout": true, "blackhole": true}

// statefulOptionKeys are the sink options of stateful pipelines
// (statefulOptions).
var statefulOptionKeys = []string{"delivery.guarantee", "checkpoint.interval", "state.memory", "state.ttl", "emit.early"}

// checkStateful checks a stateful pipeline's options and sink.
func checkStateful(p *plan.Pipeline, sinkOpts map[string]string) error {
	cfg, err := statefulOptions(sinkOpts, p)
	if err != nil {
		return err
	}
	if p.StreamJoin != nil {
		if cfg.exactlyOnce && p.Connector != "topic" && p.Connector != "postgres" && p.Connector != "blackhole" {
			return fmt.Errorf("exactly-once delivery needs a topic sink (written in Kafka transactions) or a postgres sink (offsets in its transactions), not %s", p.Connector)
		}
		for _, src := range p.Sources() { // a fed side: each of its queries' sources
			if cfg.exactlyOnce && src.Connector != "topic" {
				return fmt.Errorf("exactly-once delivery needs topic sources (their offsets commit in the transaction), not %s (%s)", src.Connector, src.Name)
			}
		}
		// One watermark follows both sides' partitions, with one idle
		// timeout: the left source's, or a fed side's first query's. A
		// later stream of a join of more than two has its own in its
		// join's stage.
		var idle [2]time.Duration
		srcs := [2]*plan.Source{p.SideSources(0)[0], p.SideSources(1)[0]}
		if chain := p.StreamJoin.Chain(); len(chain) > 1 {
			srcs[1] = chain[0].Right // never fed: the plan refuses it
		}
		for side, src := range srcs {
			_, _, rest := splitFormatOptions(src.Options)
			d, _, err := sourceTimeOptions(rest)
			if err != nil {
				return err
			}
			idle[side] = d
		}
		if idle[0] != idle[1] {
			return fmt.Errorf("the sources of a join must have the same 'watermark.idle_timeout' (%s has %s, %s has %s)", srcs[0].Name, idle[0], srcs[1].Name, idle[1])
		}
		switch {
		case p.Aggregation != nil && p.Updating() && !updatingSinks[p.Connector]:
			return fmt.Errorf("a GROUP BY over a join produces an updating result (each group's row changes as pairs arrive), which the %s sink can only append; "+
				"write it to a topic (compacted, keyed by the group key) or to postgres", p.Connector)
		case p.Updating() && !updatingSinks[p.Connector]:
			return fmt.Errorf("an outer join without a time bound produces an updating result (a row without a partner is emitted at once and replaced when its first partner comes), which the %s sink can only append; "+
				"write it to a topic (compacted, keyed by KEY BY) or to postgres, or bound the join in ON to emit lonely rows once, final", p.Connector)
		}
		return nil
	}
	if p.TopN != nil {
		if p.Updating() && !updatingSinks[p.Connector] {
			return fmt.Errorf("a top-N without event time produces an updating result (each partition's rows change as rows arrive), which the %s sink can only append; "+
				"write it to a topic (compacted, keyed by the partition and row number) or to postgres, or partition by the source's event-time column to get final rows", p.Connector)
		}
	} else if p.Aggregation == nil {
		return nil
	}
	if cfg.early > 0 && !updatingSinks[p.Connector] {
		return fmt.Errorf("with 'emit.early' a window's row is written again each time it changes, until its final row, which the %s sink can only append; "+
			"write it to a topic (compacted, keyed by the group key and window) or to postgres (primary key: the group columns and window_start)", p.Connector)
	}
	if p.Updating() && !updatingSinks[p.Connector] {
		return fmt.Errorf("a GROUP BY without a window produces an updating result (each group's row changes as events arrive), which the %s sink can only append; "+
			"write it to a topic (compacted, keyed by the group key) or to postgres, or group by a window (TUMBLE, HOP, SESSION) to get final rows", p.Connector)
	}
	if cfg.exactlyOnce && p.Connector != "topic" && p.Connector != "postgres" && p.Connector != "blackhole" {
		return fmt.Errorf("exactly-once delivery needs a topic sink (written in Kafka transactions) or a postgres sink (offsets in its transactions), not %s", p.Connector)
	}
	for _, src := range p.Sources() {
		if cfg.exactlyOnce && src.Connector != "topic" {
			return fmt.Errorf("exactly-once delivery needs a topic source (its offsets commit in the transaction), not %s (%s)", src.Connector, src.Name)
		}
	}
	return nil
}

// internalTopicPrefix starts every topic Tide keeps for itself; Topics()
// hides them.
const internalTopicPrefix = "__tide."

func repartitionTopic(sink, id string) string {
	return internalTopicPrefix + sink + "-" + id + ".repartition"
}

func changelogTopic(sink, id string) string {
	return internalTopicPrefix + sink + "-" + id + ".changelog"
}

// setupStateful creates the internal topics and the state directory of a
// stateful pipeline; partitions is the source's partition count.
func (p *pipeline) setupStateful(ctx context.Context, st *stateful) error {
	tr := p.engine.cfg.Transport
	specs := []transport.TopicSpec{
		{Name: st.repartition, Partitions: st.partitions, Configs: map[string]string{"cleanup.policy": "delete", "retention.ms": "604800000"}},
		{Name: st.changelog, Partitions: st.partitions, Configs: map[string]string{"cleanup.policy": "compact"}},
	}
	for _, spec := range specs {
		err := tr.CreateTopic(ctx, spec)
		if errors.Is(err, transport.ErrTopicExists) {
			info, terr := existingTopic(ctx, tr, spec.Name)
			if terr != nil {
				return terr
			}
			if info.Partitions != spec.Partitions {
				return fmt.Errorf("internal topic %s has %d partitions, the source %d: a source that grew partitions needs the sink re-created", spec.Name, info.Partitions, spec.Partitions)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("creating internal topic %s: %w", spec.Name, err)
		}
	}
	for _, late := range append([]string{st.lateTopic}, st.joinLateTopics[:]...) {
		if late == "" {
			continue
		}
		if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: late}); err != nil && !errors.Is(err, transport.ErrTopicExists) {
			return fmt.Errorf("creating late-event topic %s: %w", late, err)
		}
	}
	return os.MkdirAll(st.stateDir, 0o755)
}

// existingTopic describes a topic CreateTopic said exists: on a Kafka
// cluster, another worker may have just created it and the metadata may
// not show it for a moment.
func existingTopic(ctx context.Context, tr transport.Transport, name string) (transport.TopicInfo, error) {
	for attempt := 0; ; attempt++ {
		info, err := tr.Topic(ctx, name)
		if !errors.Is(err, transport.ErrTopicNotFound) || attempt == 50 {
			return info, err
		}
		select {
		case <-ctx.Done():
			return info, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dropStateful deletes a dropped stateful pipeline's internal topics and
// local state.
func (p *pipeline) dropStateful(ctx context.Context) error {
	var errs []error
	for _, part := range p.parts {
		errs = append(errs, part.dropStateful(ctx))
	}
	if p.stateful == nil {
		return errors.Join(errs...)
	}
	tr := p.engine.cfg.Transport
	for st := range p.stages() {
		for _, t := range []string{st.repartition, st.changelog} {
			if err := tr.DeleteTopic(ctx, t); err != nil && !errors.Is(err, transport.ErrTopicNotFound) {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, os.RemoveAll(p.stateful.stateDir)) // the next stages' are in it
	return errors.Join(errs...)
}

// stages iterates over a stateful pipeline's stages, in order: one, or
// an aggregation and the top-N over its windows (chain.go).
func (p *pipeline) stages() iter.Seq[*stateful] {
	return func(yield func(*stateful) bool) {
		for st := p.stateful; st != nil; st = st.next {
			if !yield(st) {
				return
			}
		}
	}
}

// endOfInput is the watermark of an input that has ended: every window
// closes (Flink's MAX_WATERMARK at the end of a bounded source).
const endOfInput = math.MaxInt64

// finishStateful ends a bounded input: every origin's watermark moves
// to endOfInput, and it waits until the aggregate stage has committed
// everything in the repartition topic.
func (p *pipeline) finishStateful(ctx context.Context) error {
	for st := range p.stages() {
		// Also without a window: the punctuation is then each
		// partition's last record, which the stage commits past (a
		// transaction marker would leave its committed offset one short
		// of the end). A next stage hears of the end from the stage
		// before, once that has fired everything; this says it again.
		if err := p.punctuateEnd(ctx, st, 0, st.origins); err != nil {
			return err
		}
		if err := p.waitStage(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// waitStage waits until a stage has committed everything in its
// repartition topic.
func (p *pipeline) waitStage(ctx context.Context, st *stateful) error {
	tr := p.engine.cfg.Transport
	ends, err := tr.EndOffsets(ctx, st.repartition)
	if err != nil {
		return err
	}
	var offsets []transport.PartitionOffset
	for part, end := range ends {
		if end > 0 {
			offsets = append(offsets, transport.PartitionOffset{TopicPartition: transport.TopicPartition{Topic: st.repartition, Partition: part}, Offset: end})
		}
	}
	for {
		done, err := committedPast(ctx, tr, st.group, offsets)
		if err == nil && done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// endInput moves the watermarks of one ended input's partitions to
// endOfInput, while the other input of a join goes on.
func (p *pipeline) endInput(ctx context.Context, in *sourceInput) error {
	return p.punctuateEnd(ctx, p.inputStage(in), in.firstOrigin, in.firstOrigin+in.partitions)
}

// punctuateEnd sends every partition of a stage's repartition topic the
// end of time as the watermark of origins [from, to).
func (p *pipeline) punctuateEnd(ctx context.Context, st *stateful, from, to int32) error {
	var recs []*transport.Record
	for part := range st.partitions {
		for origin := from; origin < to; origin++ {
			recs = append(recs, &transport.Record{Topic: st.repartition, Partition: part,
				Headers: []transport.Header{{Key: headerWatermark, Value: appendPunctuation(nil, origin, endOfInput)}}})
		}
	}
	return p.engine.cfg.Transport.Produce(ctx, recs)
}

// stateDirFor is where a pipeline's stores live.
func (e *Engine) stateDirFor(sink, id string) string {
	return filepath.Join(e.stateDir, sink+"-"+id)
}

// groupPartition picks the repartition partition of a group key: the same
// on every worker and both transports.
func groupPartition(key []byte, partitions int32) int32 {
	h := fnv.New32a()
	h.Write(key)
	return int32(h.Sum32() % uint32(partitions))
}

// appendPunctuation appends a watermark punctuation's header value.
func appendPunctuation(dst []byte, origin int32, wm int64) []byte {
	return binary.AppendVarint(binary.AppendVarint(dst, int64(origin)), wm)
}

func readPunctuation(b []byte) (origin int32, wm int64, err error) {
	o, n := binary.Varint(b)
	if n <= 0 {
		return 0, 0, errMalformedRepartition
	}
	wm, m := binary.Varint(b[n:])
	if m <= 0 {
		return 0, 0, errMalformedRepartition
	}
	return int32(o), wm, nil
}

var errMalformedRepartition = errors.New("engine: malformed repartition record")

// idleResultsSuffix names, after the repartition topic, the origin of the
// results of a checkpoint without new input (aggregate_stage.go).
const idleResultsSuffix = "#watermark"

// checkEventTime refuses an event time whose windows' bounds do not fit
// in an int64 ('infinity', '-infinity' and times within a window's size
// of them): windows computed from it would wrap around, and a state
// holding one could not be loaded again.
func checkEventTime(w *eventtime.Spec, ts int64) error {
	span := w.Size
	if w.Kind == eventtime.Session {
		span = w.Gap
	}
	margin := saturatingAdd(saturatingAdd(span, span), max(w.Offset, -w.Offset))
	if ts > math.MinInt64+margin && ts < math.MaxInt64-margin {
		return nil
	}
	return &types.Error{Code: "22008", Message: "the window's time column is out of range (infinity?): the event has no window"}
}

func saturatingAdd(a, b int64) int64 { // a, b >= 0
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// shuffled is one decoded repartition record.
type shuffled struct {
	ts     int64
	origin connector.Origin
}

// readShuffled decodes a repartition value's header fields and its
// arguments into args.
func readShuffled(b []byte, args types.Row) (shuffled, error) {
	var s shuffled
	var n int
	var part int64
	if s.ts, n = binary.Varint(b); n <= 0 {
		return s, errMalformedRepartition
	}
	b = b[n:]
	if part, n = binary.Varint(b); n <= 0 {
		return s, errMalformedRepartition
	}
	b = b[n:]
	if s.origin.Offset, n = binary.Varint(b); n <= 0 {
		return s, errMalformedRepartition
	}
	s.origin.Partition = int32(part)
	rest, err := types.ReadBinaryRow(b[n:], args)
	if err != nil || len(rest) != 0 {
		return s, errMalformedRepartition
	}
	return s, nil
}

// updatingResult reports whether the pipeline's rows update earlier
// ones of the same key: a GROUP BY without a window, or windows with
// early results.
func (p *pipeline) updatingResult() bool {
	return p.plan.Updating() || (p.stateful != nil && p.stateful.early > 0)
}

// Bounds of a task store's memtable.
const (
	minStoreMemTable = 4 << 20
	maxStoreMemTable = 32 << 20
)

// storeMemTable is the memtable size of a task's store: half the task's
// state.memory, between 4 and 32 MiB (32 with the default 64 MiB). A
// join's rows that come and go within a memtable's span never reach the
// store's tables — their sets and single deletions meet in the memtable —
// and Nexmark q4's bids mostly do at 32 MiB, not at 4 (its compactions
// went from a fifth of its CPU to 4%; docs/BENCHMARKS.md).
func storeMemTable(stateMemory int64) uint64 {
	return uint64(min(max(stateMemory/2, minStoreMemTable), maxStoreMemTable))
}
