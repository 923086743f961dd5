package cli_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/server"
)

// TestBinary builds cmd/tide and runs it as a user would: real process,
// real stdin, stdout, stderr and exit status.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH to build cmd/tide with")
	}
	bin := filepath.Join(t.TempDir(), "tide")
	build := exec.Command(gobin, "build", "-o", bin, "github.com/tide-data/tide/cmd/tide")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "data")

	run := func(stdin string, args ...string) (code int, stdout, stderr string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"TIDE_DATA_DIR=" + dir}
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if exit, ok := errors.AsType[*exec.ExitError](err); ok {
			return exit.ExitCode(), out.String(), errb.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, out.String(), errb.String()
	}

	if code, _, stderr := run("", "topic", "create", "orders", "--partitions", "2"); code != 0 {
		t.Fatalf("create: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run("k1|one\nk2|two\nthree\n", "produce", "orders", "--key-sep", "|"); code != 0 || stderr != "produced 3 records\n" {
		t.Fatalf("produce: exit %d: %q", code, stderr)
	}
	code, stdout, stderr := run("", "consume", "orders", "--format", "json")
	if code != 0 || strings.Count(stdout, "\n") != 3 || stderr != "consumed 3 records\n" {
		t.Fatalf("consume: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, want := range []string{`"key":"k1","value":"one"`, `"key":"k2","value":"two"`, `"key":null,"value":"three"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("consume output lacks %s:\n%s", want, stdout)
		}
	}
	code, stdout, stderr = run("", "consume", "nope")
	if code != 2 || stdout != "" || stderr != "tide: log: unknown topic: nope\n" {
		t.Errorf("unknown topic: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = run("", "consume", "orders", "--bogus")
	if code != 2 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("bad flag: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, _ := run("", "--help"); code != 0 || !strings.Contains(stdout, "Usage:") {
		t.Errorf("--help: exit %d, stdout %q", code, stdout)
	}

	// tide sql against a server in this process, as a script would use it.
	cfg := server.DefaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "server")
	cfg.KafkaAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	srv, err := server.Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Shutdown(); err != nil {
			t.Error(err)
		}
	}()
	url := "http://" + srv.HTTPAddr().String()
	code, stdout, stderr = run("CREATE SOURCE s (a int) WITH (connector = 'datagen');\nSHOW SOURCES;\n", "sql", "--url", url)
	if code != 0 || !strings.Contains(stdout, "created source s\n") || !strings.Contains(stdout, "(1 row)\n") || stderr != "" {
		t.Errorf("sql from stdin: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = run("", "sql", "--url", url, "-c", "SHOW SOURCES; DROP SOURCE nope")
	if code != 2 || !strings.Contains(stdout, "(1 row)") || stderr != "tide: source \"nope\" does not exist [object_not_found]\n" {
		t.Errorf("sql error: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
