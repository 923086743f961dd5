package cdc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/cdc/pgvalue"
	"github.com/tide-data/tide/internal/transport"
)

func testConfig(db *testDB, tr transport.Transport, tables ...TableName) Config {
	return Config{Name: "shop", SourceID: "id1", DSN: db.dsn, Tables: tables, Slot: fmt.Sprintf("tide_%08x", crc32.ChecksumIEEE([]byte(db.name))), Publication: "tide_shop",
		Snapshot: SnapshotInitial, TopicPrefix: "shop", TopicPartitions: 3, Heartbeat: 200 * time.Millisecond, Transport: tr}
}

var orders = TableName{"public", "orders"}

// project keeps the columns both sides render alike (numbers, text).
func project(state map[string]map[string]any, cols ...string) map[string]string {
	out := map[string]string{}
	for k, row := range state {
		parts := make([]string, len(cols))
		for i, c := range cols {
			parts[i] = fmt.Sprint(row[c])
		}
		out[k] = strings.Join(parts, "|")
	}
	return out
}

func sameState(t *testing.T, got, want map[string]string) bool {
	t.Helper()
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func TestCaptureSnapshotThenStream(t *testing.T) {
	db := newTestDB(t)
	tr := newEmbedded(t)
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, qty int, amount numeric(10,2),
		tags text[], meta jsonb, placed timestamptz, big text)`)
	db.exec(`INSERT INTO orders SELECT g, 'c' || g % 7, g, g * 1.5, ARRAY['a', 'b,' || g], jsonb_build_object('n', g),
		'2026-11-26 10:00:00+00'::timestamptz + g * interval '1 second', NULL FROM generate_series(1, 500) g`)
	c, _ := startCapture(t, testConfig(db, tr, orders))
	topic := "shop.public.orders"

	eventually(t, "the snapshot", func() bool { return len(readChanges(t, tr, topic)) >= 500 })
	snap := readChanges(t, tr, topic)
	for _, ch := range snap {
		if ch.Op != "r" || ch.Source.Snapshot != "true" || ch.Before != nil {
			t.Fatalf("snapshot record %+v", ch)
		}
	}
	row1 := replay(snap)[`{"id":1}`]
	if row1["amount"] != "1.50" || row1["placed"] != "2026-11-26T10:00:01Z" || fmt.Sprint(row1["tags"]) != "[a b,1]" ||
		fmt.Sprint(row1["meta"]) != "map[n:1]" || row1["big"] != nil {
		t.Errorf("row 1 as captured: %v", row1)
	}

	// Streamed changes: one per transaction, then one transaction of several.
	db.exec(`INSERT INTO orders (id, customer, qty) VALUES (1001, 'new', 1)`)
	db.exec(`UPDATE orders SET qty = 42 WHERE id = 1`)
	db.exec(`DELETE FROM orders WHERE id = 2`)
	db.exec(`UPDATE orders SET id = 3000 WHERE id = 3`) // a key change
	db.exec(`BEGIN; INSERT INTO orders (id, customer) VALUES (1002, 'x'); UPDATE orders SET customer = 'y' WHERE id = 1002; COMMIT`)
	// A large value is TOASTed: an update that leaves it alone does not send it.
	db.exec(`UPDATE orders SET big = (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 2000)) WHERE id = 4`)
	db.exec(`UPDATE orders SET qty = 7 WHERE id = 4`)
	// A schema change mid-stream.
	db.exec(`ALTER TABLE orders ADD COLUMN status text DEFAULT 'new'`)
	db.exec(`INSERT INTO orders (id, customer, status) VALUES (1003, 'z', 'paid')`)

	want := project(db.tableState("orders"), "id", "customer", "qty")
	eventually(t, "the changes", func() bool {
		return sameState(t, project(replay(readChanges(t, tr, topic)), "id", "customer", "qty"), want)
	})
	all := readChanges(t, tr, topic)
	var ops []string
	byKey := map[string][]change{}
	for _, ch := range all {
		if ch.Source.Snapshot == "true" {
			continue
		}
		k := fmt.Sprint(ch.Key["id"])
		byKey[k] = append(byKey[k], ch)
		if ch.Tombstone {
			ops = append(ops, "tombstone:"+k)
		} else {
			ops = append(ops, ch.Op+":"+k)
		}
	}
	wantOps := map[string][]string{
		"1001": {"c"}, "1": {"u"}, "2": {"d", "tombstone"}, "3": {"d", "tombstone"}, "3000": {"c"},
		"1002": {"c", "u"}, "4": {"u", "u"}, "1003": {"c"},
	}
	for k, seq := range wantOps {
		var got []string
		for _, ch := range byKey[k] {
			if ch.Tombstone {
				got = append(got, "tombstone")
			} else {
				got = append(got, ch.Op)
			}
		}
		if strings.Join(got, ",") != strings.Join(seq, ",") {
			t.Errorf("key %s: changes %v, want %v (all: %v)", k, got, seq, ops)
		}
	}
	if d := byKey["2"][0]; fmt.Sprint(d.Before["id"]) != "2" || d.After != nil {
		t.Errorf("delete of 2: before %v after %v", d.Before, d.After)
	}
	if u := byKey["4"]; len(u) != 2 || u[1].After["big"] != pgvalue.Unavailable {
		t.Errorf("unchanged TOAST value: %.40v, want the placeholder %q", u[len(u)-1].After["big"], pgvalue.Unavailable)
	} else if big, _ := u[0].After["big"].(string); len(big) != 64000 {
		t.Errorf("the TOASTed value itself: %d characters, want 64000", len(big))
	}
	if ins := byKey["1003"][0]; ins.After["status"] != "paid" {
		t.Errorf("insert after ADD COLUMN: %v", ins.After)
	}

	// TRUNCATE reaches every partition.
	db.exec(`TRUNCATE orders`)
	eventually(t, "the truncate events", func() bool {
		parts := map[int32]bool{}
		for _, ch := range readChanges(t, tr, topic) {
			if ch.Op == "t" {
				parts[ch.Partition] = true
			}
		}
		return len(parts) == 3
	})
	if st := c.Status(); st.State != "streaming" || st.Err != "" {
		t.Errorf("status %+v", st)
	}
}

// faultyTransport fails Produce on demand (after writing, or instead).
type faultyTransport struct {
	transport.Transport
	mu sync.Mutex
	// fail, given the records, says whether to fail and whether to write
	// them first.
	fail func(recs []*transport.Record) (fail, writeFirst bool)
}

var errInjected = errors.New("injected failure")

func (f *faultyTransport) Produce(ctx context.Context, recs []*transport.Record) error {
	f.mu.Lock()
	fail, writeFirst := false, false
	if f.fail != nil {
		fail, writeFirst = f.fail(recs)
	}
	f.mu.Unlock()
	if !fail {
		return f.Transport.Produce(ctx, recs)
	}
	if writeFirst {
		if err := f.Transport.Produce(ctx, recs); err != nil {
			return err
		}
	}
	return errInjected
}

func (f *faultyTransport) set(fn func(recs []*transport.Record) (bool, bool)) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

func toTopic(recs []*transport.Record, topic string) bool {
	return len(recs) > 0 && recs[0].Topic == topic
}

// snapshotted reports whether recs are snapshot records (position 0/n).
func snapshotted(recs []*transport.Record) bool {
	for _, h := range recs[0].Headers {
		if h.Key == positionHeader {
			return strings.HasPrefix(string(h.Value), "0/")
		}
	}
	return false
}

// Changes written to the log but not acknowledged to the slot (a crash
// between the two) are sent again by Postgres and dropped by position.
func TestCaptureDropsResentChanges(t *testing.T) {
	db := newTestDB(t)
	tr := &faultyTransport{Transport: newEmbedded(t)}
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, customer text, qty int)`)
	topic := "shop.public.orders"
	var failed atomic.Bool
	tr.set(func(recs []*transport.Record) (bool, bool) {
		// Every batch of streamed changes is written and then reported
		// failed: the capture does not acknowledge, and starts over.
		if toTopic(recs, topic) && !snapshotted(recs) {
			failed.Store(true)
			return true, true
		}
		return false, false
	})
	cfg := testConfig(db, tr, orders)
	cfg.Heartbeat = 0
	c, stop := startCapture(t, cfg)
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	for i := range 20 {
		db.exec(`INSERT INTO orders VALUES ($1, 'c', $2)`, i, i)
	}
	eventually(t, "a failed write", failed.Load)
	eventually(t, "every insert written at least once", func() bool { return len(replay(readChanges(t, tr, topic))) == 20 })
	stop()
	tr.set(nil)
	_, stop = startCapture(t, cfg)
	db.exec(`UPDATE orders SET qty = -1 WHERE id = 0`)
	eventually(t, "the update after the restart", func() bool { return replay(readChanges(t, tr, topic))[`{"id":0}`]["qty"] == float64(-1) })
	stop()
	seen := map[string]bool{}
	for _, ch := range readChanges(t, tr, topic) {
		if seen[ch.Position] {
			t.Errorf("position %s written twice (op %s key %v)", ch.Position, ch.Op, ch.Key)
		}
		seen[ch.Position] = true
	}
	if len(seen) != 21 {
		t.Errorf("%d changes in the topic, want 21", len(seen))
	}
}

