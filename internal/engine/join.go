package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tide-data/tide/internal/catalog"
	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/view"
)

// A stream-to-table join (plan.Join): every worker tails the table's
// topic into memory (a view.Table indexed by the primary key's value),
// and each task looks up the event's key there and decodes the row into
// its own row, after the source's columns, before WHERE — so filters,
// projections and GROUP BY see the joined row. Lookups are as of when
// the event is processed, as in Kafka Streams' stream-GlobalKTable join:
// a replay after a crash joins with the table as it is then.

// stageJoin is the dead-letter stage of a row the join failed on.
const stageJoin = "join"

// checkJoin refuses a table whose topic Tide cannot tail.
func checkJoin(j *plan.Join) error {
	if j == nil {
		return nil
	}
	if j.Table.Connector != "topic" && j.Table.Connector != "http" {
		return fmt.Errorf("table %s is a %s source: a join reads a table from its topic (connector 'topic' or 'http')", j.Table.Name, j.Table.Connector)
	}
	return nil
}

// openJoinTables loads each table a pipeline's queries join — its own,
// a UNION ALL's, a fed one's — and keeps them up to date. Each join has a reader
// of its own: its key's type decides how the table is indexed
// (Join.IndexKey).
func (e *Engine) openJoinTables(ctx context.Context, p *pipeline) error {
	for _, j := range p.plan.TableJoins() {
		t, err := e.openJoinTable(ctx, p, j)
		if err != nil {
			p.closeJoinTables(ctx)
			return err
		}
		if p.joinTables == nil {
			p.joinTables = map[*plan.Join]*view.Table{}
		}
		p.joinTables[j] = t
	}
	return nil
}

// openJoinTable starts tailing a join's table.
func (e *Engine) openJoinTable(ctx context.Context, p *pipeline, j *plan.Join) (*view.Table, error) {
	if err := checkJoin(j); err != nil {
		return nil, err
	}
	fmtName, fmtOpts, rest := splitFormatOptions(j.Table.Options)
	cols := sourceColumns(j.Table)
	env := e.formatEnv(j.Table.Name, rest)
	dec, err := format.NewDecoder(fmtName, cols, fmtOpts, env)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", j.Table.Name, err)
	}
	row := make(types.Row, len(cols))
	index := func(_, value []byte) (string, error) {
		// The tailer's own decoder: it runs on the table's goroutine.
		if err := dec.Decode(value, row); err != nil {
			return "", err
		}
		if err := coerceTableRow(j, row); err != nil {
			return "", err // a row the table cannot hold is skipped
		}
		k := row[j.TableKey]
		if j.IndexKey != nil { // compared in the event key's wider type
			var err error
			if k, err = j.IndexKey.Eval(row); err != nil {
				return "", err
			}
		}
		if k.IsNull() {
			return "", errors.New("its primary key is NULL")
		}
		return string(types.AppendGroupKey(nil, k)), nil
	}
	// A missing topic is created, as the topic source does for its own
	// (topic.create, default true): the table is empty until rows come.
	if !strings.EqualFold(strings.TrimSpace(rest["topic.create"]), "false") {
		parts := int32(1)
		if n, err := strconv.Atoi(strings.TrimSpace(rest["topic.partitions"])); err == nil && n > 0 {
			parts = int32(n)
		}
		err := e.cfg.Transport.CreateTopic(ctx, transport.TopicSpec{Name: rest["topic"], Partitions: parts})
		if err != nil && !errors.Is(err, transport.ErrTopicExists) {
			return nil, fmt.Errorf("table %s: %w", j.Table.Name, err)
		}
	}
	group := "__tide-join-reader-" + e.cfg.WorkerID + "-" + catalog.NewID()[:8]
	t, err := view.OpenIndexed(ctx, e.cfg.Transport, rest["topic"], group, p.logger.With("table", j.Table.Name), index)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", j.Table.Name, err)
	}
	return t, nil
}

// closeJoinTables stops tailing the pipeline's tables.
func (p *pipeline) closeJoinTables(ctx context.Context) {
	for _, t := range p.joinTables {
		if err := t.Close(ctx); err != nil {
			p.logger.Warn("closing a joined table's reader", "err", err)
		}
	}
	p.joinTables = nil
}

// joinState is a task's part of a join: the table, its own decoder for
// the table's rows, and a buffer for the lookup key.
type joinState struct {
	j     *plan.Join
	table *view.Table
	dec   format.Decoder
	key   []byte
}

// newJoinStates are a task's join states for the tables of a chain,
// first's on, in order; none for a nil first.
func (p *pipeline) newJoinStates(first *plan.Join) []*joinState {
	var out []*joinState
	for j := range first.Joins() {
		fmtName, fmtOpts, rest := splitFormatOptions(j.Table.Options)
		// Checked when the table was opened.
		dec, _ := format.NewDecoder(fmtName, sourceColumns(j.Table), fmtOpts, p.engine.formatEnv(j.Table.Name, rest))
		out = append(out, &joinState{j: j, table: p.joinTables[j], dec: dec})
	}
	return out
}

// join fills the table's columns of row from the row of the event's key.
// found false is an event an inner join drops.
func (js *joinState) join(row types.Row) (found bool, err error) {
	j := js.j
	k, err := j.Key.Eval(row)
	if err != nil {
		return false, err
	}
	cols := row[j.Offset : j.Offset+len(j.Table.Columns)]
	if !k.IsNull() {
		js.key = types.AppendGroupKey(js.key[:0], k)
		if v, ok := js.table.Get(js.key); ok {
			err := js.dec.Decode(v, cols)
			if err == nil {
				err = coerceTableRow(j, cols)
			}
			if err != nil {
				return false, fmt.Errorf("the row of %s in table %s: %w", strings.TrimSpace(k.String()), j.Table.Name, err)
			}
			return true, nil
		}
	}
	if !j.Left {
		return false, nil
	}
	for i, c := range j.Table.Columns {
		cols[i] = types.Null(c.Type)
	}
	return true, nil
}

// coerceTableRow applies the table's declared column types to a decoded
// row, as a task does to its source's (numeric(10, 2) rounds; NOT NULL
// holds), so the joined columns are what reading the table's topic as a
// source gives. The tailer skips a row that fails; a task then never
// finds it failing.
func coerceTableRow(j *plan.Join, row types.Row) error {
	for i, c := range j.Table.Columns {
		if c.Coerce != nil {
			v, err := c.Coerce.Eval(row)
			if err != nil {
				return fmt.Errorf("column %q: %w", c.Name, err)
			}
			row[i] = v
		}
		if c.NotNull && row[i].IsNull() {
			return &types.Error{Code: "23502", Message: "null value in column \"" + c.Name + "\" violates not-null constraint"}
		}
	}
	return nil
}
