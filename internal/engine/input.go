package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/plan"
)

// sourceInput is one source a pipeline reads: its connector, format and
// consumer group. A pipeline reads one; a join of two streams
// (plan.StreamJoin) reads two, the right side second, each shuffled to
// the join stage.
type sourceInput struct {
	def  *plan.Source
	side int // 0; 1 for the right side of a stream join
	// stage is the join of two streams, in the chain of a join of more
	// (plan.StreamJoin.Chain), whose right side this input is: 0 for the
	// first join's sides, 1 for the third stream's, and so on.
	stage      int
	source     connector.Source
	format     string
	formatOpts map[string]string
	columns    []format.Column
	env        format.Env
	group      string
	// query is what its stateless tasks evaluate: the pipeline's plan,
	// or a query after UNION ALL (plan.Pipeline.Union).
	query *plan.Pipeline
	// feed is the query of a UNION ALL in FROM this input reads
	// (plan.Pipeline.Feeds): its tasks evaluate it over the source's row
	// into the union's row, which the aggregation's keys and arguments
	// read. Nil otherwise.
	feed *plan.Pipeline
	// union is the source of the union's columns a feed's row is: the
	// pipeline's Source, or the joined stream's when the feeds are a
	// join's right side.
	union *plan.Source
	// unionFilter is a feed's WHERE over the union's row: the pipeline's
	// (an aggregation's or a top-N's input), or a join's over the side
	// the union is.
	unionFilter *expr.Expr
	// tag names the input in its outputs' origins (connector.Origin.Input)
	// when it is a UNION ALL's later query reading what an earlier one
	// reads: "union1", "union2", ...
	tag string
	// filter is what a task applies after decoding: the query's WHERE,
	// or for a stream join the conditions on this side alone.
	filter *expr.Expr
	// firstOrigin numbers this input's partitions among the origins of a
	// stateful stage's watermarks: 0 for the first input, the first's
	// partition count for the second.
	firstOrigin int32
	partitions  int32 // at least 1
	idle        time.Duration
	lateTopic   string
	// connectorOpts are the connector options, without the format's and
	// the event-time ones, until the source is opened.
	connectorOpts map[string]string
}

// newSourceInput splits a source's options and checks its format.
func (e *Engine) newSourceInput(def *plan.Source, side int, group string) (*sourceInput, error) {
	in := &sourceInput{def: def, side: side, group: group, columns: sourceColumns(def), partitions: 1}
	in.format, in.formatOpts, in.connectorOpts = splitFormatOptions(def.Options)
	var err error
	if in.idle, in.lateTopic, err = sourceTimeOptions(in.connectorOpts); err != nil {
		return nil, err
	}
	// Each task makes its own decoder; this checks the format once.
	in.env = e.formatEnv(def.Name, in.connectorOpts)
	if _, err := format.NewDecoder(in.format, in.columns, in.formatOpts, in.env); err != nil {
		return nil, fmt.Errorf("source %s: %w", def.Name, err)
	}
	return in, nil
}

// sideInputs are the inputs of one side of a pipeline: 0, its Source's
// (the left side of a join of two streams), 1, the joined stream's. A
// fed side has one per query of its UNION ALL (or its one subquery), the
// first reading through the side's group, the others through
// <group>.union<N>, as a UNION ALL's queries do, each with the side's
// WHERE over the union's row; any other side one, filtered by filter.
func (e *Engine) sideInputs(pl *plan.Pipeline, j *plan.StreamJoin, side int, group string, filter *expr.Expr) ([]*sourceInput, error) {
	src, feeds := pl.Source, pl.Feeds
	if side == 1 {
		src, feeds = j.Right, j.RightFeeds
	}
	if len(feeds) == 0 {
		in, err := e.newSourceInput(src, side, group)
		if err != nil {
			return nil, err
		}
		in.filter, in.query = filter, pl
		return []*sourceInput{in}, nil
	}
	var inputs []*sourceInput
	for i, f := range feeds {
		g := group
		if i > 0 {
			g += ".union" + itoa(int64(i))
		}
		in, err := e.newSourceInput(f.Source, side, g)
		if err != nil {
			return nil, err
		}
		in.filter, in.query, in.feed, in.union, in.unionFilter = f.Filter, pl, f, src, filter
		inputs = append(inputs, in)
	}
	return inputs, nil
}

// sameStream reports whether two sources read the same records: the
// same topic, or the same source.
func sameStream(a, b *plan.Source) bool {
	if a.Name == b.Name {
		return true
	}
	ta, tb := a.Options["topic"], b.Options["topic"]
	return ta != "" && ta == tb && sourceReadsTopic(a.Connector) && sourceReadsTopic(b.Connector)
}

// inputOf returns the input a stateful stage's origin (one of its
// inputs' partitions, numbered after the inputs before it) comes from, and
// the partition it is there.
func (p *pipeline) inputOf(origin int32) (*sourceInput, int32) {
	return p.stageInputOf(p.stateful, origin)
}

// stageInputOf is inputOf for stage st, whose origins number its own
// inputs: nil for an origin that is a task of the join before (a join of
// more than two streams, whose later joins' left side is the pairs of
// the one before).
func (p *pipeline) stageInputOf(st *stateful, origin int32) (*sourceInput, int32) {
	if origin < st.leftOrigins {
		return nil, origin
	}
	for i := len(p.inputs) - 1; i > 0; i-- {
		if in := p.inputs[i]; in.stage == st.joinIndex && origin >= in.firstOrigin {
			return in, origin - in.firstOrigin
		}
	}
	return p.inputs[0], origin
}

// inputStage is the stage an input's shuffle tasks send to: the first,
// or for a later stream of a join of more than two, its join's.
func (p *pipeline) inputStage(in *sourceInput) *stateful {
	st := p.stateful
	for st != nil && st.joinIndex != in.stage {
		st = st.next
	}
	return st
}

// rowQuery is the query the input's tasks evaluate over each source
// row: its feed's, or its own; its joins with tables are looked up as
// each row is decoded.
func (in *sourceInput) rowQuery() *plan.Pipeline {
	if in.feed != nil {
		return in.feed
	}
	return in.query
}

// firstInput returns a side's first input: the one whose source's options
// (late.topic, the idle timeout) stand for a fed side's.
func (p *pipeline) firstInput(side int) *sourceInput {
	for _, in := range p.inputs {
		if in.side == side && in.stage == 0 {
			return in
		}
	}
	return nil
}

// open creates the input's connector.
func (in *sourceInput) open(env connector.Env, commitInterval time.Duration) error {
	opts := in.connectorOpts
	if _, ok := opts["commit.interval"]; !ok && in.def.Connector == "topic" && commitInterval > 0 {
		opts["commit.interval"] = commitInterval.String()
	}
	env.Group, env.Source = in.group, in.def.Name
	src, err := connector.NewSource(in.def.Connector, in.columns, opts, env)
	if err != nil {
		return fmt.Errorf("source %s: %w", in.def.Name, err)
	}
	in.source = src
	if ps, ok := src.(connector.PartitionedSource); ok && ps.Partitions() > 0 {
		in.partitions = ps.Partitions()
	}
	return nil
}

// closeInputs closes the inputs' connectors that are open.
func (p *pipeline) closeInputs(ctx context.Context) error {
	var errs []error
	for _, in := range p.inputs {
		if in.source != nil {
			errs = append(errs, in.source.Close(ctx))
		}
	}
	return errors.Join(errs...)
}
