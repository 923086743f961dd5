package log

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/vfs"
)

// txnProducer appends a transactional producer's batches with running
// sequence numbers.
type txnProducer struct {
	t     testing.TB
	id    int64
	epoch int16
	coord int32 // coordinator epoch of its markers
	seq   int32 // sequence of batches built by batch
	seqs  map[*Partition]int32
}

func (tp *txnProducer) batch(recs ...kv) []byte {
	tp.t.Helper()
	return tp.batchAt(tp.seq, recs...)
}

func (tp *txnProducer) batchAt(seq int32, recs ...kv) []byte {
	tp.t.Helper()
	rs := make([]record.Record, len(recs))
	for i, r := range recs {
		rs[i] = record.Record{Timestamp: r.ts, Value: []byte(r.value)}
		if r.key != "" {
			rs[i].Key = []byte(r.key)
		}
	}
	b, err := record.AppendBatch(nil, rs, record.BatchOptions{
		Idempotent: true, ProducerID: tp.id, ProducerEpoch: tp.epoch, BaseSequence: seq, Transactional: true,
	})
	if err != nil {
		tp.t.Fatal(err)
	}
	return b
}

// send appends a transactional batch of values and returns its result.
func (tp *txnProducer) send(p *Partition, values ...string) AppendResult {
	tp.t.Helper()
	recs := make([]kv, len(values))
	for i, v := range values {
		recs[i] = kv{value: v}
	}
	return tp.sendKV(p, recs...)
}

func (tp *txnProducer) sendKV(p *Partition, recs ...kv) AppendResult {
	tp.t.Helper()
	if tp.seqs == nil {
		tp.seqs = map[*Partition]int32{}
	}
	res, err := p.Append(tp.batchAt(tp.seqs[p], recs...))
	if err != nil {
		tp.t.Fatalf("transactional append of producer %d to %s: %v", tp.id, p, err)
	}
	tp.seqs[p] += int32(len(recs))
	return res
}

func (tp *txnProducer) end(p *Partition, commit bool) int64 {
	tp.t.Helper()
	off, err := p.AppendMarker(tp.id, tp.epoch, commit, tp.coord)
	if err != nil {
		tp.t.Fatalf("marker of producer %d in %s: %v", tp.id, p, err)
	}
	return off
}