// A snapshot interrupted by a failure is taken again from a new slot, and
// the rows the first attempt wrote that are gone meanwhile are deleted.
func TestCaptureSnapshotRestartDeletesVanishedRows(t *testing.T) {
	db := newTestDB(t)
	tr := &faultyTransport{Transport: newEmbedded(t)}
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, customer text, qty int)`)
	db.exec(`INSERT INTO orders SELECT g, 'c', g FROM generate_series(1, 100) g`)
	topic := "shop.public.orders"
	var batches atomic.Int32
	tr.set(func(recs []*transport.Record) (bool, bool) {
		if toTopic(recs, topic) && batches.Add(1) > 1 {
			return true, false // the second batch of the snapshot fails
		}
		return false, false
	})
	cfg := testConfig(db, tr, orders)
	cfg.BatchRecords = 10
	_, stop := startCapture(t, cfg)
	eventually(t, "the failed snapshot", func() bool { return batches.Load() > 1 })
	stop()
	first := replay(readChanges(t, tr, topic))
	if len(first) != 10 {
		t.Fatalf("first attempt wrote %d rows, want 10", len(first))
	}
	// Rows the first attempt wrote are deleted while no capture runs.
	db.exec(`DELETE FROM orders WHERE id IN (SELECT id FROM orders ORDER BY id LIMIT 5)`)
	db.exec(`INSERT INTO orders VALUES (500, 'late', 500)`)
	tr.set(nil)
	_, stop = startCapture(t, cfg)
	want := project(db.tableState("orders"), "id", "qty")
	eventually(t, "the table's state in the topic", func() bool {
		return sameState(t, project(replay(readChanges(t, tr, topic)), "id", "qty"), want)
	})
	stop()
	var slots int
	if err := db.conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots WHERE database = $1`, db.name).Scan(&slots); err != nil || slots != 1 {
		t.Errorf("%d slots (err %v), want the one", slots, err)
	}
}

