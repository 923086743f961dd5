package log

import (
	"errors"
	"os"
	"path/filepath"
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

// Data directories written before transactions hold a bare producer map
// as the snapshot; they open as before, clean or after a crash.
func TestLegacyProducerSnapshot(t *testing.T) {
	for _, clean := range []bool{true, false} {
		t.Run(map[bool]string{true: "clean", false: "crash"}[clean], func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir)
			p, _ := mustTopic(t, l, "t", 1, nil).Partition(0)
			if _, err := p.Append(idempotentBatch(t, 7, 2, 0, 3)); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			legacy := `{"7":{"epoch":2,"batches":[{"first_seq":0,"last_seq":2,"base_offset":0,"last_offset":2}]}}`
			path := filepath.Join(dir, topicsDir, "t", "0", producerSnapshotFile)
			if err := os.WriteFile(path, []byte(legacy), 0o644); err != nil {
				t.Fatal(err)
			}
			if !clean {
				if err := os.Remove(filepath.Join(dir, cleanMarkerFile)); err != nil {
					t.Fatal(err)
				}
			}
			l = mustOpen(t, dir)
			defer l.Close()
			p = partitionOf(t, l, "t", 0)
			dup, err := p.Append(idempotentBatch(t, 7, 2, 0, 3))
			if err != nil || !dup.Duplicate || dup.BaseOffset != 0 {
				t.Fatalf("retry after reopen: %+v %v", dup, err)
			}
			if _, err := p.Append(idempotentBatch(t, 7, 1, 3, 1)); !errors.Is(err, ErrProducerFenced) {
				t.Fatalf("old epoch: %v", err)
			}
			if lso := p.LastStableOffset(); lso != 3 {
				t.Fatalf("LSO %d", lso)
			}
			// Its first marker is not fenced by a coordinator epoch the
			// legacy snapshot never had.
			if _, err := p.AppendMarker(7, 2, false, 0); err != nil {
				t.Fatal(err)
			}
		})
	}
}
