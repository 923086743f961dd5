package bench

import (
	"context"
	"strings"
	"testing"
)

func TestRunPipeline(t *testing.T) {
	opts := DefaultPipelineOptions()
	opts.Dir, opts.Events, opts.Rounds = t.TempDir(), 20_000, 2
	var rows strings.Builder
	opts.Progress = func(r PipelineResult) { _ = WritePipelineRow(&rows, r) }
	report, err := RunPipeline(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	// Each case with the generator in process, then from the log in each
	// round; a target per case from the log (the median of its rounds),
	// and the 500,000 events/s one.
	if len(report.Results) != (1+opts.Rounds)*len(PipelineCases) || len(report.Targets) != len(PipelineCases)+1 {
		t.Fatalf("results %d, targets %d", len(report.Results), len(report.Targets))
	}
	if report.Codec.PerCPU <= 0 || report.Codec.Ceiling <= 0 || len(report.CodecRounds) != opts.Rounds-1 || report.CodecRounds[0].PerCPU <= 0 {
		t.Errorf("codec ceiling: %+v, later rounds %+v", report.Codec, report.CodecRounds)
	}
	for _, target := range report.Targets {
		if !strings.Contains(target.Name, "from the log") {
			continue
		}
		var ratios []float64
		for _, r := range report.Results {
			if r.Kind == KindPipelineFromLog && strings.Contains(target.Name, "pipeline "+r.Case+" ") {
				codec := report.Codec
				if r.Round > 1 {
					codec = report.CodecRounds[r.Round-2]
				}
				if want := r.PerCPU / codec.PerCPU; r.Codec != want {
					t.Errorf("%s: ratio %v, want %v against its round's ceiling", r.Name, r.Codec, want)
				}
				ratios = append(ratios, r.Codec)
			}
		}
		if len(ratios) != opts.Rounds || target.Value != (ratios[0]+ratios[1])/2 {
			t.Errorf("%s: %v from rounds %v", target.Name, target.Value, ratios)
		}
	}
	if report.EventBytes < 190 || report.EventBytes > 215 {
		t.Errorf("events average %.1f bytes; tune PipelineSource's field lengths back to about 200", report.EventBytes)
	}
	for _, r := range report.Results {
		if r.Events != opts.Events || r.PerCPU <= 0 || r.Ceiling <= 0 {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
	for i := 0; i < len(report.Results); i += 2 {
		if pt, fp := report.Results[i], report.Results[i+1]; pt.Out != opts.Events || fp.Out <= opts.Events/2 || fp.Out >= opts.Events {
			t.Errorf("outputs: %s %d, %s %d of %d", pt.Name, pt.Out, fp.Name, fp.Out, opts.Events)
		}
	}
	for _, r := range report.Results[len(PipelineCases):] {
		if r.Kind != KindPipelineFromLog || r.Codec <= 0 {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
	var summary strings.Builder
	if err := WritePipelineSummary(&summary, report); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s%s", rows.String(), summary.String())
}

// The instrumentation comparison: every case runs off and on, alternately,
// the "on" runs export spans (1% of the events start a trace), and the
// ratio is checked against its target.
func TestRunPipelineInstrumentation(t *testing.T) {
	opts := DefaultPipelineOptions()
	opts.Dir, opts.Events, opts.Instrumentation, opts.InstrumentationRounds = t.TempDir(), 20_000, true, 1
	var rows strings.Builder
	opts.Progress = func(r PipelineResult) { _ = WritePipelineRow(&rows, r) }
	report, err := RunPipeline(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Results) != 2*len(PipelineCases) || len(report.Instrumentation) != len(PipelineCases) || len(report.Targets) != len(PipelineCases) {
		t.Fatalf("results %d, instrumentation %d, targets %d", len(report.Results), len(report.Instrumentation), len(report.Targets))
	}
	for _, ir := range report.Instrumentation {
		// 1% of 20,000 events start a trace: a process span each, and a
		// delivery span for those that pass the filter.
		if ir.Ratio <= 0 || ir.Spans < 100 || ir.Spans > 1000 {
			t.Errorf("%+v", ir)
		}
	}
	var summary strings.Builder
	if err := WritePipelineSummary(&summary, report); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s%s", rows.String(), summary.String())
}

func TestPipelineOptionsValidate(t *testing.T) {
	opts := DefaultPipelineOptions()
	opts.Cases = []string{"nope"}
	if err := opts.Validate(); err == nil || !strings.Contains(err.Error(), "passthrough") {
		t.Errorf("unknown case: %v", err)
	}
	opts = DefaultPipelineOptions()
	opts.Events = 0
	if err := opts.Validate(); err == nil {
		t.Error("zero events accepted")
	}
}

// BenchmarkPipeline runs each case through the whole engine (for
// profiling: go test -run '^$' -bench Pipeline/filter_project -cpuprofile).
// b.N is the events per case; the ceiling and the generator are measured
// over as many events, as tide bench pipeline does.
func BenchmarkPipeline(b *testing.B) {
	for _, c := range PipelineCases {
		b.Run(c, func(b *testing.B) {
			opts := DefaultPipelineOptions()
			opts.Dir, opts.Events, opts.Cases = b.TempDir(), int64(max(b.N, 1000)), []string{c}
			report, err := RunPipeline(context.Background(), opts)
			if err != nil {
				b.Fatal(err)
			}
			r := report.Results[0]
			b.ReportMetric(r.PerSec, "events/s")
			b.ReportMetric(r.PerCPU, "events/cpu-s")
			b.ReportMetric(r.Ceiling, "x-ceiling")
		})
	}
}