func TestCaptureResumesAfterStop(t *testing.T) {
	db := newTestDB(t)
	tr := newEmbedded(t)
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, customer text, qty int)`)
	db.exec(`INSERT INTO orders SELECT g, 'c', g FROM generate_series(1, 50) g`)
	topic := "shop.public.orders"
	cfg := testConfig(db, tr, orders)
	c, stop := startCapture(t, cfg)
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	db.exec(`INSERT INTO orders VALUES (51, 'd', 51)`)
	eventually(t, "51 rows", func() bool { return len(replay(readChanges(t, tr, topic))) == 51 })
	stop()
	// Changes while no capture runs wait in the slot.
	db.exec(`INSERT INTO orders VALUES (52, 'e', 52)`)
	db.exec(`DELETE FROM orders WHERE id = 1`)
	_, stop = startCapture(t, cfg)
	want := project(db.tableState("orders"), "id", "qty")
	eventually(t, "the changes made while stopped", func() bool {
		return sameState(t, project(replay(readChanges(t, tr, topic)), "id", "qty"), want)
	})
	stop()
	snapshots := 0
	for _, ch := range readChanges(t, tr, topic) {
		if ch.Op == "r" {
			snapshots++
		}
	}
	if snapshots != 50 {
		t.Errorf("%d snapshot records, want 50 (one snapshot, not two)", snapshots)
	}
}

func TestCaptureHeartbeatAdvancesSlot(t *testing.T) {
	db := newTestDB(t)
	tr := newEmbedded(t)
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY)`)
	db.exec(`CREATE TABLE other (id bigint PRIMARY KEY)`)
	cfg := testConfig(db, tr, orders)
	c, _ := startCapture(t, cfg)
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	var start string
	if err := db.conn.QueryRow(context.Background(), `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&start); err != nil {
		t.Fatal(err)
	}
	// Only a table the source does not capture changes.
	for i := range 5 {
		db.exec(`INSERT INTO other VALUES ($1)`, i)
	}
	eventually(t, "the slot to advance past the other table's writes", func() bool {
		var advanced bool
		err := db.conn.QueryRow(context.Background(), `SELECT confirmed_flush_lsn > $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot, start).Scan(&advanced)
		return err == nil && advanced
	})
}

