package engine

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/transport"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	const source = `CREATE SOURCE clicks (user_id bigint NOT NULL, url text, ts timestamp NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'topic', topic = 'clicks')`
	const sink = `CREATE SINK pages WITH (connector = 'topic', topic = 'pages', dlq.topic = 'bad_clicks') AS SELECT url, user_id + 1 AS next_user FROM clicks WHERE url IS NOT NULL`
	mustExec(t, e, source+";\n"+sink)

	res := mustExec(t, e, "DESCRIBE clicks")[0]
	want := [][]string{{"user_id", "bigint", "NOT NULL"}, {"url", "text", ""}, {"ts", "timestamp without time zone", "NOT NULL WATERMARK AS ts - INTERVAL '5' SECOND"}}
	if !slices.Equal(res.Columns, []string{"column", "type", "detail"}) || !equalRows(res.Rows, want) {
		t.Errorf("DESCRIBE source: %v %v, want rows %v", res.Columns, res.Rows, want)
	}
	if res.Message != "source clicks (topic)\n"+source {
		t.Errorf("DESCRIBE source message %q", res.Message)
	}

	produceClicks := []*transport.Record{
		{Topic: "clicks", Partition: 0, Value: []byte(`{"user_id":1,"url":"/a","ts":"2026-11-26 10:00:00"}`)},
		{Topic: "clicks", Partition: 0, Value: []byte(`{"user_id":2,"url":null,"ts":"2026-11-26 10:00:00"}`)},
		{Topic: "clicks", Partition: 0, Value: []byte(`{"user_id":3,"url":"/c"}`)},
	}
	if err := n.tr.Produce(context.Background(), produceClicks); err != nil {
		t.Fatal(err)
	}
	readAll(t, n.tr, "pages", 1)
	readAll(t, n.tr, "bad_clicks", 1)
	var msg string
	waitFor(t, "DESCRIBE to count every record", func() bool {
		res = mustExec(t, e, "DESCRIBE pages")[0]
		msg = res.Message
		return strings.Contains(msg, "in 3, out 1, filtered 1, dead-lettered 1")
	})
	if !equalRows(res.Rows, [][]string{{"url", "text", "url"}, {"next_user", "bigint", "user_id + 1"}}) {
		t.Errorf("DESCRIBE sink rows %v", res.Rows)
	}
	re := regexp.MustCompile(`^sink pages: running; group tide-sink-pages-[0-9a-f]{16}; in 3, out 1, filtered 1, dead-lettered 1 to bad_clicks\n`)
	if !re.MatchString(msg) || !strings.HasSuffix(msg, "\n"+sink) {
		t.Errorf("DESCRIBE sink message %q", msg)
	}
}

func equalRows(a, b [][]string) bool {
	return slices.EqualFunc(a, b, slices.Equal[[]string])
}

func TestShowTopicsAndExplainSelect(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, ordersSource+`CREATE SINK copy WITH (connector = 'topic', topic = 'copy', topic.partitions = '4') AS SELECT id FROM orders;`)
	res := mustExec(t, e, "SHOW TOPICS")[0]
	// Internal topics (the catalog, group offsets) are not listed; the
	// source's topic was created when the pipeline started.
	if want := [][]string{{"copy", "4"}, {"copy.dlq", "1"}, {"orders", "1"}}; !equalRows(res.Rows, want) || !slices.Equal(res.Columns, []string{"name", "partitions"}) {
		t.Errorf("SHOW TOPICS: %v %v, want %v", res.Columns, res.Rows, want)
	}
	// EXPLAIN SELECT plans the query without creating anything.
	res = mustExec(t, e, "EXPLAIN SELECT id * 2 AS twice FROM orders WHERE amount > 1")[0]
	plan := make([]string, len(res.Rows))
	for i, r := range res.Rows {
		plan[i] = r[0]
	}
	want := []string{
		"Sink (query) (connector = 'stdout')",
		"  key: input key",
		"└─ Project id * 2 AS twice :: bigint",
		"   └─ Filter amount > 1",
		"      └─ Source orders (connector = 'topic', topic = 'orders'; one task per input partition)",
	}
	if !slices.Equal(plan, want) {
		t.Errorf("EXPLAIN SELECT:\n%s\nwant:\n%s", strings.Join(plan, "\n"), strings.Join(want, "\n"))
	}
	if res := mustExec(t, e, "SHOW SINKS"); len(res[0].Rows) != 1 {
		t.Errorf("EXPLAIN created a sink: %v", res[0].Rows)
	}
}

