package plan

import (
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

// A UNION ALL inside a subquery in FROM must not lose its later branches:
// a query that projects its rows runs over each of them.
func TestUnionInSubqueryNotDropped(t *testing.T) {
	p, err := analyzeSink(t, sink+"SELECT id FROM (SELECT id FROM orders UNION ALL SELECT order_id AS id FROM payments) u")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Union) != 1 || p.Source.Name != "orders" || p.Union[0].Source.Name != "payments" || p.Union[0].Outputs[0].Type != types.KindInt8 {
		t.Fatalf("source %s, %d later queries", p.Source.Name, len(p.Union))
	}
}

// Over a UNION ALL, the outer query reads the union's column names (the
// first query's) in every query: a later query's * named otherwise cannot
// be renamed and is refused; listed columns are renamed.
func TestRowByRowOverUnionNames(t *testing.T) {
	p, err := analyzeSink(t, sink+"SELECT upper(who) AS w FROM (SELECT customer AS who FROM orders UNION ALL SELECT url AS page FROM clicks) u WHERE who <> ''")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Union) != 1 || p.Union[0].Outputs[0].Name != "w" {
		t.Fatalf("%d later queries", len(p.Union))
	}
	_, err = analyzeSink(t, sink+"SELECT page FROM (SELECT id AS uid, customer AS page FROM orders UNION ALL SELECT * FROM clicks) u")
	if err == nil || !strings.Contains(err.Error(), "selects *") {
		t.Fatalf("a * named otherwise: %v", err)
	}
}

// Postgres types a NULL branch by the other branches: SELECT id ...
// UNION ALL SELECT NULL ... is bigint.
func TestUnionNullBranch(t *testing.T) {
	for _, q := range []string{
		"SELECT id FROM orders UNION ALL SELECT NULL FROM payments",
		"SELECT NULL AS id FROM payments UNION ALL SELECT id FROM orders",
	} {
		p, err := analyzeSink(t, sink+q)
		if err != nil {
			t.Errorf("%s: %v (Postgres: bigint)", q, err)
			continue
		}
		if got := p.Outputs[0].Type; got != types.KindInt8 {
			t.Errorf("%s: column type %s, want bigint", q, got)
		}
	}
}

// Postgres resolves an unknown-typed string literal to the other
// branch's type.
func TestUnionUnknownLiteral(t *testing.T) {
	q := "SELECT placed_at FROM orders UNION ALL SELECT '2024-01-01 00:00:00+00' FROM payments"
	p, err := analyzeSink(t, sink+q)
	if err != nil {
		t.Errorf("%s: %v (Postgres: timestamptz)", q, err)
		return
	}
	if got := p.Outputs[0].Type; got != types.KindTimestampTZ {
		t.Errorf("column type %s, want timestamptz", got)
	}
}

// Analysis must not rewrite the statement it is given.
func TestUnionDoesNotMutateAST(t *testing.T) {
	stmt := parseOne(t, sink+"SELECT id FROM orders UNION ALL SELECT order_id FROM payments").(*ast.CreateSink)
	before := ast.Format(stmt)
	if _, err := AnalyzeSink(stmt, catalogOf(t, testSources), sinkConnectors, testOptions); err != nil {
		t.Fatal(err)
	}
	if after := ast.Format(stmt); after != before {
		t.Errorf("AnalyzeSink rewrote its input:\nbefore %s\nafter  %s", before, after)
	}
}

func sourceNames(p *Pipeline) []string {
	var out []string
	for _, s := range p.Sources() {
		out = append(out, s.Name)
	}
	return out
}

// A query of a UNION ALL that is itself a query over a UNION ALL in FROM
// runs as that union's queries, spliced into the outer union (or the
// queries feeding an aggregation): none is dropped.
func TestNestedUnionsKeepEveryQuery(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want int // sources read
	}{
		// distributed union first, top-level UNION ALL after it: payments lost
		{`SELECT id FROM (SELECT id FROM orders UNION ALL SELECT order_id FROM payments) u UNION ALL SELECT user_id FROM clicks`, 3},
		// distributed union as a later top-level query: payments lost
		{`SELECT user_id FROM clicks UNION ALL SELECT id FROM (SELECT id FROM orders UNION ALL SELECT order_id FROM payments) u`, 3},
		// a union inside a query of the union in FROM: clicks lost
		{`SELECT id FROM (SELECT id FROM orders UNION ALL SELECT c FROM (SELECT order_id AS c FROM payments UNION ALL SELECT user_id FROM clicks) w) u`, 3},
		// same under a GROUP BY (feeds): payments lost, counts wrong
		{`SELECT who, count(*) AS n FROM (SELECT customer AS who FROM orders UNION ALL SELECT w FROM (SELECT url AS w FROM clicks UNION ALL SELECT 'p' FROM payments) x) u GROUP BY who`, 3},
	} {
		p, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'stdout') AS `+c.sql)
		if err != nil {
			t.Errorf("%s: %v", c.sql, err)
			continue
		}
		if got := sourceNames(p); len(got) != c.want {
			t.Errorf("%s\n  reads %v, want %d sources (a query of the union is silently dropped)\n%s", c.sql, got, c.want, p.Explain())
		}
	}
}

// A later query's names do not matter (Postgres names the union's columns
// by the first query: id, customer), also when one of them is a name the
// first gives another column.
func TestLaterQueryNamedLikeAnotherColumn(t *testing.T) {
	for _, sql := range []string{
		`SELECT id, customer FROM orders UNION ALL SELECT user_id AS customer, url FROM clicks`,
		`SELECT * FROM (SELECT id, customer FROM orders UNION ALL SELECT user_id AS customer, url FROM clicks) u`,
	} {
		if _, err := analyzeSinkSQL(t, `CREATE SINK s WITH (connector = 'stdout') AS `+sql); err != nil {
			t.Errorf("%s: %v", sql, err)
		}
	}
}
