package interop

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables that select the targets.
const (
	envKafkaBootstrap = "TIDE_TEST_KAFKA_BOOTSTRAP" // host:port of a running Apache Kafka
	envTideBin        = "TIDE_TEST_TIDE_BIN"        // path of a built tide binary
)

// target is one kind of broker the tests run against.
type target struct {
	name      string // subtest name: "kafka" or "tide"
	bootstrap string // kafka: the broker's address
}

// cluster is what a test talks to inside one target's subtest.
type cluster struct {
	name      string
	bootstrap string
	tide      *tideProc // nil unless name == "tide"
}

func (c *cluster) isTide() bool { return c.tide != nil }

var (
	kafkaCheckOnce sync.Once
	kafkaCheckErr  error
)

// targets returns the targets configured in the environment. With none, it
// skips the test with a loud reason, or fails it when CI=true.
func targets(t *testing.T) []target {
	t.Helper()
	var ts []target
	if addr := os.Getenv(envKafkaBootstrap); addr != "" {
		kafkaCheckOnce.Do(func() {
			conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
			if err != nil {
				kafkaCheckErr = err
				return
			}
			conn.Close()
		})
		if kafkaCheckErr != nil {
			// Set but dead is a broken setup, not a missing peer.
			t.Fatalf("%s=%s, but nothing answers there: %v (restart it with scripts/peers/up.sh)",
				envKafkaBootstrap, addr, kafkaCheckErr)
		}
		ts = append(ts, target{name: "kafka", bootstrap: addr})
	}
	if os.Getenv(envTideBin) != "" {
		ts = append(ts, target{name: "tide"})
	}
	if len(ts) == 0 {
		peerMissing(t, "no interop target: set %s (eval \"$(scripts/peers/up.sh)\") and/or %s=/path/to/tide",
			envKafkaBootstrap, envTideBin)
	}
	return ts
}

// forEachTarget runs fn as one subtest per target. For Tide each subtest
// gets its own freshly started process, killed when the subtest ends.
func forEachTarget(t *testing.T, fn func(t *testing.T, c *cluster)) {
	t.Helper()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			c := &cluster{name: tg.name, bootstrap: tg.bootstrap}
			if tg.name == "tide" {
				c.tide = startTide(t)
				c.bootstrap = c.tide.Bootstrap()
			}
			fn(t, c)
		})
	}
}

// peerMissing skips t, loudly, because something the test needs is not
// installed or configured; under CI=true, where scripts install every peer,
// it fails t instead.
func peerMissing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("interop: %s (CI=true: a missing peer is a failure; scripts/peers/install.sh installs them)", msg)
	}
	t.Skipf("!!! INTEROP PEER MISSING: %s — SKIPPED (scripts/peers/install.sh, scripts/peers/up.sh)", msg)
}

// repoRoot is the repository's top directory (tests run in test/interop).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// freePort returns a loopback TCP port that nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tideProc is a `tide serve` child process owned by one test. Its ports and
// data directory stay the same across Restart, so clients reconnect to the
// same address and find the same data. Methods must be called from the test's
// goroutine.
type tideProc struct {
	t         *testing.T
	bin       string
	dataDir   string
	kafkaAddr string
	httpAddr  string
	logPath   string
	extra     []string // more serve flags
	starts    int

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

// startTide starts $TIDE_TEST_TIDE_BIN serve on free loopback ports with a
// fresh data directory and more flags from extra, and waits until it is
// ready (GET /readyz answers 200). The process is SIGKILLed when the test
// ends, and its log is printed if the test failed.
func startTide(t *testing.T, extra ...string) *tideProc {
	t.Helper()
	bin := os.Getenv(envTideBin)
	if bin == "" {
		peerMissing(t, "%s is not set", envTideBin)
	}
	if !filepath.IsAbs(bin) {
		// Relative to the repository root, where scripts run, if not to
		// this package's directory, where go test runs.
		if _, err := os.Stat(bin); err != nil {
			bin = filepath.Join(repoRoot(t), bin)
		}
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v", envTideBin, err)
	}
	dir := t.TempDir()
	p := &tideProc{
		t:         t,
		bin:       bin,
		dataDir:   filepath.Join(dir, "data"),
		kafkaAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))),
		httpAddr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))),
		logPath:   filepath.Join(dir, "tide.log"),
		extra:     extra,
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			p.dumpLog()
		}
	})
	p.start()
	return p
}

// Bootstrap is the Kafka listener's address, the same across restarts.
func (p *tideProc) Bootstrap() string { return p.kafkaAddr }

// DataDir is the process's --data-dir.
func (p *tideProc) DataDir() string { return p.dataDir }

func (p *tideProc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func (p *tideProc) start() {
	p.t.Helper()
	p.starts++
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	fmt.Fprintf(logFile, "=== interop: start %d of %s at %s\n", p.starts, p.bin, time.Now().Format(time.RFC3339Nano))
	args := append([]string{"serve",
		"--data-dir", p.dataDir,
		"--kafka-addr", p.kafkaAddr,
		"--http-addr", p.httpAddr}, p.extra...)
	cmd := exec.Command(p.bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		p.t.Fatalf("starting %s: %v", p.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(logFile, "=== interop: process exited: %v\n", err)
		logFile.Close()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited

	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + p.httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			p.t.Fatalf("tide exited before it was ready:\n%s", p.logTail())
		default:
		}
		if time.Now().After(deadline) {
			p.Kill()
			p.t.Fatalf("tide was not ready (GET %s/readyz) within 60s:\n%s", p.httpAddr, p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill sends SIGKILL, as a crash would, and waits for the process to be
// gone. It is a no-op when the process is not running.
func (p *tideProc) Kill() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Restart stops a running process with SIGTERM (the test fails if it takes
// more than 15 s, and it is then SIGKILLed), then starts it again on the same
// ports and data directory. After Kill it only starts it: Kill then Restart
// is a crash and recovery.
func (p *tideProc) Restart() {
	p.t.Helper()
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			p.t.Errorf("tide did not exit within 15s of SIGTERM; killing it")
			p.Kill()
		}
	}
	p.start()
}

func (p *tideProc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const limit = 8 << 10
	if len(b) > limit {
		b = b[len(b)-limit:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
		b = append([]byte("...\n"), b...)
	}
	return string(b)
}

func (p *tideProc) dumpLog() {
	p.t.Logf("tide log (%s):\n%s", p.logPath, p.logTail())
}

// lookPeer finds an executable peer on PATH, or reports it missing.
func lookPeer(t *testing.T, name, why string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			peerMissing(t, "%s not on PATH (%s)", name, why)
		}
		t.Fatal(err)
	}
	return path
}
