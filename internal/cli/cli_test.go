package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/log"
)

// result is what one run of the command line did.
type result struct {
	code           int
	stdout, stderr string
}

// tide runs the command line in process through Main, with stdin as input.
// Tests always pass --data-dir, so $TIDE_DATA_DIR does not leak in.
func tide(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return tideReader(t, strings.NewReader(stdin), args...)
}

func tideReader(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(args, stdin, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// ok fails the test unless the run exited 0.
func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, stderr: %s", r.code, r.stderr)
	}
	return r
}

func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// newDataDir returns a data directory holding the given topics, each
// created with the given partition count.
func newDataDir(t *testing.T, topics map[string]int32) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	l, err := log.Open(dir, log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range topics {
		if _, err := l.CreateTopic(name, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// offsets returns each partition's high watermark.
func offsets(t *testing.T, dir, topic string) []int64 {
	t.Helper()
	l, err := log.Open(dir, log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tp, err := l.Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, p := range tp.Partitions() {
		out = append(out, p.Offsets().HighWatermark)
	}
	return out
}

func TestTopicLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	r := tide(t, "", "topic", "create", "orders", "--partitions", "3",
		"--config", "retention.ms=3600000", "--config", "cleanup.policy=compact,delete", "--data-dir", dir).ok(t)
	if r.stdout != "" || r.stderr != "created topic orders with 3 partitions\n" {
		t.Errorf("create: stdout %q stderr %q", r.stdout, r.stderr)
	}
	tide(t, "", "topic", "create", "audit", "--data-dir", dir).ok(t)

	if r := tide(t, "", "topic", "list", "--data-dir", dir).ok(t); r.stdout != "audit\norders\n" {
		t.Errorf("list: %q", r.stdout)
	}

	tide(t, "a\nb\nc\n", "produce", "orders", "--partition", "1", "--data-dir", dir).ok(t)
	r = tide(t, "", "topic", "describe", "orders", "--data-dir", dir).ok(t)
	for _, want := range []string{
		"Topic:       orders",
		"Partitions:  3",
		"PARTITION",
		"retention.ms",
		"3600000",
		"compact,delete",
		"fsync",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("describe lacks %q:\n%s", want, r.stdout)
		}
	}
	rows := map[string][]string{}
	for _, line := range lines(r.stdout) {
		f := strings.Fields(line)
		if len(f) > 0 {
			rows[f[0]] = f
		}
	}
	if got := rows["1"]; len(got) != 5 || got[1] != "0" || got[2] != "3" || got[3] == "0" {
		t.Errorf("partition 1 row %q, want start 0, end 3, bytes > 0", got)
	}
	if got := rows["0"]; len(got) != 5 || got[2] != "0" {
		t.Errorf("partition 0 row %q, want end 0", got)
	}
	if got := rows["retention.ms"]; len(got) != 3 || got[2] != "topic" {
		t.Errorf("retention.ms row %q, want source topic", got)
	}
	if got := rows["segment.bytes"]; len(got) != 3 || got[2] != "default" {
		t.Errorf("segment.bytes row %q, want source default", got)
	}

	r = tide(t, "", "topic", "delete", "orders", "--data-dir", dir).ok(t)
	if r.stderr != "deleted topic orders\n" {
		t.Errorf("delete: %q", r.stderr)
	}
	if r := tide(t, "", "topic", "list", "--data-dir", dir).ok(t); r.stdout != "audit\n" {
		t.Errorf("list after delete: %q", r.stdout)
	}
}

func TestDataDirFromEnvironment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		if k == EnvDataDir {
			return dir
		}
		return ""
	}}
	if code := run(context.Background(), []string{"topic", "create", "t1"}, e); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"topic", "list"}, e); code != 0 || stdout.String() != "t1\n" {
		t.Fatalf("exit %d, list %q: %s", code, stdout.String(), stderr.String())
	}
	// The flag wins over the variable.
	other := filepath.Join(t.TempDir(), "other")
	if code := run(context.Background(), []string{"topic", "create", "t2", "--data-dir", other}, e); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got := tide(t, "", "topic", "list", "--data-dir", other).ok(t).stdout; got != "t2\n" {
		t.Errorf("list of --data-dir: %q", got)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"},
		{},
		{"topic"},
		{"topic", "create", "--help"},
		{"produce", "--help"},
		{"consume", "--help"},
		{"group"},
		{"group", "reset-offsets", "--help"},
		{"bench", "log", "--help"},
		{"bench", "window", "--help"},
	} {
		r := tide(t, "", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") || r.stderr != "" {
			t.Errorf("tide %q: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestBadInput checks that every kind of bad input exits 2 with one line
// on stderr and nothing on stdout.
func TestBadInput(t *testing.T) {
	dir := newDataDir(t, map[string]int32{"orders": 3, "tiny": 1})
	tide(t, "a\nb\n", "produce", "orders", "--partition", "0", "--data-dir", dir).ok(t)
	missing := filepath.Join(t.TempDir(), "missing")

	cases := []struct {
		name  string
		args  []string
		stdin string
		want  string // in the message
	}{
		{"unknown command", []string{"frob"}, "", `unknown command "frob"`},
		{"unknown subcommand", []string{"topic", "frob"}, "", `unknown command "frob" for "tide topic"`},
		{"misspelt command", []string{"topc", "list"}, "", `unknown command "topc"`},
		{"unknown flag", []string{"topic", "list", "--nope"}, "", "unknown flag: --nope"},
		{"bad flag value", []string{"topic", "create", "x", "--partitions", "many"}, "", "invalid argument"},
		{"missing argument", []string{"topic", "create"}, "", "accepts 1 arg(s), received 0"},
		{"extra argument", []string{"topic", "list", "x"}, "", `unknown command "x"`},
		{"describe unknown topic", []string{"topic", "describe", "nope"}, "", "unknown topic: nope"},
		{"delete unknown topic", []string{"topic", "delete", "nope"}, "", "unknown topic: nope"},
		{"produce unknown topic", []string{"produce", "nope"}, "x\n", "unknown topic: nope"},
		{"consume unknown topic", []string{"consume", "nope"}, "", "unknown topic: nope"},
		{"invalid topic name", []string{"topic", "create", "bad name"}, "", "invalid topic name"},
		{"invalid partition count", []string{"topic", "create", "x", "--partitions", "0"}, "", "invalid partition count"},
		{"unknown config key", []string{"topic", "create", "x", "--config", "nope=1"}, "", "invalid topic configuration: nope"},
		{"bad config value", []string{"topic", "create", "x", "--config", "retention.ms=soon"}, "", "invalid topic configuration: retention.ms"},
		{"config without value", []string{"topic", "create", "x", "--config", "retention.ms"}, "", "want key=value"},
		{"config twice", []string{"topic", "create", "x", "--config", "fsync=never", "--config", "fsync=always"}, "", "given twice"},
		{"topic exists", []string{"topic", "create", "orders"}, "", "topic already exists: orders"},
		{"produce unknown partition", []string{"produce", "orders", "--partition", "3"}, "x\n", "unknown partition"},
		{"produce negative partition", []string{"produce", "orders", "--partition", "-1"}, "x\n", "must not be negative"},
		{"produce empty key separator", []string{"produce", "orders", "--key-sep", ""}, "x\n", "--key-sep must not be empty"},
		{"consume unknown partition", []string{"consume", "orders", "--partition", "7"}, "", "unknown partition"},
		{"consume offset out of range", []string{"consume", "orders", "--partition", "0", "--offset", "3"}, "", "offset out of range"},
		{"consume offset past a partition", []string{"consume", "orders", "--offset", "1"}, "", "offset out of range"},
		{"consume negative offset", []string{"consume", "orders", "--offset", "-1"}, "", "must not be negative"},
		{"consume bad format", []string{"consume", "orders", "--format", "xml"}, "", `--format "xml"`},
		{"consume bad time", []string{"consume", "orders", "--from-time", "yesterday"}, "", "RFC 3339"},
		{"consume two starts", []string{"consume", "orders", "--offset", "0", "--from-time", "2024-01-01T00:00:00Z"}, "", "give one of --from-beginning, --offset and --from-time"},
		{"consume negative max", []string{"consume", "orders", "--max", "-1"}, "", "must not be negative"},
		{"consume key separator with json", []string{"consume", "orders", "--format", "json", "--key-sep", ":"}, "", "raw"},
		{"missing data directory", []string{"consume", "orders", "--data-dir", missing}, "", "no data directory at " + missing},
		{"bench bad duration", []string{"bench", "log", "--duration", "0s"}, "", "duration must be positive"},
		{"bench window without keys", []string{"bench", "window", "--keys", "0"}, "", "keys must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args[0] != "bench" && !strings.Contains(strings.Join(args, " "), "--data-dir") {
				args = append(args, "--data-dir", dir)
			}
			r := tide(t, tc.stdin, args...)
			if r.code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr %q", r.code, ExitUsage, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "tide: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
				t.Errorf("stderr is not one line starting \"tide: \": %q", r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
	// Bad input changed nothing.
	if got := offsets(t, dir, "orders"); got[0] != 2 || got[1] != 0 || got[2] != 0 {
		t.Errorf("orders offsets %v after bad input", got)
	}
	if got := tide(t, "", "topic", "list", "--data-dir", dir).ok(t).stdout; got != "orders\ntiny\n" {
		t.Errorf("topics %q after bad input", got)
	}
}

func TestDataDirInUse(t *testing.T) {
	dir := newDataDir(t, map[string]int32{"orders": 1})
	l, err := log.Open(dir, log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := tide(t, "", "consume", "orders", "--data-dir", dir)
	if r.code != ExitFailure || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("exit %d, stderr %q; want 1 and one line saying the directory is in use", r.code, r.stderr)
	}
}

func TestExitCodeOfFailures(t *testing.T) {
	// A file where a directory must be: an I/O failure, not bad input.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := tide(t, "", "topic", "create", "x", "--data-dir", filepath.Join(file, "data"))
	if r.code != ExitFailure || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "tide: ") {
		t.Errorf("exit %d, stderr %q; want 1 and one line", r.code, r.stderr)
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           "plain",
		"first\nsecond\n": "first second",
		"unknown\n\nDid you mean this?\n\ttopic\n": "unknown Did you mean this? topic",
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
