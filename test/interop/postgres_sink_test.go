package interop

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A topic → postgres pipeline killed with SIGKILL mid-delivery and
// restarted leaves every acknowledged input applied to the table exactly
// once. Not merely present once — an upsert would hide a second
// application — but applied once: a trigger counts each application of a
// row (insert: 1, each update: +1), and the count must equal the number
// of input records with that id (1, or 2 for an input the producer wrote
// again after the kill, unacknowledged the first time).
func TestPostgresSinkExactlyOnceAfterSIGKILL(t *testing.T) {
	base := os.Getenv("TIDE_TEST_POSTGRES_URL")
	if base == "" {
		peerMissing(t, "TIDE_TEST_POSTGRES_URL is not set (scripts/peers/postgres.sh starts a throw-away PostgreSQL)")
	}
	ctx := testContext(t, 3*time.Minute)
	db, schema := pgSchema(t, ctx, base)
	pgExec(t, ctx, db, `CREATE TABLE paid_orders (id bigint PRIMARY KEY, payload text NOT NULL, applied int NOT NULL DEFAULT 1)`)
	pgExec(t, ctx, db, `CREATE FUNCTION count_applied() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.applied := OLD.applied + 1; RETURN NEW; END $$`)
	pgExec(t, ctx, db, `CREATE TRIGGER count_applied BEFORE UPDATE ON paid_orders FOR EACH ROW EXECUTE FUNCTION count_applied()`)

	p := startTide(t)
	c := &cluster{name: "tide", bootstrap: p.Bootstrap(), tide: p}
	adm := newAdmin(t, c)
	in := createTopic(t, adm, 4, nil)
	p.SQL(fmt.Sprintf(`CREATE SOURCE events (id bigint, payload text) WITH (connector = 'topic', topic = '%s');
		CREATE SINK orders_pg WITH (connector = 'postgres', url = '%s', table = 'paid_orders', 'primary-key' = 'id')
		AS SELECT id, upper(payload) AS payload FROM events;`, in, pgURLWithSchema(t, base, schema)))

	// As TestPipelineSurvivesSIGKILL: about 2,500 inputs a second, the
	// server killed while the producer and the sink are both mid-stream.
	prod := &ackedProducer{acked: map[int]time.Time{}, pause: 20 * time.Millisecond}
	cl := newClient(t, c, kgo.DisableIdempotentWrite(), kgo.RequestTimeoutOverhead(2*time.Second), kgo.RecordDeliveryTimeout(10*time.Second))
	const total = 6000
	var next int
	var err error
	done := make(chan struct{})
	firstCtx, stopFirst := context.WithCancel(ctx)
	defer stopFirst()
	go func() {
		defer close(done)
		next, err = prod.produce(firstCtx, cl, in, 0, total)
	}()
	time.Sleep(1200 * time.Millisecond)
	var rowsAtKill int
	_ = db.QueryRow(ctx, `SELECT count(*) FROM paid_orders`).Scan(&rowsAtKill)
	p.Kill()
	stopFirst()
	<-done
	if next >= total {
		t.Fatalf("the producer finished before the kill; the test did not crash the server mid-stream")
	}
	if rowsAtKill == 0 {
		t.Fatalf("no row in the table 1.2 s into the stream: the sink was not delivering when the server was killed")
	}
	t.Logf("killed with %d rows in the table, %d inputs acknowledged (producer stopped with %v)", rowsAtKill, len(prod.acked), err)
	var applied int64 // outputs the table holds progress for: the sum of last offsets + 1
	if err := db.QueryRow(ctx, `SELECT coalesce(sum(last_offset + 1), 0) FROM tide_sink_offsets`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	p.Restart()
	// What the pipeline will read again: from its group's committed
	// offsets (read before its first commit after the restart, 1 s).
	var committed int64
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups() {
		offs, err := adm.FetchOffsets(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic == in {
				committed += o.At
			}
		})
	}
	t.Logf("at the restart the table had applied %d inputs, the group had committed %d: %d are read again and must be skipped", applied, committed, applied-committed)
	if _, err := prod.produce(ctx, cl, in, next, total); err != nil {
		t.Fatal(err)
	}
	inCounts := countIDs(t, c, in, prod.acked, time.Minute)
	inputs := 0
	for _, n := range inCounts {
		inputs += n
	}

	// Wait until every input record is applied (and a little more, for
	// any that would be applied twice).
	waitFor(t, time.Minute, "every input applied", func(ctx context.Context) (bool, string) {
		var applied int
		if err := db.QueryRow(ctx, `SELECT coalesce(sum(applied), 0) FROM paid_orders`).Scan(&applied); err != nil {
			return false, err.Error()
		}
		return applied >= inputs, fmt.Sprintf("%d of %d input records applied", applied, inputs)
	})
	time.Sleep(2 * time.Second)

	rs, err := db.Query(ctx, `SELECT id, payload, applied FROM paid_orders`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	for rs.Next() {
		var id, applied int
		var payload string
		if err := rs.Scan(&id, &payload, &applied); err != nil {
			t.Fatal(err)
		}
		got[id] = applied
		if want := fmt.Sprintf("P-%d", id); payload != want {
			t.Errorf("id %d: payload %q, want %q", id, payload, want)
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	for id := range prod.acked {
		if _, ok := got[id]; !ok {
			t.Errorf("acknowledged id %d is not in the table", id)
		}
	}
	twice := 0
	for id, applied := range got {
		if applied != inCounts[id] {
			t.Errorf("id %d applied %d times for %d input records", id, applied, inCounts[id])
		}
		if inCounts[id] > 1 {
			twice++
		}
	}
	if len(got) != len(inCounts) {
		t.Errorf("%d rows for %d distinct input ids", len(got), len(inCounts))
	}
	var progress int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM tide_sink_offsets WHERE sink = 'orders_pg'`).Scan(&progress); err != nil || progress == 0 || progress > 4 {
		t.Errorf("progress rows: %d, %v; want one per partition written to", progress, err)
	}
	t.Logf("%d acknowledged inputs, %d rows, each applied once per input record (%d ids the producer wrote twice)", len(prod.acked), len(got), twice)
}

// pgSchema makes a throw-away schema, dropped when the test ends, and
// returns a connection whose search_path is it.
func pgSchema(t *testing.T, ctx context.Context, base string) (*pgx.Conn, string) {
	t.Helper()
	schema := fmt.Sprintf("interop_%d", time.Now().UnixNano()%1e12)
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", base, err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
		_ = admin.Close(ctx)
	})
	db, err := pgx.Connect(ctx, pgURLWithSchema(t, base, schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	return db, schema
}

func pgURLWithSchema(t *testing.T, base, schema string) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func pgExec(t *testing.T, ctx context.Context, db *pgx.Conn, sql string) {
	t.Helper()
	if _, err := db.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
