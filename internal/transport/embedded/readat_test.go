package embedded

import (
	"context"
	"fmt"
	"testing"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/transport"
)

// Transaction markers, which Tide does not write yet but a log may hold,
// are not records: ReadAt skips them, reads on past a read that held only
// markers, and returns nothing when only markers are left.
func TestReadAtSkipsControlBatches(t *testing.T) {
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
	appendBatch := func(control bool, values ...string) {
		t.Helper()
		recs := make([]record.Record, len(values))
		for i, v := range values {
			recs[i] = record.Record{Timestamp: 1000, Value: []byte(v)}
			if control { // a COMMIT marker: key version 0, type 1
				recs[i].Key = []byte{0, 0, 0, 1}
			}
		}
		b, err := record.AppendBatch(nil, recs, record.BatchOptions{
			Idempotent: true, ProducerID: producerID, BaseSequence: seq,
			Transactional: true, Control: control,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !control {
			seq += int32(len(values))
		}
		if _, err := p.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	appendBatch(false, "a", "b") // 0, 1
	appendBatch(true, "")        // 2
	appendBatch(false, "c")      // 3
	appendBatch(true, "")        // 4

	tp := transport.TopicPartition{Topic: "txn", Partition: 0}
	for _, tc := range []struct {
		offset   int64
		maxBytes int
		want     string // values@offsets
	}{
		{0, 1 << 20, "a@0 b@1 c@3"},
		{0, 1, "a@0 b@1"},
		{1, 1, "b@1"},
		{2, 1, "c@3"}, // the first read holds a marker only
		{2, 1 << 20, "c@3"},
		{4, 1 << 20, ""},
		{5, 1 << 20, ""},
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