// TestFailedCreateSinkIsUndone creates a sink whose source topic is
// missing (topic.create = 'false'): the CREATE fails, leaves nothing in
// the catalog, and succeeds once the topic exists.
func TestFailedCreateSinkIsUndone(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE strict (a integer) WITH (connector = 'topic', topic = 'absent', topic.create = 'false')`)
	const sink = `CREATE SINK k WITH (connector = 'topic', topic = 'k') AS SELECT a FROM strict`
	_, ee := execError(t, e, sink, ExecOptions{})
	if ee.Code != CodeInvalid || !strings.Contains(ee.Message, `source topic "absent"`) {
		t.Errorf("[%s] %s", ee.Code, ee.Message)
	}
	if _, ok := e.catalog.Get("k"); ok {
		t.Error("the failed sink stays in the catalog")
	}
	if res := mustExec(t, e, "SHOW SINKS"); len(res[0].Rows) != 0 {
		t.Errorf("SHOW SINKS: %v", res[0].Rows)
	}
	if err := n.tr.CreateTopic(context.Background(), transport.TopicSpec{Name: "absent", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, e, sink)
	if showRow(t, e, "SINKS", "k") == nil {
		t.Error("the retried sink is not running")
	}
}

// TestErrorPositionsInScripts checks that the engine's own errors, like
// the parser's, give positions in the whole submitted text, not in the
// failing statement.
func TestErrorPositionsInScripts(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, ordersSource+`CREATE SINK copy WITH (connector = 'blackhole') AS SELECT id FROM orders;`)
	for _, c := range []struct {
		sql, code, pos, message string
	}{
		{"SHOW SINKS;\n  SELECT 1", CodeNotSupported, "2:3", "line 2:3: ad-hoc SELECT is not supported yet"},
		{"SHOW SINKS; DROP SINK nothing", CodeNotFound, "1:13", `sink "nothing" does not exist`},
		{"SHOW SINKS;\nSHOW SOURCES;\n\n   DROP SOURCE orders", CodeDependent, "4:4", "cannot drop source orders because sink copy reads it"},
		{"SHOW SINKS;\nDESCRIBE nothing", CodeNotFound, "2:1", `"nothing" does not exist`},
		{"SHOW SINKS;\nCREATE SOURCE x (a int) WITH (connector = 'topic', topic = 'x', bogus = '1')", CodeInvalid, "2:1", "line 2:1: source x: "},
	} {
		_, ee := execError(t, e, c.sql, ExecOptions{})
		if ee.Code != c.code || ee.Pos.String() != c.pos || !strings.HasPrefix(ee.Message, c.message) {
			t.Errorf("%q: [%s] at %s %q; want [%s] at %s %q", c.sql, ee.Code, ee.Pos, ee.Message, c.code, c.pos, c.message)
		}
	}
}

// SHOW SINKS, DESCRIBE and EXPLAIN never print a secret option or a URL's
// password (the catalog, an internal topic, keeps the statement as written).
func TestSecretsAreRedacted(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	sink := `CREATE SINK h WITH (connector = 'http', url = 'http://user:hunter2@127.0.0.1:1/x', 'hmac.secret' = 'topsecret', 'max.attempts' = '1') AS SELECT a FROM s`
	mustExec(t, e, `CREATE SOURCE s (a int) WITH (connector = 'datagen', 'number-of-rows' = '1');`+sink)
	for _, stmt := range []string{"SHOW SINKS", "DESCRIBE h", "EXPLAIN " + sink} {
		res := mustExec(t, e, stmt)
		text := fmt.Sprint(res)
		if strings.Contains(text, "topsecret") || strings.Contains(text, "hunter2") {
			t.Errorf("%s shows a secret: %s", stmt, text)
		}
		if !strings.Contains(text, "****") {
			t.Errorf("%s does not show the redaction: %s", stmt, text)
		}
	}
}
