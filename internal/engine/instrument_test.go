package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/tide-data/tide/internal/tracing"
	"github.com/tide-data/tide/internal/tracing/tracingtest"
	"github.com/tide-data/tide/internal/transport"
)

// observe's bucket (with its cache of the last bucket) is the one a
// linear scan finds, for random and for clustered latencies.
func TestLatencyCountsMatchOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c, h := newLatencyCounts(), newLatencyHistogram()
	want := make([]uint64, len(latencyBoundsNanos))
	var wantSum int64
	for i := range 100_000 {
		var d int64
		switch i % 3 {
		case 0: // anywhere from -1 s to 2 h
			d = rng.Int64N(int64(2*time.Hour)) - int64(time.Second)
		case 1: // near a bound
			d = latencyBoundsNanos[rng.IntN(len(latencyBounds))] + rng.Int64N(3) - 1
		default: // clustered, as a batch's are
			d = int64(40*time.Millisecond) + rng.Int64N(int64(time.Millisecond))
		}
		c.observe(d)
		d = max(d, 0)
		wantSum += d
		for b, bound := range latencyBoundsNanos {
			if d <= bound {
				want[b]++
				break
			}
		}
		if i%1000 == 999 {
			c.flushTo(h)
		}
	}
	c.flushTo(h)
	count, sum, buckets := h.snapshot()
	var cum uint64
	for i, bound := range latencyBounds {
		cum += want[i]
		if buckets[bound] != cum {
			t.Errorf("bucket le=%v: %d, want %d", bound, buckets[bound], cum)
		}
	}
	if count != 100_000 || sum < float64(wantSum)/1e9*0.999999 || sum > float64(wantSum)/1e9*1.000001 {
		t.Errorf("count %d, sum %v; want 100000, %v", count, sum, float64(wantSum)/1e9)
	}
}

// A pipeline reports at most maxErrorCodes codes; the rest are "other".
func TestErrorCodesBounded(t *testing.T) {
	var e errorCounts
	for i := range maxErrorCodes + 10 {
		e.add(fmt.Sprintf("code_%d", i), 1)
	}
	e.add("code_0", 1)
	got := e.snapshot()
	if len(got) != maxErrorCodes+1 || got[errorCodeOther] != 10 || got["code_0"] != 2 {
		t.Errorf("%d codes, other %d, code_0 %d; want %d, 10, 2", len(got), got[errorCodeOther], got["code_0"], maxErrorCodes+1)
	}
}

// gather returns the registry's samples of name for pipeline, by their
// code label ("" for metrics without one).
func gather(t *testing.T, reg *prometheus.Registry, name, pipeline string) map[string]*dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.Metric{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["pipeline"] == pipeline {
				out[labels["code"]] = m
			}
		}
	}
	return out
}

