package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeDebezium writes a launcher that runs script with /bin/sh, in a
// directory of its own, and returns the launcher's path.
func fakeDebezium(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, debeziumLauncher)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// The Debezium program's protocol without Java: a stand-in prints the
// result line among other output and exits.
func TestRunDebeziumProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	launcher := fakeDebezium(t, `echo "starting $*"
[ "$PGPASSWORD" = secret ] || { echo "no password" >&2; exit 3; }
echo '{"events":3,"seconds":1.5,"first_event_seconds":0.5,"bytes":3000,"cpu_seconds":2.25,"gc_seconds":0.1,"jvm_start_seconds":0.2,"debezium_version":"3.6.1.Final","java_version":"OpenJDK 17","jvm_args":["-Xmx2g"]}'
echo "shutting down" >&2
sleep 0.3
`)
	samples := 0
	line, proc, err := runDebeziumProcess(ctx, launcher, []string{"--events", "3"}, []string{"PGPASSWORD=secret"}, func() { samples++ })
	if err != nil {
		t.Fatal(err)
	}
	if line.Events != 3 || line.Bytes != 3000 || line.Seconds != 1.5 || line.DebeziumVersion != "3.6.1.Final" || len(line.JVMArgs) != 1 {
		t.Errorf("line %+v", line)
	}
	if samples < 2 {
		t.Errorf("%d samples: want one at the start and one at the line", samples)
	}
	if proc.wall < 300*time.Millisecond {
		t.Errorf("process wall %s: the exit was not awaited", proc.wall)
	}

	tide := &CDCThroughput{PerSec: 4, PerCPU: 2}
	p := DebeziumPhase{Name: "snapshot", Count: line.Events, Bytes: line.Bytes, Wall: seconds(line.Seconds), CPU: seconds(line.CPUSeconds)}
	p.finish(tide)
	if p.PerSec != 2 || p.RecordBytes != 1000 || p.TideRatio != 2 || p.TideCPURatio != 1.5 {
		t.Errorf("figures %+v", p)
	}
	var text strings.Builder
	if err := writeDebeziumReport(&text, &CDCDebezium{Version: line.DebeziumVersion, Java: line.JavaVersion, JVMArgs: line.JVMArgs, Snapshot: p}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Debezium Embedded 3.6.1.Final", "-Xmx2g", "JIT warm-up included", "2.00x", "1.50x"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
}

func TestRunDebeziumProcessFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range []struct{ name, script, want string }{
		{"exit", "echo 'debezium-bench: the engine stopped: slot in use' >&2; exit 1", "slot in use"},
		{"no line", "echo 'no JSON here'", "without its result line"},
		{"bad line", "echo '{\"events\":'", "result line"},
	} {
		_, _, err := runDebeziumProcess(ctx, fakeDebezium(t, c.script), nil, nil, func() {})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
}

func TestCDCOptionsDebeziumDir(t *testing.T) {
	opts := DefaultCDCOptions()
	opts.DSN = "postgres://localhost/x"
	opts.Debezium = t.TempDir()
	if err := opts.Validate(); err == nil || !strings.Contains(err.Error(), "scripts/bench/debezium.sh") {
		t.Errorf("a directory without the launcher: %v", err)
	}
	opts.Debezium = filepath.Dir(fakeDebezium(t, "exit 0"))
	if err := opts.Validate(); err != nil {
		t.Error(err)
	}
}
