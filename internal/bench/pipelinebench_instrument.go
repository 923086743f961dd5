package bench

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tide-data/tide/internal/engine"
	"github.com/tide-data/tide/internal/tracing"
	"github.com/tide-data/tide/internal/tracing/tracingtest"
	"github.com/tide-data/tide/internal/transport"
)

// The cost of instrumentation (issue 8): each case with metrics and
// tracing on, as a ratio to the same case with them off, in one run.
const (
	// TargetInstrumentation is the least on/off ratio of events per
	// CPU-second.
	TargetInstrumentation = 0.95
	// InstrumentationSampleRatio is the tracer's ratio for new traces:
	// datagen's events carry no traceparent, so 1% of them start one.
	InstrumentationSampleRatio = 0.01
	// instrumentationScrape is how often the "on" runs gather the
	// metrics registry, as a Prometheus server scraping every second
	// would (15 s is the usual interval: this is harsher).
	instrumentationScrape = time.Second
)

// Kinds of the instrumentation runs' PipelineResults.
const (
	KindInstrumentationOff = "instrumentation-off"
	KindInstrumentationOn  = "instrumentation-on"
)

// InstrumentationResult compares one case's runs with instrumentation on
// and off: the means of their events per CPU-second (and per second).
type InstrumentationResult struct {
	Case      string  `json:"case"`
	Runs      int     `json:"runs_each"`
	OffPerCPU float64 `json:"off_events_per_cpu_sec"`
	OnPerCPU  float64 `json:"on_events_per_cpu_sec"`
	Ratio     float64 `json:"ratio_per_cpu_sec"`
	OffPerSec float64 `json:"off_events_per_sec"`
	OnPerSec  float64 `json:"on_events_per_sec"`
	WallRatio float64 `json:"ratio_per_sec"`
	// Spans is what the "on" runs exported to the local OTLP receiver.
	Spans int `json:"spans_exported"`
}

// runInstrumentation measures every case opts.InstrumentationRounds
// times with instrumentation off and on, alternating which goes first
// (off, on, then on, off, ...) so that drift in the machine's speed
// falls on both. Each run has an engine of its own on tr (the source is
// in its catalog): "off" as RunPipeline's, "on" with a metrics registry
// gathered every second and a tracer sampling 1% of the events as new
// traces, exporting over OTLP/HTTP to a receiver in this process that
// decodes and counts them.
func runInstrumentation(ctx context.Context, tr transport.Transport, opts PipelineOptions, report *PipelineReport, add func(PipelineResult)) error {
	receiver := tracingtest.NewReceiver(false)
	defer receiver.Close()
	for _, c := range opts.Cases {
		ir := InstrumentationResult{Case: c, Runs: opts.InstrumentationRounds}
		for round := range opts.InstrumentationRounds {
			order := []bool{false, true}
			if round%2 == 1 {
				order = []bool{true, false}
			}
			for _, on := range order {
				r, spans, err := runInstrumentedCase(ctx, tr, c, opts.Events, on, receiver)
				if err != nil {
					return err
				}
				r.Ceiling = ratio(r.PerCPU, report.Ceiling.PerCPU)
				report.Results = append(report.Results, r)
				add(r)
				n := float64(opts.InstrumentationRounds)
				if on {
					ir.OnPerCPU += r.PerCPU / n
					ir.OnPerSec += r.PerSec / n
					ir.Spans += spans
				} else {
					ir.OffPerCPU += r.PerCPU / n
					ir.OffPerSec += r.PerSec / n
				}
			}
		}
		ir.Ratio, ir.WallRatio = ratio(ir.OnPerCPU, ir.OffPerCPU), ratio(ir.OnPerSec, ir.OffPerSec)
		report.Instrumentation = append(report.Instrumentation, ir)
	}
	return nil
}

// runInstrumentedCase runs one case on an engine of its own, with
// instrumentation on or off; it returns the result and the spans the
// receiver got from it.
func runInstrumentedCase(ctx context.Context, tr transport.Transport, name string, events int64, on bool, receiver *tracingtest.Receiver) (_ PipelineResult, spans int, err error) {
	cfg := engine.Config{Transport: tr, Logger: slog.New(slog.DiscardHandler)}
	var registry *prometheus.Registry
	if on {
		registry = prometheus.NewRegistry()
		cfg.Metrics = registry
		cfg.Tracer, err = tracing.New(tracing.Options{Endpoint: receiver.URL(), SampleRatio: InstrumentationSampleRatio, ServiceName: "tide-bench"})
		if err != nil {
			return PipelineResult{}, 0, err
		}
	}
	spans0, _ := receiver.Count()
	eng, err := engine.Open(ctx, cfg)
	if err != nil {
		return PipelineResult{}, 0, fmt.Errorf("bench: %w", err)
	}
	scrapeCtx, stopScraping := context.WithCancel(ctx)
	var scraping sync.WaitGroup
	if registry != nil {
		scraping.Go(func() {
			tick := time.NewTicker(instrumentationScrape)
			defer tick.Stop()
			for {
				select {
				case <-scrapeCtx.Done():
					return
				case <-tick.C:
					_, _ = registry.Gather()
				}
			}
		})
	}
	res, err := runPipelineCase(ctx, eng, name, events)
	stopScraping()
	scraping.Wait()
	closeCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if cerr := eng.Close(closeCtx); err == nil {
		err = cerr
	}
	if cerr := cfg.Tracer.Shutdown(closeCtx); err == nil {
		err = cerr
	}
	if err != nil {
		return res, 0, err
	}
	res.Kind, res.Name = KindInstrumentationOff, res.Name+", instrumentation off"
	if on {
		res.Kind, res.Name = KindInstrumentationOn, strings.TrimSuffix(res.Name, " off")+" on"
	}
	spans1, _ := receiver.Count()
	return res, spans1 - spans0, nil
}

func checkInstrumentationTargets(r *PipelineReport) []Target {
	var targets []Target
	for _, ir := range r.Instrumentation {
		targets = append(targets, Target{
			Name:  "pipeline " + ir.Case + " with metrics and tracing (1%) vs without, per CPU-second",
			Value: ir.Ratio,
			Want:  TargetInstrumentation,
			Pass:  ir.Ratio >= TargetInstrumentation,
			Detail: fmt.Sprintf("%.1f%% (target >= %.0f%%; mean of %d runs each: %.0f vs %.0f events/cpu-s; wall clock %.1f%%; %d spans exported)",
				100*ir.Ratio, 100*TargetInstrumentation, ir.Runs, ir.OnPerCPU, ir.OffPerCPU, 100*ir.WallRatio, ir.Spans),
		})
	}
	return targets
}
