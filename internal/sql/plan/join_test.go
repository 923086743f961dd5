package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/ast"
)

// A table's column named bare in GROUP BY is the same group key as the
// column qualified by the table's alias (Postgres resolves both to it),
// and an ungrouped table column is named with its own qualifier.
func TestJoinGroupByTableColumn(t *testing.T) {
	for _, sql := range []string{
		sink + "SELECT c.tier, count(*) FROM orders o JOIN customers c ON o.customer = c.name GROUP BY tier",
		sink + "SELECT tier, count(*) FROM orders o JOIN customers c ON o.customer = c.name GROUP BY c.tier",
		sink + "SELECT upper(c.tier) AS t, count(*) FROM orders o JOIN customers c ON o.customer = c.name GROUP BY upper(tier)",
	} {
		p := mustAnalyze(t, sql)
		if len(p.Aggregation.Keys) != 1 {
			t.Errorf("%s: keys %+v", sql, p.Aggregation.Keys)
		}
	}
	_, err := analyzeSink(t, sink+"SELECT c.since, count(*) FROM orders o JOIN customers c ON o.customer = c.name GROUP BY c.tier")
	if err == nil || !strings.Contains(err.Error(), `column "c.since" must appear in the GROUP BY clause`) {
		t.Errorf("ungrouped table column: %v", err)
	}
}

// Tables joined one after another: the second key may read the first
// table's columns, * is the stream's then each table's, a name two tables
// have is the first's bare (and twice in *, refused), an alias is used once, and a table joined to an
// updating join of two streams is refused.
func TestChainedTableJoinPlan(t *testing.T) {
	const sources = testSources + `
CREATE SOURCE tiers (tier text, discount int) WITH (connector = 'topic', topic = 'tiers', 'primary-key' = 'tier');
`
	analyze := func(sql string) (*Pipeline, error) {
		return AnalyzeSink(parseOne(t, sink+sql).(*ast.CreateSink), catalogOf(t, sources), sinkConnectors, testOptions)
	}
	p, err := analyze("SELECT o.*, c.*, t.discount FROM orders o JOIN customers c ON o.customer = c.name LEFT JOIN tiers t ON c.tier = t.tier")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range p.Outputs {
		names = append(names, o.Name)
	}
	if j := p.Join; j == nil || j.Then == nil || !j.Then.Left || j.Then.Offset != j.Offset+len(j.Table.Columns) || j.Then.KeyText != "c.tier" || j.Width() != 5 {
		t.Fatalf("joins %+v", p.Join)
	}
	if got := strings.Join(names[len(names)-4:], ","); got != "name,tier,since,discount" {
		t.Errorf("c.* and t.discount: %s", got)
	}
	if _, err := analyze("SELECT * FROM orders o JOIN customers c ON o.customer = c.name JOIN tiers t ON c.tier = t.tier"); err == nil || !strings.Contains(err.Error(), `"tier" appears more than once`) {
		t.Errorf("* of both tables, each with tier: %v", err)
	}
	// In a later join's ON, a bare name is the stream's or an earlier
	// table's (the side looked up); the same with the stream a subquery.
	p, err = analyze("SELECT discount FROM orders o JOIN customers c ON o.customer = c.name JOIN tiers t ON tier = t.tier")
	if err != nil || p.Join.Then.KeyText != "tier" || !p.Join.Then.Key.References(p.Join.Offset+1) {
		t.Errorf("bare tier: %v, key %s", err, p.Join.Then.KeyText)
	}
	p, err = analyze("SELECT discount FROM (SELECT id, customer FROM orders) o JOIN customers c ON o.customer = c.name JOIN tiers t ON tier = t.tier")
	if err != nil || p.Join.Then.KeyText != "c.tier" {
		t.Errorf("bare tier, the stream a subquery: %v", err)
	}
	for _, c := range []struct{ sql, want string }{
		{"SELECT o.id FROM orders o JOIN customers c ON o.customer = c.name JOIN tiers c ON c.tier = c.tier", "specified more than once"},
		{"SELECT o.id FROM orders o LEFT JOIN payments p ON o.id = p.order_id JOIN customers c ON o.customer = c.name KEY BY o.id", "without a time bound is not supported"},
		{"SELECT o.id FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' MINUTE JOIN customers p ON o.customer = p.name", "specified more than once"},
	} {
		if _, err := analyze(c.sql); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.sql, err, c.want)
		}
	}
}

