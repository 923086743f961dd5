package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// windowEvent is one input of the exactly-once tests.
type windowEvent struct {
	user   int
	amount int64
	ts     time.Time
}

// windowInputs makes n seeded events whose event time advances about
// 20 ms per event with up to 1 s of disorder (within the 2 s lateness the
// source declares, so none is late and the oracle needs no watermark).
func windowInputs(seed uint64, n, users int, base time.Time) []windowEvent {
	r := rand.New(rand.NewPCG(seed, 2))
	out := make([]windowEvent, n)
	clock := base
	for i := range out {
		clock = clock.Add(time.Duration(10+r.IntN(20)) * time.Millisecond)
		out[i] = windowEvent{user: r.IntN(users), amount: 1 + r.Int64N(1000), ts: clock.Add(-time.Duration(r.Int64N(int64(time.Second))))}
	}
	return out
}

type userWindow struct {
	user  int
	start string
}

type countSum struct{ n, sum int64 }

// windowOracle counts and sums per user and 5-second tumbling window.
func windowOracle(events []windowEvent) map[userWindow]countSum {
	out := map[userWindow]countSum{}
	for _, ev := range events {
		k := userWindow{ev.user, ev.ts.Truncate(5 * time.Second).Format("2006-01-02T15:04:05")}
		a := out[k]
		a.n++
		a.sum += ev.amount
		out[k] = a
	}
	return out
}

func produceWindowEvents(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, events []windowEvent, partition func(i int) int32) {
	t.Helper()
	recs := make([]*kgo.Record, len(events))
	for i, ev := range events {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition(i),
			Value: fmt.Appendf(nil, `{"user_id":%d,"amount":%d,"ts":"%s"}`, ev.user, ev.amount, ev.ts.UTC().Format("2006-01-02 15:04:05.999999"))}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestExactlyOnceWindowsSurviveSIGKILL runs a windowed count and sum by
// user with delivery.guarantee = 'exactly_once' while the server is
// killed with SIGKILL ten times at random moments, input arriving in
// between; a read_committed reader then finds every window exactly once,
// with the counts of a brute-force evaluation. On the embedded log it
// runs again with state.memory = '0': every window lives only in the
// tasks' stores between checkpoints, read back after each crash.
func TestExactlyOnceWindowsSurviveSIGKILL(t *testing.T) {
	if os.Getenv(envTideBin) == "" {
		peerMissing(t, "%s is not set", envTideBin)
	}
	embedded := func(p *tideProc) *cluster { return &cluster{name: "tide", bootstrap: p.Bootstrap(), tide: p} }
	cases := []struct {
		name   string
		extra  func(t *testing.T) []string
		c      func(p *tideProc) *cluster
		memory string // the sink's state.memory
	}{
		{"embedded", func(*testing.T) []string { return nil }, embedded, "64MiB"},
		{"embedded-state-on-disk", func(*testing.T) []string { return nil }, embedded, "0"},
		{"kafka", func(t *testing.T) []string {
			addr := os.Getenv(envKafkaBootstrap)
			if addr == "" {
				peerMissing(t, "%s is not set: the exactly-once test on Kafka needs Apache Kafka", envKafkaBootstrap)
			}
			// A stable worker id makes the restarted worker a static group
			// member that takes its partitions back without a rebalance.
			return []string{"--kafka-brokers", addr, "--worker-id", "eos-" + strings.ReplaceAll(uniqueName(t, "w")[len(uniqueName(t, "w"))-8:], "-", "")}
		}, func(*tideProc) *cluster { return &cluster{name: "kafka", bootstrap: os.Getenv(envKafkaBootstrap)} }, "64MiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startTide(t, tc.extra(t)...)
			c := tc.c(p)
			if dst := os.Getenv("TIDE_TEST_KEEP_LOG"); dst != "" {
				t.Cleanup(func() {
					if b, err := os.ReadFile(p.logPath); err == nil {
						_ = os.WriteFile(dst, b, 0o644)
					}
				})
			}
			adm := newAdmin(t, c)
			in := createTopic(t, adm, 3, nil)
			// Window rows carry their window's end as timestamp, months in
			// the past: under a default 7-day retention.ms the broker
			// would delete them before the reader gets there.
			keep := "-1"
			out := createTopic(t, adm, 1, map[string]*string{"retention.ms": &keep})
			suffix := strings.ReplaceAll(strings.TrimPrefix(uniqueName(t, "x"), "it-x-"), "-", "_")
			suffix = suffix[len(suffix)-8:]
			p.SQL(fmt.Sprintf(`CREATE SOURCE clicks_%[3]s (user_id int, amount bigint, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
					WITH (connector = 'topic', topic = '%[1]s');
				CREATE SINK per_user_%[3]s WITH (connector = 'topic', topic = '%[2]s', delivery.guarantee = 'exactly_once', checkpoint.interval = '100ms',
						state.memory = '%[4]s') AS
					SELECT user_id, window_start, count(*) AS n, sum(amount) AS total
					FROM TUMBLE(TABLE clicks_%[3]s, DESCRIPTOR(ts), INTERVAL '5' SECOND)
					GROUP BY user_id, window_start, window_end;`, in, out, suffix, tc.memory))
			t.Cleanup(func() {
				// A Kafka cluster's catalog outlives the test: leave it
				// as it was found.
				if !t.Failed() && p.running() {
					p.SQL(fmt.Sprintf("DROP SINK per_user_%[1]s; DROP SOURCE clicks_%[1]s", suffix))
				}
			})

			const chunks, perChunk = 10, 3000
			base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			events := windowInputs(42, chunks*perChunk, 50, base)
			// The events name their partitions: kgo's default
			// partitioner would hash them elsewhere.
			cl := newClient(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			ctx := testContext(t, 4*time.Minute)
			r := rand.New(rand.NewPCG(7, 7))
			part := func(i int) int32 { return int32(i % 3) }
			for k := range chunks {
				produceWindowEvents(t, ctx, cl, in, events[k*perChunk:(k+1)*perChunk], func(i int) int32 { return part(k*perChunk + i) })
				time.Sleep(time.Duration(50+r.IntN(400)) * time.Millisecond)
				p.Kill()
				p.Restart()
			}
			// One event per partition a minute past the rest moves every
			// watermark beyond the last window.
			last := events[len(events)-1].ts.Add(time.Minute)
			flush := []windowEvent{{user: -1, ts: last}, {user: -1, ts: last}, {user: -1, ts: last}}
			produceWindowEvents(t, ctx, cl, in, flush, func(i int) int32 { return int32(i) })

			want := windowOracle(events)
			// The flush events open windows of their own, never closed.
			rc := newClient(t, c, kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			got := map[userWindow]countSum{}
			dups := 0
			for len(got) < len(want) {
				fs := rc.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatalf("read %d of %d windows before the deadline", len(got), len(want))
				}
				fs.EachRecord(func(rec *kgo.Record) {
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
				})
			}
			if dups > 0 {
				t.Errorf("%d windows emitted more than once", dups)
			}
			bad := 0
			for k, w := range want {
				if g := got[k]; g != w {
					if bad++; bad <= 5 {
						t.Errorf("user %d window %s: got %+v, want %+v", k.user, k.start, g, w)
					}
				}
			}
			if bad > 0 {
				t.Fatalf("%d of %d windows wrong after %d SIGKILLs", bad, len(want), chunks)
			}
			t.Logf("%d windows exact after %d SIGKILLs over %d events", len(want), chunks, len(events))
		})
	}
}
