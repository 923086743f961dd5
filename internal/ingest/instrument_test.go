package ingest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/tide-data/tide/internal/tracing"
	"github.com/tide-data/tide/internal/tracing/tracingtest"
	"github.com/tide-data/tide/internal/transport"
)

// The handler counts, per topic, the requests answered 200 and the
// records written, and per code the requests refused.
func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	n := openNode(t, t.TempDir(), nil, Config{Metrics: reg})
	n.createTopic("orders", 1)
	n.post("/v1/topics/orders/records", MediaNDJSON, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n").offsets(t)
	n.post("/v1/topics/orders/records", MediaJSON, `{"a":4}`, HeaderIdempotencyKey, "k").offsets(t)
	n.post("/v1/topics/orders/records", MediaJSON, `{"a":4}`, HeaderIdempotencyKey, "k").offsets(t) // replayed
	for _, bad := range []struct{ path, body string }{
		{"/v1/topics/orders/records", `{"a":`},
		{"/v1/topics/orders/records", `[1,`},
		{"/v1/topics/__internal/records", `{}`},
	} {
		if r := n.post(bad.path, MediaJSON, bad.body); r.status < 400 {
			t.Fatalf("%s %s: %d", bad.path, bad.body, r.status)
		}
	}
	// A request gives its memory back after its answer is written: the
	// client may read the answer first.
	series := gatherSeries(t, reg)
	for deadline := time.Now().Add(5 * time.Second); series["tide_ingest_inflight_bytes"] != 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		series = gatherSeries(t, reg)
	}
	for key, v := range map[string]float64{
		"tide_ingest_requests_total{topic=orders}":                 3,
		"tide_ingest_records_total{topic=orders}":                  4,
		"tide_ingest_rejected_requests_total{code=malformed_json}": 2,
		"tide_ingest_rejected_requests_total{code=invalid_topic}":  1,
		"tide_ingest_rejected_requests_total{code=unknown_topic}":  0,
		"tide_ingest_inflight_bytes":                               0,
	} {
		if got, ok := series[key]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, v)
		}
	}
	if len(series) != 2+len(rejectCodes)+2 {
		t.Errorf("%d series, want %d: %v", len(series), 2+len(rejectCodes)+2, series)
	}
	n.close()
	if series := gatherSeries(t, reg); len(series) != 0 {
		t.Errorf("series after Close: %v", series)
	}
}

// gatherSeries returns every sample of reg as name{label=value}.
func gatherSeries(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			out[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}

func traceparents(recs []*transport.Record) []string {
	var out []string
	for _, r := range recs {
		tp := ""
		for _, h := range r.Headers {
			if h.Key == tracing.Header {
				tp = string(h.Value)
			}
		}
		out = append(out, tp)
	}
	return out
}

// Without a tracer a request's valid traceparent is carried to its
// records (not over their own), unchanged; an invalid one is dropped.
func TestTraceparentCarried(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir(), nil, Config{})
	n.createTopic("t", 1)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	body := "{\"value\":1}\n{\"value\":2,\"headers\":{\"src\":\"x\"}}\n{\"value\":3,\"headers\":{\"traceparent\":\"" + own + "\"}}\n"
	n.post("/v1/topics/t/records?envelope=true", MediaNDJSON, body, "traceparent", tp).offsets(t)
	n.post("/v1/topics/t/records", MediaJSON, `4`, "traceparent", "00-not-a-trace").offsets(t)
	n.post("/v1/topics/t/records", MediaJSON, `5`).offsets(t)
	got := traceparents(n.read("t", 5))
	want := []string{tp, tp, own, "", ""}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: traceparent %q, want %q", i, got[i], want[i])
		}
	}
}

// With a tracer, a sampled traceparent gets the request a span, its
// child, and the records carry the span's context; an unsampled one is
// carried unchanged without a span, and (ratio 0) no traceparent starts
// nothing. A refused request's span says so.
func TestIngestSpan(t *testing.T) {
	t.Parallel()
	rec := tracingtest.NewReceiver(true)
	defer rec.Close()
	tracer, err := tracing.New(tracing.Options{Endpoint: rec.URL()})
	if err != nil {
		t.Fatal(err)
	}
	n := openNode(t, t.TempDir(), nil, Config{Tracer: tracer})
	n.createTopic("t", 1)
	const sampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	n.post("/v1/topics/t/records", MediaNDJSON, "1\n2\n", "traceparent", sampled).offsets(t)
	n.post("/v1/topics/t/records", MediaJSON, `3`, "traceparent", unsampled).offsets(t)
	n.post("/v1/topics/t/records", MediaJSON, `4`).offsets(t)
	if r := n.post("/v1/topics/nope/records", MediaJSON, `5`, "traceparent", sampled); r.status != http.StatusNotFound {
		t.Fatalf("unknown topic: %d", r.status)
	}
	got := traceparents(n.read("t", 4))
	if err := tracer.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rec.Spans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2 (the sampled requests)", len(spans))
	}
	ok, refused := spans[0], spans[1]
	if ok.GetName() != "ingest t" || ok.GetKind() != tracepb.Span_SPAN_KIND_SERVER || tracingtest.ParentID(ok) != "00f067aa0ba902b7" ||
		tracingtest.TraceID(ok) != "4bf92f3577b34da6a3ce929d0e0e4736" || ok.GetStatus() != nil {
		t.Errorf("span %v", ok)
	}
	// Named "ingest" (the topic does not exist: span names stay few); a
	// 404 is the client's error, not the span's.
	if refused.GetName() != "ingest" || refused.GetStatus() != nil || refused.GetAttributes()[0].GetValue().GetStringValue() != "nope" {
		t.Errorf("span of the refused request %v", refused)
	}
	want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + tracingtest.SpanID(ok) + "-01"
	if got[0] != want || got[1] != want || got[2] != unsampled || got[3] != "" {
		t.Errorf("traceparents %q, want %q twice, the unsampled one, none", got, want)
	}
}