// committed reads p from offset with ReadCommitted until it reaches the
// LSO and returns the values of the records at or after offset.
func committed(t *testing.T, p *Partition, offset int64) []string {
	t.Helper()
	var out []string
	for {
		res, err := p.ReadCommitted(nil, offset, 1+int(offset%3)*1000) // small reads too, to cross batches
		if err != nil {
			t.Fatalf("ReadCommitted(%d): %v", offset, err)
		}
		for b := res.Batches; len(b) > 0; {
			h, recs, err := record.DecodeRecords(b[:mustSize(t, b)], 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if h.Control() {
				t.Fatalf("ReadCommitted returned a control batch at %d", h.BaseOffset)
			}
			for _, r := range recs {
				if r.Offset >= offset {
					out = append(out, string(r.Value))
				}
			}
			b = b[h.Size():]
		}
		if res.NextOffset < offset {
			t.Fatalf("ReadCommitted went back from %d to %d", offset, res.NextOffset)
		}
		if len(res.Batches) == 0 {
			if res.NextOffset < res.LastStableOffset {
				t.Fatalf("empty ReadCommitted at %d with LSO %d", res.NextOffset, res.LastStableOffset)
			}
			return out
		}
		offset = res.NextOffset
	}
}

func TestTxnLastStableOffset(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer l.Close()
	tp := mustTopic(t, l, "t", 2, nil)
	p0, _ := tp.Partition(0)
	p1, _ := tp.Partition(1)
	a := &txnProducer{t: t, id: 1}
	b := &txnProducer{t: t, id: 2}

	mustAppend(t, p0, kv{value: "plain0"}) // 0
	if lso := p0.LastStableOffset(); lso != 1 {
		t.Fatalf("LSO without transactions %d, want the high watermark 1", lso)
	}
	a.send(p0, "a1", "a2") // 1-2: opens a's transaction at 1
	a.send(p1, "a-p1")     // p1: 0
	mustAppend(t, p0, kv{value: "plain3"})
	b.send(p0, "b4")      // 4: b's opens at 4
	a.send(p0, "a5")      // 5: a's still open at 1
	checkLSO(t, p0, 1, 6) // held at a's first offset
	checkLSO(t, p1, 0, 1)
	if got := committed(t, p0, 0); !slices.Equal(got, []string{"plain0"}) {
		t.Fatalf("committed below LSO: %v", got)
	}

	if off := a.end(p0, true); off != 6 { // a commits in p0 only
		t.Fatalf("marker at %d", off)
	}
	checkLSO(t, p0, 4, 7) // now b's first offset holds it
	checkLSO(t, p1, 0, 1) // a's transaction in p1 is its own
	if got := committed(t, p0, 0); !slices.Equal(got, []string{"plain0", "a1", "a2", "plain3"}) {
		t.Fatalf("committed after a's commit: %v", got)
	}
	b.end(p0, false) // 7: b aborts
	checkLSO(t, p0, 8, 8)
	if got := committed(t, p0, 0); !slices.Equal(got, []string{"plain0", "a1", "a2", "plain3", "a5"}) {
		t.Fatalf("committed after b's abort: %v", got)
	}
	a.end(p1, false)
	checkLSO(t, p1, 2, 2)
	if got := committed(t, p1, 0); len(got) != 0 {
		t.Fatalf("p1 committed %v after abort", got)
	}
	if got := p0.AbortedTransactions(0, 8); !slices.Equal(got, []AbortedTxn{{ProducerID: 2, FirstOffset: 4, LastOffset: 7}}) {
		t.Fatalf("aborted in p0: %+v", got)
	}
	if o := p0.Offsets(); o.LastStable != 8 || p0.Stats().LastStable != 8 {
		t.Fatalf("offsets %+v", o)
	}
}

func checkLSO(t *testing.T, p *Partition, lso, hw int64) {
	t.Helper()
	o := p.Offsets()
	if got := p.LastStableOffset(); got != lso || o.LastStable != lso || o.HighWatermark != hw {
		t.Fatalf("%s: LSO %d (offsets %+v), want LSO %d, hw %d", p, got, o, lso, hw)
	}
}

func TestTxnAbortedTransactionRanges(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer l.Close()
	p, _ := mustTopic(t, l, "t", 1, map[string]string{ConfigSegmentBytes: "1024"}).Partition(0)
	a := &txnProducer{t: t, id: 10}
	b := &txnProducer{t: t, id: 20}
	// a: [0, 3] aborted at 3; b: [2, 6] aborted at 6 (spans a's marker);
	// a: [4] committed at 5; a: [7, 8] aborted at 9; many segments later b
	// opens one more, and a long-running abort of a spans segments.
	a.send(p, "a0", "a1")       // 0-1
	b.send(p, "b2")             // 2
	a.end(p, false)             // 3
	a.send(p, "a4")             // 4
	a.end(p, true)              // 5
	b.end(p, false)             // 6
	a.send(p, "a7", "a8")       // 7-8
	a.end(p, false)             // 9
	first := a.send(p, "long"). // 10: opens a long transaction
					BaseOffset
	for i := range 40 { // many segments of plain data
		mustAppend(t, p, kv{value: seqValues(i, i+1)[0] + "-padding-padding-padding-padding-padding-padding"})
	}
	last := a.end(p, false)
	if p.Offsets().Segments < 3 {
		t.Fatalf("only %d segments", p.Offsets().Segments)
	}
	all := []AbortedTxn{{10, 0, 3}, {20, 2, 6}, {10, 7, 9}, {10, first, last}}
	for _, tc := range []struct {
		from, to int64
		want     []AbortedTxn
	}{
		{0, last + 1, all},
		{0, 1, all[:1]},
		{0, 2, all[:1]},
		{0, 3, all[:2]},
		{3, 4, all[:2]},  // the marker offset itself overlaps
		{4, 7, all[1:2]}, // a's committed one is not listed
		{7, 8, all[2:3]},
		{10, 11, all[3:]},
		{first + 5, first + 6, all[3:]}, // from deep inside the long one
		{last, last + 1, all[3:]},
		{last + 1, last + 5, nil},
	} {
		if got := p.AbortedTransactions(tc.from, tc.to); !slices.Equal(got, tc.want) {
			t.Errorf("AbortedTransactions(%d, %d) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	// ReadStable returns the same for what it read.
	res, err := p.ReadStable(nil, 0, 1<<20)
	if err != nil || len(res.Batches) == 0 {
		t.Fatal(err)
	}
	if !slices.Equal(res.Aborted, p.AbortedTransactions(0, res.NextOffset)) {
		t.Fatalf("ReadStable to %d: aborted %v", res.NextOffset, res.Aborted)
	}
	if got := committed(t, p, 0); len(got) != 41 || got[0] != "a4" {
		t.Fatalf("committed: %d values, first %q", len(got), got[0])
	}
}

func TestTxnFencingAndMarkers(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer l.Close()
	p, _ := mustTopic(t, l, "t", 1, nil).Partition(0)
	a := &txnProducer{t: t, id: 5, epoch: 3}
	a.send(p, "x") // 0

	// A client may not write control batches or producer-less transactions.
	marker, err := encodeMarker(txnMarker{producerID: 5, epoch: 3, commit: true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(marker); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("client marker: %v", err)
	}
	// A non-transactional batch while its transaction is open.
	if _, err := p.Append(idempotentBatch(t, 5, 3, 1, 1)); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("non-transactional batch in a transaction: %v", err)
	}
	// Older epochs are fenced, for data and markers alike.
	old := &txnProducer{t: t, id: 5, epoch: 2, seq: 1}
	if _, err := p.Append(old.batch(kv{value: "zombie"})); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("old epoch batch: %v", err)
	}
	if _, err := p.AppendMarker(5, 2, true, 0); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("old epoch marker: %v", err)
	}
	checkLSO(t, p, 0, 1)
	// The coordinator bumps the epoch when it aborts: the marker's newer
	// epoch fences the producer's.
	if off, err := p.AppendMarker(5, 4, false, 7); err != nil || off != 1 {
		t.Fatalf("abort with a bumped epoch: %d %v", off, err)
	}
	checkLSO(t, p, 2, 2)
	if _, err := p.Append(a.batch(kv{value: "late"})); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("epoch 3 after the bump: %v", err)
	}
	// An older coordinator epoch is fenced; the same one is not.
	if _, err := p.AppendMarker(5, 4, false, 6); !errors.Is(err, ErrCoordinatorFenced) {
		t.Fatalf("old coordinator: %v", err)
	}
	// A retried marker, with no transaction open, is written and changes nothing.
	if off, err := p.AppendMarker(5, 4, false, 7); err != nil || off != 2 {
		t.Fatalf("retried marker: %d %v", off, err)
	}
	if off, err := p.AppendMarker(99, 0, true, 0); err != nil || off != 3 { // unknown producer
		t.Fatalf("marker of an unknown producer: %d %v", off, err)
	}
	checkLSO(t, p, 4, 4)
	if got := p.AbortedTransactions(0, 4); !slices.Equal(got, []AbortedTxn{{5, 0, 1}}) {
		t.Fatalf("aborted: %v", got)
	}
	// The producer goes on in its bumped epoch (any sequence: the window
	// restarted) and opens a new transaction.
	b := &txnProducer{t: t, id: 5, epoch: 4, coord: 7}
	b.send(p, "y") // 4
	checkLSO(t, p, 4, 5)
	b.end(p, true)
	if got := committed(t, p, 0); !slices.Equal(got, []string{"y"}) {
		t.Fatalf("committed %v", got)
	}
	// Markers for producer -1 or a negative epoch are refused.
	if _, err := p.AppendMarker(-1, 0, true, 0); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("marker without producer: %v", err)
	}
}

