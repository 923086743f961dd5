package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// joinRow is one input of the join test: an order (payment false) or a
// payment of an order.
type joinRow struct {
	payment bool
	id      int // the order's id, or the order a payment pays
	amount  int
	ts      time.Time
	part    int32
}

// joinInputs makes n orders, a partition each among 3, and about n
// payments among 2, each within [-3 s, +15 s] of an order (the query's
// bound is [-2 s, +10 s]), in event-time order give or take 1 s (less
// than the sources' 2 s lateness, so no row is late).
func joinInputs(seed uint64, n int, base time.Time) []joinRow {
	r := rand.New(rand.NewPCG(seed, 5))
	var rows []joinRow
	orders := make([]joinRow, n)
	for i := range orders {
		orders[i] = joinRow{id: i, amount: r.IntN(100), ts: base.Add(time.Duration(i*50+r.IntN(1000)) * time.Millisecond).Truncate(time.Millisecond), part: int32(r.IntN(3))}
		rows = append(rows, orders[i])
	}
	for range n {
		o := orders[r.IntN(n)]
		rows = append(rows, joinRow{payment: true, id: o.id, amount: r.IntN(100), ts: o.ts.Add(time.Duration(r.IntN(18000)-3000) * time.Millisecond), part: int32(r.IntN(2))})
	}
	type keyed struct {
		at  time.Time
		row joinRow
	}
	ks := make([]keyed, len(rows))
	for i, row := range rows {
		ks[i] = keyed{row.ts.Add(time.Duration(r.IntN(1000)) * time.Millisecond), row}
	}
	sort.SliceStable(ks, func(i, j int) bool { return ks[i].at.Before(ks[j].at) })
	for i := range ks {
		rows[i] = ks[i].row
	}
	return rows
}

// joinOracle is the LEFT interval join by brute force: every order with
// every payment of it within [-2 s, +10 s], and every order without one
// once, with NULLs.
func joinOracle(rows []joinRow) []string {
	var out []string
	for _, o := range rows {
		if o.payment {
			continue
		}
		matched := false
		for _, p := range rows {
			if p.payment && p.id == o.id && !p.ts.Before(o.ts.Add(-2*time.Second)) && !p.ts.After(o.ts.Add(10*time.Second)) {
				out = append(out, fmt.Sprintf("%d|%d", o.id, p.amount))
				matched = true
			}
		}
		if !matched {
			out = append(out, fmt.Sprintf("%d|null", o.id))
		}
	}
	slices.Sort(out)
	return out
}

// killCase is where a SIGKILL test runs: a server on its embedded log, or
// a worker of the Apache Kafka cluster.
type killCase struct {
	name  string
	extra func(t *testing.T) []string // the server's flags
	c     func(p *tideProc) *cluster
}

// killCases are the embedded and Kafka cases of a test whose Kafka
// workers are named after what.
func killCases(what string) []killCase {
	return []killCase{
		{"embedded", func(*testing.T) []string { return nil }, func(p *tideProc) *cluster { return &cluster{name: "tide", bootstrap: p.Bootstrap(), tide: p} }},
		{"kafka", func(t *testing.T) []string {
			addr := os.Getenv(envKafkaBootstrap)
			if addr == "" {
				peerMissing(t, "%s is not set: the exactly-once %s on Kafka needs Apache Kafka", envKafkaBootstrap, what)
			}
			return []string{"--kafka-brokers", addr, "--worker-id", what + "-" + strings.ReplaceAll(uniqueName(t, "w")[len(uniqueName(t, "w"))-8:], "-", "")}
		}, func(*tideProc) *cluster { return &cluster{name: "kafka", bootstrap: os.Getenv(envKafkaBootstrap)} }},
	}
}

