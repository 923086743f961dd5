package connector

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/types"
)

func nexmarkSource(t *testing.T, table string, cols []format.Column, opts map[string]string) Source {
	t.Helper()
	o := map[string]string{"table": table, "events-per-second": "0", "number-of-events": "5000", "seed": "3", "base-time": "2026-01-01T00:00:00Z"}
	for k, v := range opts {
		o[k] = v
	}
	src, err := NewSource("nexmark", cols, o, Env{Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func decodeNexmark(t *testing.T, msgs []Message) []map[string]any {
	t.Helper()
	out := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		dec := json.NewDecoder(strings.NewReader(string(m.Value)))
		dec.UseNumber()
		if err := dec.Decode(&out[i]); err != nil {
			t.Fatalf("%s: %v", m.Value, err)
		}
	}
	return out
}

// Three sources over one seed are one stream: every bid names an auction
// and a person, every auction a seller, among those the other sources
// produced by then or at most 10 ids beyond (the reference generator's
// AUCTION_ID_LEAD and PERSON_ID_LEAD); each table keeps its share of the
// events, numbered by their place in the stream.
func TestNexmarkTablesAreOneStream(t *testing.T) {
	i8, text, ts := types.KindInt8, types.KindText, types.KindTimestamp
	people := readAll(t, nexmarkSource(t, "person", []format.Column{{Name: "id", Type: i8}, {Name: "name", Type: text}, {Name: "date_time", Type: ts}}, nil))
	auctions := readAll(t, nexmarkSource(t, "auction", []format.Column{{Name: "id", Type: i8}, {Name: "seller", Type: i8}, {Name: "dateTime", Type: ts}}, nil))
	bids := readAll(t, nexmarkSource(t, "bid", []format.Column{{Name: "auction", Type: i8}, {Name: "bidder", Type: i8}, {Name: "price", Type: i8}}, nil))
	if len(people) != 100 || len(auctions) != 300 || len(bids) != 4600 {
		t.Fatalf("%d people, %d auctions, %d bids of 5,000 events; want 100, 300, 4,600", len(people), len(auctions), len(bids))
	}
	// lastID[event] is the greatest id a table produced before event.
	lastBefore := func(msgs []Message, rows []map[string]any) func(event int64) int64 {
		return func(event int64) int64 {
			last := int64(999) // ids start at 1000
			for i, m := range msgs {
				if m.Origin.Offset >= event {
					break
				}
				id, _ := rows[i]["id"].(json.Number).Int64()
				last = max(last, id)
			}
			return last
		}
	}
	lastPerson := lastBefore(people, decodeNexmark(t, people))
	lastAuction := lastBefore(auctions, decodeNexmark(t, auctions))
	ref := func(what string, row map[string]any, field string, at int64, last func(int64) int64) {
		id, _ := row[field].(json.Number).Int64()
		if id < 1000 || id > last(at)+10 {
			t.Fatalf("%s %v (event %d): %s %d; ids so far end at %d", what, row, at, field, id, last(at))
		}
	}
	for i, row := range decodeNexmark(t, auctions) {
		ref("auction", row, "seller", auctions[i].Origin.Offset, lastPerson)
	}
	for i, row := range decodeNexmark(t, bids) {
		if i%50 == 0 { // the scans are quadratic: a sample is plenty
			ref("bid", row, "auction", bids[i].Origin.Offset, lastAuction)
			ref("bid", row, "bidder", bids[i].Origin.Offset, lastPerson)
		}
	}
	// Record timestamps are the events' times, advancing with the stream.
	for i := 1; i < len(bids); i++ {
		if bids[i].Timestamp.Before(bids[i-1].Timestamp) {
			t.Fatalf("bid %d's time %v is before the previous one's %v", i, bids[i].Timestamp, bids[i-1].Timestamp)
		}
	}
}

// Partitions split the stream by event number and change nothing else:
// the union of three partitions' bids is the one-partition source's.
func TestNexmarkPartitions(t *testing.T) {
	cols := []format.Column{{Name: "auction", Type: types.KindInt8}, {Name: "price", Type: types.KindInt8}, {Name: "extra", Type: types.KindText}}
	one := readAll(t, nexmarkSource(t, "bid", cols, nil))
	three := readAll(t, nexmarkSource(t, "bid", cols, map[string]string{"partitions": "3"}))
	byEvent := map[int64]string{}
	for _, m := range three {
		if m.Origin.Offset%3 != int64(m.Origin.Partition) {
			t.Fatalf("event %d in partition %d", m.Origin.Offset, m.Origin.Partition)
		}
		byEvent[m.Origin.Offset] = string(m.Value)
	}
	if len(byEvent) != len(one) {
		t.Fatalf("%d bids over three partitions, %d over one", len(byEvent), len(one))
	}
	for _, m := range one {
		if byEvent[m.Origin.Offset] != string(m.Value) {
			t.Fatalf("event %d: %s over three partitions, %s over one", m.Origin.Offset, byEvent[m.Origin.Offset], m.Value)
		}
	}
	other := readAll(t, nexmarkSource(t, "bid", cols, map[string]string{"seed": "4"}))
	if string(other[0].Value) == string(one[0].Value) && string(other[1].Value) == string(one[1].Value) {
		t.Error("another seed gave the same bids")
	}
}

func TestNexmarkOptionErrors(t *testing.T) {
	bid := []format.Column{{Name: "auction", Type: types.KindInt8}}
	for name, c := range map[string]struct {
		cols []format.Column
		opts map[string]string
		want string
	}{
		"no table":      {bid, map[string]string{}, "'table' is required"},
		"unknown table": {bid, map[string]string{"table": "lot"}, "'person', 'auction' or 'bid'"},
		"unknown field": {[]format.Column{{Name: "lot", Type: types.KindInt8}}, map[string]string{"table": "bid"}, "not a field of the bid table"},
		"wrong type":    {[]format.Column{{Name: "price", Type: types.KindText}}, map[string]string{"table": "bid"}, "must be bigint"},
		"no columns":    {nil, map[string]string{"table": "bid"}, "declares no columns"},
		"base time":     {bid, map[string]string{"table": "bid", "base-time": "yesterday"}, "RFC 3339"},
		"unknown":       {bid, map[string]string{"table": "bid", "rate": "5"}, "rate"},
	} {
		_, err := NewSource("nexmark", c.cols, c.opts, Env{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
}
