package engine

import (
	"testing"
	"time"
)

// waitRowsFor polls the sink's current rows for want; on timeout it says
// what they are.
func waitRowsFor(t *testing.T, n *node, topic string, want map[string]string, timeout time.Duration) {
	t.Helper()
	var got map[string]string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = currentRows(t, n, topic)
		if len(got) == len(want) {
			same := true
			for k, v := range want {
				if got[k] != v {
					same = false
				}
			}
			if same {
				return
			}
		}
	}
	t.Fatalf("%s: rows %v, want %v", topic, got, want)
}

// max over an updating subquery's groups, end to end: customer a's total
// is 1.00, customer b's 1.0 (equal, as Postgres compares numerics); then
// a's total falls to 0.50. The only row left at the top is b's 1.0, and
// the max prints it so, not as the form a's row took back.
func TestOuterMaxPrintsAHeldForm(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngineWith(t, n, func(cfg *Config) { cfg.StateDir = t.TempDir() })
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE buys (customer text, amount numeric) WITH (connector = 'topic', topic = 'buys')`)
	mustExec(t, e, `CREATE SINK top WITH (connector = 'topic', topic = 'top') AS
		SELECT max(total) AS most, count(*) AS n FROM (SELECT customer, sum(amount) AS total FROM buys GROUP BY customer)`)
	produceRows(t, n.tr, "buys", false, `{"customer":"a","amount":1.00}`)
	waitRowsFor(t, n, "top", map[string]string{"": `{"most":1.00,"n":1}`}, 30*time.Second)
	produceValue(t, n.tr, "buys", `{"customer":"b","amount":1.0}`)
	waitRowsFor(t, n, "top", map[string]string{"": `{"most":1.00,"n":2}`}, 30*time.Second)
	produceValue(t, n.tr, "buys", `{"customer":"a","amount":-0.50}`)
	waitRowsFor(t, n, "top", map[string]string{"": `{"most":1.0,"n":2}`}, 15*time.Second)
}
