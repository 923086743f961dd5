package log

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/record"
)

// The transactional crash child runs three producers, each in a loop of
// transactions over two partitions (producer 3's long enough to span
// segments), and prints "end <producer> <round>
// <txn> commit|abort <records>" once a transaction's markers are durable.
// At start it aborts, with a bumped epoch (the round), whatever the last
// round's producers left open, as a coordinator recovering would.
const (
	txnCrashChildEnv = "TIDE_LOG_TXN_CRASH_CHILD_DIR"
	txnCrashRoundEnv = "TIDE_LOG_TXN_CRASH_ROUND"
	txnCrashTopic    = "txn"
)

func txnCrashChild(dir string) {
	round, _ := strconv.Atoi(os.Getenv(txnCrashRoundEnv))
	l, err := Open(dir, WithCleanerInterval(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	tp, err := l.Topic(txnCrashTopic)
	if err != nil {
		tp, err = l.CreateTopic(txnCrashTopic, 2, map[string]string{ConfigSegmentBytes: "4096"})
		if err != nil {
			fmt.Fprintln(os.Stderr, "create:", err)
			os.Exit(3)
		}
	}
	epoch := int16(round)
	for pid := int64(1); pid <= 3; pid++ {
		for _, p := range tp.Partitions() {
			if _, err := p.AppendMarker(pid, epoch, false, int32(round)); err != nil {
				fmt.Fprintln(os.Stderr, "abort leftovers:", err)
				os.Exit(4)
			}
		}
	}
	out := bufio.NewWriter(os.Stdout)
	var outMu sync.Mutex
	var wg sync.WaitGroup
	for pid := int64(1); pid <= 3; pid++ {
		wg.Go(func() { txnCrashProducer(tp.Partitions(), pid, epoch, round, &outMu, out) })
	}
	wg.Wait()
}

func txnCrashProducer(parts []*Partition, pid int64, epoch int16, round int, outMu *sync.Mutex, out *bufio.Writer) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(pid)))
	seqs := make([]int32, len(parts))
	fail := func(what string, err error) {
		fmt.Fprintln(os.Stderr, what+":", err)
		os.Exit(4)
	}
	for txn := 0; ; txn++ {
		touched := make([]bool, len(parts))
		n, batches := 0, 1+rng.IntN(4)
		if pid == 3 {
			batches = 10 + rng.IntN(40) // long transactions, across segment rolls
		}
		for range batches {
			i := rng.IntN(len(parts))
			recs := make([]record.Record, 1+rng.IntN(5))
			for j := range recs {
				recs[j] = record.Record{Timestamp: time.Now().UnixMilli(), Value: fmt.Appendf(nil, "%d:%d:%d:%d:%s", pid, round, txn, n, strings.Repeat("x", rng.IntN(100)))}
				n++
			}
			b, err := record.AppendBatch(nil, recs, record.BatchOptions{Idempotent: true, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seqs[i], Transactional: true})
			if err != nil {
				panic(err)
			}
			if _, err := parts[i].Append(b); err != nil {
				fail("append", err)
			}
			seqs[i] += int32(len(recs))
			touched[i] = true
		}
		commit := rng.IntN(3) != 0
		var waits []func() error
		for i, p := range parts {
			if touched[i] {
				_, wait, err := p.AppendMarkerDeferred(pid, epoch, commit, int32(round))
				if err != nil {
					fail("marker", err)
				}
				waits = append(waits, wait)
			}
		}
		for _, wait := range waits {
			if err := wait(); err != nil {
				fail("marker", err)
			}
		}
		decision := "abort"
		if commit {
			decision = "commit"
		}
		outMu.Lock()
		fmt.Fprintf(out, "end %d %d %d %s %d\n", pid, round, txn, decision, n)
		_ = out.Flush()
		outMu.Unlock()
	}
}