// A table joined to a join of two streams' rows: looked up in the join's
// tasks, its columns after the right side's, its key over the joined
// row; WHERE's conjuncts that read it stay after the lookups.
func TestTableJoinedToStreamJoin(t *testing.T) {
	analyze := func(sql string) (*Pipeline, error) {
		return analyzeSink(t, sink+sql)
	}
	p, err := analyze("SELECT o.id, p.amount, c.tier FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' MINUTE " +
		"LEFT JOIN customers c ON o.customer = c.name WHERE c.tier <> 'gold' AND o.id > 0 AND (o.id > 5 OR c.tier IS NULL)")
	if err != nil {
		t.Fatal(err)
	}
	j := p.StreamJoin
	if j == nil || j.Tables == nil || j.Tables.Table.Name != "customers" || !j.Tables.Left || p.Join != nil {
		t.Fatalf("plan: stream join %+v", j)
	}
	if want := j.Offset + len(j.RightRow); j.Tables.Offset != want {
		t.Errorf("table columns at %d, want %d (after the right side's)", j.Tables.Offset, want)
	}
	if j.LeftFilterText != "o.id > 0" {
		t.Errorf("left filter %q, want only the conjunct over the left side", j.LeftFilterText)
	}
	if !strings.Contains(p.FilterText, "c.tier <> 'gold'") || !strings.Contains(p.FilterText, "c.tier IS NULL") {
		t.Errorf("filter after the lookups %q", p.FilterText)
	}
	if got := p.TableJoins(); len(got) != 1 || got[0] != j.Tables {
		t.Errorf("TableJoins %v", got)
	}
	p, err = analyze("SELECT p.*, c.* FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' MINUTE JOIN customers c ON o.customer = c.name")
	if err != nil {
		t.Fatal(err)
	}
	if n, want := len(p.Outputs), len(p.StreamJoin.Right.Columns)+len(p.StreamJoin.Tables.Table.Columns); n != want || p.Outputs[n-1].Name != "since" {
		t.Errorf("p.*, c.* has %d columns, want %d (the right stream's, then the table's)", n, want)
	}
}

// A top-N over a window joined with a table ranks the looked-up rows in
// their windows (the bounds after the table's columns); over a window of
// a subquery, it is refused.
func TestWindowTopNOverTableJoinPlan(t *testing.T) {
	const ranked = `SELECT window_start, tier, id FROM (
	  SELECT o.window_start, c.tier, o.id, ROW_NUMBER() OVER (PARTITION BY o.window_start, o.window_end, c.tier ORDER BY o.amount DESC) AS rn
	  FROM TUMBLE(TABLE %s, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o JOIN customers c ON o.customer = c.name) r
	WHERE rn <= 3`
	p, err := analyzeSink(t, sink+fmt.Sprintf(ranked, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Join == nil || p.TopN == nil || p.TopN.Window == nil {
		t.Fatalf("plan: join %v, top-N %+v", p.Join, p.TopN)
	}
	if !p.TopN.Partition[0].References(p.Join.Offset + p.Join.Width()) {
		t.Error("window_start is not the column after the table's")
	}
	_, err = analyzeSink(t, sink+fmt.Sprintf(ranked, "(SELECT id, customer, amount, placed_at FROM orders WHERE amount > 1)"))
	if err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("a window of a subquery joined with a table: %v", err)
	}
}
