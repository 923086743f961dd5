package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// The queries of a UNION ALL that read the same topic into a postgres
// sink each keep their own progress (by the input in their outputs'
// origins): every input gives two rows, none is skipped as applied.
func TestUnionAllSameSourceIntoPostgres(t *testing.T) {
	db, dsn := testPostgres(t)
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	if err := n.tr.CreateTopic(context.Background(), transport.TopicSpec{Name: "orders", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, e, ordersSource)
	mustExec(t, e, `CREATE SINK both_sides WITH (connector = 'postgres', url = '`+dsn+`', table = 'sides', 'primary-key' = 'k', table.create = 'true') AS
		SELECT concat('a', id) AS k, id FROM orders UNION ALL SELECT concat('b', id) AS k, id FROM orders`)
	const total = 200
	for i := 0; i < total; i += 20 { // in several batches, so the two queries interleave
		produceOrders(t, n.tr, i, i+20)
		time.Sleep(20 * time.Millisecond)
	}
	count := func() int {
		rows := pgStrings(t, db, "SELECT count(*)::text FROM sides")
		if len(rows) == 0 {
			return 0
		}
		var c int
		fmt.Sscan(rows[0], &c)
		return c
	}
	deadline := time.Now().Add(20 * time.Second)
	for count() < 2*total && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if got := count(); got != 2*total {
		t.Errorf("the table has %d rows, want %d (%d inputs, two queries); per side: %v", got, 2*total, total,
			pgStrings(t, db, "SELECT left(k, 1) || ' ' || count(*) FROM sides GROUP BY left(k, 1)"))
	}
}
