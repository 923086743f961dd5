package tracing_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/tide-data/tide/internal/tracing"
	"github.com/tide-data/tide/internal/tracing/tracingtest"
)

func newTracer(t *testing.T, opts tracing.Options) *tracing.Tracer {
	t.Helper()
	tr, err := tracing.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr
}

func attrs(kvs []*commonpb.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = v.IntValue
		case *commonpb.AnyValue_BoolValue:
			m[kv.GetKey()] = v.BoolValue
		default:
			m[kv.GetKey()] = v
		}
	}
	return m
}

// What the exporter encodes by hand decodes, with the OTLP protobuf
// definitions, into the spans as they were recorded: ids, parents, names,
// kinds, times, attributes, status, flags, and the resource.
func TestExportDecodes(t *testing.T) {
	rec := tracingtest.NewReceiver(true)
	defer rec.Close()
	tr := newTracer(t, tracing.Options{Endpoint: rec.URL(), ServiceName: "svc", InstanceID: "worker-1"})
	remote, _ := tracing.Parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	start := time.Unix(1700000000, 123456789)
	parent := tr.Start(remote, "ingest", tracing.KindServer, start,
		tracing.String("tide.topic", "orders"), tracing.Int("tide.records", -3), tracing.Bool("tide.filtered", true))
	parent.SetName("ingest orders")
	child := tr.Start(parent.SpanContext(), "deliver", tracing.KindProducer, start.Add(time.Millisecond))
	child.SetError("http_500: no")
	root := tr.Start(trace.SpanContext{}, "root", tracing.KindConsumer, time.Time{}) // an invalid parent: a new trace
	parentSC, childSC, rootSC := parent.SpanContext(), child.SpanContext(), root.SpanContext()
	child.End(start.Add(2 * time.Millisecond))
	parent.End(start.Add(3 * time.Millisecond))
	root.End(time.Time{})
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := map[string]*tracepb.Span{}
	for _, s := range rec.Spans() {
		spans[s.GetName()] = s
	}
	p, c, r := spans["ingest orders"], spans["deliver"], spans["root"]
	if p == nil || c == nil || r == nil || len(spans) != 3 {
		t.Fatalf("spans %v", spans)
	}
	if tracingtest.TraceID(p) != "4bf92f3577b34da6a3ce929d0e0e4736" || tracingtest.ParentID(p) != "00f067aa0ba902b7" ||
		tracingtest.SpanID(p) != parentSC.SpanID().String() || p.GetKind() != tracepb.Span_SPAN_KIND_SERVER ||
		p.GetStartTimeUnixNano() != uint64(start.UnixNano()) || p.GetEndTimeUnixNano() != uint64(start.Add(3*time.Millisecond).UnixNano()) ||
		p.GetFlags() != 0x301 || p.GetStatus() != nil {
		t.Errorf("parent span %v", p)
	}
	if got := attrs(p.GetAttributes()); got["tide.topic"] != "orders" || got["tide.records"] != int64(-3) || got["tide.filtered"] != true || len(got) != 3 {
		t.Errorf("parent attributes %v", got)
	}
	if tracingtest.TraceID(c) != tracingtest.TraceID(p) || tracingtest.ParentID(c) != tracingtest.SpanID(p) || tracingtest.SpanID(c) != childSC.SpanID().String() ||
		c.GetKind() != tracepb.Span_SPAN_KIND_PRODUCER || c.GetFlags() != 0x101 ||
		c.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR || c.GetStatus().GetMessage() != "http_500: no" {
		t.Errorf("child span %v", c)
	}
	if len(r.GetParentSpanId()) != 0 || tracingtest.TraceID(r) == tracingtest.TraceID(p) || hex.EncodeToString(r.GetTraceId()) != rootSC.TraceID().String() ||
		r.GetEndTimeUnixNano() < r.GetStartTimeUnixNano() || r.GetStartTimeUnixNano() == 0 {
		t.Errorf("root span %v", r)
	}
	res := rec.Resources()
	if len(res) == 0 {
		t.Fatal("no resource")
	}
	if got := attrs(res[0].GetAttributes()); got["service.name"] != "svc" || got["service.instance.id"] != "worker-1" {
		t.Errorf("resource %v", got)
	}
	if st := tr.Stats(); st.Exported != 3 || st.Dropped != 0 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A full batch is exported without waiting for the batch timeout.
func TestExportFullBatch(t *testing.T) {
	rec := tracingtest.NewReceiver(false)
	defer rec.Close()
	tr := newTracer(t, tracing.Options{Endpoint: rec.URL(), BatchSize: 10, BatchTimeout: time.Hour})
	for range 25 {
		tr.Start(trace.SpanContext{}, "s", tracing.KindInternal, time.Time{}).End(time.Time{})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if n, _ := rec.Count(); n >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a full batch was not exported")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, bad := rec.Count(); n != 25 || bad != 0 {
		t.Errorf("received %d spans (%d bad requests), want 25", n, bad)
	}
}

// Spans past the queue's bound are dropped and counted, not waited for.
func TestQueueFullDrops(t *testing.T) {
	rec := tracingtest.NewReceiver(false)
	defer rec.Close()
	tr := newTracer(t, tracing.Options{Endpoint: rec.URL(), QueueSize: 4, BatchSize: 100, BatchTimeout: time.Hour})
	for range 10 {
		tr.Start(trace.SpanContext{}, "s", tracing.KindInternal, time.Time{}).End(time.Time{})
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Exported != 4 || st.Dropped != 6 {
		t.Errorf("stats %+v, want 4 exported and 6 dropped", st)
	}
}

// An export answered 503 is retried; one refused for good is counted as
// failed. The configured headers go with every request.
func TestExportRetriesAndFailures(t *testing.T) {
	var calls atomic.Int32
	var mu sync.Mutex
	var auth []string
	status := func(n int32) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("X-Api-Key"))
		mu.Unlock()
		w.WriteHeader(status(calls.Add(1)))
	}))
	defer srv.Close()
	tr := newTracer(t, tracing.Options{Endpoint: srv.URL, Headers: map[string]string{"X-Api-Key": "k1"}})
	tr.Start(trace.SpanContext{}, "s", tracing.KindInternal, time.Time{}).End(time.Time{})
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Exported != 1 || calls.Load() != 3 {
		t.Errorf("stats %+v after %d calls, want exported on the third", st, calls.Load())
	}
	status = func(int32) int { return http.StatusBadRequest }
	tr.Start(trace.SpanContext{}, "s", tracing.KindInternal, time.Time{}).End(time.Time{})
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Failed != 1 || calls.Load() != 4 {
		t.Errorf("stats %+v after %d calls, want a failure without retry", st, calls.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range auth {
		if a != "k1" {
			t.Errorf("X-Api-Key %q", a)
		}
	}
}

func TestHeadersFromEnvironment(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization") + "|" + r.Header.Get("X-Team"))
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=ignored")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "authorization=Bearer%20abc, x-team=data")
	tr := newTracer(t, tracing.Options{Endpoint: srv.URL})
	tr.Start(trace.SpanContext{}, "s", tracing.KindInternal, time.Time{}).End(time.Time{})
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if g, _ := got.Load().(string); g != "Bearer abc|data" {
		t.Errorf("headers %q", g)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "novalue")
	if _, err := tracing.New(tracing.Options{Endpoint: srv.URL}); err == nil {
		t.Error("a header without a value was accepted")
	}
}

func TestSampleNew(t *testing.T) {
	rec := tracingtest.NewReceiver(false)
	defer rec.Close()
	var off *tracing.Tracer
	if off.SampleNew() {
		t.Error("a nil tracer samples")
	}
	for _, ratio := range []float64{0, 0.01, 0.25, 1} {
		tr := newTracer(t, tracing.Options{Endpoint: rec.URL(), SampleRatio: ratio})
		const n = 200_000
		hits := 0
		for range n {
			if tr.SampleNew() {
				hits++
			}
		}
		if got := float64(hits) / n; got < ratio*0.9 || got > ratio*1.1 {
			t.Errorf("ratio %v sampled %v", ratio, got)
		}
	}
	for _, bad := range []float64{-0.1, 1.5} {
		if _, err := tracing.New(tracing.Options{Endpoint: rec.URL(), SampleRatio: bad}); err == nil {
			t.Errorf("ratio %v accepted", bad)
		}
	}
}

func TestEndpointURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:4318":                "http://localhost:4318/v1/traces",
		"http://localhost:4318/":               "http://localhost:4318/v1/traces",
		"https://otel.example.com/custom/path": "https://otel.example.com/custom/path",
	} {
		if got, err := tracing.EndpointURL(in); err != nil || got != want {
			t.Errorf("EndpointURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "localhost:4318", "ftp://x/v1/traces", "http:///v1/traces"} {
		if _, err := tracing.EndpointURL(bad); err == nil {
			t.Errorf("EndpointURL(%q) accepted", bad)
		}
	}
}

// BenchmarkTracedRecord is what a traced record costs a pipeline: a
// process span with three attributes and its delivery span, started,
// ended and exported to a receiver in the process (which counts them
// without decoding). docs/BENCHMARKS.md compares it with the
// OpenTelemetry SDK's 3.9 µs, 3,049 B and 24 allocations for the same two
// spans.
func BenchmarkTracedRecord(b *testing.B) {
	rec := tracingtest.NewReceiver(false)
	defer rec.Close()
	tr, err := tracing.New(tracing.Options{Endpoint: rec.URL(), SampleRatio: 1})
	if err != nil {
		b.Fatal(err)
	}
	parent, _ := tracing.Parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := tr.Start(parent, "process p", tracing.KindConsumer, now,
			tracing.String("tide.topic", "events"), tracing.Int("tide.partition", 3), tracing.Int("tide.offset", 12345))
		d := tr.Start(p.SpanContext(), "deliver p", tracing.KindProducer, now, tracing.String("tide.connector", "blackhole"))
		d.End(now)
		p.End(time.Time{})
		// Wait for the export now and then: a loop this tight would
		// otherwise outrun it, and the spans dropped would cost nothing.
		if i++; i%1000 == 0 {
			if err := tr.ForceFlush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if err := tr.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	if st := tr.Stats(); st.Dropped > 0 {
		b.Errorf("%d spans dropped", st.Dropped)
	}
}
