package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/catalog"
	"github.com/tide-data/tide/internal/transport"
)

// datagenScript generates 60 rows over 2 partitions with the given seed
// and prints the ones that pass the filter on the stdout sink.
func datagenScript(seed int) string {
	return fmt.Sprintf(`
CREATE SOURCE gen (id bigint, name text, score integer) WITH (
    connector = 'datagen', 'number-of-rows' = '60', seed = '%d', 'rows-per-second' = '0', partitions = '2',
    fields.id.kind = 'sequence', fields.name.length = '6', fields.score.max = '100');
CREATE SINK printed WITH (connector = 'stdout') AS
SELECT id, name, score * 2 AS doubled FROM gen WHERE score >= 10;`, seed)
}

// runDatagen runs datagenScript on a fresh engine until the pipeline
// finishes and returns the printed lines and the SHOW SINKS row.
func runDatagen(t *testing.T, seed int) (lines []string, row map[string]string) {
	t.Helper()
	n := openNode(t, t.TempDir())
	defer n.close(t)
	var out syncBuffer
	e := openEngineWith(t, n, func(c *Config) { c.Stdout = &out })
	defer closeEngine(t, e)
	mustExec(t, e, datagenScript(seed))
	// "finished" is set once the tasks wrote their last batches: the
	// counts are final then.
	waitFor(t, "the datagen pipeline to finish", func() bool {
		row = showRow(t, e, "SINKS", "printed")
		return row["state"] == "finished"
	})
	if row["records_in"] != "60" || atoi(t, row["records_out"])+atoi(t, row["filtered"]) != 60 {
		t.Fatalf("finished with counts %v, want 60 in, all written or filtered", row)
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"), row
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

// TestDatagenToStdout runs a bounded datagen source into the stdout sink
// end to end: the pipeline finishes, SHOW SINKS counts what it did, and
// the same seed prints the same rows.
func TestDatagenToStdout(t *testing.T) {
	t.Parallel()
	lines, row := runDatagen(t, 42)
	if row["source"] != "gen" || row["connector"] != "stdout" || row["dead_lettered"] != "0" {
		t.Errorf("SHOW SINKS row %v", row)
	}
	if out := atoi(t, row["records_out"]); len(lines) != out || out == 0 || out == 60 {
		t.Fatalf("%d lines printed, SHOW SINKS says %d out of 60 (the filter should drop some, not all)", len(lines), out)
	}
	ids := map[int64]bool{}
	lastID := map[int64]int64{} // by partition (id-1) % 2: each partition's rows print in order
	for _, line := range lines {
		var v struct {
			ID      int64
			Name    string
			Doubled int64
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if v.ID < 1 || v.ID > 60 || ids[v.ID] || len(v.Name) != 6 || v.Doubled < 20 || v.Doubled > 200 || v.Doubled%2 != 0 {
			t.Errorf("line %q: want a new id in [1, 60], a 6-letter name, doubled score in [20, 200]", line)
		}
		ids[v.ID] = true
		if p := (v.ID - 1) % 2; v.ID <= lastID[p] {
			t.Errorf("id %d printed after %d of the same partition", v.ID, lastID[p])
		} else {
			lastID[p] = v.ID
		}
	}
	// The same seed prints the same rows (partitions interleave in any
	// order); another seed prints others.
	again, _ := runDatagen(t, 42)
	other, _ := runDatagen(t, 43)
	slices.Sort(lines)
	slices.Sort(again)
	slices.Sort(other)
	if !slices.Equal(lines, again) {
		t.Errorf("seed 42 printed different rows on a second run:\n%s\n--\n%s", strings.Join(lines, "\n"), strings.Join(again, "\n"))
	}
	if slices.Equal(lines, other) {
		t.Error("seeds 42 and 43 printed the same rows")
	}
}

// TestDropSinkStopsPipeline drops running sinks: nothing is written
// after DROP returns, and re-creating the name starts a new pipeline (a
// new consumer group, so it reads the topic from the start).
func TestDropSinkStopsPipeline(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.close(t)
	ctx := context.Background()
	if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: "orders", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	e := openEngineWith(t, n, func(c *Config) { c.Stdout = &out })
	defer closeEngine(t, e)
	const copySink = `CREATE SINK copy WITH (connector = 'topic', topic = 'copy') AS SELECT id FROM orders;`
	mustExec(t, e, ordersSource+copySink+`
		CREATE SOURCE ticks (n bigint) WITH (connector = 'datagen', 'rows-per-second' = '2000', fields.n.kind = 'sequence');
		CREATE SINK ticker WITH (connector = 'stdout') AS SELECT n FROM ticks;`)
	oldGroup := pipelineGroup(t, e, "copy")
	produceOrders(t, n.tr, 0, 20)
	readAll(t, n.tr, "copy", 20)
	waitFor(t, "the ticker to print", func() bool { return strings.Count(out.String(), "\n") >= 10 })

	mustExec(t, e, "DROP SINK copy; DROP SINK ticker")
	printed := out.String()
	produceOrders(t, n.tr, 20, 40)
	time.Sleep(300 * time.Millisecond)
	if got := out.String(); got != printed {
		t.Errorf("the dropped stdout sink printed %d more bytes", len(got)-len(printed))
	}
	if ends := endOffsets(t, n.tr, "copy"); ends != 20 {
		t.Errorf("the dropped sink's topic holds %d records, want the 20 written before DROP", ends)
	}
	if res := mustExec(t, e, "SHOW SINKS"); len(res[0].Rows) != 0 {
		t.Errorf("SHOW SINKS after DROP: %v", res[0].Rows)
	}
	// Nothing reads the sources now: they can be dropped.
	mustExec(t, e, "DROP SOURCE ticks")

	mustExec(t, e, copySink)
	newGroup := pipelineGroup(t, e, "copy")
	if newGroup == oldGroup {
		t.Errorf("re-created sink reuses group %s", oldGroup)
	}
	ids := outputIDs(t, readAll(t, n.tr, "copy", 60))
	for i := int64(0); i < 40; i++ {
		if want := map[bool]int{true: 2, false: 1}[i < 20]; ids[i] != want {
			t.Errorf("id %d written %d times, want %d", i, ids[i], want)
		}
	}
}

func endOffsets(t *testing.T, tr transport.Transport, topic string) int64 {
	t.Helper()
	ends, err := tr.EndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, end := range ends {
		sum += end
	}
	return sum
}

// TestRestartRestoresAndReapplies restarts the engine on the same data:
// sources and sinks come back from the catalog, and applying the same
// SQL again with Idempotent (as sql_dir does at every start) changes
// nothing, even written differently; a changed definition is an error.
func TestRestartRestoresAndReapplies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const script = `
CREATE SOURCE orders (id bigint, amount integer) WITH (connector = 'topic', topic = 'orders', topic.partitions = '2');
CREATE SINK big WITH (connector = 'topic', topic = 'big') AS SELECT id, amount FROM orders WHERE amount > 50;`
	n := openNode(t, dir)
	e := openEngine(t, n)
	res, err := e.Execute(context.Background(), script, ExecOptions{Idempotent: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Message != "created source orders" || !strings.HasPrefix(res[1].Message, "created sink big") {
		t.Fatalf("first application: %+v", res)
	}
	group := pipelineGroup(t, e, "big")
	produceOrders(t, n.tr, 0, 100)
	readAll(t, n.tr, "big", 49)
	closeEngine(t, e)
	n.close(t)

	n = openNode(t, dir)
	defer n.close(t)
	e = openEngine(t, n)
	defer closeEngine(t, e)
	if row := showRow(t, e, "SOURCES", "orders"); row == nil || row["connector"] != "topic" || row["columns"] != "2" {
		t.Errorf("restored source: %v", row)
	}
	if row := showRow(t, e, "SINKS", "big"); row == nil || row["source"] != "orders" || row["state"] != "running" {
		t.Errorf("restored sink: %v", row)
	}
	restoredGroup := pipelineGroup(t, e, "big")
	if restoredGroup != group {
		t.Errorf("restored pipeline uses group %s, want %s", restoredGroup, group)
	}

	catalogEnd := endOffsets(t, n.tr, catalog.Topic)
	reformatted := strings.ToLower(strings.Join(strings.Fields(script), " ")) // same statements, other spelling
	for _, text := range []string{script, reformatted} {
		res, err := e.Execute(context.Background(), text, ExecOptions{Idempotent: true})
		if err != nil {
			t.Fatalf("re-applying %q: %v", text, err)
		}
		if len(res) != 2 || res[0].Message != "source orders already exists, skipping" || res[1].Message != "sink big already exists, skipping" {
			t.Errorf("re-applying: %+v", res)
		}
	}
	if got := endOffsets(t, n.tr, catalog.Topic); got != catalogEnd {
		t.Errorf("re-applying wrote %d catalog records", got-catalogEnd)
	}
	// Without Idempotent, the same text is a conflict; with it, a changed
	// definition is too.
	if _, ee := execError(t, e, script, ExecOptions{}); ee.Code != CodeExists || ee.Statement != 0 {
		t.Errorf("non-idempotent re-apply: [%s] statement %d", ee.Code, ee.Statement)
	}
	changed := strings.Replace(script, "amount > 50", "amount > 60", 1)
	res, ee := execError(t, e, changed, ExecOptions{Idempotent: true})
	if ee.Code != CodeExists || ee.Statement != 1 || len(res) != 1 || !strings.Contains(ee.Message, `sink "big" already exists`) {
		t.Errorf("changed definition: [%s] statement %d %q, results %+v", ee.Code, ee.Statement, ee.Message, res)
	}
	// The restored pipeline resumes: new input reaches the sink, once.
	produceOrders(t, n.tr, 100, 200)
	ids := outputIDs(t, readAll(t, n.tr, "big", 98))
	for id, count := range ids {
		if count != 1 || id%100 <= 50 {
			t.Errorf("id %d written %d times", id, count)
		}
	}
	if len(ids) != 98 {
		t.Errorf("%d ids written, want 98", len(ids))
	}
}

// TestSecondWorkerFollowsCatalog opens two engines on one transport, as
// two workers sharing a cluster: objects created through one appear on
// the other, and drops too.
func TestSecondWorkerFollowsCatalog(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e1 := openEngineWith(t, n, func(c *Config) { c.WorkerID = "w1" })
	defer closeEngine(t, e1)
	e2 := openEngineWith(t, n, func(c *Config) { c.WorkerID = "w2" })
	defer closeEngine(t, e2)
	mustExec(t, e1, ordersSource+`CREATE SINK copy WITH (connector = 'topic', topic = 'copy') AS SELECT id FROM orders;`)
	waitFor(t, "the second worker to run the sink", func() bool { return showRow(t, e2, "SINKS", "copy") != nil })
	if showRow(t, e2, "SOURCES", "orders") == nil {
		t.Fatal("the second worker lacks the source")
	}
	// Both run the pipeline in one group: each record is written once.
	produceOrders(t, n.tr, 0, 50)
	ids := outputIDs(t, readAll(t, n.tr, "copy", 50))
	if len(ids) != 50 {
		t.Errorf("%d distinct ids written, want 50", len(ids))
	}
	mustExec(t, e2, "DROP SINK copy")
	waitFor(t, "the first worker to drop the sink", func() bool { return showRow(t, e1, "SINKS", "copy") == nil })
	if _, ee := execError(t, e1, "DESCRIBE copy", ExecOptions{}); ee.Code != CodeNotFound {
		t.Errorf("DESCRIBE of the dropped sink on the other worker: [%s]", ee.Code)
	}
}

// pipelineGroup returns the consumer group of the running pipeline name.
func pipelineGroup(t *testing.T, e *Engine, name string) string {
	t.Helper()
	e.mu.Lock()
	p := e.mu.pipelines[name]
	e.mu.Unlock()
	if p == nil {
		t.Fatalf("no pipeline %s is running", name)
	}
	return p.group
}
