package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/ast"
)

// A subquery on the stream side of a join with a table merges into the
// join: its columns are what the outer query reads (a star too, before the
// table's), its WHERE filters; a name both sides have is ambiguous; a
// column it does not select does not exist; one that aggregates is
// refused.
func TestTableJoinSubquery(t *testing.T) {
	p, err := analyzeSink(t, sink+"SELECT * FROM (SELECT id, upper(customer) AS who FROM orders WHERE id > 0) o LEFT JOIN customers c ON o.who = c.name")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range p.Outputs {
		names = append(names, o.Name)
	}
	if p.Join == nil || !p.Join.Left || p.Filter != nil || p.Join.StreamFilterText != "o.id > 0" || strings.Join(names, ",") != "id,who,name,tier,since" || p.Join.KeyText != "upper(o.customer)" {
		t.Fatalf("join %+v, filter %v, outputs %v", p.Join, p.Filter != nil, names)
	}
	for _, c := range []struct{ sql, want string }{
		{"SELECT name FROM (SELECT id, customer AS name FROM orders) o JOIN customers c ON o.name = c.name", `column reference "name" is ambiguous`},
		{"SELECT o.amount FROM (SELECT id, customer FROM orders) o JOIN customers c ON o.customer = c.name", "column o.amount does not exist"},
		{"SELECT o.n FROM (SELECT customer, count(*) AS n FROM orders GROUP BY customer) o JOIN customers c ON o.customer = c.name", "must filter and project one source's rows"},
	} {
		_, err := analyzeSink(t, sink+c.sql)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.sql, err, c.want)
		}
	}
	_, err = analyzeSink(t, sink+"SELECT o.n FROM (SELECT customer, count(*) AS n FROM orders GROUP BY customer) o JOIN customers c ON o.customer = c.name")
	if !errors.Is(err, ErrNotSupported) {
		t.Errorf("an aggregating subquery: %v, want it refused as not supported", err)
	}
}

// A table whose column (id) a stream has too, and such a stream.
const sharedNameSources = testSources + `
CREATE SOURCE people (id bigint, name text, region text) WITH (connector = 'topic', topic = 'people', 'primary-key' = 'id');
CREATE SOURCE events (id bigint, who text, n bigint, at timestamptz, WATERMARK FOR at AS at) WITH (connector = 'topic', topic = 'events');
`

// The merged subquery's source has columns the subquery leaves out: they
// are not the query's (refused, as over the plain subquery), and a name
// only the table has among the query's columns is the table's; the
// subquery's alias must differ from the table's.
func TestTableJoinSubqueryScope(t *testing.T) {
	analyze := func(sql string) (*Pipeline, error) {
		return AnalyzeSink(parseOne(t, sink+sql).(*ast.CreateSink), catalogOf(t, sharedNameSources), sinkConnectors, testOptions)
	}
	for _, q := range []string{
		"SELECT amount FROM (SELECT id, customer FROM orders) o JOIN customers c ON o.customer = c.name",
		"SELECT o.id FROM (SELECT id, customer FROM orders) o JOIN customers c ON o.customer = c.name WHERE amount > 10",
		"SELECT e.who FROM (SELECT who FROM events) e JOIN people p ON n = p.id",
		"SELECT _offset FROM (SELECT id, customer FROM orders) o JOIN customers c ON o.customer = c.name",
	} {
		if _, err := analyze(q); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("%s\n  -> %v; want the left-out column refused as not existing", q, err)
		}
	}
	p, err := analyze("SELECT id, e.who FROM (SELECT who, n FROM events) e JOIN people p ON e.n = p.id")
	if err != nil {
		t.Fatalf("id, the table's alone among the query's columns: %v", err)
	}
	if p.Outputs[0].Text != "p.id" {
		t.Errorf("id is %s, want p.id", p.Outputs[0].Text)
	}
	if _, err := analyze("SELECT c.tier FROM (SELECT id, customer FROM orders) c JOIN customers c ON c.customer = c.name"); err == nil || !strings.Contains(err.Error(), "specified more than once") {
		t.Errorf("one alias for both: %v", err)
	}
}

// A subquery on the stream side of tables joined one after another merges
// into the first join (its WHERE before the lookups); a UNION ALL there
// runs the joins over each of its queries.
func TestSubqueryJoinedWithTables(t *testing.T) {
	const sources = testSources + `
CREATE SOURCE tiers (tier text, discount int) WITH (connector = 'topic', topic = 'tiers', 'primary-key' = 'tier');
`
	analyze := func(sql string) (*Pipeline, error) {
		return AnalyzeSink(parseOne(t, sink+sql).(*ast.CreateSink), catalogOf(t, sources), sinkConnectors, testOptions)
	}
	p, err := analyze("SELECT o.id, c.tier, discount FROM (SELECT id, upper(customer) AS who FROM orders WHERE id > 0) o JOIN customers c ON o.who = c.name LEFT JOIN tiers t ON c.tier = t.tier")
	if err != nil {
		t.Fatal(err)
	}
	if j := p.Join; j == nil || j.StreamFilterText != "o.id > 0" || j.KeyText != "upper(o.customer)" || j.Then == nil || j.Then.KeyText != "c.tier" || p.Outputs[2].Text != "t.discount" {
		t.Fatalf("joins %+v, outputs %+v", p.Join, p.Outputs)
	}
	p, err = analyze("SELECT u.id, discount FROM (SELECT id, customer AS who FROM orders UNION ALL SELECT user_id, url FROM clicks) u JOIN customers c ON u.who = c.name LEFT JOIN tiers t ON c.tier = t.tier")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Union) != 1 || p.Join == nil || p.Join.Then == nil || p.Union[0].Join == nil || p.Union[0].Join.Then == nil {
		t.Fatalf("%d later queries; joins %+v", len(p.Union), p.Join)
	}
}