// A pipeline whose sink is stalled reports the time its reader waits for
// the byte budget as backpressure; its series go when it is dropped, and
// the engine's collector when the engine closes.
func TestPipelineMetricsBackpressureAndDrop(t *testing.T) {
	hook := newStuckReceiver(t)
	n := openNode(t, t.TempDir())
	defer n.close(t)
	ctx := context.Background()
	if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: "events", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	e := openEngineWith(t, n, func(c *Config) { c.PipelineBufferBytes = 16 << 10; c.Metrics = reg })
	defer hook.unblock()
	mustExec(t, e, fmt.Sprintf(`
		CREATE SOURCE events (id bigint, pad text) WITH (connector = 'topic', topic = 'events');
		CREATE SINK hook WITH (connector = 'http', url = '%s', batch = 'true', timeout = '5m')
		AS SELECT id FROM events;`, hook.srv.URL))
	pad := strings.Repeat("x", 1000)
	// Rounds apart in time, so that the source reads them as separate
	// batches, each larger than the budget: the first is stuck in the
	// sink, the second waits for the budget.
	for round := range 8 {
		recs := make([]*transport.Record, 0, 64)
		for i := range 64 {
			recs = append(recs, &transport.Record{Topic: "events", Value: fmt.Appendf(nil, `{"id":%d,"pad":"%s"}`, round*64+i, pad)})
		}
		if err := n.tr.Produce(ctx, recs); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The wait still going on is counted.
	waitFor(t, "backpressure to be measured while the sink is stalled", func() bool {
		bp := gather(t, reg, "tide_pipeline_backpressure_seconds_total", "hook")[""]
		return bp != nil && bp.GetCounter().GetValue() > 0.1
	})
	if b := gather(t, reg, "tide_pipeline_buffered_bytes", "hook")[""]; b == nil || b.GetGauge().GetValue() <= 0 {
		t.Errorf("buffered bytes %v while stalled, want some", b)
	}
	hook.unblock()
	waitFor(t, "every record to be delivered", func() bool {
		m := gather(t, reg, "tide_pipeline_records_out_total", "hook")[""]
		return m != nil && m.GetCounter().GetValue() == 8*64
	})
	if bp := gather(t, reg, "tide_pipeline_backpressure_seconds_total", "hook")[""]; bp == nil || bp.GetCounter().GetValue() <= 0 {
		t.Errorf("backpressure %v, want some", bp)
	}
	if lat := gather(t, reg, "tide_pipeline_end_to_end_latency_seconds", "hook")[""]; lat == nil || lat.GetHistogram().GetSampleCount() != 8*64 {
		t.Errorf("latency %v, want 512 observations", lat)
	}
	mustExec(t, e, `DROP SINK hook;`)
	if got := gather(t, reg, "tide_pipeline_records_in_total", "hook"); len(got) != 0 {
		t.Errorf("a dropped pipeline's series remain: %v", got)
	}
	closeEngine(t, e)
	if err := reg.Register(pipelineCollector{e}); err != nil {
		t.Errorf("the closed engine's collector is still registered: %v", err)
	}
}

// traceparentOf returns a record's traceparent header.
func traceparentOf(r *transport.Record) string {
	for _, h := range r.Headers {
		if h.Key == "traceparent" {
			return string(h.Value)
		}
	}
	return ""
}

// newTestTracer returns a tracer exporting to a receiver that keeps the
// spans.
func newTestTracer(t *testing.T, ratio float64) (*tracing.Tracer, *tracingtest.Receiver) {
	t.Helper()
	rec := tracingtest.NewReceiver(true)
	t.Cleanup(rec.Close)
	tr, err := tracing.New(tracing.Options{Endpoint: rec.URL(), SampleRatio: ratio})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr, rec
}

// Records through a pipeline with a tracer at ratio 0: a sampled
// traceparent gets a "process" span (its child) and, once written, a
// "deliver" span (the process span's child), and the output's
// traceparent names the process span; a record that fails to decode has
// its span marked with the error and no delivery; an unsampled
// traceparent passes unchanged, and a record without one stays without.
func TestPipelineTracing(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	ctx := context.Background()
	tracer, rec := newTestTracer(t, 0)
	e := openEngineWith(t, n, func(c *Config) { c.Tracer = tracer })
	mustExec(t, e, `CREATE SOURCE orders (id bigint) WITH (connector = 'topic', topic = 'orders');
		CREATE SINK copy WITH (connector = 'topic', topic = 'copy') AS SELECT id FROM orders;`)
	const (
		sampledTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		badTrace     = "5bf92f3577b34da6a3ce929d0e0e4736"
		parentSpan   = "00f067aa0ba902b7"
		unsampled    = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	)
	tp := func(s string) []transport.Header { return []transport.Header{{Key: "traceparent", Value: []byte(s)}} }
	recs := []*transport.Record{
		{Topic: "orders", Value: []byte(`{"id":1}`), Headers: tp("00-" + sampledTrace + "-" + parentSpan + "-01")},
		{Topic: "orders", Value: []byte(`{"id":"bad"}`), Headers: tp("00-" + badTrace + "-" + parentSpan + "-01")},
		{Topic: "orders", Value: []byte(`{"id":3}`), Headers: tp(unsampled)},
		{Topic: "orders", Value: []byte(`{"id":4}`), Headers: tp("not a traceparent")},
		{Topic: "orders", Value: []byte(`{"id":5}`)},
	}
	if err := n.tr.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	out := readAll(t, n.tr, "copy", 4)
	closeEngine(t, e)
	if err := tracer.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var process, processBad, deliver *tracepb.Span
	for _, s := range rec.Spans() {
		switch tid := tracingtest.TraceID(s); {
		case s.GetName() == "process copy" && tid == sampledTrace:
			process = s
		case s.GetName() == "process copy" && tid == badTrace:
			processBad = s
		case s.GetName() == "deliver copy" && tid == sampledTrace:
			deliver = s
		default:
			t.Errorf("unexpected span %q in trace %s", s.GetName(), tid)
		}
	}
	if process == nil || processBad == nil || deliver == nil {
		t.Fatalf("process %v, process of the bad record %v, deliver %v", process != nil, processBad != nil, deliver != nil)
	}
	const remoteParent = 0x300 // has-is-remote and is-remote
	if tracingtest.ParentID(process) != parentSpan || process.GetFlags()&remoteParent != remoteParent || process.GetKind() != tracepb.Span_SPAN_KIND_CONSUMER {
		t.Errorf("process span: parent %s, flags %#x, kind %v", tracingtest.ParentID(process), process.GetFlags(), process.GetKind())
	}
	if tracingtest.ParentID(deliver) != tracingtest.SpanID(process) || deliver.GetFlags()&remoteParent != 0x100 || deliver.GetKind() != tracepb.Span_SPAN_KIND_PRODUCER {
		t.Errorf("deliver span: parent %s, want the process span %s; flags %#x, kind %v", tracingtest.ParentID(deliver), tracingtest.SpanID(process), deliver.GetFlags(), deliver.GetKind())
	}
	if st := processBad.GetStatus(); st.GetCode() != tracepb.Status_STATUS_CODE_ERROR || !strings.Contains(st.GetMessage(), "bigint") {
		t.Errorf("the bad record's span status %v, want its decode error", st)
	}
	attrs := map[string]string{}
	for _, kv := range process.GetAttributes() {
		v := kv.GetValue()
		attrs[kv.GetKey()] = v.GetStringValue() + fmt.Sprint(v.GetIntValue())
	}
	if attrs["tide.topic"] != "orders0" || attrs["tide.partition"] != "0" || attrs["tide.offset"] != "0" {
		t.Errorf("process span attributes %v", attrs)
	}
	want := map[string]string{
		`{"id":1}`: "00-" + sampledTrace + "-" + tracingtest.SpanID(process) + "-01",
		`{"id":3}`: unsampled,
		`{"id":4}`: "not a traceparent",
		`{"id":5}`: "",
	}
	for _, r := range out {
		if got := traceparentOf(r); got != want[string(r.Value)] {
			t.Errorf("output %s: traceparent %q, want %q", r.Value, got, want[string(r.Value)])
		}
	}
}

// With a ratio of 1 every record without a traceparent starts a trace:
// a root "process" span, whose context the output carries.
func TestPipelineTracingNewTraces(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	ctx := context.Background()
	tracer, rec := newTestTracer(t, 1)
	e := openEngineWith(t, n, func(c *Config) { c.Tracer = tracer })
	mustExec(t, e, `CREATE SOURCE orders (id bigint) WITH (connector = 'topic', topic = 'orders');
		CREATE SINK copy WITH (connector = 'topic', topic = 'copy') AS SELECT id FROM orders;`)
	var recs []*transport.Record
	for i := range 10 {
		recs = append(recs, &transport.Record{Topic: "orders", Value: fmt.Appendf(nil, `{"id":%d}`, i)})
	}
	if err := n.tr.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	out := readAll(t, n.tr, "copy", 10)
	closeEngine(t, e)
	if err := tracer.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	roots := map[string]bool{}
	for _, s := range rec.Spans() {
		if s.GetName() == "process copy" {
			if len(s.GetParentSpanId()) != 0 {
				t.Errorf("process span with parent %s, want a root", tracingtest.ParentID(s))
			}
			roots[tracingtest.TraceID(s)+"-"+tracingtest.SpanID(s)] = true
		}
	}
	for _, r := range out {
		sc, ok := tracing.Parse(traceparentOf(r))
		if !ok || !sc.IsSampled() {
			t.Errorf("output %s has traceparent %q", r.Value, traceparentOf(r))
			continue
		}
		if !roots[sc.TraceID().String()+"-"+sc.SpanID().String()] {
			t.Errorf("output %s names span %s, which is not a process span", r.Value, sc.SpanID())
		}
	}
	if len(roots) != 10 {
		t.Errorf("%d process spans, want 10", len(roots))
	}
}

// BenchmarkTaskInstrumented is BenchmarkTask through task.handle (the
// running pipeline's code path, instrumentation included): "off" without
// metrics or a tracer; "metrics" with the end-to-end latency histogram;
// "metrics+tracing" also with a tracer that starts a trace for 1% of the
// (untraced) events, exporting to a receiver in the process that counts
// the spans. Compare events/cpu-s.
func BenchmarkTaskInstrumented(b *testing.B) {
	batches, bytes, events := benchBatches(b, benchEvents)
	for _, q := range benchQueries {
		for _, mode := range []string{"off", "metrics", "metrics+tracing"} {
			b.Run(q.name+"/"+mode, func(b *testing.B) {
				t := benchTask(b, q.sql)
				if mode != "off" {
					t.p.latency, t.lat = newLatencyHistogram(), newLatencyCounts()
				}
				if mode == "metrics+tracing" {
					rec := tracingtest.NewReceiver(false)
					defer rec.Close()
					tr, err := tracing.New(tracing.Options{Endpoint: rec.URL(), SampleRatio: 0.01})
					if err != nil {
						b.Fatal(err)
					}
					defer func() { _ = tr.Shutdown(context.Background()) }()
					t.p.tracer = tr
				}
				ctx := context.Background()
				b.SetBytes(bytes / events)
				b.ReportAllocs()
				var done int64
				cpu0 := cpuTime()
				b.ResetTimer()
				for i := 0; done < int64(b.N); i = (i + 1) % len(batches) {
					batch := batches[i]
					if left := int64(b.N) - done; left < int64(len(batch.Messages)) {
						batch.Messages = batch.Messages[:left]
					}
					t.handle(ctx, batch)
					done += int64(len(batch.Messages))
				}
				b.StopTimer()
				reportRates(b, done, cpuTime()-cpu0)
			})
		}
	}
}
