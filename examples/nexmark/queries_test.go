package nexmarksql

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
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
)

// base is the events' first time: recent, so no retention removes the
// results before they are read.
var base = time.Now().UTC().Truncate(time.Second)

// Each query file runs as it is (its own source and sink statements,
// with a bounded generator), and its output is what a brute-force
// evaluation of the query over the generator's events in Go gives.
func TestQueriesAgainstBruteForce(t *testing.T) {
	for _, q := range Queries {
		t.Run(q, func(t *testing.T) {
			text, err := File(q)
			if err != nil {
				t.Fatal(err)
			}
			// The file as it is, with the source bounded and seeded.
			text = strings.Replace(text, "WITH (connector = 'nexmark', table = 'bid')",
				fmt.Sprintf(`WITH (connector = 'nexmark', table = 'bid', "events-per-second" = '0', "number-of-events" = '%d', seed = '%d', "base-time" = '%s')`, testEvents, testSeed, base.Format(time.RFC3339)), 1)
			if !strings.Contains(text, `"number-of-events"`) {
				t.Fatalf("%s.sql: its bid source is not declared as the test expects", q)
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
			want := bruteForce(t, q)
			got := readRows(t, tr, "nexmark_"+q, len(want))
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
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

// bruteForce evaluates query over the generator's bids in plain Go, as
// canonical JSON rows.
func bruteForce(t *testing.T, query string) []string {
	cfg := nexmark.Defaults()
	cfg.Seed = testSeed
	cfg.BaseTime = base
	gen, err := nexmark.NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var ev nexmark.Event
	for range testEvents {
		gen.Next(&ev)
		if ev.Kind != nexmark.KindBid {
			continue
		}
		b := ev.Bid
		ts := time.UnixMicro(b.DateTime).UTC().Format("2006-01-02T15:04:05.999999")
		var row map[string]any
		switch query {
		case "q0":
			row = map[string]any{"auction": b.Auction, "bidder": b.Bidder, "price": b.Price, "date_time": ts, "extra": b.Extra}
		case "q1":
			euros := new(big.Rat).Mul(big.NewRat(908, 1000), new(big.Rat).SetInt64(b.Price))
			row = map[string]any{"auction": b.Auction, "bidder": b.Bidder, "price": json.Number(euros.FloatString(3)), "date_time": ts, "extra": b.Extra}
		case "q2":
			if b.Auction%123 != 0 {
				continue
			}
			row = map[string]any{"auction": b.Auction, "price": b.Price}
		default:
			t.Fatalf("no brute-force evaluation of %s", query)
		}
		out = append(out, canonical(t, row))
	}
	return out
}

// canonical re-encodes a JSON object with sorted keys and exact numbers.
func canonical(t *testing.T, row map[string]any) string {
	b, err := json.Marshal(row) // map keys are sorted
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readRows reads want records of topic from its start, canonical.
func readRows(t *testing.T, tr transport.Transport, topic string, want int) []string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []string
	var next int64
	for len(out) < want {
		recs, err := tr.ReadAt(ctx, transport.TopicPartition{Topic: topic, Partition: 0}, next, 1<<20)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d rows of %s before the deadline", len(out), want, topic)
		}
		if err != nil || len(recs) == 0 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for _, r := range recs {
			next = r.Offset + 1
			dec := json.NewDecoder(strings.NewReader(string(r.Value)))
			dec.UseNumber()
			var row map[string]any
			if err := dec.Decode(&row); err != nil {
				t.Fatalf("row %s: %v", r.Value, err)
			}
			out = append(out, canonical(t, row))
		}
	}
	return out
}
