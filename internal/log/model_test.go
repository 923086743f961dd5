package log

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/record"
)

// TestAgainstModel runs random appends, reads, timestamp searches,
// retention passes and reopens against a naive in-memory model: a slice of
// records per partition whose prefix retention may drop.
func TestAgainstModel(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { runModel(t, seed) })
	}
}

type modelRecord struct {
	offset int64
	ts     int64
	value  string
}

func runModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	now := time.UnixMilli(1_000_000)
	clock := func() time.Time { return now }
	dir := t.TempDir()
	open := func() *Log {
		return mustOpen(t, dir, WithClock(clock), WithMaxOpenFiles(3))
	}
	l := open()
	defer func() { _ = l.Close() }()
	const parts = 3
	cfg := map[string]string{
		ConfigSegmentBytes:   fmt.Sprint(512 + rng.IntN(4096)),
		ConfigRetentionBytes: fmt.Sprint(8192 + rng.IntN(8192)),
		ConfigRetentionMs:    "60000",
		ConfigSegmentMs:      "3600000",
	}
	mustTopic(t, l, "m", parts, cfg)
	model := make([][]modelRecord, parts)
	next := make([]int64, parts)
	ts := int64(1_000_000)

	for step := range 600 {
		pid := int32(rng.IntN(parts))
		p := partitionOf(t, l, "m", pid)
		switch op := rng.IntN(100); {
		case op < 55: // append a batch of 1..20 records of random size
			n := 1 + rng.IntN(20)
			recs := make([]kv, n)
			for i := range recs {
				ts += int64(rng.IntN(50))
				recs[i] = kv{value: fmt.Sprintf("p%d-%d-%s", pid, next[pid]+int64(i), make([]byte, rng.IntN(200))), ts: ts}
			}
			res := mustAppend(t, p, recs...)
			if res.BaseOffset != next[pid] {
				t.Fatalf("step %d: append at %d, model expects %d", step, res.BaseOffset, next[pid])
			}
			for i, r := range recs {
				model[pid] = append(model[pid], modelRecord{offset: next[pid] + int64(i), ts: r.ts, value: r.value})
			}
			next[pid] += int64(n)
		case op < 80: // read from a random offset with a random byte limit
			checkRead(t, step, p, model[pid], next[pid], rng)
		case op < 88: // search by timestamp
			checkTimestamp(t, step, p, model[pid], ts-int64(rng.IntN(3000)))
		case op < 95: // retention pass, with time moving on
			now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
			if err := l.Clean(context.Background()); err != nil {
				t.Fatal(err)
			}
			for i := range int32(parts) {
				start := partitionOf(t, l, "m", i).Offsets().LogStart
				model[i] = dropBefore(t, model[i], start)
			}
		default: // clean reopen
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = open()
		}
		if l.OpenFiles() > 3 {
			t.Fatalf("step %d: %d files open, cap 3", step, l.OpenFiles())
		}
	}
	for pid := range int32(parts) {
		p := partitionOf(t, l, "m", pid)
		o := p.Offsets()
		if o.HighWatermark != next[pid] {
			t.Fatalf("partition %d hw %d, model %d", pid, o.HighWatermark, next[pid])
		}
		if o.LogStart == 0 {
			t.Errorf("partition %d: log start %d over %d segments: retention and rolling went unexercised", pid, o.LogStart, o.Segments)
		}
		got := readAll(t, p, o.LogStart)
		if len(got) != len(model[pid]) {
			t.Fatalf("partition %d: %d records, model %d", pid, len(got), len(model[pid]))
		}
	}
}

// dropBefore applies retention to the model, checking the log only ever
// drops a prefix and keeps what retention.ms and retention.bytes allow.
func dropBefore(t *testing.T, m []modelRecord, start int64) []modelRecord {
	t.Helper()
	i := 0
	for i < len(m) && m[i].offset < start {
		i++
	}
	if i < len(m) && m[i].offset != start {
		t.Fatalf("log start %d is not a record boundary", start)
	}
	return m[i:]
}

func checkRead(t *testing.T, step int, p *Partition, m []modelRecord, hw int64, rng *rand.Rand) {
	t.Helper()
	start := p.Offsets().LogStart
	if len(m) > 0 && m[0].offset != start {
		t.Fatalf("step %d: log start %d, model starts at %d", step, start, m[0].offset)
	}
	from := start + int64(rng.IntN(int(hw-start)+1))
	maxBytes := 1 + rng.IntN(8192)
	res, err := p.Read(from, maxBytes)
	if err != nil {
		t.Fatalf("step %d: read at %d: %v", step, from, err)
	}
	if res.HighWatermark != hw {
		t.Fatalf("step %d: hw %d, model %d", step, res.HighWatermark, hw)
	}
	if from == hw {
		if len(res.Batches) != 0 {
			t.Fatalf("step %d: read at hw returned data", step)
		}
		return
	}
	if len(res.Batches) == 0 {
		t.Fatalf("step %d: read at %d < hw %d returned nothing", step, from, hw)
	}
	// Whole batches only; more than maxBytes only for a single first batch.
	var got []record.Record
	nbatches := 0
	for b := res.Batches; len(b) > 0; nbatches++ {
		h, recs, err := record.DecodeRecords(b[:min(len(b), mustSize(t, b))], 1<<20)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if nbatches == 0 && (h.BaseOffset > from || h.LastOffset() < from) {
			t.Fatalf("step %d: first batch [%d,%d] does not hold %d", step, h.BaseOffset, h.LastOffset(), from)
		}
		got = append(got, recs...)
		b = b[h.Size():]
	}
	if len(res.Batches) > maxBytes && nbatches > 1 {
		t.Fatalf("step %d: %d bytes in %d batches over limit %d", step, len(res.Batches), nbatches, maxBytes)
	}
	off := got[0].Offset - m[0].offset
	for i, r := range got {
		want := m[int(off)+i]
		if r.Offset != want.offset || string(r.Value) != want.value || r.Timestamp != want.ts {
			t.Fatalf("step %d: record %d = (%d %q %d), model (%d %q %d)", step, i, r.Offset, r.Value, r.Timestamp, want.offset, want.value, want.ts)
		}
	}
}

func mustSize(t *testing.T, b []byte) int {
	h, err := record.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h.Size()
}

func checkTimestamp(t *testing.T, step int, p *Partition, m []modelRecord, ts int64) {
	t.Helper()
	want, wantTs := int64(-1), int64(-1)
	for _, r := range m {
		if r.ts >= ts {
			want, wantTs = r.offset, r.ts
			break
		}
	}
	got, gotTs, err := p.OffsetForTime(ts)
	if err != nil || got != want || gotTs != wantTs {
		t.Fatalf("step %d: OffsetForTime(%d) = %d@%d, %v; model %d@%d", step, ts, got, gotTs, err, want, wantTs)
	}
}
