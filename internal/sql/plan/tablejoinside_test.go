package plan

import (
	"errors"
	"strings"
	"testing"
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
	if p.Join == nil || !p.Join.Left || p.Filter == nil || strings.Join(names, ",") != "id,who,name,tier,since" || p.Join.KeyText != "upper(o.customer)" {
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
