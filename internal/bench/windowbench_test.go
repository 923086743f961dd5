package bench

import (
	"context"
	"strings"
	"testing"
)

// RunWindow end to end at a small scale: every run reads every event, and
// each windowed run's sink gets exactly one row per key and window (it
// fails otherwise), as counted while writing the events.
func TestRunWindow(t *testing.T) {
	opts := DefaultWindowOptions()
	opts.Dir, opts.Events, opts.Keys, opts.WindowEvents, opts.Rounds = t.TempDir(), 30_000, 2_000, 10_000, 1
	var rows strings.Builder
	opts.Progress = func(r WindowResult) { _ = WriteWindowRow(&rows, r) }
	report, err := RunWindow(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	// Three windows of 10,000 events over 2,000 keys: each key is in
	// almost every window (a key misses one with probability e^-5).
	if report.Windows != 3 || report.Expected < 5_900 || report.Expected > 6_000 {
		t.Errorf("windows %d, expected rows %d", report.Windows, report.Expected)
	}
	if report.EventBytes < 190 || report.EventBytes > 215 {
		t.Errorf("events average %.1f bytes", report.EventBytes)
	}
	if len(report.Results) != 4 {
		t.Fatalf("%d results", len(report.Results))
	}
	for _, r := range report.Results {
		if r.Events != opts.Events+1 || r.Out != r.Expected || r.PerSec <= 0 || r.PerCPU <= 0 {
			t.Errorf("%s: %+v", r.Name, r)
		}
		if r.Kind != KindWindowPassthrough && (r.Expected != report.Expected || r.Changelog == 0 || r.Repartition < opts.Events) {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
	s := report.Summary
	if s.WindowRatio <= 0 || s.ExactlyRatio <= 0 || s.OnDiskRatio <= 0 || len(report.Targets) != 1 {
		t.Errorf("summary %+v, targets %+v", s, report.Targets)
	}
	var summary strings.Builder
	if err := WriteWindowSummary(&summary, report); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s%s", rows.String(), summary.String())
}

func TestWindowOptionsValidate(t *testing.T) {
	for name, change := range map[string]func(*WindowOptions){
		"events":        func(o *WindowOptions) { o.Events = 0 },
		"keys":          func(o *WindowOptions) { o.Keys = 0 },
		"window events": func(o *WindowOptions) { o.WindowEvents = 20_000_000 },
		"rounds":        func(o *WindowOptions) { o.Rounds = 0 },
		"interval":      func(o *WindowOptions) { o.CheckpointInterval = -1 },
	} {
		opts := DefaultWindowOptions()
		change(&opts)
		if err := opts.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	opts := DefaultWindowOptions()
	if err := opts.Validate(); err != nil {
		t.Error(err)
	}
}

// BenchmarkWindow runs the four measurements once over b.N events (at
// least 10,000), for profiling: go test -run '^$' -bench Window
// -cpuprofile (tide bench window --cpuprofile profiles each run apart).
func BenchmarkWindow(b *testing.B) {
	opts := DefaultWindowOptions()
	opts.Dir, opts.Events, opts.Rounds = b.TempDir(), int64(max(b.N, 10_000)), 1
	report, err := RunWindow(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	s := report.Summary
	b.ReportMetric(s.AtLeastOnce.PerCPU, "window-events/cpu-s")
	b.ReportMetric(s.WindowRatioCPU, "x-passthrough-cpu")
	b.ReportMetric(s.ExactlyRatio, "x-at-least-once")
}