// TestTxnCrashSafety kills a child running transactions with SIGKILL 20
// times. After each kill the partitions' LSO, aborted transactions and
// committed view must be what the log's own batches say (an oracle replays
// them naively), every acknowledged transaction must have its outcome, and
// a transaction whose markers a crash prevented must still be open.
func TestTxnCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process 20 times")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(11, 12))
	type ack struct {
		commit  bool
		records int
	}
	acked := map[string]ack{} // "pid:round:txn:" -> outcome
	for round := 1; round <= 20; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), txnCrashChildEnv+"="+dir, fmt.Sprintf("%s=%d", txnCrashRoundEnv, round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		record := func(line string) {
			f := strings.Fields(line)
			if len(f) != 6 || f[0] != "end" {
				return
			}
			n, err := strconv.Atoi(f[5])
			if err == nil {
				acked[f[1]+":"+f[2]+":"+f[3]+":"] = ack{commit: f[4] == "commit", records: n}
			}
		}
		deadline := time.After(time.Duration(30+rng.IntN(120)) * time.Millisecond)
		for killed := false; !killed; {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: child exited early: %s", round, stderr.String())
				}
				record(line)
			case <-deadline:
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		for line := range lines {
			record(line)
		}
		_ = cmd.Wait()

		l, err := Open(dir, WithCleanerInterval(0))
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		tp, err := l.Topic(txnCrashTopic)
		if err != nil {
			_ = l.Close()
			continue // killed before the topic existed
		}
		outcome := map[string][]string{} // txn prefix -> the state of each of its records in the log
		for _, p := range tp.Partitions() {
			want, resolved := txnOracleOf(t, p)
			got := observe(t, p)
			if got.lso != want.lso || !slices.Equal(got.aborted, want.aborted) || !slices.Equal(got.committed, want.committed) {
				t.Fatalf("round %d, %s: LSO %d, %d aborted, %d committed; the log's batches say LSO %d, %d aborted, %d committed",
					round, p, got.lso, len(got.aborted), len(got.committed), want.lso, len(want.aborted), len(want.committed))
			}
			for _, r := range readAllBatches(t, p) {
				if r.control {
					continue
				}
				state := "open"
				if commit, ok := resolved[r.value]; ok {
					state = map[bool]string{true: "commit", false: "abort"}[commit]
				}
				outcome[txnPrefix(r.value)] = append(outcome[txnPrefix(r.value)], state)
			}
		}
		// Every record of an acknowledged transaction is in the log with
		// the acknowledged outcome.
		for prefix, a := range acked {
			want := map[bool]string{true: "commit", false: "abort"}[a.commit]
			got := outcome[prefix]
			if len(got) != a.records {
				t.Fatalf("round %d: acknowledged transaction %s had %d records, the log holds %d", round, prefix, a.records, len(got))
			}
			for _, state := range got {
				if state != want {
					t.Fatalf("round %d: acknowledged transaction %s (%s) has a record in state %s", round, prefix, want, state)
				}
			}
		}
		if round%2 == 0 {
			abandon(t, l) // the child's next open is unclean too
		} else if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// txnPrefix is "pid:round:txn:" of a crash child's value.
func txnPrefix(v string) string {
	f := strings.SplitN(v, ":", 5)
	if len(f) < 4 {
		return v
	}
	return strings.Join(f[:3], ":") + ":"
}

// txnOracleOf works out from p's batches alone, naively, what a
// read_committed reader must see.
// resolved maps each record value of an ended transaction to whether it
// committed; records of open transactions are not in it.
func txnOracleOf(t *testing.T, p *Partition) (obs txnObservation, resolved map[string]bool) {
	t.Helper()
	o := p.Offsets()
	type open struct {
		first  int64
		values []rawRecord
	}
	ongoing := map[int64]*open{}
	var done []rawRecord // records of committed transactions and plain ones
	var aborted []AbortedTxn
	resolved = map[string]bool{}
	for from := o.LogStart; from < o.HighWatermark; {
		res, err := p.Read(from, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for b := res.Batches; len(b) > 0; {
			size := mustSize(t, b)
			h, recs, err := record.DecodeRecords(b[:size], 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case h.Control():
				m, ok, err := parseMarker(h, b[:size])
				if err != nil {
					t.Fatal(err)
				}
				if tx := ongoing[h.ProducerID]; ok && tx != nil {
					for _, r := range tx.values {
						resolved[r.value] = m.commit
					}
					if m.commit {
						done = append(done, tx.values...)
					} else {
						aborted = append(aborted, AbortedTxn{h.ProducerID, tx.first, h.BaseOffset})
					}
					delete(ongoing, h.ProducerID)
				}
			case h.Transactional():
				tx := ongoing[h.ProducerID]
				if tx == nil {
					tx = &open{first: h.BaseOffset}
					ongoing[h.ProducerID] = tx
				}
				for _, r := range recs {
					tx.values = append(tx.values, rawRecord{offset: r.Offset, value: string(r.Value)})
				}
			default:
				for _, r := range recs {
					done = append(done, rawRecord{offset: r.Offset, value: string(r.Value)})
				}
			}
			b = b[size:]
		}
		from = res.NextOffset
	}
	lso := o.HighWatermark
	for _, tx := range ongoing {
		lso = min(lso, tx.first)
	}
	lso = max(lso, o.LogStart)
	slices.SortFunc(done, func(a, b rawRecord) int { return int(a.offset - b.offset) })
	var committed []string
	for _, r := range done {
		if r.offset < lso {
			committed = append(committed, r.value)
		}
	}
	return txnObservation{hw: o.HighWatermark, lso: lso, aborted: aborted, committed: committed, segments: o.Segments}, resolved
}