func TestCaptureErrors(t *testing.T) {
	db := newTestDB(t)
	tr := newEmbedded(t)
	db.exec(`CREATE TABLE nokey (a int)`)
	cases := []struct {
		table TableName
		want  string
	}{
		{TableName{"public", "nokey"}, "REPLICA IDENTITY FULL"},
		{TableName{"public", "missing"}, "does not exist"},
	}
	for _, tc := range cases {
		cfg := testConfig(db, tr, tc.table)
		c, stop := startCapture(t, cfg)
		eventually(t, "the error", func() bool { return strings.Contains(c.Status().Err, tc.want) })
		stop()
	}
	// A slot of the same name that the source did not make is left alone.
	db.exec(`CREATE TABLE orders (id int PRIMARY KEY)`)
	cfg := testConfig(db, tr, orders)
	if _, err := db.conn.Exec(context.Background(), `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, cfg.Slot); err != nil {
		t.Fatal(err)
	}
	c, stop := startCapture(t, cfg)
	eventually(t, "the foreign slot error", func() bool { return strings.Contains(c.Status().Err, "was not made by this source") })
	stop()
}

func TestDrop(t *testing.T) {
	db := newTestDB(t)
	tr := newEmbedded(t)
	db.exec(`CREATE TABLE orders (id int PRIMARY KEY)`)
	cfg := testConfig(db, tr, orders)
	c, stop := startCapture(t, cfg)
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Drop(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	var slots, pubs int
	_ = db.conn.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&slots)
	_ = db.conn.QueryRow(ctx, `SELECT count(*) FROM pg_publication WHERE pubname = $1`, cfg.Publication).Scan(&pubs)
	if slots != 0 || pubs != 0 {
		t.Errorf("after Drop: %d slots, %d publications", slots, pubs)
	}
	if _, found, err := loadState(ctx, tr, cfg.Name); err != nil || found {
		t.Errorf("state after Drop: found %v, err %v", found, err)
	}
}

func TestCaptureTransactionMetadata(t *testing.T) {
	db := newTestDB(t)
	tr := newEmbedded(t)
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, qty int)`)
	db.exec(`CREATE TABLE customers (id bigint PRIMARY KEY)`)
	customers := TableName{"public", "customers"}
	cfg := testConfig(db, tr, orders, customers)
	cfg.TransactionMetadata = true
	c, _ := startCapture(t, cfg)
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	db.exec(`BEGIN; INSERT INTO orders VALUES (1, 1), (2, 2); INSERT INTO customers VALUES (7); COMMIT`)

	var txns []*transport.Record
	eventually(t, "BEGIN and END", func() bool {
		txns = nil
		_ = readAll(context.Background(), tr, TransactionTopic("shop"), func(r *transport.Record) { txns = append(txns, r) })
		return len(txns) == 2
	})
	var begin, end struct {
		Status          string `json:"status"`
		ID              string `json:"id"`
		EventCount      *int   `json:"event_count"`
		DataCollections []struct {
			Name  string `json:"data_collection"`
			Count int    `json:"event_count"`
		} `json:"data_collections"`
	}
	if err := json.Unmarshal(txns[0].Value, &begin); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(txns[1].Value, &end); err != nil {
		t.Fatal(err)
	}
	if begin.Status != "BEGIN" || begin.EventCount != nil || end.Status != "END" || end.ID != begin.ID || end.EventCount == nil || *end.EventCount != 3 ||
		len(end.DataCollections) != 2 || end.DataCollections[0].Name != "public.orders" || end.DataCollections[0].Count != 2 ||
		end.DataCollections[1].Name != "public.customers" || end.DataCollections[1].Count != 1 {
		t.Errorf("transaction events:\n%s\n%s", txns[0].Value, txns[1].Value)
	}
	var orderEvents []string
	eventually(t, "the orders", func() bool {
		orderEvents = nil
		_ = readAll(context.Background(), tr, "shop.public.orders", func(r *transport.Record) {
			var v struct {
				Txn struct {
					ID    string `json:"id"`
					Total int    `json:"total_order"`
					Coll  int    `json:"data_collection_order"`
				} `json:"transaction"`
			}
			_ = json.Unmarshal(r.Value, &v)
			orderEvents = append(orderEvents, fmt.Sprintf("%s/%d/%d", v.Txn.ID, v.Txn.Total, v.Txn.Coll))
		})
		return len(orderEvents) == 2
	})
	// The two rows are keyed to their partitions: read in any order.
	slices.Sort(orderEvents)
	if want := begin.ID + "/1/1 " + begin.ID + "/2/2"; strings.Join(orderEvents, " ") != want {
		t.Errorf("orders' transaction blocks %v, want %s", orderEvents, want)
	}
}

