package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// cdcDatabase is a throw-away database for the CDC tests, its URL with a
// password that trust authentication ignores (for checking that SHOW
// hides it).
func cdcDatabase(t *testing.T) (*pgx.Conn, string) {
	t.Helper()
	return testDatabase(t, "engine_cdc", "the postgres-cdc engine test", "hunter2")
}

func TestPostgresCDCSource(t *testing.T) {
	db, dsn := cdcDatabase(t)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE orders (id int PRIMARY KEY, amount numeric(10,2));
		INSERT INTO orders VALUES (1, 10), (2, 250)`); err != nil {
		t.Fatal(err)
	}
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)

	// Only a capturing source may leave its columns out.
	if _, ee := execError(t, e, `CREATE SOURCE plain WITH (connector = 'topic', topic = 't')`, ExecOptions{}); !strings.Contains(ee.Message, "declares no columns") {
		t.Errorf("a topic source without columns: %v", ee)
	}
	shop := fmt.Sprintf("shop_%d", time.Now().UnixNano()%1e6) // its default slot is tide_<name>, unique in the cluster
	mustExec(t, e, fmt.Sprintf(`CREATE SOURCE %s WITH (connector = 'postgres-cdc', dsn = '%s', tables = 'orders', 'slot.drop' = 'true')`, shop, dsn))
	if _, ee := execError(t, e, `CREATE SINK s WITH (connector = 'blackhole') AS SELECT * FROM `+shop, ExecOptions{}); !strings.Contains(ee.Message, "declares no columns") {
		t.Errorf("reading a source without columns: %v", ee)
	}
	mustExec(t, e, fmt.Sprintf(`CREATE SOURCE orders_cdc (after JSON, op TEXT) WITH (connector = 'postgres-cdc', dsn = '%s',
		tables = 'orders', topic_prefix = 'pg', slot = '%s', 'heartbeat.interval' = '0', 'slot.drop' = 'true')`, dsn, shop+"_orders"))
	// Two captures into one topic would take each other's records for their own.
	if _, ee := execError(t, e, fmt.Sprintf(`CREATE SOURCE other WITH (connector = 'postgres-cdc', dsn = '%s', tables = 'orders', topic_prefix = 'pg')`, dsn),
		ExecOptions{}); !strings.Contains(ee.Message, "would write topic pg.public.orders, which source orders_cdc already captures into") {
		t.Errorf("a second capture into pg.public.orders: %v", ee)
	}
	mustExec(t, e, `CREATE SINK big_orders WITH (connector = 'topic', topic = 'big_orders') AS
		SELECT (after->>'id')::int AS id, (after->>'amount')::numeric AS amount, op FROM orders_cdc WHERE (after->>'amount')::numeric > 100`)

	waitFor(t, "the capture to stream", func() bool {
		return strings.HasPrefix(showRow(t, e, "SOURCES", "orders_cdc")["capture"], "streaming")
	})
	row := showRow(t, e, "SOURCES", "orders_cdc")
	if strings.Contains(row["options"], "hunter2") || !strings.Contains(row["options"], "****") {
		t.Errorf("SHOW SOURCES options show the password: %s", row["options"])
	}
	if _, err := db.Exec(ctx, `INSERT INTO orders VALUES (3, 500); UPDATE orders SET amount = 5 WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, n.tr, "big_orders", 2)
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Value))
	}
	want := []string{`{"id":2,"amount":250.00,"op":"r"}`, `{"id":3,"amount":500.00,"op":"c"}`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("big_orders = %v, want %v", got, want)
	}

	// Monitoring: both captures run here, caught up, their slots found.
	waitFor(t, "both captures caught up", func() bool {
		caps := e.Captures(time.Now())
		return len(caps) == 2 && caps[0].Lag == 0 && caps[1].Lag == 0
	})
	if caps := e.Captures(time.Now()); caps[0].Source != "orders_cdc" || caps[0].Slot != shop+"_orders" || caps[0].State != "streaming" ||
		caps[1].Source != shop || caps[1].Slot != "tide_"+shop {
		t.Errorf("captures %+v", caps)
	}
	slot, err := e.CaptureSlot(ctx, "orders_cdc")
	if err != nil || !slot.Exists || slot.Slot != shop+"_orders" || slot.RetainedBytes < 0 {
		t.Errorf("slot of orders_cdc: %+v, %v", slot, err)
	}
	if _, err := e.CaptureSlot(ctx, "big_orders"); err == nil {
		t.Error("CaptureSlot of a sink answered")
	}

	mustExec(t, e, `DROP SINK big_orders`)
	mustExec(t, e, `DROP SOURCE orders_cdc`)
	mustExec(t, e, `DROP SOURCE `+shop)
	var slots int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ($1, $2)`, shop+"_orders", "tide_"+shop).Scan(&slots); err != nil || slots != 0 {
		t.Errorf("%d slots left after DROP SOURCE with slot.drop (err %v)", slots, err)
	}
}
