package engine

import (
	"context"
	"testing"
)

// POST /v1/query reads a view's stored rows back: SELECT * returns every
// row with its values, every type's edge values included.
func TestViewQueryTypes(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE things (id bigint, ts timestamptz, lt timestamp, d date, iv interval, n numeric, f double precision, b bytea, j json, t text)
		WITH (connector = 'topic', topic = 'things', topic.create = 'true')`)
	mustExec(t, e, `CREATE MATERIALIZED VIEW tv AS SELECT * FROM things KEY BY id`)
	produceRows(t, n.tr, "things", true,
		`{"id": 1, "ts": "2024-01-02T03:04:05Z", "lt": "2024-01-02 03:04:05", "d": "2024-02-29", "iv": "1 day 02:00:00", "n": 1.50, "f": 0.5, "b": "\\x00ff", "j": {"a": [1, 2]}, "t": "x"}`,
		`{"id": 2, "ts": "infinity", "lt": "-infinity", "d": "infinity", "n": "NaN", "f": "Infinity"}`,
		`{"id": 3, "d": "0044-03-15 BC", "lt": "0044-03-15 10:00:00 BC", "iv": "-1 years -2 mons +3 days -04:05:06.5"}`,
		`{"id": 4, "j": null, "t": null}`,
	)
	v, ok := e.View("tv")
	if !ok {
		t.Fatal("no view")
	}
	waitFor(t, "the view's rows", func() bool { return v.Table.Len() == 4 })
	for _, r := range v.Table.Rows(nil, 0) {
		t.Logf("view row %s: %s", r.Key, r.Value)
	}
	res, err := e.Query(context.Background(), "SELECT * FROM tv", 0)
	if err != nil {
		t.Fatalf("SELECT * FROM tv: %v", err)
	}
	rows := v.Table.Rows(nil, 0)
	if len(res.Rows) != len(rows) {
		t.Fatalf("%d rows, want %d", len(res.Rows), len(rows))
	}
	for i, r := range rows {
		if got := string(res.Rows[i]); got != string(r.Value) {
			t.Errorf("query row %s:\n got  %s\n want %s", r.Key, got, r.Value)
		}
	}
}