// TestExactlyOnceJoinSurvivesSIGKILL runs a LEFT interval join of two
// streams with delivery.guarantee = 'exactly_once' while the server is
// killed with SIGKILL at random moments, input arriving in between, on
// the embedded log and on Apache Kafka; a read_committed reader then
// finds every pair, and every order without one, exactly once.
func TestExactlyOnceJoinSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(envTideBin) == "" {
		peerMissing(t, "%s is not set", envTideBin)
	}
	for _, tc := range killCases("join") {
		t.Run(tc.name, func(t *testing.T) {
			p := startTide(t, tc.extra(t)...)
			c := tc.c(p)
			adm := newAdmin(t, c)
			orders, payments := createTopic(t, adm, 3, nil), createTopic(t, adm, 2, nil)
			keep := "-1" // the rows are stamped with event times months back
			out := createTopic(t, adm, 1, map[string]*string{"retention.ms": &keep})
			sums := createTopic(t, adm, 1, map[string]*string{"retention.ms": &keep})
			tops := createTopic(t, adm, 1, map[string]*string{"retention.ms": &keep})
			regular := createTopic(t, adm, 1, map[string]*string{"retention.ms": &keep})
			chained := createTopic(t, adm, 1, map[string]*string{"retention.ms": &keep})
			suffix := strings.ReplaceAll(strings.TrimPrefix(uniqueName(t, "x"), "it-x-"), "-", "_")
			suffix = suffix[len(suffix)-8:]
			p.SQL(fmt.Sprintf(`CREATE SOURCE orders_%[4]s (id bigint, amount int, placed_at timestamp, WATERMARK FOR placed_at AS placed_at - INTERVAL '2' SECOND)
					WITH (connector = 'topic', topic = '%[1]s');
				CREATE SOURCE payments_%[4]s (order_id bigint, amount int, paid_at timestamp, WATERMARK FOR paid_at AS paid_at - INTERVAL '2' SECOND)
					WITH (connector = 'topic', topic = '%[2]s');
				CREATE SINK paid_%[4]s WITH (connector = 'topic', topic = '%[3]s', delivery.guarantee = 'exactly_once', checkpoint.interval = '100ms') AS
					SELECT o.id, p.amount AS paid
					FROM orders_%[4]s o LEFT JOIN payments_%[4]s p
					  ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
					WHERE o.id >= 0;
				CREATE SINK sums_%[4]s WITH (connector = 'topic', topic = '%[5]s', delivery.guarantee = 'exactly_once', checkpoint.interval = '100ms') AS
					SELECT o.id %% 10 AS bucket, count(*) AS n, sum(p.amount) AS paid
					FROM orders_%[4]s o LEFT JOIN payments_%[4]s p
					  ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
					WHERE o.id >= 0
					GROUP BY o.id %% 10;
				CREATE SINK tops_%[4]s WITH (connector = 'topic', topic = '%[6]s', delivery.guarantee = 'exactly_once', checkpoint.interval = '100ms') AS
					SELECT bucket, count(*) AS orders, count(top) AS paid_orders, sum(top) AS total FROM (
					  SELECT o.id %% 10 AS bucket, max(p.amount) AS top
					  FROM orders_%[4]s o LEFT JOIN payments_%[4]s p
					    ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
					  WHERE o.id >= 0 GROUP BY o.id) AS per_order
					GROUP BY bucket;
				CREATE SINK regular_%[4]s WITH (connector = 'topic', topic = '%[7]s', delivery.guarantee = 'exactly_once', checkpoint.interval = '100ms') AS
					SELECT o.id, p.amount AS paid
					FROM orders_%[4]s o LEFT JOIN payments_%[4]s p ON o.id = p.order_id
					WHERE o.id >= 0
					KEY BY concat(o.id, '|', p.amount, '|', p.paid_at);
				CREATE SINK chained_%[4]s WITH (connector = 'topic', topic = '%[8]s', delivery.guarantee = 'exactly_once', checkpoint.interval = '100ms') AS
					SELECT o.id, p.amount AS paid, q.amount AS near
					FROM orders_%[4]s o JOIN payments_%[4]s p
					  ON o.id = p.order_id AND p.paid_at BETWEEN o.placed_at - INTERVAL '2' SECOND AND o.placed_at + INTERVAL '10' SECOND
					JOIN payments_%[4]s q ON q.order_id = p.order_id AND q.paid_at BETWEEN p.paid_at - INTERVAL '20' SECOND AND p.paid_at + INTERVAL '20' SECOND
					WHERE o.id >= 0;`, orders, payments, out, suffix, sums, tops, regular, chained))
			t.Cleanup(func() {
				// A Kafka cluster's catalog outlives the test: leave it as
				// it was found.
				if !t.Failed() && p.running() {
					p.SQL(fmt.Sprintf("DROP SINK paid_%[1]s; DROP SINK sums_%[1]s; DROP SINK tops_%[1]s; DROP SINK regular_%[1]s; DROP SINK chained_%[1]s; DROP SOURCE orders_%[1]s; DROP SOURCE payments_%[1]s", suffix))
				}
			})

			const chunks = 6
			base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
			rows := joinInputs(31, 3000, base)
			cl := newClient(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			ctx := testContext(t, 4*time.Minute)
			r := rand.New(rand.NewPCG(3, 3))
			record := func(row joinRow) *kgo.Record {
				ts := row.ts.UTC().Format("2006-01-02 15:04:05.999")
				if row.payment {
					return &kgo.Record{Topic: payments, Partition: row.part, Value: fmt.Appendf(nil, `{"order_id":%d,"amount":%d,"paid_at":"%s"}`, row.id, row.amount, ts)}
				}
				return &kgo.Record{Topic: orders, Partition: row.part, Value: fmt.Appendf(nil, `{"id":%d,"amount":%d,"placed_at":"%s"}`, row.id, row.amount, ts)}
			}
			per := len(rows) / chunks
			for k := range chunks {
				var recs []*kgo.Record
				for _, row := range rows[k*per : min(len(rows), (k+1)*per)] {
					recs = append(recs, record(row))
				}
				if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Duration(50+r.IntN(400)) * time.Millisecond)
				p.Kill()
				p.Restart()
			}
			// A row per partition a minute past the rest moves every
			// watermark beyond every bound.
			last := rows[len(rows)-1].ts.Add(time.Minute)
			var flush []*kgo.Record
			for part := range int32(3) {
				flush = append(flush, record(joinRow{id: -1, ts: last, part: part}))
			}
			for part := range int32(2) {
				flush = append(flush, record(joinRow{payment: true, id: -1, ts: last, part: part}))
			}
			if err := cl.ProduceSync(ctx, flush...).FirstErr(); err != nil {
				t.Fatal(err)
			}

			want := joinOracle(rows)
			got := readCommittedRows(ctx, t, c, out, len(want), func(rec *kgo.Record) string {
				var row struct {
					ID   int64           `json:"id"`
					Paid json.RawMessage `json:"paid"`
				}
				if err := json.Unmarshal(rec.Value, &row); err != nil {
					t.Fatalf("output %s: %v", rec.Value, err)
				}
				return fmt.Sprintf("%d|%s", row.ID, row.Paid)
			})
			requireRows(t, got, want, fmt.Sprintf("after %d SIGKILLs", chunks))
			t.Logf("%d rows exact after %d SIGKILLs over %d inputs", len(want), chunks, len(rows))

			// The same join aggregated in the same pipeline (a second
			// stateful stage): each bucket's last row is the oracle's.
			wantSums := map[string]string{}
			type bucket struct{ n, paid int }
			buckets := map[int]bucket{}
			for _, row := range want {
				idText, paid, _ := strings.Cut(row, "|")
				id, err := strconv.Atoi(idText)
				if err != nil {
					t.Fatal(err)
				}
				b := buckets[id%10]
				b.n++
				if paid != "null" {
					v, err := strconv.Atoi(paid)
					if err != nil {
						t.Fatal(err)
					}
					b.paid += v
				}
				buckets[id%10] = b
			}
			for k, b := range buckets {
				wantSums[fmt.Sprint(k)] = fmt.Sprintf(`{"bucket":%d,"n":%d,"paid":%d}`, k, b.n, b.paid)
			}
			sc := newClient(t, c, kgo.ConsumeTopics(sums), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			gotSums := map[string]string{}
			for fmt.Sprint(gotSums) != fmt.Sprint(wantSums) { // maps print sorted
				pollCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				fs := sc.PollFetches(pollCtx)
				cancel()
				if ctx.Err() != nil {
					t.Fatalf("the aggregated join's rows %v, want %v", gotSums, wantSums)
				}
				fs.EachRecord(func(rec *kgo.Record) { gotSums[string(rec.Key)] = string(rec.Value) })
			}
			t.Logf("the aggregated join's %d groups exact", len(wantSums))

			// Nexmark q4's shape: each order's largest payment (aggregated
			// in the join's tasks), then per bucket over those, taking
			// back an order's old maximum when a larger payment comes.
			type maxima struct{ orders, paid, total int }
			perOrder := map[int]*int{}
			for _, row := range want {
				idText, paid, _ := strings.Cut(row, "|")
				id, _ := strconv.Atoi(idText)
				if _, seen := perOrder[id]; !seen {
					perOrder[id] = nil
				}
				if paid != "null" {
					v, _ := strconv.Atoi(paid)
					if top := perOrder[id]; top == nil || v > *top {
						perOrder[id] = &v
					}
				}
			}
			byBucket := map[int]maxima{}
			for id, top := range perOrder {
				b := byBucket[id%10]
				b.orders++
				if top != nil {
					b.paid, b.total = b.paid+1, b.total+*top
				}
				byBucket[id%10] = b
			}
			wantTops := map[string]string{}
			for k, b := range byBucket {
				total := "null"
				if b.paid > 0 {
					total = fmt.Sprint(b.total)
				}
				wantTops[fmt.Sprint(k)] = fmt.Sprintf(`{"bucket":%d,"orders":%d,"paid_orders":%d,"total":%s}`, k, b.orders, b.paid, total)
			}
			tc := newClient(t, c, kgo.ConsumeTopics(tops), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			gotTops := map[string]string{}
			for fmt.Sprint(gotTops) != fmt.Sprint(wantTops) {
				pollCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				fs := tc.PollFetches(pollCtx)
				cancel()
				if ctx.Err() != nil {
					t.Fatalf("the aggregation of per-order maxima: %v, want %v", gotTops, wantTops)
				}
				fs.EachRecord(func(rec *kgo.Record) {
					if rec.Value == nil {
						delete(gotTops, string(rec.Key))
						return
					}
					gotTops[string(rec.Key)] = string(rec.Value)
				})
			}
			t.Logf("the aggregation of per-order maxima: %d groups exact", len(wantTops))

			// The regular LEFT join (no time bound): an order without a
			// payment yet goes out at once, NULL-padded, and is taken back
			// (a tombstone) when its first payment comes; the rows by key
			// end as every pair, whenever paid, and every order never paid.
			type pay struct {
				id, amount int
				ts         time.Time
			}
			paidRows := map[pay]bool{}
			paid := map[int]bool{}
			for _, row := range rows {
				if row.payment {
					paidRows[pay{row.id, row.amount, row.ts}] = true
					paid[row.id] = true
				}
			}
			var wantRegular []string
			for p := range paidRows {
				wantRegular = append(wantRegular, fmt.Sprintf("%d|%d", p.id, p.amount))
			}
			for _, row := range rows {
				if !row.payment && !paid[row.id] {
					wantRegular = append(wantRegular, fmt.Sprintf("%d|null", row.id))
				}
			}
			slices.Sort(wantRegular)
			rc := newClient(t, c, kgo.ConsumeTopics(regular), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			byKey := map[string]string{}
			var gotRegular []string
			for !slices.Equal(gotRegular, wantRegular) {
				pollCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				fs := rc.PollFetches(pollCtx)
				cancel()
				if ctx.Err() != nil {
					t.Fatalf("the regular LEFT join's rows by key: %d, want %d", len(gotRegular), len(wantRegular))
				}
				fs.EachRecord(func(rec *kgo.Record) {
					if rec.Value == nil {
						delete(byKey, string(rec.Key))
						return
					}
					var row struct {
						ID   int64           `json:"id"`
						Paid json.RawMessage `json:"paid"`
					}
					if err := json.Unmarshal(rec.Value, &row); err != nil {
						t.Fatalf("output %s: %v", rec.Value, err)
					}
					byKey[string(rec.Key)] = fmt.Sprintf("%d|%s", row.ID, row.Paid)
				})
				gotRegular = gotRegular[:0]
				for _, row := range byKey {
					gotRegular = append(gotRegular, row)
				}
				slices.Sort(gotRegular)
			}
			t.Logf("the regular LEFT join: %d rows by key exact", len(wantRegular))

			// A third stream (the payments read again) joined to the
			// pairs in a join stage of its own: each row exactly once.
			var wantChained []string
			for _, o := range rows {
				for _, p := range rows {
					if o.payment || !p.payment || p.id != o.id || p.ts.Before(o.ts.Add(-2*time.Second)) || p.ts.After(o.ts.Add(10*time.Second)) {
						continue
					}
					for _, q := range rows {
						if q.payment && q.id == p.id && !q.ts.Before(p.ts.Add(-20*time.Second)) && !q.ts.After(p.ts.Add(20*time.Second)) {
							wantChained = append(wantChained, fmt.Sprintf("%d|%d|%d", o.id, p.amount, q.amount))
						}
					}
				}
			}
			slices.Sort(wantChained)
			gotChained := readCommittedRows(ctx, t, c, chained, len(wantChained), func(rec *kgo.Record) string {
				var row struct{ ID, Paid, Near int64 }
				if err := json.Unmarshal(rec.Value, &row); err != nil {
					t.Fatalf("output %s: %v", rec.Value, err)
				}
				return fmt.Sprintf("%d|%d|%d", row.ID, row.Paid, row.Near)
			})
			requireRows(t, gotChained, wantChained, fmt.Sprintf("the join of three streams after %d SIGKILLs", chunks))
			t.Logf("the join of three streams: %d rows exact", len(wantChained))
		})
	}
}

// readCommittedRows reads topic read_committed from its start until it
// has want rows, then on for 2 s (a duplicate would come then), each
// record turned into a row by row; sorted.
func readCommittedRows(ctx context.Context, t *testing.T, c *cluster, topic string, want int, row func(rec *kgo.Record) string) []string {
	t.Helper()
	rc := newClient(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var got []string
	var settled time.Time
	for settled.IsZero() || time.Since(settled) < 2*time.Second {
		if len(got) >= want && settled.IsZero() {
			settled = time.Now()
		}
		pollCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := rc.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d rows before the deadline", len(got), want)
		}
		fs.EachRecord(func(rec *kgo.Record) { got = append(got, row(rec)) })
	}
	slices.Sort(got)
	return got
}

// requireRows fails the test, showing the first differences, unless got
// and want (sorted) are equal.
func requireRows(t *testing.T, got, want []string, after string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	diff := 0
	for i := 0; i < max(len(got), len(want)) && diff < 10; i++ {
		g, w := "", ""
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("row %d: got %q, want %q", i, g, w)
			diff++
		}
	}
	t.Fatalf("%d rows, want %d, %s", len(got), len(want), after)
}
