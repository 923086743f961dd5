package txn

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

const crashDirEnv = "TIDE_TXN_CRASH_DIR"

// A process killed (SIGKILL) after a transaction's PrepareCommit is
// durable, before any marker: the next Open completes the commit, markers
// and offsets both.
func TestCrashAfterPrepareCompletes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := os.Create(filepath.Join(t.TempDir(), "child.out"))
	must(t, "child output", err)
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	must(t, "start child", cmd.Start())
	prepared := filepath.Join(dir, "prepared")
	deadline := time.Now().Add(waitLimit)
	for {
		if _, err := os.Stat(prepared); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("the child did not reach PrepareCommit; its output:\n%s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	must(t, "kill -9", cmd.Process.Kill())
	_ = cmd.Wait()

	n := &node{t: t, dir: dir}
	n.open()
	t.Cleanup(n.close)
	eventually(t, "the prepared transaction to complete", func() bool { return n.state("tx").State == CompleteCommit })
	if got := n.committed(out0); values(got...) != values("a", "b") {
		t.Errorf("out-0 after recovery: %v", got)
	}
	if got := n.committed(out1); values(got...) != values("c") {
		t.Errorf("out-1 after recovery: %v", got)
	}
	if o := n.offset("g"); o != 11 {
		t.Errorf("group offset after recovery: %d, want 11", o)
	}
	for _, tp := range []TopicPartition{out0, out1} {
		p := n.partition(tp.Topic, tp.Partition)
		if lso, hw := p.LastStableOffset(), p.Offsets().HighWatermark; lso != hw {
			t.Errorf("%v: LSO %d, high watermark %d", tp, lso, hw)
		}
	}
}

// TestCrashChild is the child process of TestCrashAfterPrepareCompletes:
// it commits a transaction and stops for good once PrepareCommit is
// durable, leaving a file to say so.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrashAfterPrepareCompletes")
	}
	n := &node{t: t, dir: dir}
	n.open()
	for name, parts := range map[string]int32{"out": 2, "in": 1} {
		if _, err := n.log.CreateTopic(name, parts, nil); err != nil {
			t.Fatal(err)
		}
	}
	n.c.afterPrepare = func(string) {
		if err := os.WriteFile(filepath.Join(dir, "prepared"), nil, 0o644); err != nil {
			t.Error(err)
		}
		select {} // killed here
	}
	p := n.initProducer("tx", time.Minute)
	must(t, "produce", p.produce(out0, "a", "b"))
	must(t, "produce", p.produce(out1, "c"))
	must(t, "offsets", p.commitOffset("g", 11))
	_ = p.end(true)
	t.Fatal("the commit returned; it should have stopped after PrepareCommit")
}
