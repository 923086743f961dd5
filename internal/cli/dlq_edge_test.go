package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/engine"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
)

// An exactly-once pipeline writes its dead letters in transactions: the
// dead-letter topic ends with a commit marker, at an offset no record
// holds. list (and replay) read to the last record and answer.
func TestDLQListTransactionalDeadLetters(t *testing.T) {
	dir := newDataDir(t, map[string]int32{"orders": 1, "orders.dlq": 1})
	withDataDir(t, dir, func(ctx context.Context, tr *embedded.Transport) error {
		p, err := tr.NewTxnProducer(ctx, "tide-agg-clean-0")
		if err != nil {
			return err
		}
		recs := deadLetters()
		for _, r := range recs {
			r.Partition = 0
		}
		return errors.Join(p.Begin(ctx), p.Produce(ctx, recs), p.Commit(ctx, "", nil), p.Close(ctx))
	})
	start := time.Now()
	r := tide(t, "", "dlq", "list", "orders.dlq", "--data-dir", dir, "--timeout", "2s")
	if r.code != 0 {
		t.Fatalf("dlq list of 5 committed dead letters: exit %d after %s: %s", r.code, time.Since(start).Round(time.Millisecond), r.stderr)
	}
	if !strings.Contains(r.stderr, "5 dead letters") {
		t.Fatalf("list: %+v", r)
	}
}

// A dead letter whose value the dead-letter topic refused is kept without
// it, with tide.value.dropped: replay refuses it (exit 2) rather than
// re-producing a null value, a tombstone on a compacted origin topic.
func TestDLQReplayRefusesValueDroppedLetter(t *testing.T) {
	dir := newDataDir(t, map[string]int32{"orders": 1, "orders.dlq": 1})
	produceToDataDir(t, dir, []*transport.Record{{
		Topic: "orders.dlq", Partition: 0, Key: []byte("k1"), Value: nil,
		Headers: []transport.Header{
			{Key: engine.HeaderError, Value: []byte("too big")},
			{Key: engine.HeaderStage, Value: []byte("sink")},
			{Key: engine.HeaderTopic, Value: []byte("orders")},
			{Key: engine.HeaderPartition, Value: []byte("0")},
			{Key: engine.HeaderOffset, Value: []byte("7")},
			{Key: engine.HeaderValueDropped, Value: []byte("2000000 bytes: record too large")},
		},
	}})
	r := tide(t, "", "dlq", "replay", "orders.dlq", "--data-dir", dir)
	n := offsets(t, dir, "orders")[0]
	if r.code == 0 && n > 0 {
		out := tide(t, "", "consume", "orders", "--format", "json", "--data-dir", dir).stdout
		t.Fatalf("replay wrote the value-dropped dead letter to orders as %s (a null value: a tombstone for key k1), want it refused or skipped", strings.TrimSpace(out))
	}
}
