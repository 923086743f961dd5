package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tide-data/tide/internal/transport"
)

// evSource is one partition with event time, so that a window closes as
// soon as a later record arrives.
const evSource = `CREATE SOURCE ev (id bigint, amount bigint, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
	WITH (connector = 'topic', topic = 'ev', topic.partitions = '1')`

var evBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func produceEv(t *testing.T, tr transport.Transport, from, to int, at time.Time) {
	t.Helper()
	var recs []*transport.Record
	for i := from; i < to; i++ {
		recs = append(recs, &transport.Record{Topic: "ev", Partition: 0, Key: fmt.Appendf(nil, "k%d", i),
			Value: fmt.Appendf(nil, `{"id":%d,"amount":%d,"ts":"%s"}`, i, i%10, at.Format("2006-01-02 15:04:05.999999"))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tr.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
}

// A sink's parts add up into its own metrics series: a sink named as a
// part would be ("x.union1") has series of its own, and no scrape sees
// the same labels twice.
func TestUnionPartMetricsBesideSinkOfThatName(t *testing.T) {
	reg := prometheus.NewRegistry()
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngineWith(t, n, func(c *Config) { c.Metrics = reg })
	defer closeEngine(t, e)
	mustExec(t, e, evSource)
	mustExec(t, e, `CREATE SINK x WITH (connector = 'topic', topic = 'x') AS
		SELECT id, amount FROM ev UNION ALL SELECT amount, count(*) FROM ev GROUP BY amount`)
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("control: %v", err)
	}
	mustExec(t, e, `CREATE SINK "x.union1" WITH (connector = 'topic', topic = 'y') AS SELECT id FROM ev`)
	if _, err := reg.Gather(); err != nil {
		t.Errorf("metrics of sink x's part and of sink \"x.union1\": %v", err)
	}
}

// A sink dropped on another worker: this worker removes the local state
// of every part.
func TestRemoteDropRemovesPartState(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	dir1, dir2 := t.TempDir(), t.TempDir()
	e1 := openEngineWith(t, n, func(c *Config) { c.WorkerID, c.StateDir = "w1", dir1 })
	defer closeEngine(t, e1)
	e2 := openEngineWith(t, n, func(c *Config) { c.WorkerID, c.StateDir = "w2", dir2 })
	defer closeEngine(t, e2)
	mustExec(t, e1, clicksSource)
	mustExec(t, e1, `CREATE SINK totals WITH (connector = 'topic', topic = 'totals') AS
		SELECT user_id, count(*) AS n FROM clicks GROUP BY user_id
		UNION ALL SELECT -1 - user_id, count(*) FROM clicks WHERE amount > 5 GROUP BY user_id`)
	var first, part string
	waitFor(t, "the sink on the second worker", func() bool {
		e2.mu.Lock()
		defer e2.mu.Unlock()
		if p := e2.mu.pipelines["totals"]; p != nil && len(p.parts) == 1 {
			first, part = p.stateful.stateDir, p.parts[0].stateful.stateDir
			return true
		}
		return false
	})
	for _, d := range []string{first, part} {
		if _, err := os.Stat(d); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(t, e1, `DROP SINK totals`)
	waitFor(t, "the first query's state removed on the second worker", func() bool {
		_, err := os.Stat(first)
		return os.IsNotExist(err)
	})
	time.Sleep(200 * time.Millisecond)
	if _, err := os.Stat(part); err == nil {
		t.Errorf("the part's state %s is left on the second worker after a DROP on the first", part)
	}
}

// CREATE SINK of a UNION ALL whose second query cannot start (its
// source's topic is missing): the first part, already built with its
// internal topics and state directory, leaves nothing behind (the ID is
// never used again).
func TestFailedCreateLeavesNoPartTopics(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	stateDir := t.TempDir()
	e := openEngineWith(t, n, func(c *Config) { c.StateDir = stateDir })
	defer closeEngine(t, e)
	mustExec(t, e, evSource)
	mustExec(t, e, `CREATE SOURCE gone (id bigint, amount bigint) WITH (connector = 'topic', topic = 'gone', topic.create = 'false')`)
	if _, err := e.Execute(context.Background(), `CREATE SINK s WITH (connector = 'topic', topic = 's') AS
		SELECT amount, count(*) AS n FROM ev GROUP BY amount
		UNION ALL SELECT amount, count(*) FROM gone GROUP BY amount`, ExecOptions{}); err == nil {
		t.Fatal("CREATE SINK over a missing topic succeeded")
	}
	if _, ok := e.catalog.Get("s"); ok {
		t.Fatal("the failed sink is in the catalog")
	}
	var left []string
	for _, tp := range n.log.Topics() {
		if strings.HasPrefix(tp.Name(), internalTopicPrefix+"s-") {
			left = append(left, tp.Name())
		}
	}
	entries, _ := os.ReadDir(stateDir)
	for _, d := range entries {
		left = append(left, filepath.Join(stateDir, d.Name()))
	}
	if len(left) > 0 {
		t.Errorf("a CREATE SINK that failed left %v", left)
	}
}

// The http sink's Idempotency-Key is <topic>/<partition>/<offset> of the
// input, <topic>#union<N> for a later query reading what an earlier one
// reads (docs/SQL.md): also when the queries run as parts (a stateful
// query in the union), two stateless queries over one topic give their
// outputs of one input different keys.
func TestUnionPartsIdempotencyKeys(t *testing.T) {
	var (
		mu   sync.Mutex
		byID = map[string][]string{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		id := r.Header.Get("Idempotency-Key")
		byID[id] = append(byID[id], string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, evSource)
	mustExec(t, e, fmt.Sprintf(`CREATE SINK hook WITH (connector = 'http', url = '%s') AS
		SELECT id, amount FROM ev
		UNION ALL SELECT id, amount + 1000 FROM ev
		UNION ALL SELECT count(*), 0 FROM TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' HOUR) GROUP BY window_start, window_end`, srv.URL))
	produceEv(t, n.tr, 0, 10, evBase)
	waitFor(t, "20 deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		total := 0
		for _, bodies := range byID {
			total += len(bodies)
		}
		return total >= 20
	})
	mu.Lock()
	defer mu.Unlock()
	for id, bodies := range byID {
		if len(bodies) > 1 {
			t.Errorf("Idempotency-Key %s names different outputs: %v", id, bodies)
		}
	}
}

// A file sink with 'prefix': every part has a file sink of its own on the
// same directory, its files named <prefix>.union<N>-…, so a part's first
// write, which finishes the files of its prefix a crash left in
// progress, leaves the other parts' open files alone.
func TestFileSinkPartsKeepTheirFiles(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, evSource)
	mustExec(t, e, fmt.Sprintf(`CREATE SINK files WITH (connector = 'file', path = '%s', prefix = 'out') AS
		SELECT id, amount FROM ev
		UNION ALL SELECT count(*), 0 FROM TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND) GROUP BY window_start, window_end`, dir))
	files := func() (done, open []string) {
		entries, _ := os.ReadDir(dir)
		for _, d := range entries {
			if strings.HasSuffix(d.Name(), inProgressSuffixOfFiles) {
				open = append(open, d.Name())
			} else {
				done = append(done, d.Name())
			}
		}
		return done, open
	}
	produceEv(t, n.tr, 0, 10, evBase)
	waitFor(t, "the stateless part's file", func() bool { _, open := files(); return len(open) == 1 })
	produceEv(t, n.tr, 10, 11, evBase.Add(time.Hour)) // closes the first window: the aggregating part writes
	waitFor(t, "the aggregating part's row", func() bool {
		done, open := files()
		return len(done)+len(open) >= 2
	})
	done, open := files()
	t.Logf("finished %v, in progress %v", done, open)
	sizes := map[string]int64{}
	for _, f := range done {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		sizes[f] = st.Size()
	}
	produceEv(t, n.tr, 11, 20, evBase.Add(time.Hour)) // the stateless part writes on
	time.Sleep(time.Second)
	for f, size := range sizes {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != size {
			t.Errorf("finished file %s grew from %d to %d bytes: it was still being written", f, size, st.Size())
		}
	}
	if len(open) != 2 {
		t.Errorf("%d files in progress, want one per part (2)", len(open))
	}
}

const inProgressSuffixOfFiles = ".inprogress"
