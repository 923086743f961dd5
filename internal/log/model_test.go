package log

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/record"
)

// TestAgainstModel runs random appends (plain and transactional), markers,
// reads (read_uncommitted and read_committed), timestamp searches,
// retention passes and reopens (clean and crashed) against a naive
// in-memory model: a slice of records per partition whose prefix retention
// may drop, and each partition's open and aborted transactions.
func TestAgainstModel(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { runModel(t, seed) })
	}
}

type modelRecord struct {
	offset  int64
	ts      int64
	value   string
	control bool
	txn     *modelTxn // nil outside transactions
}

type modelTxn struct {
	first     int64
	committed bool
}

// modelTxns is one partition's transactions.
type modelTxns struct {
	open    map[int64]*modelTxn // by producer
	aborted []AbortedTxn        // in marker order
	seq     map[int64]int32     // next sequence by producer
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
	txns := make([]modelTxns, parts)
	for i := range txns {
		txns[i] = modelTxns{open: map[int64]*modelTxn{}, seq: map[int64]int32{}}
	}
	ts := int64(1_000_000)

	for step := range 600 {
		pid := int32(rng.IntN(parts))
		p := partitionOf(t, l, "m", pid)
		switch op := rng.IntN(100); {
		case op < 8: // a transactional batch of producer 100 or 101
			producer := int64(100 + rng.IntN(2))
			tx := txns[pid].open[producer]
			if tx == nil {
				tx = &modelTxn{first: next[pid]}
				txns[pid].open[producer] = tx
			}
			tp := &txnProducer{t: t, id: producer, seq: txns[pid].seq[producer]}
			n := 1 + rng.IntN(5)
			recs := make([]kv, n)
			for i := range recs {
				ts += int64(rng.IntN(50))
				recs[i] = kv{value: fmt.Sprintf("p%d-%d-txn%d", pid, next[pid]+int64(i), producer), ts: ts}
			}
			res, err := p.Append(tp.batch(recs...))
			if err != nil || res.BaseOffset != next[pid] {
				t.Fatalf("step %d: transactional append at %d: %v; model expects %d", step, res.BaseOffset, err, next[pid])
			}
			txns[pid].seq[producer] += int32(n)
			for i, r := range recs {
				model[pid] = append(model[pid], modelRecord{offset: next[pid] + int64(i), ts: r.ts, value: r.value, txn: tx})
			}
			next[pid] += int64(n)
		case op < 12: // a marker, with or without a transaction open
			producer := int64(100 + rng.IntN(2))
			commit := rng.IntN(2) == 0
			off, err := p.AppendMarker(producer, 0, commit, 0)
			if err != nil || off != next[pid] {
				t.Fatalf("step %d: marker at %d: %v; model expects %d", step, off, err, next[pid])
			}
			if tx := txns[pid].open[producer]; tx != nil {
				tx.committed = commit
				delete(txns[pid].open, producer)
				if !commit {
					txns[pid].aborted = append(txns[pid].aborted, AbortedTxn{producer, tx.first, off})
				}
			}
			model[pid] = append(model[pid], modelRecord{offset: off, ts: now.UnixMilli(), value: "\x00\x00\x00\x00\x00\x00", control: true})
			next[pid]++
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
		case op < 72: // read from a random offset with a random byte limit
			checkRead(t, step, p, model[pid], next[pid], rng)
		case op < 80: // read_committed
			checkCommitted(t, step, p, model[pid], &txns[pid], next[pid], rng)
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
				aborted := txns[i].aborted
				for len(aborted) > 0 && aborted[0].LastOffset < start {
					aborted = aborted[1:] // their markers' segments are gone
				}
				txns[i].aborted = aborted
			}
		case op < 98: // clean reopen
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = open()
		default: // crash and reopen
			abandon(t, l)
			l = open()
			if l.CleanStart() {
				t.Fatalf("step %d: a crash seen as clean", step)
			}
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
		checkCommitted(t, -1, p, model[pid], &txns[pid], next[pid], rng)
	}
}

// checkCommitted compares the LSO, the aborted transactions and a
// read_committed read from a random offset with the model.
func checkCommitted(t *testing.T, step int, p *Partition, m []modelRecord, txns *modelTxns, hw int64, rng *rand.Rand) {
	t.Helper()
	start := p.Offsets().LogStart
	lso := hw
	for _, tx := range txns.open {
		lso = min(lso, tx.first)
	}
	lso = max(lso, start)
	if got := p.LastStableOffset(); got != lso {
		t.Fatalf("step %d: LSO %d, model %d", step, got, lso)
	}
	from := start + int64(rng.IntN(int(hw-start)+1))
	var want []AbortedTxn
	for _, a := range txns.aborted {
		if a.LastOffset >= from && a.FirstOffset < hw {
			want = append(want, a)
		}
	}
	if got := p.AbortedTransactions(from, hw); !slices.Equal(got, want) {
		t.Fatalf("step %d: AbortedTransactions(%d, %d) = %v, model %v", step, from, hw, got, want)
	}
	var values []string
	for _, r := range m {
		if r.offset >= from && r.offset < lso && !r.control && (r.txn == nil || r.txn.committed) {
			values = append(values, r.value)
		}
	}
	if got := committed(t, p, from); !slices.Equal(got, values) {
		t.Fatalf("step %d: read_committed from %d: %d records, model %d", step, from, len(got), len(values))
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
