package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"testing"
	"time"
)

// Top-N over window joins, with small inputs whose ranked rows are
// known by hand.

// atSecond formats a time 2026-03-01 00:00:00 + s seconds for the sources.
func atSecond(s float64) string {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	return base.Add(time.Duration(s * float64(time.Second))).Format("2006-01-02 15:04:05.999")
}

// A HOP window join makes one joined row per window that holds both
// rows of a pair: here an order at 5 s and its payment at 5.5 s meet in
// the windows starting at 0, 2 and 4 s (2 s slide, 6 s size). All three
// rows are the ranked query's input, so per customer the top three are
// the three windows' rows: each joined row's identity (pairID) holds the
// join key, and with it the window, so the top-N takes none of them for
// a replay of another.
func TestTopNOverHopWindowJoinKeepsEachWindowsRow(t *testing.T) {
	n, e := sjEngine(t, nil, true)
	mustExec(t, e, `CREATE SINK top_hop WITH (connector = 'topic', topic = 'top_hop') AS
		SELECT customer, id, ws, paid, rn FROM (
		  SELECT o.customer, o.id, o.window_start AS ws, p.amount AS paid,
		         ROW_NUMBER() OVER (PARTITION BY o.customer ORDER BY p.amount DESC) AS rn
		  FROM HOP(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '2' SECOND, INTERVAL '6' SECOND) o
		  JOIN HOP(TABLE payments, DESCRIPTOR(paid_at), INTERVAL '2' SECOND, INTERVAL '6' SECOND) p
		    ON o.id = p.order_id AND p.window_start = o.window_start) WHERE rn <= 3`)
	produceValue(t, n.tr, "orders", fmt.Sprintf(`{"id":1,"customer":"c1","amount":50,"placed_at":"%s"}`, atSecond(5)))
	produceValue(t, n.tr, "payments", fmt.Sprintf(`{"order_id":1,"amount":70,"paid_at":"%s"}`, atSecond(5.5)))
	// Far ahead: every window closes.
	produceValue(t, n.tr, "orders", fmt.Sprintf(`{"id":-1,"customer":"zz","amount":0,"placed_at":"%s"}`, atSecond(100)))
	produceValue(t, n.tr, "payments", fmt.Sprintf(`{"order_id":-2,"amount":0,"paid_at":"%s"}`, atSecond(100)))
	// The three rows tie on ORDER BY: which window is at which rank is
	// not defined, so compare the windows that are ranked.
	want := map[string]int{"2026-03-01T00:00:00": 1, "2026-03-01T00:00:02": 1, "2026-03-01T00:00:04": 1}
	var starts map[string]int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		starts = map[string]int{}
		for _, v := range currentRows(t, n, "top_hop") {
			var row struct {
				WS string `json:"ws"`
			}
			if err := json.Unmarshal([]byte(v), &row); err == nil {
				starts[row.WS]++
			}
		}
		if maps.Equal(starts, want) {
			return
		}
	}
	if !maps.Equal(starts, want) {
		t.Errorf("ranked windows %v, want %v; rows %v", starts, want, currentRows(t, n, "top_hop"))
	}
}
