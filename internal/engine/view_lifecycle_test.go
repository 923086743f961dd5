package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/transport"
)

// viewTopics lists the views' topics in n's log (the transport does not
// list internal topics).
func viewTopics(t *testing.T, n *node) []string {
	t.Helper()
	var out []string
	for _, topic := range n.log.Topics() {
		if strings.HasPrefix(topic.Name(), internalTopicPrefix+"view.") {
			out = append(out, topic.Name())
		}
	}
	return out
}

// A CREATE MATERIALIZED VIEW whose pipeline cannot start leaves nothing
// behind: no catalog entry, no pipeline, no topic.
func TestViewCreateFailureLeavesNothing(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE absent (user_id int, amount bigint) WITH (connector = 'topic', topic = 'absent', topic.create = 'false')`)
	if _, err := e.Execute(context.Background(), "CREATE MATERIALIZED VIEW v AS SELECT user_id, count(*) AS n FROM absent GROUP BY user_id", ExecOptions{}); err == nil {
		t.Fatal("a view over a missing topic was created")
	}
	if _, ok := e.catalog.Get("v"); ok {
		t.Fatal("the failed view is in the catalog")
	}
	if topics := viewTopics(t, n); len(topics) != 0 {
		t.Fatalf("the failed view left its topic: %v", topics)
	}
}

// DROP of a view the catalog holds but that does not run (it could not
// be restored) still deletes its topic.
func TestDropViewNotRunning(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	ctx := context.Background()
	if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: "fragile", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	e := openEngine(t, n)
	mustExec(t, e, `CREATE SOURCE fragile (user_id int, amount bigint) WITH (connector = 'topic', topic = 'fragile', topic.create = 'false')`)
	mustExec(t, e, "CREATE MATERIALIZED VIEW v AS SELECT user_id, count(*) AS n FROM fragile GROUP BY user_id")
	closeEngine(t, e)
	if err := n.tr.DeleteTopic(ctx, "fragile"); err != nil {
		t.Fatal(err)
	}
	e = openEngine(t, n) // v cannot be restored: its source's topic is gone
	defer closeEngine(t, e)
	if _, ok := e.View("v"); ok {
		t.Fatal("v runs without its source's topic")
	}
	if topics := viewTopics(t, n); len(topics) != 1 {
		t.Fatalf("view topics before DROP: %v", topics)
	}
	mustExec(t, e, "DROP MATERIALIZED VIEW v")
	if topics := viewTopics(t, n); len(topics) != 0 {
		t.Fatalf("DROP left the view's topic: %v", topics)
	}
}

// A table opened for a pipeline that was removed meanwhile (the engine
// closed while CREATE loaded it) is closed, not left reading for ever.
func TestOpenViewAfterRemoval(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	ctx := context.Background()
	e := openEngine(t, n)
	mustExec(t, e, clicksSource)
	mustExec(t, e, "CREATE MATERIALIZED VIEW v AS SELECT user_id, count(*) AS n FROM clicks GROUP BY user_id")
	e.mu.Lock()
	p := e.mu.pipelines["v"]
	e.mu.Unlock()
	closeEngine(t, e)
	if err := e.openView(ctx, p); err == nil {
		t.Error("a view opened after the engine closed")
	}
	e.mu.Lock()
	leaked := p.view
	e.mu.Unlock()
	if leaked != nil {
		_ = leaked.Close(ctx)
		t.Fatal("a table was left reading after the engine closed")
	}
}

// noViewReaders is a transport on which views' tables cannot be opened.
type noViewReaders struct{ transport.Transport }

func (t noViewReaders) NewConsumer(ctx context.Context, o transport.ConsumerOptions) (transport.Consumer, error) {
	if strings.HasPrefix(o.Group, "__tide-view-reader-") {
		return nil, errors.New("no view readers here")
	}
	return t.Transport.NewConsumer(ctx, o)
}

// A view whose table cannot be opened does not run its pipeline either,
// neither created (nor its topic left) nor restored.
func TestViewTableFailure(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	mustExec(t, e, clicksSource)
	mustExec(t, e, "CREATE MATERIALIZED VIEW v AS SELECT user_id, count(*) AS n FROM clicks GROUP BY user_id")
	closeEngine(t, e)

	e = openEngineWith(t, n, func(c *Config) { c.Transport = noViewReaders{n.tr} })
	defer closeEngine(t, e)
	e.mu.Lock()
	_, running := e.mu.pipelines["v"]
	e.mu.Unlock()
	if running {
		t.Error("v's pipeline runs after a restore that could not open its table")
	}
	if _, err := e.Execute(context.Background(), "CREATE MATERIALIZED VIEW w AS SELECT user_id, count(*) AS n FROM clicks GROUP BY user_id", ExecOptions{}); err == nil {
		t.Fatal("w was created without its table")
	}
	e.mu.Lock()
	_, running = e.mu.pipelines["w"]
	e.mu.Unlock()
	if _, ok := e.catalog.Get("w"); ok || running {
		t.Errorf("the failed view w: in the catalog %v, running %v", ok, running)
	}
	if topics := viewTopics(t, n); len(topics) != 1 {
		t.Errorf("view topics: %v, want v's only", topics)
	}
}
