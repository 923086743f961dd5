package engine

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A UNION ALL's stateful options are its stateful queries': a stateless
// query takes none (checkpoint.interval tunes the others), and one a
// stateful query cannot take is refused (emit.early with a GROUP BY
// without a window).
func TestUnionPartsOptions(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, evSource)
	mustExec(t, e, `CREATE SINK a WITH (connector = 'topic', topic = 'a', checkpoint.interval = '1s') AS
		SELECT id, amount FROM ev UNION ALL SELECT count(*), 0 FROM TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND) GROUP BY window_start, window_end`)
	if st := e.mu.pipelines["a"].parts[0].stateful; st == nil || st.interval != time.Second {
		t.Errorf("the stateful query's checkpoint interval: %+v", st)
	}
	_, err := e.Execute(context.Background(), `CREATE SINK b WITH (connector = 'topic', topic = 'b', emit.early = '1s') AS
		SELECT amount, count(*) FROM TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE) GROUP BY amount, window_start, window_end
		UNION ALL SELECT amount + 100, count(*) FROM ev GROUP BY amount`, ExecOptions{})
	if err == nil || !strings.Contains(err.Error(), "emit.early") {
		t.Errorf("emit.early with a GROUP BY without a window: %v", err)
	}
}
