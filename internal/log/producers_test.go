package log

import (
	"errors"
	"testing"

	"github.com/tide-data/tide/internal/record"
)

func idempotentBatch(t *testing.T, pid int64, epoch int16, seq int32, n int) []byte {
	t.Helper()
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Value: []byte("v")}
	}
	b, err := record.AppendBatch(nil, recs, record.BatchOptions{Idempotent: true, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIdempotentProducer(t *testing.T) {
	for _, restart := range []string{"none", "clean", "crash"} {
		t.Run(restart, func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir)
			p, _ := mustTopic(t, l, "t", 1, nil).Partition(0)
			mustAppend(t, p, kv{value: "plain"}) // offset 0, no producer
			first, err := p.Append(idempotentBatch(t, 7, 0, 0, 3))
			if err != nil || first.BaseOffset != 1 || first.Duplicate {
				t.Fatalf("first batch: %+v %v", first, err)
			}
			if _, err := p.Append(idempotentBatch(t, 7, 0, 3, 2)); err != nil {
				t.Fatal(err)
			}
			switch restart {
			case "clean":
				_ = l.Close()
				l = mustOpen(t, dir)
			case "crash":
				abandon(t, l)
				l = mustOpen(t, dir)
			}
			defer l.Close()
			p = partitionOf(t, l, "t", 0)

			// A retry of the first batch is answered with its original offsets.
			dup, err := p.Append(idempotentBatch(t, 7, 0, 0, 3))
			if err != nil || !dup.Duplicate || dup.BaseOffset != 1 || dup.LastOffset != 3 {
				t.Fatalf("retry: %+v %v", dup, err)
			}
			if hw := p.Offsets().HighWatermark; hw != 6 {
				t.Fatalf("retry appended: hw %d", hw)
			}
			// A gap in sequence numbers is refused.
			if _, err := p.Append(idempotentBatch(t, 7, 0, 9, 1)); !errors.Is(err, ErrOutOfOrderSequence) {
				t.Fatalf("gap: %v", err)
			}
			// The next sequence is accepted.
			if res, err := p.Append(idempotentBatch(t, 7, 0, 5, 1)); err != nil || res.BaseOffset != 6 {
				t.Fatalf("next: %+v %v", res, err)
			}
			// A new epoch must start at 0; then the old epoch is fenced.
			if _, err := p.Append(idempotentBatch(t, 7, 1, 4, 1)); !errors.Is(err, ErrOutOfOrderSequence) {
				t.Fatalf("new epoch at 4: %v", err)
			}
			if _, err := p.Append(idempotentBatch(t, 7, 1, 0, 1)); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Append(idempotentBatch(t, 7, 0, 6, 1)); !errors.Is(err, ErrProducerFenced) {
				t.Fatalf("old epoch: %v", err)
			}
			// Another producer is independent; an unknown one may start anywhere.
			if _, err := p.Append(idempotentBatch(t, 8, 0, 100, 1)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
