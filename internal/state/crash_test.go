package state

import (
	"bufio"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The crash child's checkpoints: each rewrites every one of crashKeys to
// the checkpoint's number, deletes the previous checkpoint's marker key
// and writes its own, as one checkpoint of crashKeys+2 records.
const (
	crashKeys      = 20
	crashPerCommit = crashKeys + 2
	crashDirEnv    = "TIDE_STATE_CRASH_DIR"
)

// TestCrashChild is the child of TestKilledMidCommit: it commits
// checkpoints in a loop, printing each one's number once Commit returned,
// until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestKilledMidCommit")
	}
	s, err := Open(dir)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	for n := s.Offset()/crashPerCommit + 1; ; n++ {
		cp := s.NewCheckpoint(testChangelog)
		v := []byte(strconv.FormatInt(n, 10))
		for k := range crashKeys {
			_ = cp.Put([]byte(fmt.Sprintf("key-%02d", k)), v)
		}
		_ = cp.Put([]byte(fmt.Sprintf("marker-%d", n-1)), nil)
		_ = cp.Put([]byte(fmt.Sprintf("marker-%d", n)), v)
		fakeProduce(s, cp)
		if err := s.Commit(cp); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Fprintln(out, n)
		_ = out.Flush()
	}
}

// A process killed (SIGKILL) at a random point of its commits leaves a
// store whose offset and data agree — every key of the checkpoint the
// offset names, none of another — and that holds at least every commit
// the process saw return. Three kills on the same directory, each child
// resuming from the store's offset.
func TestKilledMidCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
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
		// Let it commit a while: some commits, then a kill at any point.
		var seen int64
		deadline := time.After(10 * time.Second)
		for seen < 5 {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: child exited after %d commits", round, seen)
				}
				if seen, err = strconv.ParseInt(line, 10, 64); err != nil {
					t.Fatalf("round %d: child: %s", round, line)
				}
			case <-deadline:
				t.Fatalf("round %d: child committed %d in 10s", round, seen)
			}
		}
		time.Sleep(time.Duration(r.IntN(50)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for line := range lines {
			if n, err := strconv.ParseInt(line, 10, 64); err == nil {
				seen = n
			}
		}
		_ = cmd.Wait()

		s := open(t, dir)
		n := s.Offset() / crashPerCommit
		if s.Offset()%crashPerCommit != 0 || n < seen {
			t.Fatalf("round %d: offset %d after the kill; the child saw commit %d return (offset %d)", round, s.Offset(), seen, seen*crashPerCommit)
		}
		want := map[string]string{fmt.Sprintf("marker-%d", n): strconv.FormatInt(n, 10)}
		for k := range crashKeys {
			want[fmt.Sprintf("key-%02d", k)] = strconv.FormatInt(n, 10)
		}
		if got := contents(t, s); !maps.Equal(got, want) {
			t.Fatalf("round %d: at offset %d (commit %d) the store holds %v", round, s.Offset(), n, sortedKeys(got))
		}
		t.Logf("round %d: killed after commit %d returned; reopened at commit %d", round, seen, n)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Sync bounds the replay, it is not what keeps the store consistent:
// with commits unsynced, a power loss keeps some prefix of them, and the
// offset found is always that of the state found.
func TestUnsyncedCommitsStayConsistent(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	fs := vfs.NewCrashableMem()
	const dir = "/state"
	s := open(t, dir, withFS(fs))
	defer s.Close()
	model := map[string]string{}
	history := map[int64]map[string]string{-1: {}}
	for i := range 40 {
		cp := checkpoint(t, s, randomChanges(r, 1+r.IntN(100), model))
		fakeProduce(s, cp)
		next := cp.Records()[cp.Len()-1].Offset + 1
		if err := s.apply(cp.batch, testChangelog, next, false); err != nil {
			t.Fatal(err)
		}
		cp.Discard()
		history[next] = maps.Clone(model)
		if i%4 != 3 {
			continue
		}
		cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: r.IntN(101), RNG: rand.New(rand.NewPCG(uint64(i), 1))}
		crashed := open(t, dir, withFS(fs.CrashClone(cfg)))
		want, ok := history[crashed.Offset()]
		if !ok {
			t.Fatalf("commit %d: offset %d after a crash is no commit's", i, crashed.Offset())
		}
		if got := contents(t, crashed); !maps.Equal(got, want) {
			t.Fatalf("commit %d: after a crash at offset %d the state is another offset's:\n got %v\nwant %v", i, crashed.Offset(), sortedKeys(got), sortedKeys(want))
		}
		t.Logf("commit %d (offset %d): a crash keeping %d%% of unsynced writes found offset %d", i, next, cfg.UnsyncedDataPercent, crashed.Offset())
		if err := crashed.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
