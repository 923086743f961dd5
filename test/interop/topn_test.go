package interop

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestExactlyOnceTopNSurvivesSIGKILL runs Nexmark q5's shape — bids
// counted per auction in 10 s windows sliding every 2 s, then each
// window's most-bid auctions (RANK, ties kept) — as one pipeline of two
// stateful stages with exactly-once delivery; the server is killed with
// SIGKILL at random moments, input arriving in between, on the embedded
// log and on Apache Kafka; a read_committed reader then finds each
// window's top auctions exactly once.
func TestExactlyOnceTopNSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(envTideBin) == "" {
		peerMissing(t, "%s is not set", envTideBin)
	}
	for _, tc := range killCases("topn") {
		t.Run(tc.name, func(t *testing.T) {
			p := startTide(t, tc.extra(t)...)
			c := tc.c(p)
			adm := newAdmin(t, c)
			bids := createTopic(t, adm, 3, nil)
			keep := "-1" // the rows are stamped with event times months back
			out := createTopic(t, adm, 1, map[string]*string{"retention.ms": &keep})
			suffix := strings.ReplaceAll(strings.TrimPrefix(uniqueName(t, "x"), "it-x-"), "-", "_")
			suffix = suffix[len(suffix)-8:]
			p.SQL(fmt.Sprintf(`CREATE SOURCE bids_%[3]s (auction bigint, date_time timestamp, WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
					WITH (connector = 'topic', topic = '%[1]s');
				CREATE SINK hot_%[3]s WITH (connector = 'topic', topic = '%[2]s', delivery.guarantee = 'exactly_once', checkpoint.interval = '100ms') AS
					SELECT auction, num, starttime FROM (
					  SELECT auction, num, starttime, RANK() OVER (PARTITION BY starttime ORDER BY num DESC) AS r
					  FROM (SELECT auction, count(*) AS num, window_start AS starttime
					        FROM HOP(TABLE bids_%[3]s, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND)
					        GROUP BY auction, window_start, window_end) AS counts)
					WHERE r <= 1;`, bids, out, suffix))
			t.Cleanup(func() {
				if !t.Failed() && p.running() {
					p.SQL(fmt.Sprintf("DROP SINK hot_%[1]s; DROP SOURCE bids_%[1]s", suffix))
				}
			})

			// 4,000 bids over 200 s on 20 auctions, a few of them hot, in
			// event-time order.
			base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
			r := rand.New(rand.NewPCG(41, 2))
			type bid struct {
				auction int
				at      time.Time
				part    int32
			}
			var rows []bid
			for i := range 4000 {
				a := r.IntN(20)
				if r.IntN(3) == 0 {
					a = r.IntN(3)
				}
				rows = append(rows, bid{a, base.Add(time.Duration(i*50) * time.Millisecond), int32(r.IntN(3))})
			}
			record := func(b bid) *kgo.Record {
				return &kgo.Record{Topic: bids, Partition: b.part,
					Value: fmt.Appendf(nil, `{"auction":%d,"date_time":"%s"}`, b.auction, b.at.UTC().Format("2006-01-02 15:04:05.999"))}
			}
			cl := newClient(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			ctx := testContext(t, 4*time.Minute)
			const chunks = 6
			per := len(rows) / chunks
			for k := range chunks {
				var recs []*kgo.Record
				for _, b := range rows[k*per : min(len(rows), (k+1)*per)] {
					recs = append(recs, record(b))
				}
				if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Duration(50+r.IntN(400)) * time.Millisecond)
				p.Kill()
				p.Restart()
			}
			// A bid per partition a minute past the rest closes every window.
			var flush []*kgo.Record
			for part := range int32(3) {
				flush = append(flush, record(bid{-1, rows[len(rows)-1].at.Add(time.Minute), part}))
			}
			if err := cl.ProduceSync(ctx, flush...).FirstErr(); err != nil {
				t.Fatal(err)
			}

			// The oracle: counts per auction and window, then each
			// window's highest.
			const slide, size = 2 * time.Second, 10 * time.Second
			counts := map[[2]int64]int{}
			for _, b := range rows[:chunks*per] {
				for start := b.at.Truncate(slide); start.After(b.at.Add(-size)); start = start.Add(-slide) {
					counts[[2]int64{start.UnixMilli(), int64(b.auction)}]++
				}
			}
			most := map[int64]int{}
			for k, n := range counts {
				most[k[0]] = max(most[k[0]], n)
			}
			var want []string
			for k, n := range counts {
				if n == most[k[0]] {
					want = append(want, fmt.Sprintf("%s|%d|%d", time.UnixMilli(k[0]).UTC().Format("15:04:05"), k[1], n))
				}
			}
			slices.Sort(want)

			got := readCommittedRows(ctx, t, c, out, len(want), func(rec *kgo.Record) string {
				var row struct {
					Auction   int64  `json:"auction"`
					Num       int    `json:"num"`
					StartTime string `json:"starttime"`
				}
				if err := json.Unmarshal(rec.Value, &row); err != nil {
					t.Fatalf("output %s: %v", rec.Value, err)
				}
				at, err := time.Parse("2006-01-02T15:04:05.999999", row.StartTime)
				if err != nil {
					t.Fatalf("output %s: %v", rec.Value, err)
				}
				return fmt.Sprintf("%s|%d|%d", at.Format("15:04:05"), row.Auction, row.Num)
			})
			requireRows(t, got, want, fmt.Sprintf("after %d SIGKILLs", chunks))
			t.Logf("%d rows exact after %d SIGKILLs over %d bids", len(want), chunks, len(rows))
		})
	}
}
