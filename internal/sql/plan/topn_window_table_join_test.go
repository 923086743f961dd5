package plan

import (
	"slices"
	"strings"
	"testing"
)

// A top-N over a window joined with a table, partitioned by a table
// column only, is refused as it is without the join: the window's bounds
// are the row's last two columns, not every column after the source's
// (the tables' come there too).
func TestWindowTableJoinTopNPartitionByTableColumn(t *testing.T) {
	for _, fn := range []string{"ROW_NUMBER", "RANK", "DENSE_RANK"} {
		_, err := analyzeSink(t, sink+`SELECT id FROM (SELECT o.id, `+fn+`() OVER (PARTITION BY c.tier ORDER BY o.amount DESC) AS rn
		  FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o JOIN customers c ON o.customer = c.name) r WHERE rn <= 3`)
		if err == nil || !strings.Contains(err.Error(), "window_start or window_end") {
			t.Errorf("%s PARTITION BY c.tier over TUMBLE JOIN customers: %v; want refused", fn, err)
		}
	}
}

// SELECT * in the ranked query over a window joined with a table has
// window_start and window_end, as without the join (and as o.* has them).
func TestWindowTableJoinStarHasBounds(t *testing.T) {
	p, err := analyzeSink(t, sink+`SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY amount DESC) AS rn
	  FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE) o JOIN customers c ON o.customer = c.name) r WHERE rn <= 3`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range p.TopN.Columns {
		names = append(names, c.Name)
	}
	if !slices.Contains(names, ColWindowStart) || !slices.Contains(names, ColWindowEnd) {
		t.Errorf("* over TUMBLE JOIN customers: %v; want window_start and window_end among them", names)
	}
}
