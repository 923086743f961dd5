package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// tide view prints a view's rows as a table (one with --key), its JSON
// with --json, and with --watch the rows and then each change.
func TestViewCommand(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.sql(t, "", "-c", `CREATE SOURCE orders (id bigint, customer text, amount integer) WITH (connector = 'topic', topic = 'orders');
		CREATE MATERIALIZED VIEW spend AS SELECT customer, count(*) AS n, sum(amount) AS total FROM orders GROUP BY customer;`).ok(t)
	b := runInBackground("view", "spend", "--url", ts.sqlURL(), "--watch")
	waitFor(t, "the empty view's snapshot", func() bool { return strings.Contains(b.stdout.String(), "-- 0 rows; changes follow --") })
	ts.tide(t, `{"id":1,"customer":"ann","amount":5}
{"id":2,"customer":"bo","amount":7}
{"id":3,"customer":"ann","amount":1}
`, "produce", "orders").ok(t)
	var r result
	waitFor(t, "both customers in tide view", func() bool {
		r = tide(t, "", "view", "spend", "--url", ts.sqlURL()).ok(t)
		rows := table(r.stdout, 1)
		return len(rows["ann"]) == 3 && rows["ann"][1] == "2" && rows["ann"][2] == "6" && len(rows["bo"]) == 3
	})
	if !strings.HasPrefix(r.stdout, "CUSTOMER") || !strings.HasSuffix(r.stdout, "(2 rows)\n") {
		t.Errorf("table:\n%s", r.stdout)
	}
	if out := tide(t, "", "view", "spend", "--url", ts.sqlURL(), "--key", "bo").ok(t).stdout; !strings.Contains(out, "bo ") || strings.Contains(out, "ann") {
		t.Errorf("--key bo:\n%s", out)
	}
	var doc map[string]any
	if out := tide(t, "", "view", "spend", "--url", ts.sqlURL(), "--json", "--limit", "1").ok(t).stdout; json.Unmarshal([]byte(out), &doc) != nil || len(doc["rows"].([]any)) != 1 {
		t.Errorf("--json --limit 1: %s", out)
	}
	waitFor(t, "the watched changes", func() bool {
		out := b.stdout.String()
		return strings.Contains(out, `upsert ann {"customer":"ann","n":2,"total":6}`) && strings.Contains(out, `upsert bo {"customer":"bo","n":1,"total":7}`)
	})
	if r := b.stop(t); r.code != 0 {
		t.Errorf("--watch exit %d, stderr %q", r.code, r.stderr)
	}
	if r := tide(t, "", "view", "nowhere", "--url", ts.sqlURL()); r.code == 0 || !strings.Contains(r.stderr, "no materialized view") {
		t.Errorf("a missing view: %d %q", r.code, r.stderr)
	}
}

// A NULL column shows as null, not as an empty string.
func TestViewCellText(t *testing.T) {
	for raw, want := range map[string]string{`null`: "null", ``: "null", `"ann"`: "ann", `""`: "", `12.5`: "12.5", `{"a":1}`: `{"a":1}`} {
		if got := cellText(json.RawMessage(raw)); got != want {
			t.Errorf("cellText(%s) = %q, want %q", raw, got, want)
		}
	}
}
