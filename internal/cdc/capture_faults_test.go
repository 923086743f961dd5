package cdc

// Faults found in review, each a test of the behaviour docs/CDC.md
// promises: partitioned tables, key columns renamed or TOASTed, a failed
// write while the stream is quiet, two captures of one slot, replica
// identities other than the primary key.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// within polls cond for d; false if it never held.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func streamed(chs []change) []change {
	var out []change
	for _, ch := range chs {
		if !strings.HasPrefix(ch.Position, "0/") {
			out = append(out, ch)
		}
	}
	return out
}

// A partitioned table: the snapshot copies it through the parent, and the
// publication (publish_via_partition_root) sends its partitions' changes
// under the parent's name. Without that, pgoutput would name the leaf
// partitions, and their changes would be dropped as another table's.
func TestCapturePartitionedTable(t *testing.T) {
	db := newTestDB(t)
	tr := newEmbedded(t)
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, customer text, qty int) PARTITION BY RANGE (id)`)
	db.exec(`CREATE TABLE orders_a PARTITION OF orders FOR VALUES FROM (0) TO (1000)`)
	db.exec(`CREATE TABLE orders_b PARTITION OF orders FOR VALUES FROM (1000) TO (MAXVALUE)`)
	db.exec(`INSERT INTO orders SELECT g, 'c', g FROM generate_series(1, 10) g`)
	topic := "shop.public.orders"
	c, _ := startCapture(t, testConfig(db, tr, orders))
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	if n := len(replay(readChanges(t, tr, topic))); n != 10 {
		t.Fatalf("snapshot: %d rows, want 10", n)
	}
	db.exec(`INSERT INTO orders VALUES (11, 'n', 11), (2000, 'n', 2000)`)
	db.exec(`UPDATE orders SET qty = -1 WHERE id = 1`)
	db.exec(`DELETE FROM orders WHERE id = 2`)
	want := project(db.tableState("orders"), "id", "qty")
	if !within(10*time.Second, func() bool {
		return sameState(t, project(replay(readChanges(t, tr, topic)), "id", "qty"), want)
	}) {
		t.Errorf("changes of a partitioned table never reach the topic: %d streamed records, topic state %v, table %v",
			len(streamed(readChanges(t, tr, topic))), project(replay(readChanges(t, tr, topic)), "id", "qty"), want)
	}
}

// A key column renamed mid-stream: the key follows the Relation message
// (pgoutput flags the identity's columns), so later changes stay keyed and
// deletes keep their tombstones.
func TestCaptureKeyColumnRenamed(t *testing.T) {
	db := newTestDB(t)
	tr := newEmbedded(t)
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, qty int)`)
	db.exec(`INSERT INTO orders SELECT g, g FROM generate_series(1, 3) g`)
	topic := "shop.public.orders"
	c, _ := startCapture(t, testConfig(db, tr, orders))
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	db.exec(`ALTER TABLE orders RENAME COLUMN id TO order_id`)
	db.exec(`UPDATE orders SET qty = 9 WHERE order_id = 1`)
	db.exec(`DELETE FROM orders WHERE order_id = 2`)
	eventually(t, "the update and the delete", func() bool { return len(streamed(readChanges(t, tr, topic))) >= 2 })
	time.Sleep(500 * time.Millisecond)
	tombstones := 0
	for _, ch := range streamed(readChanges(t, tr, topic)) {
		if ch.Tombstone {
			tombstones++
			continue
		}
		if ch.Key == nil {
			t.Errorf("%s change after renaming the key column has a null key (partition %d)", ch.Op, ch.Partition)
		}
	}
	if tombstones != 1 {
		t.Errorf("%d tombstones after the delete, want 1", tombstones)
	}
}

// An update that leaves an externally stored (TOASTed) key column alone
// sends it as 'u' (unchanged) in the new row and whole in the old key: the
// record is keyed by the row's key, not by the placeholder.
func TestCaptureToastedKey(t *testing.T) {
	db := newTestDB(t)
	tr := newEmbedded(t)
	db.exec(`CREATE TABLE orders (id text PRIMARY KEY, qty int)`)
	db.exec(`ALTER TABLE orders ALTER COLUMN id SET STORAGE EXTERNAL`) // out of line, uncompressed, above ~2 kB
	db.exec(`INSERT INTO orders VALUES (repeat('k', 2300), 1), ('short', 1)`)
	topic := "shop.public.orders"
	c, _ := startCapture(t, testConfig(db, tr, orders))
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	db.exec(`UPDATE orders SET qty = 2`)
	eventually(t, "two updates", func() bool { return len(streamed(readChanges(t, tr, topic))) >= 2 })
	for _, ch := range streamed(readChanges(t, tr, topic)) {
		id, _ := ch.Key["id"].(string)
		if id != "short" && id != strings.Repeat("k", 2300) {
			t.Errorf("update of a row with a TOASTed key is keyed %.60q (partition %d), not by the row's key", id, ch.Partition)
		}
	}
}

