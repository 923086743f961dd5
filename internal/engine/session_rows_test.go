package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The rows of SESSION windows aggregated again by their windows: each
// user's sessions (a 2 s gap) counted per session window — start and end
// as they are, so the users whose events fell at the same times share
// one — with the events they hold, each window's row once, when the
// watermark passes its end. Users come in three classes that click at
// the same times (class by user % 3), each user leaving some of its
// class's clicks out, so some sessions are shared and some split.
// Checked against a brute-force merge of each user's sessions.
func TestSessionRowsByTheirWindows(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var events []clickEvent
	for i := range 400 {
		// A click every 700 ms, with a 3 s pause every 9th: sessions
		// of about six seconds.
		at := base.Add(time.Duration(i)*700*time.Millisecond + time.Duration(i/9)*3*time.Second)
		for user := range 12 {
			if (i+user)%7 == 0 { // left out by this user alone
				continue
			}
			events = append(events, clickEvent{partition: int32(user % 3), user: user, amount: int64(i % 10), ts: at.Add(time.Duration(user%3) * 250 * time.Millisecond)})
		}
	}
	type bounds struct{ start, end time.Time }
	var want map[bounds][2]int64
	recs, _, _ := runWindowed(t, `CREATE SINK per_session WITH (connector = 'topic', topic = 'out') AS
		SELECT window_start, window_end, count(*) AS users, sum(n) AS clicks
		FROM (SELECT user_id, window_start, window_end, count(*) AS n
		      FROM SESSION(TABLE clicks, DESCRIPTOR(ts), INTERVAL '2' SECOND)
		      WHERE user_id >= 0
		      GROUP BY user_id, window_start, window_end) s
		GROUP BY window_start, window_end`, events, func(wm time.Time) int {
		want = map[bounds][2]int64{}
		for k, s := range sessionOracle(events, 2*time.Second, wm) {
			b := bounds{k.start, s.end}
			w := want[b]
			want[b] = [2]int64{w[0] + 1, w[1] + s.count}
		}
		return len(want)
	})
	var got, wantRows []string
	for _, r := range recs {
		var row struct {
			Start  string `json:"window_start"`
			End    string `json:"window_end"`
			Users  int64  `json:"users"`
			Clicks int64  `json:"clicks"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %d %d", parseRowTime(t, row.Start).Format(time.StampMilli), parseRowTime(t, row.End).Format(time.StampMilli), row.Users, row.Clicks))
	}
	shared := 0
	for b, w := range want {
		wantRows = append(wantRows, fmt.Sprintf("%s %s %d %d", b.start.Format(time.StampMilli), b.end.Format(time.StampMilli), w[0], w[1]))
		if w[0] > 1 {
			shared++
		}
	}
	if shared == 0 || shared == len(want) {
		t.Fatalf("%d of %d session windows shared by several users: the input does not test both", shared, len(want))
	}
	slices.Sort(got)
	slices.Sort(wantRows)
	if !slices.Equal(got, wantRows) {
		t.Errorf("got %d windows, want %d:\n got %s\nwant %s", len(got), len(wantRows), strings.Join(got[:min(5, len(got))], "\n     "), strings.Join(wantRows[:min(5, len(wantRows))], "\n     "))
	}
}
