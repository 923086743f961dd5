package log

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/record"
)

// The crash child appends sequence-numbered records to every partition from
// several goroutines and prints "ack <partition> <last seq>" after each
// acknowledged append. The parent kills it with SIGKILL at a random moment.
const (
	crashChildEnv   = "TIDE_LOG_CRASH_CHILD_DIR"
	crashPartitions = 3
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if dir := os.Getenv(txnCrashChildEnv); dir != "" {
		txnCrashChild(dir)
		return
	}
	os.Exit(m.Run())
}

func crashChild(dir string) {
	l, err := Open(dir, WithCleanerInterval(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	tp, err := l.Topic("crash")
	if err != nil {
		tp, err = l.CreateTopic("crash", crashPartitions, map[string]string{ConfigSegmentBytes: "20000"})
		if err != nil {
			fmt.Fprintln(os.Stderr, "create:", err)
			os.Exit(3)
		}
	}
	out := bufio.NewWriter(os.Stdout)
	var outMu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range tp.Partitions() {
		// Two appenders per partition, so group commit is at work too.
		for w := range 2 {
			wg.Go(func() { crashAppender(p, uint64(w), &outMu, out) })
		}
	}
	wg.Wait()
}

func crashAppender(p *Partition, worker uint64, outMu *sync.Mutex, out *bufio.Writer) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(p.ID())<<8|worker))
	for {
		recs := make([]record.Record, 1+rng.IntN(30))
		for i := range recs {
			// The value names its partition, so misplaced bytes show.
			recs[i] = record.Record{Timestamp: time.Now().UnixMilli(), Value: fmt.Appendf(nil, "%d:%d:%s", p.ID(), i, strings.Repeat("x", rng.IntN(300)))}
		}
		b, err := record.AppendBatch(nil, recs, record.BatchOptions{})
		if err != nil {
			panic(err)
		}
		res, err := p.Append(b)
		if err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			os.Exit(4)
		}
		outMu.Lock()
		fmt.Fprintf(out, "ack %d %d %d\n", p.ID(), res.BaseOffset, res.LastOffset)
		_ = out.Flush()
		outMu.Unlock()
	}
}

// TestCrashSafety kills an appending child process with SIGKILL 50 times.
// After each kill the log must hold every acknowledged record, contiguous
// offsets and whole, valid batches only, and accept appends again.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process 50 times")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	acked := make([]int64, crashPartitions) // highest acknowledged offset + 1
	for round := range 50 {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
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
		// Let it append for a while, then kill it mid-flight.
		deadline := time.After(time.Duration(20+rng.IntN(120)) * time.Millisecond)
		killed := false
		for !killed {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: child exited early: %s", round, stderr.String())
				}
				recordAck(t, line, acked)
			case <-deadline:
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		for line := range lines { // acks printed before the kill
			recordAck(t, line, acked)
		}
		_ = cmd.Wait()
		verifyAfterCrash(t, round, dir, acked)
	}
}

func recordAck(t *testing.T, line string, acked []int64) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "ack" {
		return // a line torn by the kill
	}
	p, _ := strconv.Atoi(f[1])
	last, err := strconv.ParseInt(f[3], 10, 64)
	if err == nil && last+1 > acked[p] {
		acked[p] = last + 1
	}
}

func verifyAfterCrash(t *testing.T, round int, dir string, acked []int64) {
	t.Helper()
	l, err := Open(dir, WithCleanerInterval(0))
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer l.Close()
	tp, err := l.Topic("crash")
	if err != nil {
		if acked[0] == 0 {
			return // killed before the topic existed
		}
		t.Fatalf("round %d: %v", round, err)
	}
	for _, p := range tp.Partitions() {
		hw := p.Offsets().HighWatermark
		if hw < acked[p.ID()] {
			t.Fatalf("round %d: partition %d ends at %d but %d were acknowledged", round, p.ID(), hw, acked[p.ID()])
		}
		recs := readAll(t, p, 0)
		if int64(len(recs)) != hw {
			t.Fatalf("round %d: partition %d holds %d records, hw %d", round, p.ID(), len(recs), hw)
		}
		for i, r := range recs {
			if r.Offset != int64(i) {
				t.Fatalf("round %d: partition %d: record %d has offset %d", round, p.ID(), i, r.Offset)
			}
			if !strings.HasPrefix(string(r.Value), fmt.Sprintf("%d:", p.ID())) {
				t.Fatalf("round %d: partition %d offset %d holds %q", round, p.ID(), i, r.Value)
			}
		}
		// Appends work again after recovery.
		res := mustAppend(t, p, kv{value: fmt.Sprintf("%d:probe", p.ID())})
		if res.BaseOffset != hw {
			t.Fatalf("round %d: append after recovery at %d, want %d", round, res.BaseOffset, hw)
		}
		acked[p.ID()] = hw + 1
	}
}