// A write that fails is noticed at once, not at the next change: else the
// capture would look healthy while the change waits, and a PostgreSQL
// shutdown (no next change comes) would wait for a confirmation forever.
func TestCaptureFailedWriteNoticedWhileQuiet(t *testing.T) {
	db := newTestDB(t)
	tr := &faultyTransport{Transport: newEmbedded(t)}
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, qty int)`)
	topic := "shop.public.orders"
	var failures atomic.Int32
	tr.set(func(recs []*transport.Record) (bool, bool) {
		if toTopic(recs, topic) && !snapshotted(recs) && failures.Add(1) == 1 {
			return true, false // the first streamed batch fails, unwritten
		}
		return false, false
	})
	cfg := testConfig(db, tr, orders)
	cfg.Heartbeat = 0
	c, _ := startCapture(t, cfg)
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	db.exec(`INSERT INTO orders VALUES (1, 1)`)
	eventually(t, "the failed write", func() bool { return failures.Load() >= 1 })
	if !within(5*time.Second, func() bool {
		return c.Status().Err != "" || len(readChanges(t, tr, topic)) > 0
	}) {
		t.Errorf("5 s after a failed write the capture still reports %+v and the change is not written; "+
			"it waits for the next change to notice", c.Status())
	}
	db.exec(`INSERT INTO orders VALUES (2, 2)`) // the next change un-sticks it
	eventually(t, "both rows", func() bool { return len(replay(readChanges(t, tr, topic))) == 2 })
}

// gateTransport holds Produce to one topic until open is closed.
type gateTransport struct {
	transport.Transport
	topic   string
	once    sync.Once
	blocked chan struct{}
	open    chan struct{}
}

func (g *gateTransport) Produce(ctx context.Context, recs []*transport.Record) error {
	if toTopic(recs, g.topic) {
		g.once.Do(func() { close(g.blocked) })
		select {
		case <-g.open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.Transport.Produce(ctx, recs)
}

// The slot is idle while its exported snapshot is copied, so it fences no
// one; the capture's advisory lock does: a second capture of the slot (a
// worker that lost its lease without noticing) waits instead of taking the
// snapshot for an interrupted one, dropping the slot and snapshotting
// again, after which the first would write its older rows last.
func TestCaptureFencedDuringSnapshot(t *testing.T) {
	db := newTestDB(t)
	base := newEmbedded(t)
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, customer text, qty int)`)
	db.exec(`INSERT INTO orders SELECT g, 'c', g FROM generate_series(1, 50) g`)
	topic := "shop.public.orders"
	gate := &gateTransport{Transport: base, topic: topic, blocked: make(chan struct{}), open: make(chan struct{})}
	cfg1 := testConfig(db, gate, orders)
	cfg1.BatchRecords = 10
	c1, stop1 := startCapture(t, cfg1)
	select {
	case <-gate.blocked: // capture 1 is inside its snapshot
	case <-time.After(60 * time.Second):
		t.Fatal("capture 1 never wrote")
	}
	var active bool
	if err := db.conn.QueryRow(context.Background(), `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, cfg1.Slot).Scan(&active); err != nil {
		t.Fatal(err)
	}
	t.Logf("slot active while capture 1 copies its snapshot: %v", active)
	db.exec(`DELETE FROM orders WHERE id = 1`)
	db.exec(`UPDATE orders SET qty = -2 WHERE id = 2`)

	cfg2 := testConfig(db, base, orders)
	c2, stop2 := startCapture(t, cfg2)
	eventually(t, "capture 2 to be fenced", func() bool { return strings.Contains(c2.Status().Err, "another capture of slot") })
	close(gate.open)
	eventually(t, "capture 1 to finish its snapshot", func() bool { return c1.Status().State != "snapshot" && c1.Status().SnapshotRows == 50 })
	time.Sleep(time.Second)
	stop1()
	stop2()
	want := project(db.tableState("orders"), "id", "qty")
	got := project(replay(readChanges(t, base, topic)), "id", "qty")
	if !sameState(t, got, want) {
		t.Errorf("the topic does not replay to the table after two overlapping captures: row 1 %q (deleted), row 2 %q (want %q)",
			got[`{"id":1}`], got[`{"id":2}`], want[`{"id":2}`])
	}
}

// REPLICA IDENTITY USING INDEX: the old row of an update or delete holds
// the index's columns only. On other columns than the primary key a
// delete could not be keyed, so the capture refuses the table; on a table
// without a primary key the index's columns are the key.
func TestCaptureReplicaIdentityUsingIndex(t *testing.T) {
	db := newTestDB(t)
	tr := newEmbedded(t)
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, code text NOT NULL UNIQUE, qty int)`)
	db.exec(`ALTER TABLE orders REPLICA IDENTITY USING INDEX orders_code_key`)
	c, stop := startCapture(t, testConfig(db, tr, orders))
	eventually(t, "the refusal", func() bool {
		return strings.Contains(c.Status().Err, "REPLICA IDENTITY USING INDEX on (code), not its primary key (id)")
	})
	stop()

	codes := TableName{"public", "codes"}
	db.exec(`CREATE TABLE codes (code text NOT NULL, qty int)`)
	db.exec(`CREATE UNIQUE INDEX codes_code ON codes (code)`)
	db.exec(`ALTER TABLE codes REPLICA IDENTITY USING INDEX codes_code`)
	db.exec(`INSERT INTO codes VALUES ('a', 1), ('b', 2)`)
	c, _ = startCapture(t, testConfig(db, tr, codes))
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	db.exec(`DELETE FROM codes WHERE code = 'a'`)
	db.exec(`UPDATE codes SET qty = 3 WHERE code = 'b'`)
	eventually(t, "the delete and the update", func() bool {
		state := map[string]any{}
		for _, ch := range readChanges(t, tr, "shop.public.codes") {
			k := fmt.Sprint(ch.Key["code"])
			if ch.Tombstone || ch.Op == "d" {
				delete(state, k)
			} else {
				state[k] = ch.After["qty"]
			}
		}
		return len(state) == 1 && state["b"] == float64(3)
	})
}