func TestTxnIdempotentRetry(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer l.Close()
	p, _ := mustTopic(t, l, "t", 1, nil).Partition(0)
	a := &txnProducer{t: t, id: 8}
	mustAppend(t, p, kv{value: "plain"})
	first := a.batch(kv{value: "v1"}, kv{value: "v2"})
	retry := slices.Clone(first)
	res, err := p.Append(first)
	if err != nil || res.BaseOffset != 1 {
		t.Fatal(res, err)
	}
	a.seq = 2
	dup, err := p.Append(retry)
	if err != nil || !dup.Duplicate || dup.BaseOffset != 1 || dup.LastOffset != 2 {
		t.Fatalf("retry: %+v %v", dup, err)
	}
	checkLSO(t, p, 1, 3)
	a.end(p, true) // 3
	// A retry arriving after the commit is still answered from the window
	// and opens no transaction.
	dup, err = p.Append(slices.Clone(retry))
	if err != nil || !dup.Duplicate {
		t.Fatalf("late retry: %+v %v", dup, err)
	}
	checkLSO(t, p, 4, 4)
	// A gap is refused as for any idempotent producer.
	gap := &txnProducer{t: t, id: 8, seq: 9}
	if _, err := p.Append(gap.batch(kv{value: "gap"})); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap: %v", err)
	}
	checkLSO(t, p, 4, 4)
}

