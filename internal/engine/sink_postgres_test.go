package engine

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/sql/types"
)

// The tests of this file write updating results whose rows leave the
// result into a Postgres table, which must end as the oracle's rows:
// the postgres sink deletes what leaves (connector.Output.Delete).

// pgExec runs statements in the test database.
func pgExec(t *testing.T, db *pgx.Conn, sql string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// pgStrings returns a query's single text column, sorted; nil while the
// table does not exist.
func pgStrings(t *testing.T, db *pgx.Conn, query string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), query)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// logDeletions makes table log every row deleted from it in
// <table>_deleted, so a test can tell its deletions reached the table.
func logDeletions(t *testing.T, db *pgx.Conn, table string) {
	t.Helper()
	pgExec(t, db, fmt.Sprintf(`CREATE TABLE %[1]s_deleted (at timestamptz DEFAULT clock_timestamp());
		CREATE FUNCTION %[1]s_log_deletion() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO %[1]s_deleted DEFAULT VALUES; RETURN NULL; END $$;
		CREATE TRIGGER %[1]s_log_deletion AFTER DELETE ON %[1]s FOR EACH ROW EXECUTE FUNCTION %[1]s_log_deletion()`, table))
}

func deletions(t *testing.T, db *pgx.Conn, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), "SELECT count(*) FROM "+table+"_deleted").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHavingIntoPostgresDeletes: a group of an updating GROUP BY passes
// its HAVING (an even total) and stops passing as events come, again and
// again; the table holds the groups that pass, as the oracle says, after
// each of three rounds of input.
func TestHavingIntoPostgresDeletes(t *testing.T) {
	db, dsn := testPostgres(t)
	pgExec(t, db, `CREATE TABLE even_totals (user_id integer PRIMARY KEY, n bigint NOT NULL, total numeric NOT NULL)`)
	logDeletions(t, db, "even_totals")
	n, e := clicksEngine(t)
	mustExec(t, e, `CREATE SINK pg_even WITH (connector = 'postgres', url = '`+dsn+`', table = 'even_totals', 'primary-key' = 'user_id',
		delivery.guarantee = 'exactly_once') AS
		SELECT user_id, count(*) AS n, sum(amount) AS total FROM clicks GROUP BY user_id HAVING sum(amount) % 2 = 0`)
	events := genClicks(41, 1500, 3, 25, time.Second)
	even := func(events []clickEvent) map[string]windowAgg {
		out := userTotals(events)
		maps.DeleteFunc(out, func(_ string, a windowAgg) bool { return a.sum%2 != 0 })
		return out
	}
	left := 0 // groups that passed after a round and not after the next
	var before map[string]windowAgg
	for round := 1; round <= 3; round++ {
		done := events[:round*len(events)/3]
		produceClicks(t, n.tr, "clicks", events[len(done)-len(events)/3:len(done)])
		want := even(done)
		for k := range before {
			if _, ok := want[k]; !ok {
				left++
			}
		}
		before = want
		var got map[string]windowAgg
		waitFor(t, fmt.Sprintf("round %d's groups in the table", round), func() bool {
			got = pgTotals(t, db, "SELECT user_id::text, n, total::bigint FROM even_totals")
			return mapsEqual(got, want)
		})
	}
	if left == 0 {
		t.Fatal("no group left the result between rounds; the seeded input exercises nothing")
	}
	if d := deletions(t, db, "even_totals"); d < left {
		t.Errorf("%d rows deleted from the table, want at least the %d groups that left between rounds", d, left)
	}
}

