package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tide-data/tide/internal/catalog"
	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/view"
)

// A materialized view is a sink Tide writes and serves itself: its
// pipeline writes the rows, keyed, to an internal compacted topic of one
// partition (__tide.view.<name>-<id>), and every worker keeps a
// view.Table that tails it, from which the HTTP API answers. The topic
// is the view's durable form: a restart, or another worker, rebuilds the
// table by reading it. One partition keeps every change in one order,
// which subscribers see.

// viewTopic is a view's topic; the creation's ID keeps a re-created
// view from seeing the rows of the one dropped before it.
func viewTopic(name, id string) string { return internalTopicPrefix + "view." + name + "-" + id }

// viewOptionsRefused are the options a view sets itself.
var viewOptionsRefused = []string{"connector", "topic", "format", "key.format"}

// viewSink turns CREATE MATERIALIZED VIEW into the sink that maintains
// it: a topic sink on the view's topic, in JSON, with the user's
// pipeline options (delivery.guarantee, checkpoint.interval, ...).
func viewSink(s *ast.CreateSink, id string) (*ast.CreateSink, error) {
	out := *s
	out.With = nil
	for _, o := range s.With {
		key := strings.ToLower(o.Key)
		for _, r := range viewOptionsRefused {
			if key == r || strings.HasPrefix(key, r+".") || strings.HasPrefix(key, "topic.") {
				return nil, &Error{Code: CodeInvalid, Pos: o.Pos, Message: fmt.Sprintf("line %s: a materialized view sets option '%s' itself", o.Pos, o.Key),
					Hint: "a view keeps its rows in a topic of its own, in JSON; its WITH takes pipeline options such as delivery.guarantee, checkpoint.interval, state.memory, emit.early"}
			}
		}
		out.With = append(out.With, o)
	}
	out.With = append(out.With,
		ast.Option{Key: "connector", Value: "topic"},
		ast.Option{Key: "topic", Value: viewTopic(string(s.Name), id)},
		ast.Option{Key: "topic.create", Value: "false"})
	return &out, nil
}

// checkView checks that a view's rows have keys: one row per key is
// what a view keeps.
func checkView(s *ast.CreateSink, p *plan.Pipeline) error {
	for i, q := range append([]*plan.Pipeline{p}, p.Union...) {
		if q.Aggregation != nil || q.TopN != nil || q.Key != nil {
			continue
		}
		which := ""
		if len(p.Union) > 0 {
			which = fmt.Sprintf(" (UNION ALL query %d)", i+1)
		}
		return &Error{Code: CodeInvalid, Pos: s.Pos, Message: fmt.Sprintf("line %s: view %s has no key%s: a view keeps one row per key", s.Pos, s.Name, which),
			Hint: "aggregate with GROUP BY (one row per group, or per group and window), or name the key with KEY BY expr (the latest row per key; in every query of a UNION ALL)"}
	}
	return nil
}

// createViewTopic makes a view's topic: compacted, one partition.
func (e *Engine) createViewTopic(ctx context.Context, topic string) error {
	err := e.cfg.Transport.CreateTopic(ctx, transport.TopicSpec{Name: topic, Partitions: 1, Configs: map[string]string{"cleanup.policy": "compact"}})
	if err != nil && !errors.Is(err, transport.ErrTopicExists) {
		return err
	}
	return nil
}

// openView starts serving a view whose pipeline p runs: its table reads
// the view's topic under a reader group of this worker's that never
// commits.
func (e *Engine) openView(ctx context.Context, p *pipeline) error {
	topic := viewTopic(p.entry.Name, p.entry.ID)
	group := "__tide-view-reader-" + e.cfg.WorkerID + "-" + catalog.NewID()[:8]
	t, err := view.Open(ctx, e.cfg.Transport, topic, group, e.logger.With("view", p.entry.Name))
	if err != nil {
		return err
	}
	e.mu.Lock() // View and Views read it under the engine's lock
	if e.mu.closed || e.mu.pipelines[p.entry.Name] != p {
		// Close (or a removal) ran while the table loaded and found no
		// table to close: it would read for ever.
		e.mu.Unlock()
		return errors.Join(fmt.Errorf("view %s: stopped while it opened", p.entry.Name), t.Close(ctx))
	}
	p.view = t
	e.mu.Unlock()
	return nil
}

// closeView stops serving p's view, if it is one.
func (p *pipeline) closeView(ctx context.Context) {
	e := p.engine
	e.mu.Lock()
	t := p.view
	p.view = nil
	e.mu.Unlock()
	if t == nil {
		return
	}
	if err := t.Close(ctx); err != nil {
		p.logger.Warn("closing a view's reader", "err", err)
	}
}

// dropView deletes a dropped view's topic: by its catalog entry, as a
// view that could not be restored has no pipeline.
func (e *Engine) dropView(ctx context.Context, entry catalog.Entry) error {
	if entry.Kind != ast.KindView {
		return nil
	}
	err := e.cfg.Transport.DeleteTopic(ctx, viewTopic(entry.Name, entry.ID))
	if errors.Is(err, transport.ErrTopicNotFound) {
		return nil
	}
	return err
}

// View is a materialized view as the HTTP API serves it.
type View struct {
	Name string
	// Columns are the view's columns, in order; a row's value is a JSON
	// object of them.
	Columns []format.Column
	Table   *view.Table
}

// View returns the materialized view called name.
func (e *Engine) View(name string) (View, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.mu.pipelines[name]
	if p == nil || p.view == nil {
		return View{}, false
	}
	return View{Name: name, Columns: p.outColumns, Table: p.view}, true
}

// Views returns the materialized views this worker serves, by name.
func (e *Engine) Views() []View {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []View
	for name, p := range e.mu.pipelines {
		if p.view != nil {
			out = append(out, View{Name: name, Columns: p.outColumns, Table: p.view})
		}
	}
	return out
}