// The LSO does not pass a transaction until its marker is durable, so no
// reader sees a commit that a crash could take back.
func TestTxnMarkerVisibleOnlyWhenDurable(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer l.Close()
	p, _ := mustTopic(t, l, "t", 1, nil).Partition(0)
	a := &txnProducer{t: t, id: 1}
	a.send(p, "x")
	off, wait, err := p.AppendMarkerDeferred(1, 0, true, 0)
	if err != nil || off != 1 {
		t.Fatal(off, err)
	}
	checkLSO(t, p, 0, 1) // written, not yet fsync'd
	done := make(chan error, 1)
	go func() { done <- p.WaitStable(context.Background(), 0) }()
	select {
	case err := <-done:
		t.Fatalf("WaitStable returned before the marker was durable: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	checkLSO(t, p, 2, 2)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := committed(t, p, 0); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("committed %v", got)
	}
}

func TestTxnMarkerDurableWithFsyncNever(t *testing.T) {
	fsys := newCountingFS()
	l := mustOpen(t, t.TempDir(), WithFS(fsys))
	defer l.Close()
	p, _ := mustTopic(t, l, "t", 1, map[string]string{ConfigFsync: string(FsyncNever)}).Partition(0)
	a := &txnProducer{t: t, id: 1}
	a.send(p, "x")
	before := fsys.syncs.Load()
	a.end(p, true)
	if fsys.syncs.Load() == before {
		t.Fatal("a marker was acknowledged without an fsync under fsync=never")
	}
}

// A reader waiting at the LSO wakes when a transaction commits and reads it.
func TestWaitStable(t *testing.T) {
	l := mustOpen(t, t.TempDir())
	defer l.Close()
	p, _ := mustTopic(t, l, "t", 1, nil).Partition(0)
	a := &txnProducer{t: t, id: 1}
	a.send(p, "x", "y")
	mustAppend(t, p, kv{value: "plain"})
	res, err := p.ReadCommitted(nil, 0, 1<<20)
	if err != nil || len(res.Batches) != 0 || res.NextOffset != 0 {
		t.Fatalf("read at the LSO: %+v %v", res, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.WaitStable(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitStable with the transaction open: %v", err)
	}
	got := make(chan []string, 1)
	go func() {
		if err := p.WaitStable(context.Background(), 0); err != nil {
			t.Error(err)
		}
		got <- committed(t, p, 0)
	}()
	time.Sleep(5 * time.Millisecond)
	a.end(p, true)
	if v := <-got; !slices.Equal(v, []string{"x", "y", "plain"}) {
		t.Fatalf("after commit: %v", v)
	}
}

// txnScenario writes transactions over many segments into partition 0 of
// topic "t" and returns a check of everything a reader can observe.
func txnScenario(t *testing.T, p *Partition) (cFirst int64) {
	t.Helper()
	a := &txnProducer{t: t, id: 1}
	b := &txnProducer{t: t, id: 2}
	c := &txnProducer{t: t, id: 3}
	a.send(p, "a-open") // a stays open across every segment below
	for i := range 30 {
		b.send(p, seqValues(i, i+1)[0]+"-b-padding-padding-padding-padding")
		mustAppend(t, p, kv{value: seqValues(i, i+1)[0] + "-plain-padding-padding-padding-padding"})
		b.end(p, i%3 != 0) // every third aborted
	}
	cFirst = c.send(p, "c-open").BaseOffset // c opens in the active segment
	mustAppend(t, p, kv{value: "tail"})
	return cFirst
}

type txnObservation struct {
	hw, lso   int64
	aborted   []AbortedTxn
	committed []string
	segments  int
}

func observe(t *testing.T, p *Partition) txnObservation {
	t.Helper()
	o := p.Offsets()
	return txnObservation{
		hw: o.HighWatermark, lso: p.LastStableOffset(), segments: o.Segments,
		aborted:   p.AbortedTransactions(0, o.HighWatermark),
		committed: committed(t, p, 0),
	}
}

func sameObservation(t *testing.T, when string, got, want txnObservation) {
	t.Helper()
	if got.hw != want.hw || got.lso != want.lso || got.segments != want.segments ||
		!slices.Equal(got.aborted, want.aborted) || !slices.Equal(got.committed, want.committed) {
		t.Fatalf("%s: hw %d lso %d, %d segments, %d aborted, %d committed; want hw %d lso %d, %d segments, %d aborted, %d committed",
			when, got.hw, got.lso, got.segments, len(got.aborted), len(got.committed),
			want.hw, want.lso, want.segments, len(want.aborted), len(want.committed))
	}
}

// Recovery rebuilds open transactions (one opened many segments ago), the
// epochs and the aborted index exactly, however the log was left.
func TestTxnRecovery(t *testing.T) {
	for _, how := range []string{"clean", "crash", "corrupt-snapshot", "corrupt-txnindex", "lost-active-txnindex"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir)
			p, _ := mustTopic(t, l, "t", 1, map[string]string{ConfigSegmentBytes: "1024"}).Partition(0)
			cFirst := txnScenario(t, p)
			want := observe(t, p)
			if want.lso != 0 || want.segments < 5 || len(want.aborted) != 10 {
				t.Fatalf("scenario: lso %d, %d segments, %d aborted", want.lso, want.segments, len(want.aborted))
			}
			pdir := filepath.Join(dir, topicsDir, "t", "0")
			switch how {
			case "clean":
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			case "crash":
				abandon(t, l)
			case "corrupt-snapshot":
				abandon(t, l)
				if err := os.WriteFile(filepath.Join(pdir, producerSnapshotFile), []byte("{not json"), 0o644); err != nil {
					t.Fatal(err)
				}
			case "corrupt-txnindex":
				abandon(t, l)
				idx, _ := filepath.Glob(filepath.Join(pdir, "*"+txnIndexSuffix))
				if len(idx) < 2 {
					t.Fatalf("%d txnindex files", len(idx))
				}
				if err := os.WriteFile(idx[0], []byte("short"), 0o644); err != nil {
					t.Fatal(err)
				}
			case "lost-active-txnindex":
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				l = mustOpen(t, dir) // clean open, then a crash
				p = partitionOf(t, l, "t", 0)
				(&txnProducer{t: t, id: 4}).send(p, "d")
				if _, err := p.AppendMarker(4, 0, false, 0); err != nil {
					t.Fatal(err)
				}
				want = observe(t, p)
				abandon(t, l)
			}
			l = mustOpen(t, dir)
			defer l.Close()
			p = partitionOf(t, l, "t", 0)
			sameObservation(t, "after reopen", observe(t, p), want)

			// The open transactions are still open and end as before.
			if _, err := p.AppendMarker(1, 0, false, 0); err != nil {
				t.Fatal(err)
			}
			if lso := p.LastStableOffset(); lso != cFirst {
				t.Fatalf("LSO %d after a's abort, want c's first offset %d", lso, cFirst)
			}
			if _, err := p.AppendMarker(3, 0, true, 0); err != nil {
				t.Fatal(err)
			}
			got := observe(t, p)
			if last := got.aborted[len(got.aborted)-1]; got.lso != got.hw || last != (AbortedTxn{1, 0, want.hw}) {
				t.Fatalf("after ending both: lso %d hw %d, last aborted %+v", got.lso, got.hw, last)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir)
			p = partitionOf(t, l, "t", 0)
			sameObservation(t, "after a second reopen", observe(t, p), got)
		})
	}
}

func TestTxnEpochSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir)
	p, _ := mustTopic(t, l, "t", 1, map[string]string{ConfigSegmentBytes: "1024"}).Partition(0)
	a := &txnProducer{t: t, id: 1, epoch: 5}
	a.send(p, "x")
	if _, err := p.AppendMarker(1, 6, false, 2); err != nil { // bumped by the coordinator
		t.Fatal(err)
	}
	for i := range 40 { // the marker ends up in a sealed segment
		mustAppend(t, p, kv{value: seqValues(i, i+1)[0] + "-padding-padding-padding-padding"})
	}
	abandon(t, l)
	l = mustOpen(t, dir)
	defer l.Close()
	p = partitionOf(t, l, "t", 0)
	if _, err := p.Append(a.batch(kv{value: "zombie"})); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("epoch 5 after a crash: %v", err)
	}
	if _, err := p.AppendMarker(1, 6, true, 1); !errors.Is(err, ErrCoordinatorFenced) {
		t.Fatalf("old coordinator after a crash: %v", err)
	}
}

// Retention takes aborted-index entries with their segments.
func TestTxnRetentionDropsAbortedEntries(t *testing.T) {
	now := time.UnixMilli(10_000_000)
	dir := t.TempDir()
	l := mustOpen(t, dir, WithClock(func() time.Time { return now }))
	p, _ := mustTopic(t, l, "t", 1, map[string]string{ConfigSegmentBytes: "1024", ConfigRetentionBytes: "3000"}).Partition(0)
	a := &txnProducer{t: t, id: 1}
	for i := range 40 {
		a.sendKV(p, kv{value: seqValues(i, i+1)[0] + "-padding-padding-padding-padding", ts: now.UnixMilli()})
		a.end(p, false)
	}
	before := p.AbortedTransactions(0, p.Offsets().HighWatermark)
	if err := l.Clean(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := p.Offsets().LogStart
	after := p.AbortedTransactions(0, p.Offsets().HighWatermark)
	if start == 0 || len(after) >= len(before) || after[0].LastOffset < start {
		t.Fatalf("log start %d: %d aborted before, %d after, first %+v", start, len(before), len(after), after[0])
	}
	files, _ := filepath.Glob(filepath.Join(dir, topicsDir, "t", "0", "*"+txnIndexSuffix))
	logs, _ := filepath.Glob(filepath.Join(dir, topicsDir, "t", "0", "*"+logSuffix))
	if len(files) >= len(logs) || len(files) == 0 {
		t.Fatalf("%d .txnindex files for %d sealed+active segments", len(files), len(logs))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir)
	defer l.Close()
	if got := partitionOf(t, l, "t", 0).AbortedTransactions(0, 1<<40); !slices.Equal(got, after) {
		t.Fatalf("after reopen %d aborted, want %d", len(got), len(after))
	}
}

// Compaction drops aborted records (they never displace a committed
// value), keeps markers while their data may remain, then drops them with
// their index entries; reads before and after agree.
func TestTxnCompaction(t *testing.T) {
	now := time.UnixMilli(50_000_000)
	dir := t.TempDir()
	l := mustOpen(t, dir, WithClock(func() time.Time { return now }))
	p, _ := mustTopic(t, l, "kv", 1, map[string]string{
		ConfigCleanupPolicy: "compact", ConfigSegmentBytes: "1024", ConfigDeleteRetentionMs: "1000",
	}).Partition(0)
	a := &txnProducer{t: t, id: 1}
	b := &txnProducer{t: t, id: 2}
	ts := now.UnixMilli()
	a.sendKV(p, kv{key: "k1", value: "committed-1", ts: ts}, kv{key: "k2", value: "committed-2", ts: ts})
	a.end(p, true)
	b.sendKV(p, kv{key: "k1", value: "aborted-1", ts: ts}) // newer, but aborted
	b.end(p, false)
	a.sendKV(p, kv{key: "k3", value: "committed-3", ts: ts})
	b.sendKV(p, kv{key: "k3", value: "aborted-3", ts: ts})
	a.end(p, true)
	b.end(p, false)
	for i := range 30 { // seal all of it
		mustAppend(t, p, kv{key: "pad", value: seqValues(i, i+1)[0] + "-padding-padding-padding-padding", ts: ts})
	}
	c := &txnProducer{t: t, id: 3}
	c.sendKV(p, kv{key: "k4", value: "open", ts: ts}) // open: holds the LSO, so its segment stays
	for i := range 30 {
		mustAppend(t, p, kv{key: "pad2", value: seqValues(i, i+1)[0] + "-padding-padding-padding-padding", ts: ts})
	}
	wantCommitted := latestCommitted(t, p)
	if err := l.Clean(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Nothing aborted is left in the compacted part; the committed values
	// of k1..k3 survive; the markers are still there (too young).
	var values []string
	markers := 0
	for _, r := range readAllBatches(t, p) {
		if r.control {
			markers++
			continue
		}
		values = append(values, r.value)
	}
	for _, v := range values {
		if v == "aborted-1" || v == "aborted-3" {
			t.Fatalf("aborted value %q survived compaction", v)
		}
	}
	if markers != 4 {
		t.Fatalf("%d markers after the first pass, want 4", markers)
	}
	if got := latestCommitted(t, p); !mapsEqual(got, wantCommitted) {
		t.Fatalf("committed view changed: %v, want %v", got, wantCommitted)
	}
	if n := len(p.AbortedTransactions(0, 1<<40)); n != 2 {
		t.Fatalf("%d aborted entries, want 2", n)
	}

	// Time passes; c commits; a new segment seals, so another pass runs.
	now = now.Add(time.Hour)
	c.end(p, true)
	for i := range 30 {
		mustAppend(t, p, kv{key: "pad3", value: seqValues(i, i+1)[0] + "-padding-padding-padding-padding", ts: now.UnixMilli()})
	}
	wantCommitted = latestCommitted(t, p)
	if err := l.Clean(context.Background()); err != nil {
		t.Fatal(err)
	}
	markers = 0
	for _, r := range readAllBatches(t, p) {
		if r.control {
			markers++
		}
	}
	// b's abort markers have no data left: gone, with their entries. a's
	// commits keep data (k1..k3 latest values): they stay, as does c's.
	if markers != 3 {
		t.Fatalf("%d markers after the second pass, want 3", markers)
	}
	if n := len(p.AbortedTransactions(0, 1<<40)); n != 0 {
		t.Fatalf("%d aborted entries left", n)
	}
	if got := latestCommitted(t, p); !mapsEqual(got, wantCommitted) {
		t.Fatalf("committed view changed: %v, want %v", got, wantCommitted)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir)
	defer l.Close()
	p = partitionOf(t, l, "kv", 0)
	if got := latestCommitted(t, p); !mapsEqual(got, wantCommitted) || p.LastStableOffset() != p.Offsets().HighWatermark {
		t.Fatalf("after reopen: %v, LSO %d", got, p.LastStableOffset())
	}
}

type rawRecord struct {
	offset  int64
	key     string
	value   string
	control bool
}

// readAllBatches decodes every record of p, control records included.
func readAllBatches(t *testing.T, p *Partition) []rawRecord {
	t.Helper()
	var out []rawRecord
	for from := p.Offsets().LogStart; ; {
		res, err := p.Read(from, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Batches) == 0 {
			return out
		}
		for b := res.Batches; len(b) > 0; {
			h, recs, err := record.DecodeRecords(b[:mustSize(t, b)], 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				out = append(out, rawRecord{offset: r.Offset, key: string(r.Key), value: string(r.Value), control: h.Control()})
			}
			b = b[h.Size():]
		}
		from = res.NextOffset
	}
}

// latestCommitted is the key-value view a read_committed reader builds.
func latestCommitted(t *testing.T, p *Partition) map[string]string {
	t.Helper()
	out := map[string]string{}
	for from := p.Offsets().LogStart; ; {
		res, err := p.ReadCommitted(nil, from, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Batches) == 0 {
			return out
		}
		for b := res.Batches; len(b) > 0; {
			h, recs, err := record.DecodeRecords(b[:mustSize(t, b)], 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				out[string(r.Key)] = string(r.Value)
			}
			b = b[h.Size():]
		}
		from = res.NextOffset
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// A failed fsync of a marker leaves the transaction holding the LSO: the
// marker was never promised. After reopen the log decides from the file.
func TestTxnMarkerFsyncFailure(t *testing.T) {
	dir := t.TempDir()
	fsys := vfs.NewFaultFS(vfs.Default)
	l := mustOpen(t, dir, WithFS(fsys))
	p, _ := mustTopic(t, l, "t", 1, nil).Partition(0)
	a := &txnProducer{t: t, id: 1}
	a.send(p, "x")
	fsys.SetSyncError(vfs.ErrInjected)
	if _, err := p.AppendMarker(1, 0, true, 0); !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("marker with failing fsync: %v", err)
	}
	checkLSO(t, p, 0, 1)
	fsys.Clear()
	_ = l.Close()
	l = mustOpen(t, dir, WithFS(fsys))
	defer l.Close()
	p = partitionOf(t, l, "t", 0)
	// The marker's bytes reached the file (the process did not die), so
	// recovery finds it and the transaction is over.
	checkLSO(t, p, 2, 2)
	if got := committed(t, p, 0); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("committed %v", got)
	}
}
