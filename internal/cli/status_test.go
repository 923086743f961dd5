package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// status runs tide status against ts: args get --url.
func (ts *testServer) status(t *testing.T, args ...string) result {
	t.Helper()
	return tide(t, "", append([]string{"status", "--url", ts.sqlURL()}, args...)...)
}

// tide status prints one screen: the header, then topics, pipelines (with
// counters, lag and objective), groups (internal ones only with --all)
// and alerts; --json prints the server's document.
func TestStatusCommand(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.sql(t, "", "-c", `CREATE SOURCE orders (id bigint) WITH (connector = 'topic', topic = 'orders', topic.partitions = '2');
		CREATE SINK quiet WITH (connector = 'blackhole', lag_slo = '30s') AS SELECT id FROM orders;`).ok(t)
	ts.tide(t, "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n", "produce", "orders", "--partition", "1").ok(t)

	var r result
	waitFor(t, "the pipeline's records in tide status", func() bool {
		r = ts.status(t).ok(t)
		return strings.Contains(r.stdout, " 3 ") && table(r.stdout, 1)["quiet"] != nil && table(r.stdout, 1)["quiet"][4] == "3"
	})
	out := r.stdout
	if !strings.HasPrefix(out, "Tide on embedded, worker ") || !strings.Contains(out, "rates over ") {
		t.Errorf("header of:\n%s", out)
	}
	for _, want := range []string{"\nTOPICS (", "\nPIPELINES (1)\n", "\nGROUPS (", "\nALERTS (0)\nno lag objective missed\n",
		"internal group(s) not shown: --all shows them"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	rows := table(out, 1)
	// NAME PARTITIONS END-OFFSET RECORDS/S
	if o := rows["orders"]; len(o) != 4 || o[1] != "2" || o[2] != "3" {
		t.Errorf("orders row %q in:\n%s", o, out)
	}
	// NAME SOURCE CONNECTOR STATE IN OUT DEAD IN/S OUT/S LAG LAG-AGE SLO ALERT
	if q := rows["quiet"]; len(q) != 13 || q[1] != "orders" || q[2] != "blackhole" || q[3] != "running" || q[5] != "3" ||
		q[6] != "0" || q[11] != "30s" || q[12] != "-" {
		t.Errorf("quiet row %q in:\n%s", q, out)
	}
	if strings.Contains(out, "__") {
		t.Errorf("internal groups shown without --all:\n%s", out)
	}
	if out := ts.status(t, "--all").ok(t).stdout; !strings.Contains(out, "\n__") || strings.Contains(out, "not shown") {
		t.Errorf("--all:\n%s", out)
	}

	// --json: the server's document, one line.
	r = ts.status(t, "--json").ok(t)
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("--json printed %q: %v", r.stdout, err)
	}
	for _, key := range []string{"backend", "uptime_seconds", "topics", "pipelines", "groups", "alerts"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("--json lacks %q: %s", key, r.stdout)
		}
	}
}

// --watch redraws the screen (ANSI clear) until interrupted, then exits 0.
func TestStatusWatch(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	b := runInBackground("status", "--url", ts.sqlURL(), "--watch", "--interval", "100ms")
	waitFor(t, "three screens", func() bool { return strings.Count(b.stdout.String(), clearScreen) >= 3 })
	r := b.stop(t)
	if r.code != 0 || r.stderr != "" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	screens := strings.Split(r.stdout, clearScreen)
	if !strings.HasPrefix(screens[1], "Every 100ms: tide status") || !strings.Contains(screens[1], "PIPELINES (0)") {
		t.Errorf("a screen:\n%s", screens[1])
	}
}

// An unreachable server exits 1; bad flags 2; under --watch a failed
// request is shown and retried.
func TestStatusErrors(t *testing.T) {
	t.Parallel()
	r := tide(t, "", "status", "--url", "http://127.0.0.1:1", "--timeout", "2s")
	if r.code != ExitFailure || !strings.HasPrefix(r.stderr, "tide: server at http://127.0.0.1:1") {
		t.Errorf("unreachable: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := tide(t, "", "status", "--interval", "0s"); r.code != ExitUsage {
		t.Errorf("--interval 0s: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := tide(t, "", "status", "extra"); r.code != ExitUsage {
		t.Errorf("an argument: exit %d, stderr %q", r.code, r.stderr)
	}
	b := runInBackground("status", "--url", "http://127.0.0.1:1", "--watch", "--interval", "50ms", "--timeout", "1s")
	waitFor(t, "two failed screens", func() bool { return strings.Count(b.stdout.String(), "tide: server at") >= 2 })
	if r := b.stop(t); r.code != 0 {
		t.Errorf("--watch on an unreachable server: exit %d", r.code)
	}
}

// The screen's alert section: the table, then each recommendation.
func TestStatusRenderAlerts(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var st statusDoc
	err := json.Unmarshal([]byte(`{"backend":"kafka","worker":"w1","uptime_seconds":3725,"rate_interval_seconds":2,
		"topics":[{"name":"orders","partitions":4,"end_offset":1200,"records_per_second":50}],
		"pipelines":[{"name":"hook","source":"orders","connector":"http","state":"running","in":900,"out":880,"dead_lettered":20,
			"in_per_second":10,"out_per_second":0,"lag_records":300,"lag_seconds":12.34,"lag_slo_seconds":5,"alert":"firing","last_error":"http 503"}],
		"groups":[{"name":"tide-sink-hook-1","state":"Stable","members":1,"partitions":4,"lag_records":300,"lag_seconds":12.34}],
		"alerts":[{"pipeline":"hook","lag_seconds":12.34,"lag_records":300,"slo_seconds":5,"started_at":"2026-03-01T11:59:30Z",
			"action":"add_workers","recommendation":"add workers: start up to 3 more"}]}`), &st)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	(&statusClient{}).render(&b, &st, now)
	want := `Tide on kafka, worker w1, up 1h2m5s; rates over 2.0s

TOPICS (1)
NAME    PARTITIONS  END OFFSET  RECORDS/S
orders  4           1200        50.0

PIPELINES (1)
NAME  SOURCE  CONNECTOR  STATE    IN   OUT  DEAD  IN/S  OUT/S  LAG  LAG AGE  SLO  ALERT
hook  orders  http       running  900  880  20    10.0  0.0    300  12.3s    5s   FIRING

GROUPS (1)
NAME              STATE   MEMBERS  PARTITIONS  LAG  LAG AGE
tide-sink-hook-1  Stable  1        4           300  12.3s

ALERTS (1)
PIPELINE  FIRING FOR  LAG  LAG AGE  SLO  ACTION
hook      30s         300  12.3s    5s   add_workers
  hook: add workers: start up to 3 more
  hook last error: http 503
`
	if b.String() != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", b.String(), want)
	}
}