// TestUpdatingLeftJoinIntoPostgres: a regular LEFT join writes an
// order's NULL-padded row at once and replaces it by its pairs; the
// table holds the pairs, and the padded rows of orders never paid. The
// orders come with half the payments, the other half once the table
// holds the first half's rows (padded rows among them). Keyed by the
// pair, a padded row is deleted (its key differs from the pairs');
// keyed by the order, the padded row's deletion and its pair's upsert
// share the key, and the upsert, after it, wins.
func TestUpdatingLeftJoinIntoPostgres(t *testing.T) {
	orders, payments := genOrdersPayments(9, 500)
	half := len(payments) / 2
	const row = `SELECT id || '|' || coalesce(paid::text, '<nil>') || '|' ||
		coalesce(to_char(paid_at, 'YYYY-MM-DD"T"HH24:MI:SS') || rtrim(rtrim(to_char(paid_at, '.MS'), '0'), '.'), '<nil>') FROM paid`
	// rounds produces the two rounds, waiting after each until matches
	// holds of the table's rows and the oracle's so far.
	rounds := func(t *testing.T, n *node, db *pgx.Conn, matches func(got, want []string) bool) {
		t.Helper()
		for round, paid := range [][]sjPayment{payments[:half], payments} {
			if round == 0 {
				produceOrdersPayments(t, n.tr, orders, paid, 13)
			} else {
				produceOrdersPayments(t, n.tr, nil, payments[half:], 14)
			}
			want := regularOracle(orders, paid, [2]bool{true, false})
			var got []string
			waitFor(t, fmt.Sprintf("round %d's rows in the table", round+1), func() bool {
				got = pgStrings(t, db, row)
				return matches(got, want)
			})
		}
	}

	t.Run("keyed by the pair", func(t *testing.T) {
		db, dsn := testPostgres(t)
		pgExec(t, db, `CREATE TABLE paid (k text PRIMARY KEY, id bigint, paid integer, paid_at timestamp)`)
		logDeletions(t, db, "paid")
		n, e := sjEngine(t, nil, false)
		mustExec(t, e, `CREATE SINK paid WITH (connector = 'postgres', url = '`+dsn+`', table = 'paid', 'primary-key' = 'k') AS
			SELECT concat(o.id, '|', p.amount, '|', p.paid_at) AS k, o.id, p.amount AS paid, p.paid_at
			FROM orders o LEFT JOIN payments p ON o.id = p.order_id
			WHERE o.id >= 0 AND o.amount > 10
			KEY BY concat(o.id, '|', p.amount, '|', p.paid_at)`)
		rounds(t, n, db, slices.Equal)
		if deletions(t, db, "paid") == 0 {
			t.Error("no NULL-padded row was deleted; the test exercised nothing")
		}
	})

	t.Run("keyed by the order", func(t *testing.T) {
		db, dsn := testPostgres(t)
		pgExec(t, db, `CREATE TABLE paid (id bigint PRIMARY KEY, paid integer, paid_at timestamp)`)
		n, e := sjEngine(t, nil, false)
		mustExec(t, e, `CREATE SINK paid WITH (connector = 'postgres', url = '`+dsn+`', table = 'paid', 'primary-key' = 'id') AS
			SELECT o.id, p.amount AS paid, p.paid_at FROM orders o LEFT JOIN payments p ON o.id = p.order_id
			WHERE o.id >= 0 AND o.amount > 10
			KEY BY o.id`)
		// One row per order: padded if it was never paid, else one of
		// its pairs (which one depends on the order the pairs came in).
		rounds(t, n, db, func(got, want []string) bool {
			byOrder := map[string][]string{}
			for _, r := range want {
				id, _, _ := strings.Cut(r, "|")
				byOrder[id] = append(byOrder[id], r)
			}
			if len(got) != len(byOrder) {
				return false
			}
			for _, r := range got {
				id, _, _ := strings.Cut(r, "|")
				if !slices.Contains(byOrder[id], r) {
					return false
				}
			}
			return true
		})
	})
}

// TestOuterGroupGoneIntoPostgres: an outer aggregation's group whose
// last row is taken back (the NULL-padded rows' group, when the order
// is paid) is deleted from the table, by its key.
func TestOuterGroupGoneIntoPostgres(t *testing.T) {
	db, dsn := testPostgres(t)
	pgExec(t, db, `CREATE TABLE by_order (k integer PRIMARY KEY, groups bigint, total numeric)`)
	n, e := sjEngine(t, nil, true)
	mustExec(t, e, `CREATE SINK s WITH (connector = 'postgres', url = '`+dsn+`', table = 'by_order', 'primary-key' = 'k') AS
		SELECT coalesce(k, -1) AS k, count(*) AS groups, sum(n) AS total FROM (
			SELECT p.order_id AS k, count(*) AS n FROM orders o LEFT JOIN payments p ON o.id = p.order_id GROUP BY p.order_id)
		GROUP BY coalesce(k, -1)`)
	const table = `SELECT k || '|' || groups || '|' || total FROM by_order`
	produceValue(t, n.tr, "orders", `{"id":1,"customer":"c1","amount":20,"placed_at":"2026-03-01 00:00:00"}`)
	waitFor(t, "the padded row's group", func() bool { return slices.Equal(pgStrings(t, db, table), []string{"-1|1|1"}) })
	produceValue(t, n.tr, "payments", `{"order_id":1,"amount":5,"paid_at":"2026-03-01 00:00:01"}`)
	produceValue(t, n.tr, "payments", `{"order_id":1,"amount":6,"paid_at":"2026-03-01 00:00:02"}`)
	waitFor(t, "the paid group only", func() bool { return slices.Equal(pgStrings(t, db, table), []string{"1|1|2"}) })
}

