package plan

import (
	"strings"
	"testing"
)

// returnsSource is a fourth stream for joins of more than three.
const returnsSource = `
CREATE SOURCE returns (
    order_id bigint, reason text, returned_at timestamptz,
    WATERMARK FOR returned_at AS returned_at - INTERVAL '1' SECOND
) WITH (connector = 'topic', topic = 'returns');
`

// In a join of four streams the middle join's left side is the first
// join's pairs, exactly as the last join's is in a join of three: it
// reads them by o.placed_at, which lags the first join's watermark by as
// long as orders wait there (1 minute). Its LeftLag must say so, as it
// does for the same join when it is the last (TestChainedStreamJoin).
func TestFourStreamMiddleJoinLag(t *testing.T) {
	const sec = int64(1_000_000)
	middle := `SELECT o.id, s.carrier FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' MINUTE
JOIN shipments s ON s.order_id = o.id AND s.shipped_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '2' HOUR`
	three, err := analyzeStreams(t, middle)
	if err != nil {
		t.Fatal(err)
	}
	if three.StreamJoin.LeftLag != 60*sec {
		t.Fatalf("three streams: lag %d, want %d", three.StreamJoin.LeftLag, 60*sec)
	}
	four, err := analyzeStreams(t, middle+`
JOIN returns r ON r.order_id = s.order_id AND r.returned_at BETWEEN s.shipped_at AND s.shipped_at + INTERVAL '1' DAY`)
	if err != nil {
		t.Fatal(err)
	}
	mid := four.StreamJoin.Before
	if mid == nil || mid.Right.Name != "shipments" {
		t.Fatalf("not a chain of four: %+v", four.StreamJoin)
	}
	if got := mid.LeftRow[mid.LeftTime].Name; got != "placed_at" {
		t.Fatalf("middle join's left time %s", got)
	}
	if mid.LeftLag != 60*sec {
		t.Errorf("middle join of four streams: LeftLag %d, want %d (orders wait 1 minute in the first join)", mid.LeftLag, 60*sec)
	}
}

// A time bound on the pairs of an unbounded join is refused for the last
// join (TestChainedStreamJoinErrors, "unbounded first join"); the same
// join in the middle of four streams must be refused too.
func TestFourStreamMiddleBoundOverUnboundedJoin(t *testing.T) {
	middle := `SELECT o.id FROM orders o JOIN payments p ON o.id = p.order_id
JOIN shipments s ON s.order_id = o.id AND s.shipped_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' HOUR`
	if _, err := analyzeStreams(t, middle); err == nil || !strings.Contains(err.Error(), "not bounded on both sides") {
		t.Fatalf("three streams: %v, want a refusal", err)
	}
	_, err := analyzeStreams(t, middle+`
JOIN returns r ON r.order_id = s.order_id`)
	if err == nil {
		t.Fatal("four streams: accepted a time bound on the pairs of a join without one (its pairs may come at any time)")
	}
	if !strings.Contains(err.Error(), "not bounded on both sides") {
		t.Fatalf("four streams: %v", err)
	}
}

// WHERE of an inner join may hold its bound (WHERE's conjuncts go to
// the earliest join that has their columns, as its bound over both sides
// of an inner join), read by the time of the stream it names
// (chooseLeftTime) for the middle join of four streams as for the last:
// the query is the same as with the bound in ON.
func TestFourStreamMiddleBoundInWhere(t *testing.T) {
	const head = `SELECT o.id FROM orders o JOIN payments p ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at AND o.placed_at + INTERVAL '1' MINUTE
JOIN shipments s ON s.order_id = p.order_id`
	const mid = `s.shipped_at BETWEEN p.paid_at AND p.paid_at + INTERVAL '1' HOUR`
	const last = `
JOIN returns r ON r.order_id = s.order_id AND r.returned_at BETWEEN s.shipped_at AND s.shipped_at + INTERVAL '1' HOUR`
	on, err := analyzeStreams(t, head+" AND "+mid+last)
	if err != nil {
		t.Fatalf("bound in ON: %v", err)
	}
	if l, r := on.StreamJoin.Before.Keep(); l != 3600*1_000_000 || r != 0 {
		t.Fatalf("bound in ON: the middle join keeps %d, %d", l, r)
	}
	where, err := analyzeStreams(t, head+last+"\nWHERE "+mid)
	if err != nil {
		t.Fatalf("the middle join's bound in WHERE: %v", err)
	}
	if l, r := where.StreamJoin.Before.Keep(); l != 3600*1_000_000 || r != 0 {
		t.Errorf("bound in WHERE: the middle join keeps %d, %d; want as with ON", l, r)
	}
}
