package plan

import (
	"testing"

	"github.com/tide-data/tide/internal/sql/ast"
)

const probeSources = testSources + `
CREATE SOURCE people (id bigint, name text, region text) WITH (connector = 'topic', topic = 'people', 'primary-key' = 'id');
CREATE SOURCE events (id bigint, who text, n bigint, at timestamptz, WATERMARK FOR at AS at) WITH (connector = 'topic', topic = 'events');
CREATE SOURCE moves (id bigint, who text, m bigint, at timestamptz, WATERMARK FOR at AS at) WITH (connector = 'topic', topic = 'moves');
`

func probeAnalyze(t *testing.T, sql string) (*Pipeline, error) {
	t.Helper()
	stmt := parseOne(t, sql).(*ast.CreateSink)
	return AnalyzeSink(stmt, catalogOf(t, probeSources), sinkConnectors, testOptions)
}

func TestProbe2Review(t *testing.T) {
	qs := []string{
		// table-join merge: unqualified 'id' is only the table's column in SQL
		"SELECT id FROM (SELECT who, n FROM events) e JOIN people p ON e.who = p.name",
		"SELECT id FROM events e JOIN people p ON e.who = p.name",
		"SELECT n FROM (SELECT who FROM events) e JOIN people p ON e.who = p.name",
		"SELECT e.who, p.region FROM (SELECT who FROM events WHERE n > 0) e JOIN people p ON who = name",
		// join key on a column not selected by subquery via ON unqualified
		"SELECT e.who FROM (SELECT who FROM events) e JOIN people p ON n = p.id",
		// stream join fed right
		"SELECT e.n, m.m FROM events e JOIN (SELECT id, m, at FROM moves WHERE m > 0) m ON e.id = m.id AND m.at BETWEEN e.at AND e.at + INTERVAL '1' MINUTE",
		"SELECT e.n, m.m FROM events e LEFT JOIN (SELECT id, m, at FROM moves WHERE m > 0) m ON e.id = m.id AND m.at BETWEEN e.at AND e.at + INTERVAL '1' MINUTE",
		"SELECT who FROM events e JOIN (SELECT id, m, at FROM moves) m ON e.id = m.id AND m.at BETWEEN e.at AND e.at + INTERVAL '1' MINUTE",
		"SELECT who FROM (SELECT id, n, at FROM events) e JOIN moves m ON e.id = m.id AND m.at BETWEEN e.at AND e.at + INTERVAL '1' MINUTE",
		"SELECT id FROM (SELECT id, n, at FROM events) e JOIN (SELECT m, at FROM moves) m ON e.n = m.m AND m.at BETWEEN e.at AND e.at + INTERVAL '1' MINUTE",
		"SELECT at FROM (SELECT id, n, at FROM events) e JOIN (SELECT id, m, at AS t FROM moves) m ON e.id = m.id AND m.t BETWEEN e.at AND e.at + INTERVAL '1' MINUTE",
		"SELECT * FROM (SELECT id, n, at FROM events) e JOIN (SELECT id AS mid, m, at AS t FROM moves) m ON e.id = m.mid AND m.t BETWEEN e.at AND e.at + INTERVAL '1' MINUTE",
		// same alias for both sides
		"SELECT x.id FROM (SELECT id, at FROM events) x JOIN (SELECT id, at FROM moves) x ON x.id = x.id",
		"SELECT x.id FROM events x JOIN moves x ON x.id = x.id",
		// self-join of the same source, both fed
		"SELECT a.id FROM (SELECT id, at FROM events WHERE n > 0) a JOIN (SELECT id, at FROM events WHERE n < 0) b ON a.id = b.id AND b.at BETWEEN a.at AND a.at + INTERVAL '1' MINUTE",
		// alias = name of a source used on the other side
		"SELECT events.id FROM moves events JOIN (SELECT id, at FROM events) m ON events.id = m.id",
		"SELECT e.id FROM events e JOIN (SELECT id, at FROM moves) events ON e.id = events.id",
		"SELECT e.id FROM events e JOIN (SELECT id, at FROM moves) moves ON e.id = moves.id",
		// outer WHERE over a fed right side of a left join
		"SELECT e.id FROM events e LEFT JOIN (SELECT id, m, at FROM moves) m ON e.id = m.id AND m.at BETWEEN e.at AND e.at + INTERVAL '1' MINUTE WHERE m.m IS NULL",
		// KEY BY in subquery side
		"SELECT e.id FROM events e JOIN (SELECT id, at FROM moves KEY BY id) m ON e.id = m.id",
		// DISTINCT in subquery side
		"SELECT e.id FROM events e JOIN (SELECT DISTINCT id, at FROM moves) m ON e.id = m.id",
		// table subquery on right of stream join
		"SELECT e.id FROM events e JOIN (SELECT id, name FROM people) p ON e.id = p.id",
		// subquery side reading TUMBLE
		"SELECT e.id FROM events e JOIN (SELECT id, at, window_start FROM TUMBLE(TABLE moves, DESCRIPTOR(at), INTERVAL '1' MINUTE)) m ON e.id = m.id",
		// subquery side reading a nested subquery over a table join
		"SELECT e.id FROM events e JOIN (SELECT x.id, x.at FROM (SELECT id, who, at FROM moves) x JOIN people p ON x.who = p.name) m ON e.id = m.id",
		// nested subquery merging into a table join (subquery on stream side which itself has a subquery joined with a table)
		"SELECT e.who FROM (SELECT x.who FROM (SELECT who FROM events) x JOIN people p ON x.who = p.name) e JOIN people q ON e.who = q.name",
	}
	for _, q := range qs {
		p, err := probeAnalyze(t, sink+q)
		if err != nil {
			t.Logf("ERR %s\n    -> %v", q, err)
			continue
		}
		var names []string
		for _, o := range p.Outputs {
			names = append(names, o.Name+"="+o.Text)
		}
		rf := 0
		if p.StreamJoin != nil {
			rf = len(p.StreamJoin.RightFeeds)
		}
		t.Logf("OK  %s\n    -> outputs %v filter %q join %v sjoin %v feeds %d/%d", q, names, p.FilterText, p.Join != nil, p.StreamJoin != nil, len(p.Feeds), rf)
		if p.StreamJoin != nil {
			t.Logf("    cond %s lf %v rf %v  %s", p.StreamJoin.ConditionText, p.StreamJoin.LeftFilter != nil, p.StreamJoin.RightFilter != nil, "")
		}
	}
}
