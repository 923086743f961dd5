package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestExactlyOnceWindowsTwoWorkersOnKafka (issue 9): on Apache Kafka, two
// Tide workers share a windowed exactly-once pipeline, each owning
// partitions of both its stages: source partitions in the shuffle stage's
// group (tide-sink-<sink>-<id>) and repartition partitions in the
// aggregate stage's (tide-agg-<sink>-<id>). One is SIGKILLed mid-stream
// while input keeps arriving. Each worker has its own data directory, so
// the survivor cannot read the victim's local state: once the group
// session times out it takes the victim's partitions and rebuilds their
// state from the changelog topic. A read_committed reader then finds every
// window exactly once, with the counts of a brute-force evaluation.
func TestExactlyOnceWindowsTwoWorkersOnKafka(t *testing.T) {
	bootstrap := os.Getenv(envKafkaBootstrap)
	if bootstrap == "" {
		peerMissing(t, "%s is not set: the two-worker exactly-once test needs Apache Kafka", envKafkaBootstrap)
	}
	if os.Getenv(envTideBin) == "" {
		peerMissing(t, "%s is not set", envTideBin)
	}
	c := &cluster{name: "kafka", bootstrap: bootstrap}
	adm := newAdmin(t, c)
	const partitions = 3
	in := createTopic(t, adm, partitions, nil)
	// A window's row is stamped with the window's end, an event time in
	// the past: under the default 7-day retention.ms the broker rolls the
	// output's segments at once and deletes them at its next retention
	// check, taking the first windows with them.
	keep := "-1"
	out := createTopic(t, adm, partitions, map[string]*string{"retention.ms": &keep})
	suffix := strings.ReplaceAll(strings.TrimPrefix(uniqueName(t, "x"), "it-x-"), "-", "_")
	suffix = suffix[len(suffix)-8:]
	source, sink := "clicks_"+suffix, "per_user_"+suffix

	// Each worker gets its own data directory (startTide's temporary one):
	// what the survivor knows of the victim's partitions is what the
	// changelog topic holds.
	ids := []string{"eos-a-" + suffix, "eos-b-" + suffix}
	workers := map[string]*tideProc{} // by group instance id
	for _, id := range ids {
		workers["tide-"+id] = startTide(t, "--kafka-brokers", bootstrap, "--worker-id", id, "--log-format", "json")
	}
	if dst := os.Getenv("TIDE_TEST_KEEP_LOG"); dst != "" {
		t.Cleanup(func() {
			for id, p := range workers {
				if b, err := os.ReadFile(p.logPath); err == nil {
					_ = os.WriteFile(dst+"."+id, b, 0o644)
				}
			}
		})
	}
	first := workers["tide-"+ids[0]]
	first.SQL(fmt.Sprintf(`CREATE SOURCE %[1]s (user_id int, amount bigint, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
			WITH (connector = 'topic', topic = '%[3]s');
		CREATE SINK %[2]s WITH (connector = 'topic', topic = '%[4]s', delivery.guarantee = 'exactly_once', checkpoint.interval = '100ms') AS
			SELECT user_id, window_start, count(*) AS n, sum(amount) AS total
			FROM TUMBLE(TABLE %[1]s, DESCRIPTOR(ts), INTERVAL '5' SECOND)
			GROUP BY user_id, window_start, window_end;`, source, sink, in, out))
	// foreign is set when the test stops because a worker it did not
	// start joined the pipeline: nothing to look into, so the catalog is
	// cleaned up as after a pass.
	foreign := false
	t.Cleanup(func() {
		// A Kafka cluster's catalog outlives the test: leave it as it was
		// found. The internal topics go with the sink; the dead-letter
		// topic the pipeline created does not.
		if t.Failed() && !foreign {
			return
		}
		for _, id := range ids {
			if p := workers["tide-"+id]; p.running() {
				p.SQL(fmt.Sprintf("DROP SINK %s; DROP SOURCE %s", sink, source))
				break
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		resp, err := adm.DeleteTopic(ctx, sink+".dlq")
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Logf("cleanup: delete topic %s.dlq: %v", sink, err)
		}
	})

	// Both workers own partitions of both stages before the kill.
	var before map[string]stageGroup
	var why string // the last reason that was not waitFor's deadline
	waitFor(t, 45*time.Second, "both workers owning partitions of both stages", func(ctx context.Context) (bool, string) {
		stages, err := describeStages(ctx, adm, sink)
		if err != nil {
			if why == "" || ctx.Err() == nil {
				why = err.Error()
			}
			return false, why
		}
		why = ""
		for _, p := range workers {
			if line := logLine(p, `"msg":"engine: cannot apply a catalog change from another worker","name":"`+sink+`"`); line != "" {
				t.Fatalf("a worker did not start the pipeline the other created: %s", line)
			}
		}
		if f := foreignMembers(stages, workers); f != "" {
			foreign = true
			t.Fatalf("%s before the kill", f)
		}
		for _, name := range []string{"sink", "agg"} {
			g, ok := stages[name]
			if !ok {
				return false, "no group tide-" + name + "-" + sink + "-*"
			}
			if g.state != "Stable" || len(g.owned) != 2 || g.assigned() != partitions {
				why = g.String()
				return false, why
			}
			for _, parts := range g.owned {
				if len(parts) == 0 {
					why = g.String()
					return false, why
				}
			}
		}
		before = stages
		return true, ""
	})
	// The victim is the worker with more aggregate partitions (two of
	// three): the survivor restores the most state it can.
	var victimID, survivorID string
	for id, parts := range before["agg"].owned {
		if victimID == "" || len(parts) > len(before["agg"].owned[victimID]) {
			victimID = id
		}
	}
	for id := range workers {
		if id != victimID {
			survivorID = id
		}
	}
	victim, survivor := workers[victimID], workers[survivorID]
	lost := before["agg"].owned[victimID]
	t.Logf("before the kill: %s; %s; victim %s", before["sink"], before["agg"], victimID)

	// Input in chunks to every partition: a few before the kill, the rest
	// spread over the session timeout and the takeover.
	const chunks, perChunk, killAfter = 16, 1500, 5
	base := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	events := windowInputs(99, chunks*perChunk, 50, base)
	// produceWindowEvents names each record's partition, which only the
	// manual partitioner honours (kgo's default, sticky, ignores it).
	cl := newClient(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testContext(t, 2*time.Minute)
	r := rand.New(rand.NewPCG(9, 9))
	var killedAt time.Time
	var watch chan takeover
	for k := range chunks {
		produceWindowEvents(t, ctx, cl, in, events[k*perChunk:(k+1)*perChunk], func(i int) int32 { return int32((k*perChunk + i) % partitions) })
		switch {
		case k == killAfter-1:
			// Mid-stream: the victim is shuffling and aggregating the chunk.
			time.Sleep(time.Duration(50+r.IntN(300)) * time.Millisecond)
			victim.Kill()
			killedAt = time.Now()
			// The session timeout is 10 s; the rebalance and restore follow.
			watch = watchTakeover(testContext(t, 40*time.Second), adm, sink, workers, survivorID, partitions)
		case k >= killAfter:
			time.Sleep(time.Second)
		default:
			time.Sleep(time.Duration(100+r.IntN(300)) * time.Millisecond)
		}
	}
	tk := <-watch
	if errors.Is(tk.err, errForeignWorker) {
		foreign = true
	}
	if tk.err != nil {
		t.Fatalf("the survivor did not take over both stages: %v", tk.err)
	}
	t.Logf("takeover: the survivor owned every source partition %v and every repartition partition %v after the kill",
		tk.sink.Round(time.Millisecond), tk.agg.Round(time.Millisecond))

	// One event per partition a minute past the rest moves every
	// watermark beyond the last window.
	last := events[len(events)-1].ts.Add(time.Minute)
	flush := []windowEvent{{user: -1, ts: last}, {user: -1, ts: last}, {user: -1, ts: last}}
	produceWindowEvents(t, ctx, cl, in, flush, func(i int) int32 { return int32(i) })

	want := windowOracle(events)
	rc := newClient(t, c, kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	got, dups := readWindows(t, ctx, rc, len(want), 15*time.Second)
	readAt := time.Now()

	// The survivor rebuilt the victim's partitions from the changelog.
	restores := restoredTasks(t, survivor.logPath, killedAt)
	for _, part := range lost {
		i := slices.IndexFunc(restores, func(e restoreEntry) bool { return e.Partition == part })
		if i < 0 {
			t.Errorf("the survivor logged no \"aggregate task restored\" for the victim's partition %d after the kill", part)
			continue
		}
		e := restores[i]
		if e.Records == 0 {
			t.Errorf("the survivor restored the victim's partition %d from 0 changelog records (its own data directory held nothing of it)", part)
		}
		t.Logf("survivor restored the victim's partition %d %v after the kill: %d changelog records, %d entries, in %v",
			part, e.At.Sub(killedAt).Round(time.Millisecond), e.Records, e.Entries, e.Took)
	}
	for _, e := range restores {
		if !slices.Contains(lost, e.Partition) {
			t.Logf("survivor reopened its own partition %d %v after the kill: %d changelog records, in %v",
				e.Partition, e.At.Sub(killedAt).Round(time.Millisecond), e.Records, e.Took)
		}
	}

	if dups > 0 {
		t.Errorf("%d windows emitted more than once", dups)
	}
	bad, missing := 0, 0
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			missing++
		}
		if g != w {
			if bad++; bad <= 5 {
				t.Errorf("user %d window %s: got %+v, want %+v", k.user, k.start, g, w)
			}
		}
	}
	if bad > 0 {
		if stages, err := describeStages(ctx, adm, sink); err == nil {
			if f := foreignMembers(stages, workers); f != "" {
				foreign = true
				t.Errorf("%s", f)
			}
		}
		t.Fatalf("%d of %d windows wrong (%d of them missing) after the kill of one of two workers; the survivor counted %s late records",
			bad, len(want), missing, lateRecords(survivor, sink))
	}
	t.Logf("%d windows exact over %d events; all read %v after the kill", len(want), len(events), readAt.Sub(killedAt).Round(time.Millisecond))
}

// stageGroup is one stage's consumer group as DescribeGroups sees it.
type stageGroup struct {
	name  string
	state string
	owned map[string][]int32 // by group instance id: the partitions assigned
}

func (g stageGroup) assigned() int {
	n := 0
	for _, parts := range g.owned {
		n += len(parts)
	}
	return n
}

func (g stageGroup) String() string {
	ids := make([]string, 0, len(g.owned))
	for id := range g.owned {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	fmt.Fprintf(&b, "group %s %s, %d members", g.name, g.state, len(g.owned))
	for _, id := range ids {
		fmt.Fprintf(&b, ", %s owns %v", id, g.owned[id])
	}
	return b.String()
}

// describeStages describes the consumer groups of sink's two stages, keyed
// "sink" (the shuffle stage, reading the source) and "agg" (the aggregate
// stage, reading the repartition topic).
func describeStages(ctx context.Context, adm *kadm.Client, sink string) (map[string]stageGroup, error) {
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	prefixes := map[string]string{"sink": "tide-sink-" + sink + "-", "agg": "tide-agg-" + sink + "-"}
	var names []string
	for _, g := range listed.Groups() {
		for _, p := range prefixes {
			if strings.HasPrefix(g, p) {
				names = append(names, g)
			}
		}
	}
	if len(names) == 0 {
		return map[string]stageGroup{}, nil
	}
	described, err := adm.DescribeGroups(ctx, names...)
	if err != nil {
		return nil, err
	}
	out := map[string]stageGroup{}
	for _, d := range described.Sorted() {
		if d.Err != nil {
			return nil, fmt.Errorf("group %s: %w", d.Group, d.Err)
		}
		g := stageGroup{name: d.Group, state: d.State, owned: map[string][]int32{}}
		for _, m := range d.Members {
			id := m.MemberID
			if m.InstanceID != nil {
				id = *m.InstanceID
			}
			var parts []int32
			if a, ok := m.Assigned.AsConsumer(); ok {
				for _, tp := range a.Topics {
					parts = append(parts, tp.Partitions...)
				}
			}
			slices.Sort(parts)
			g.owned[id] = parts
		}
		for stage, p := range prefixes {
			if strings.HasPrefix(d.Group, p) {
				out[stage] = g
			}
		}
	}
	return out, nil
}

// foreignMembers describes the members of the stages' groups that are not
// workers of this test, "" if there are none. Every Tide worker on a Kafka
// cluster loads the cluster's one catalog (__tide_catalog) and runs every
// pipeline in it, so a worker another test (or person) runs on the same
// cluster at the same time joins this test's groups and takes partitions.
func foreignMembers(stages map[string]stageGroup, workers map[string]*tideProc) string {
	var foreign []string
	for _, g := range stages {
		for id := range g.owned {
			if workers[id] == nil {
				foreign = append(foreign, fmt.Sprintf("%s in %s", id, g.name))
			}
		}
	}
	if len(foreign) == 0 {
		return ""
	}
	slices.Sort(foreign)
	return fmt.Sprintf("a Tide worker this test did not start joined the pipeline's groups (%s): another Tide process runs on this Kafka cluster "+
		"and, sharing its catalog, runs this test's pipeline too; run the test when no other Tide worker uses the cluster", strings.Join(foreign, ", "))
}

// errForeignWorker marks a takeover watch ended by a foreign member.
var errForeignWorker = errors.New("foreign worker")

// takeover is when, after the kill, the survivor alone owned every
// partition of each stage.
type takeover struct {
	sink, agg time.Duration
	err       error
}

// watchTakeover polls the stages' groups from now on, in a goroutine that
// ends with ctx, with a foreign member, or once survivor is the only member
// of both groups and owns all their partitions, and reports on the returned
// channel.
func watchTakeover(ctx context.Context, adm *kadm.Client, sink string, workers map[string]*tideProc, survivor string, partitions int) chan takeover {
	start := time.Now()
	ch := make(chan takeover, 1)
	go func() {
		var res takeover
		var last string
		for {
			callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			stages, err := describeStages(callCtx, adm, sink)
			cancel()
			if err == nil {
				if f := foreignMembers(stages, workers); f != "" {
					ch <- takeover{err: fmt.Errorf("%w: %s", errForeignWorker, f)}
					return
				}
				last = fmt.Sprintf("%s; %s", stages["sink"], stages["agg"])
				for stage, at := range map[string]*time.Duration{"sink": &res.sink, "agg": &res.agg} {
					g := stages[stage]
					if *at == 0 && g.state == "Stable" && len(g.owned) == 1 && len(g.owned[survivor]) == partitions {
						*at = time.Since(start)
					}
				}
				if res.sink > 0 && res.agg > 0 {
					ch <- res
					return
				}
			} else {
				last = err.Error()
			}
			select {
			case <-ctx.Done():
				ch <- takeover{err: fmt.Errorf("%w; last: %s", ctx.Err(), last)}
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return ch
}

// readWindows reads per-user window rows until it has n distinct windows,
// then a second more to catch late duplicates, or until nothing new came
// for quiet; it returns the windows and how many rows repeated one.
func readWindows(t *testing.T, ctx context.Context, cl *kgo.Client, n int, quiet time.Duration) (map[userWindow]countSum, int) {
	t.Helper()
	got := map[userWindow]countSum{}
	dups := 0
	add := func(rec *kgo.Record) {
		var row struct {
			UserID      int    `json:"user_id"`
			WindowStart string `json:"window_start"`
			N           int64  `json:"n"`
			Total       int64  `json:"total"`
		}
		if err := json.Unmarshal(rec.Value, &row); err != nil {
			t.Fatalf("output %s: %v", rec.Value, err)
		}
		k := userWindow{row.UserID, row.WindowStart}
		if _, ok := got[k]; ok {
			dups++
		}
		got[k] = countSum{row.N, row.Total}
	}
	lastNew := time.Now()
	for len(got) < n && time.Since(lastNew) < quiet {
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d windows before the deadline", len(got), n)
		}
		if fs.NumRecords() > 0 {
			lastNew = time.Now()
		}
		fs.EachRecord(add)
	}
	tail, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	for tail.Err() == nil {
		cl.PollFetches(tail).EachRecord(add)
	}
	return got, dups
}

// logLine returns the first line of p's log that contains s, "" if none.
func logLine(p *tideProc, s string) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	i := bytes.Index(b, []byte(s))
	if i < 0 {
		return ""
	}
	start := bytes.LastIndexByte(b[:i], '\n') + 1
	end := bytes.IndexByte(b[i:], '\n')
	if end < 0 {
		return string(b[start:])
	}
	return string(b[start : i+end])
}

// lateRecords is what p's /metrics says of sink's late records.
func lateRecords(p *tideProc, sink string) string {
	resp, err := http.Get("http://" + p.httpAddr + "/metrics")
	if err != nil {
		return "(GET /metrics: " + err.Error() + ")"
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, `tide_pipeline_late_records_total{pipeline="`+sink+`"}`) {
			return strings.TrimSpace(line[strings.LastIndexByte(line, '}')+1:])
		}
	}
	return "(no tide_pipeline_late_records_total)"
}

// restoreEntry is one "aggregate task restored" line of a JSON log.
type restoreEntry struct {
	At        time.Time     `json:"time"`
	Partition int32         `json:"partition"`
	Entries   int64         `json:"entries"`
	Records   int64         `json:"changelog_records"`
	Took      time.Duration `json:"took"` // slog's JSON handler writes nanoseconds
}

// restoredTasks returns the aggregate tasks a worker logging JSON restored
// at or after since, in log order.
func restoredTasks(t *testing.T, logPath string, since time.Time) []restoreEntry {
	t.Helper()
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []restoreEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), `"msg":"aggregate task restored"`) {
			continue
		}
		var e restoreEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if !e.At.Before(since) {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
