package embedded

import (
	"context"
	"fmt"
	"testing"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/transport"
)

// ReadAt returns committed records only: transaction markers are not
// records, an aborted transaction's records are skipped (reading on past a
// read that held nothing else), and an open transaction stops it at its
// first record, the last stable offset, with what follows it.
func TestReadAtReadsCommitted(t *testing.T) {
	tr, l, _ := open(t)
	ctx := context.Background()
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "txn", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	topic, err := l.Topic("txn")
	if err != nil {
		t.Fatal(err)
	}
	p, err := topic.Partition(0)
	if err != nil {
		t.Fatal(err)
	}
	const producerID = 7
	seq := int32(0)
	appendBatch := func(transactional bool, values ...string) {
		t.Helper()
		recs := make([]record.Record, len(values))
		for i, v := range values {
			recs[i] = record.Record{Timestamp: 1000, Value: []byte(v)}
		}
		opts := record.BatchOptions{}
		if transactional {
			opts = record.BatchOptions{Idempotent: true, ProducerID: producerID, BaseSequence: seq, Transactional: true}
			seq += int32(len(values))
		}
		b, err := record.AppendBatch(nil, recs, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	marker := func(commit bool) {
		t.Helper()
		if _, err := p.AppendMarker(producerID, 0, commit, 0); err != nil {
			t.Fatal(err)
		}
	}
	appendBatch(true, "a", "b") // 0, 1
	marker(true)                // 2
	appendBatch(true, "c")      // 3
	marker(true)                // 4
	appendBatch(true, "x")      // 5, aborted
	marker(false)               // 6
	appendBatch(false, "d")     // 7
	appendBatch(true, "y")      // 8, open
	appendBatch(false, "e")     // 9, after the open transaction

	tp := transport.TopicPartition{Topic: "txn", Partition: 0}
	for _, tc := range []struct {
		offset   int64
		maxBytes int
		want     string // values@offsets
	}{
		{0, 1 << 20, "a@0 b@1 c@3 d@7"},
		{0, 1, "a@0 b@1"},
		{1, 1, "b@1"},
		{2, 1, "c@3"}, // the first read holds a marker only
		{2, 1 << 20, "c@3 d@7"},
		{4, 1 << 20, "d@7"},
		{5, 1, "d@7"}, // the aborted record, then its marker, then d
		{8, 1 << 20, ""},
		{9, 1 << 20, ""},
		{10, 1 << 20, ""},
		{11, 1 << 20, ""},
	} {
		recs, err := tr.ReadAt(ctx, tp, tc.offset, tc.maxBytes)
		if err != nil {
			t.Fatalf("ReadAt(%d, %d): %v", tc.offset, tc.maxBytes, err)
		}
		got := ""
		for i, r := range recs {
			if i > 0 {
				got += " "
			}
			got += fmt.Sprintf("%s@%d", r.Value, r.Offset)
		}
		if got != tc.want {
			t.Errorf("ReadAt(%d, %d) = %q, want %q", tc.offset, tc.maxBytes, got, tc.want)
		}
	}
}