// Every type, two ways: a row read by the snapshot (COPY's text) and the
// same values inserted while streaming (pgoutput's text) give the same
// JSON.
func TestCaptureTypesSnapshotAndStreamAgree(t *testing.T) {
	db := newTestDB(t)
	tr := newEmbedded(t)
	db.exec(`CREATE TYPE mood AS ENUM ('happy', 'so "so"')`)
	db.exec(`CREATE DOMAIN posint AS int CHECK (VALUE > 0)`)
	db.exec(`CREATE TABLE vals (id int PRIMARY KEY, b boolean, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision,
		n numeric(20,5), nn numeric, m money, t text, vc varchar(10), c char(3), u uuid, j json, jb jsonb, by bytea,
		d date, ts timestamp, tz timestamptz, tm time, ttz timetz, iv interval, ia int[], ta text[], m2 int[][],
		e mood, ea mood[], dom posint, inet inet, nul text)`)
	values := `true, -32768, 2147483647, -9223372036854775808, 1.5, 'NaN', 12345.67890, -0.000001, 12.34,
		E'tab\there "quoted" \\ back', 'varchar', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '{"b": {"c": null}}',
		'\x00ff10', '2026-11-26', '2026-11-26 10:11:12.345678', '2026-11-26 10:11:12.5+02', '23:59:59.999999', '10:00:00+05:30',
		'1 year 2 mons 3 days 04:05:06.5', '{1,NULL,3}', '{"a,b","c\"d",NULL,"NULL"}', '{{1,2},{3,4}}',
		'so "so"', '{happy,"so \"so\""}', 7, '192.168.0.1/24', NULL`
	db.exec(`INSERT INTO vals VALUES (1, ` + values + `)`)
	c, _ := startCapture(t, testConfig(db, tr, TableName{"public", "vals"}))
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	db.exec(`INSERT INTO vals VALUES (2, ` + values + `)`)
	var rows map[string]map[string]any
	eventually(t, "both rows", func() bool {
		rows = replay(readChanges(t, tr, "shop.public.vals"))
		return len(rows) == 2
	})
	snap, streamed := rows[`{"id":1}`], rows[`{"id":2}`]
	delete(snap, "id")
	delete(streamed, "id")
	a, _ := json.Marshal(snap)
	b, _ := json.Marshal(streamed)
	if string(a) != string(b) {
		t.Errorf("snapshot and stream disagree:\nsnapshot %s\nstream   %s", a, b)
	}
	want := map[string]string{
		"b": "true", "i8": "-9.223372036854776e+18", "f8": "NaN", "n": "12345.67890", "nn": "-0.000001", "m": "$12.34",
		"t": "tab\there \"quoted\" \\ back", "c": "ab ", "j": "map[a:[1 2]]", "by": "AP8Q", "d": "2026-11-26",
		"ts": "2026-11-26T10:11:12.345678", "tz": "2026-11-26T08:11:12.5Z", "ttz": "10:00:00+05:30",
		"iv": "P1Y2M3DT4H5M6.5S", "ia": "[1 <nil> 3]", "ta": `[a,b c"d <nil> NULL]`, "m2": "[[1 2] [3 4]]",
		"e": `so "so"`, "ea": `[happy so "so"]`, "dom": "7", "inet": "192.168.0.1/24", "nul": "<nil>",
	}
	for col, w := range want {
		if got := fmt.Sprint(snap[col]); got != w {
			t.Errorf("%s = %s, want %s", col, got, w)
		}
	}
}