// TestUpdatingTopNIntoPostgres: an updating top-N whose outer WHERE
// rejects some rows (odd ids): a position whose new row it rejects is
// deleted, so the table holds the oracle's ranked rows that pass, after
// each of four rounds of input.
func TestUpdatingTopNIntoPostgres(t *testing.T) {
	db, dsn := testPostgres(t)
	pgExec(t, db, `CREATE TABLE top (game text, rn bigint, id bigint, PRIMARY KEY (game, rn))`)
	logDeletions(t, db, "top")
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, topnScores)
	mustExec(t, e, `CREATE SINK top WITH (connector = 'postgres', url = '`+dsn+`', table = 'top', 'primary-key' = 'game,rn',
		delivery.guarantee = 'exactly_once') AS
		SELECT game, rn, id FROM (
		  SELECT id, game, points, ROW_NUMBER() OVER (PARTITION BY game ORDER BY points DESC NULLS LAST, id) AS rn
		  FROM scores WHERE points IS NULL OR points >= 0)
		WHERE rn <= 3 AND id % 2 = 0`)
	scores := genScores(17, 240)
	const rounds = 4
	left := 0 // positions with a row after a round and none after the next
	var before []string
	for round := 1; round <= rounds; round++ {
		done := scores[:round*len(scores)/rounds]
		produceScores(t, n.tr, done[len(done)-len(scores)/rounds:])
		var want, positions []string
		for _, r := range rankScores(done, func(s topnScore) string { return s.game }, "row_number", 3) {
			i := strings.LastIndexByte(r, '|')
			if id, err := strconv.ParseInt(r[i+1:], 10, 64); err != nil {
				t.Fatal(err)
			} else if id%2 == 0 {
				want, positions = append(want, r), append(positions, r[:i])
			}
		}
		for _, p := range before {
			if !slices.Contains(positions, p) {
				left++
			}
		}
		before = positions
		waitFor(t, fmt.Sprintf("round %d's ranked rows in the table", round), func() bool {
			return slices.Equal(pgStrings(t, db, `SELECT game || '|' || rn || '|' || id FROM top`), want)
		})
	}
	if left == 0 {
		t.Fatal("no position lost its row between rounds; the seeded input exercises nothing")
	}
	if d := deletions(t, db, "top"); d < left {
		t.Errorf("%d rows deleted from the table, want at least the %d positions that lost their row", d, left)
	}
	// A position that empties has no row: its deletion carries the
	// partition's columns and the row number, which are the table's key.
	p := e.mu.pipelines["top"]
	out := newResultWriter(p, connector.Origin{}).deletedRow(vacatedRow(p.plan.TopN, types.Row{types.NewText("g1")}, 2))
	if len(out) != 3 || out[0].Text() != "g1" || out[1].Int() != 2 || !out[2].IsNull() {
		t.Errorf("a vacated position's deletion row is %v, want g1, 2, NULL", out)
	}
}

// TestRefusedIntoPostgresDeadLettered: an upsert the table refuses (a
// CHECK) and a deletion it refuses (a foreign key) are dead-lettered,
// once each, with the SQLSTATE, while the other rows land and the
// pipeline goes on.
func TestRefusedIntoPostgresDeadLettered(t *testing.T) {
	db, dsn := testPostgres(t)
	pgExec(t, db, `CREATE TABLE even_totals (user_id integer PRIMARY KEY, n bigint NOT NULL, total numeric NOT NULL CHECK (total <> 4));
		CREATE TABLE refs (user_id integer REFERENCES even_totals)`)
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, clicksSource)
	mustExec(t, e, `CREATE SINK pg_even WITH (connector = 'postgres', url = '`+dsn+`', table = 'even_totals', 'primary-key' = 'user_id',
		delivery.guarantee = 'exactly_once') AS
		SELECT user_id, count(*) AS n, sum(amount) AS total FROM clicks GROUP BY user_id HAVING sum(amount) % 2 = 0`)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	click := func(user int, amount int64) clickEvent { return clickEvent{user: user, amount: amount, ts: base} }
	const table = `SELECT user_id || '|' || n || '|' || total FROM even_totals`
	deadLetters := func() map[string]string { // code by value
		out := map[string]string{}
		for _, r := range readSoFar(t, n.tr, "pg_even.dlq") {
			h := map[string]string{}
			for _, kv := range r.Headers {
				h[kv.Key] = string(kv.Value)
			}
			if h[HeaderStage] != "sink" || h[HeaderPipeline] != "pg_even" || h[HeaderError] == "" {
				t.Errorf("dead letter %s: headers %v", r.Value, h)
			}
			if _, dup := out[string(r.Value)]; dup {
				t.Errorf("dead letter %s written twice", r.Value)
			}
			out[string(r.Value)] = h[HeaderErrorCode]
		}
		return out
	}

	produceClicks(t, n.tr, "clicks", []clickEvent{click(1, 2), click(2, 4), click(3, 6)})
	waitFor(t, "users 1 and 3 in the table", func() bool {
		return slices.Equal(pgStrings(t, db, table), []string{"1|1|2", "3|1|6"})
	})
	waitFor(t, "user 2's refused row dead-lettered", func() bool { return len(deadLetters()) == 1 })
	pgExec(t, db, `INSERT INTO refs VALUES (1)`)
	// Both leave HAVING: user 3's row is deleted, user 1's is referenced.
	produceClicks(t, n.tr, "clicks", []clickEvent{click(1, 1), click(3, 1)})
	waitFor(t, "user 3 deleted", func() bool { return slices.Equal(pgStrings(t, db, table), []string{"1|1|2"}) })
	waitFor(t, "user 1's refused deletion dead-lettered", func() bool { return len(deadLetters()) == 2 })
	time.Sleep(500 * time.Millisecond) // checkpoints go on: nothing is written again
	if got, want := deadLetters(), map[string]string{"2,1,4": "23514", "1,2,3": "23503"}; !maps.Equal(got, want) {
		t.Errorf("dead letters (value: code) %v, want %v", got, want)
	}
	if st := e.mu.pipelines["pg_even"].status().State; st != stateRunning {
		t.Errorf("pipeline state %s, want %s", st, stateRunning)
	}
}

