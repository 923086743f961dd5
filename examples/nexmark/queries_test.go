package nexmarksql

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/engine"
	"github.com/tide-data/tide/internal/nexmark"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded/embeddedtest"
)

const (
	testEvents = 20_000
	testSeed   = 7
	// testRate spreads the events over 100 s of event time: ten of the
	// windows of q7 and q8.
	testRate = 200
)

// base is the events' first time: recent, so no retention removes the
// results before they are read.
var base = time.Now().UTC().Truncate(time.Second)

// nexmarkWith finds the generator's WITH clause of a query file's
// sources.
var nexmarkWith = regexp.MustCompile(`WITH \(connector = 'nexmark', table = '(\w+)'\)`)

// Each query file runs as it is (its own source and sink statements,
// with bounded generators), and its output is what a brute-force
// evaluation of the query over the generator's events in Go gives.
func TestQueriesAgainstBruteForce(t *testing.T) {
	for _, q := range Queries {
		t.Run(q, func(t *testing.T) {
			t.Parallel()
			text, err := File(q)
			if err != nil {
				t.Fatal(err)
			}
			// The file as it is, with the sources bounded and seeded.
			if !nexmarkWith.MatchString(text) {
				t.Fatalf("%s.sql: its sources are not declared as the test expects", q)
			}
			text = nexmarkWith.ReplaceAllString(text,
				fmt.Sprintf(`WITH (connector = 'nexmark', table = '$1', "events-per-second" = '0', "number-of-events" = '%d', seed = '%d', "base-time" = '%s', "first-event-rate" = '%d')`,
					testEvents, testSeed, base.Format(time.RFC3339), testRate))
			if Updating(q) {
				// Checkpoints every few milliseconds: the groups' rows
				// change, and are taken back, many times over the run.
				text = strings.Replace(text, "WITH (connector = 'topic', topic = 'nexmark_"+q+"')",
					"WITH (connector = 'topic', topic = 'nexmark_"+q+"', checkpoint.interval = '5ms')", 1)
			}
			tr := embeddedtest.New(t)
			ctx := context.Background()
			eng, err := engine.Open(ctx, engine.Config{Transport: tr, Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := eng.Close(ctx); err != nil {
					t.Error(err)
				}
			}()
			if _, err := eng.Execute(ctx, text, engine.ExecOptions{}); err != nil {
				t.Fatal(err)
			}
			cfg := nexmark.Defaults()
			cfg.Seed, cfg.BaseTime, cfg.FirstEventRate = testSeed, base, testRate
			want, err := Expected(q, cfg, testEvents)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatalf("the brute-force evaluation of %s has no rows: the test would prove nothing", q)
			}
			var got []string
			if Updating(q) {
				got = readLatest(t, tr, "nexmark_"+q, want)
			} else {
				got = readRows(t, tr, "nexmark_"+q, len(want))
			}
			slices.Sort(got)
			slices.Sort(want)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("row %d: got %s\nwant %s", i, got[i], want[i])
				}
			}
			t.Logf("%d rows as the brute-force evaluation's", len(want))
		})
	}
}

// readLatest reads an updating result's topic until each key's last row
// is one of want and every one of want is there, and returns those rows.
func readLatest(t *testing.T, tr transport.Transport, topic string, want []string) []string {
	t.Helper()
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w] = true
	}
	deadline := time.Now().Add(time.Minute)
	latest := map[string]string{}
	next := map[int32]int64{}
	for {
		info, err := tr.Topic(context.Background(), topic)
		for part := range info.Partitions {
			if err != nil {
				break
			}
			recs, err := tr.ReadAt(context.Background(), transport.TopicPartition{Topic: topic, Partition: part}, next[part], 1<<20)
			if err != nil {
				continue
			}
			for _, r := range recs {
				next[part] = r.Offset + 1
				if r.Value == nil {
					delete(latest, string(r.Key))
					continue
				}
				dec := json.NewDecoder(strings.NewReader(string(r.Value)))
				dec.UseNumber()
				var row map[string]any
				if err := dec.Decode(&row); err != nil {
					t.Fatalf("row %s: %v", r.Value, err)
				}
				if latest[string(r.Key)], err = Canonical(row); err != nil {
					t.Fatal(err)
				}
			}
		}
		done := len(latest) == len(want)
		for _, row := range latest {
			done = done && wanted[row]
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rows of %s by key are not the brute-force evaluation's after a minute: %d keys\n%v", topic, len(latest), latest)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var out []string
	rows := 0
	for _, n := range next {
		rows += int(n)
	}
	for _, row := range latest {
		out = append(out, row)
	}
	t.Logf("%d rows written for %d keys", rows, len(latest))
	return out
}

// readRows reads want records of topic from its start, canonical, then
// reads on for a moment to catch any beyond them.
func readRows(t *testing.T, tr transport.Transport, topic string, want int) []string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []string
	next := map[int32]int64{}
	var settled time.Time
	for {
		if len(out) >= want && settled.IsZero() {
			settled = time.Now()
		}
		if !settled.IsZero() && time.Since(settled) > 500*time.Millisecond {
			break
		}
		info, err := tr.Topic(ctx, topic)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d rows of %s before the deadline", len(out), want, topic)
		}
		read := 0
		for part := range info.Partitions {
			if err != nil {
				break
			}
			recs, err := tr.ReadAt(ctx, transport.TopicPartition{Topic: topic, Partition: part}, next[part], 1<<20)
			if err != nil {
				continue
			}
			for _, r := range recs {
				next[part] = r.Offset + 1
				dec := json.NewDecoder(strings.NewReader(string(r.Value)))
				dec.UseNumber()
				var row map[string]any
				if err := dec.Decode(&row); err != nil {
					t.Fatalf("row %s: %v", r.Value, err)
				}
				s, err := Canonical(row)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, s)
				read++
			}
		}
		if read == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if len(out) != want {
		t.Fatalf("%d rows, want %d", len(out), want)
	}
	return out
}
