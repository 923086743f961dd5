package parser

import "testing"

// TestOverRoundTrip: calls with OVER clauses, after the special call
// syntaxes too, format to text that parses to the same tree.
func TestOverRoundTrip(t *testing.T) {
	for _, src := range []string{
		`"position"(a, b) OVER (ORDER BY c)`,
		`"substring"(a, 1) OVER (ORDER BY c)`,
		`"overlay"(a, b) OVER ()`,
		`"trim"(a) OVER ()`,
		`"extract"(a) OVER ()`,
		`"coalesce"(a) OVER ()`,
		`f(a) OVER (ORDER BY desc)`,
		`f(a) OVER (ORDER BY "desc" DESC NULLS FIRST)`,
		`f(a) OVER (ORDER BY nulls)`,
		`f(a) OVER (PARTITION BY a, b ORDER BY x IS NULL DESC NULLS LAST, y)`,
		`f(a) OVER (ORDER BY a BETWEEN b AND c)`,
		`f(a) OVER (ORDER BY CASE WHEN a THEN b END DESC)`,
		`f(a) OVER (ORDER BY a COLLATE)`,
		`f(a) FILTER (WHERE x) OVER ()`,
		`f(a) OVER () OVER ()`,
		`f(a) OVER (ORDER BY x) :: int`,
		`-f(a) OVER ()`,
		`f(a) OVER (ORDER BY - x asc)`,
	} {
		if err := checkRoundTrip(src, true); err != nil {
			t.Error(err)
		}
		if err := checkRoundTrip("SELECT "+src+" FROM t", false); err != nil {
			t.Error(err)
		}
	}
}