// TestTopNOverGroupByIntoPostgres: a top-N over a GROUP BY without a
// window whose groups leave HAVING (an odd count): a position that
// empties has no row left, and is deleted by its partition column and
// row number, so the table holds the oracle's ranking after each round.
func TestTopNOverGroupByIntoPostgres(t *testing.T) {
	db, dsn := testPostgres(t)
	pgExec(t, db, `CREATE TABLE top_odd (bucket integer, rn bigint, user_id integer, clicks bigint, PRIMARY KEY (bucket, rn))`)
	logDeletions(t, db, "top_odd")
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, clicksSource)
	mustExec(t, e, `CREATE SINK top_odd WITH (connector = 'postgres', url = '`+dsn+`', table = 'top_odd', 'primary-key' = 'bucket,rn',
		delivery.guarantee = 'exactly_once') AS
		SELECT bucket, rn, user_id, clicks FROM (
		  SELECT *, ROW_NUMBER() OVER (PARTITION BY bucket ORDER BY clicks DESC, user_id) AS rn
		  FROM (SELECT user_id % 3 AS bucket, user_id, count(*) AS clicks FROM clicks GROUP BY user_id HAVING count(*) % 2 = 1) AS c)
		WHERE rn <= 2`)
	// ranking is the oracle: per bucket, the users with an odd count of
	// clicks, most first, then by id; the first two, as bucket|rn|user|clicks.
	ranking := func(events []clickEvent) (rows, positions []string) {
		counts := map[int]int{}
		for _, ev := range events {
			counts[ev.user]++
		}
		buckets := map[int][]int{}
		for user, c := range counts {
			if c%2 == 1 {
				buckets[user%3] = append(buckets[user%3], user)
			}
		}
		for bucket, users := range buckets {
			slices.SortFunc(users, func(a, b int) int { return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b)) })
			for i, user := range users[:min(2, len(users))] {
				rows = append(rows, fmt.Sprintf("%d|%d|%d|%d", bucket, i+1, user, counts[user]))
				positions = append(positions, fmt.Sprintf("%d|%d", bucket, i+1))
			}
		}
		slices.Sort(rows)
		return rows, positions
	}
	events := genClicks(31, 1200, 3, 12, time.Second)
	emptied := 0 // positions with a row after a round and none after the next
	var before []string
	for start := 0; start < len(events); start += 100 {
		produceClicks(t, n.tr, "clicks", events[start:start+100])
		want, positions := ranking(events[:start+100])
		for _, p := range before {
			if !slices.Contains(positions, p) {
				emptied++
			}
		}
		before = positions
		waitFor(t, fmt.Sprintf("the ranking after %d events", start+100), func() bool {
			return slices.Equal(pgStrings(t, db, `SELECT bucket || '|' || rn || '|' || user_id || '|' || clicks FROM top_odd`), want)
		})
	}
	if emptied == 0 {
		t.Fatal("no position emptied between rounds; the seeded input exercises nothing")
	}
	if d := deletions(t, db, "top_odd"); d < emptied {
		t.Errorf("%d rows deleted from the table, want at least the %d positions that emptied", d, emptied)
	}
}
