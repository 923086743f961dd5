package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/tide-data/tide/internal/tracing/tracingtest"
)

// webhookReceiver is a webhook sink's receiver that keeps each request's
// traceparent by body.
type webhookReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]string // body -> traceparent
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	t.Helper()
	w := &webhookReceiver{got: map[string]string{}}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		w.got[string(b)] = r.Header.Get("traceparent")
		w.mu.Unlock()
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// wait returns the traceparent the delivery of body carried, waiting for
// it up to 20 s.
func (w *webhookReceiver) wait(t *testing.T, body string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		w.mu.Lock()
		tp, ok := w.got[body]
		w.mu.Unlock()
		if ok {
			return tp
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook did not receive %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const (
	clicksSQL = `CREATE SOURCE clicks (id bigint) WITH (connector = 'http', topic = 'clicks');`
	hookSQL   = `CREATE SINK hook WITH (connector = 'http', url = '%s') AS SELECT id FROM clicks;`
)

// Issue 8: a traceparent sent with an event on HTTP ingestion arrives at a
// webhook receiver with the same trace id, through a SQL pipeline. Without
// otlp_endpoint it passes unchanged, whether it came as the request's
// header or in the event's envelope.
func TestTraceparentReachesWebhook(t *testing.T) {
	t.Parallel()
	hook := newWebhookReceiver(t)
	ts := startServer(t, "", nil)
	ts.mustSQL(t, clicksSQL+fmt.Sprintf(hookSQL, hook.srv.URL))

	const fromHeader = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if status, _, b := postRecords(t, ts.url, "clicks", "application/json", `{"id":1}`, "traceparent", fromHeader); status != http.StatusOK {
		t.Fatalf("ingest: %d %s", status, b)
	}
	const fromEnvelope = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	env := `{"value":{"id":2},"headers":{"traceparent":"` + fromEnvelope + `"}}`
	resp, err := http.Post(ts.url+"/v1/topics/clicks/records?envelope=true", "application/json", strings.NewReader(env))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest with an envelope: %d %s", resp.StatusCode, b)
	}
	if status, _, b := postRecords(t, ts.url, "clicks", "application/json", `{"id":3}`); status != http.StatusOK {
		t.Fatalf("ingest: %d %s", status, b)
	}
	if got := hook.wait(t, `{"id":1}`); got != fromHeader {
		t.Errorf("traceparent from the request header arrived as %q, want %q", got, fromHeader)
	}
	if got := hook.wait(t, `{"id":2}`); got != fromEnvelope {
		t.Errorf("traceparent from the envelope arrived as %q, want %q", got, fromEnvelope)
	}
	if got := hook.wait(t, `{"id":3}`); got != "" {
		t.Errorf("an event without a traceparent arrived with %q", got)
	}
}

// Issue 8: with otlp_endpoint set, a sampled traceparent on ingestion gives
// three spans in its trace, exported over OTLP/HTTP: the request's
// ("ingest clicks", child of the incoming span), the pipeline's processing
// ("process hook", child of the ingestion span) and the delivery
// ("deliver hook", child of the pipeline's); the webhook receives the
// trace id with the pipeline's span as parent. An unsampled traceparent
// passes unchanged and records nothing, and at ratio 0 an event without
// one starts no trace.
func TestTracingSpansExported(t *testing.T) {
	t.Parallel()
	otlp := tracingtest.NewReceiver(true)
	defer otlp.Close()
	hook := newWebhookReceiver(t)
	ts := startServer(t, "", func(c *Config) {
		c.OTLPEndpoint = otlp.URL()
		c.TraceSampleRatio = 0
		c.TraceServiceName = "tide-test"
	})
	ts.mustSQL(t, clicksSQL+fmt.Sprintf(hookSQL, hook.srv.URL))

	const (
		traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
		clientID = "00f067aa0ba902b7"
		sampled  = "00-" + traceID + "-" + clientID + "-01"
		unsampID = "0af7651916cd43dd8448eb211c80319c"
		unsamp   = "00-" + unsampID + "-b7ad6b7169203331-00"
	)
	for i, tp := range []string{sampled, unsamp, ""} {
		var hdr []string
		if tp != "" {
			hdr = []string{"traceparent", tp}
		}
		if status, _, b := postRecords(t, ts.url, "clicks", "application/json", fmt.Sprintf(`{"id":%d}`, i+1), hdr...); status != http.StatusOK {
			t.Fatalf("ingest: %d %s", status, b)
		}
	}
	delivered := hook.wait(t, `{"id":1}`)
	if got := hook.wait(t, `{"id":2}`); got != unsamp {
		t.Errorf("an unsampled traceparent arrived as %q, want it unchanged", got)
	}
	if got := hook.wait(t, `{"id":3}`); got != "" {
		t.Errorf("at ratio 0 an event without a traceparent arrived with %q", got)
	}
	m := scrape(t, ts.url)
	if _, ok := metricValue(m, "tide_tracing_spans_dropped_total", map[string]string{"reason": "queue_full"}); !ok {
		t.Error("no tide_tracing_spans_dropped_total")
	}
	if _, ok := metricValue(m, "tide_tracing_spans_exported_total", nil); !ok {
		t.Error("no tide_tracing_spans_exported_total")
	}
	ts.stop(t) // drains the pipeline and flushes the exporter

	byName := map[string]*tracepb.Span{}
	for _, s := range otlp.Spans() {
		if tracingtest.TraceID(s) != traceID {
			t.Errorf("span %q of trace %s: only the sampled trace should be recorded", s.GetName(), tracingtest.TraceID(s))
			continue
		}
		if s.GetFlags()&0xff != 1 {
			t.Errorf("span %q has trace flags %#x, want sampled", s.GetName(), s.GetFlags()&0xff)
		}
		byName[s.GetName()] = s
	}
	ingest, process, deliver := byName["ingest clicks"], byName["process hook"], byName["deliver hook"]
	if ingest == nil || process == nil || deliver == nil || len(byName) != 3 {
		t.Fatalf("spans %v, want ingest clicks, process hook and deliver hook", keys(byName))
	}
	if got := tracingtest.ParentID(ingest); got != clientID {
		t.Errorf("ingestion span's parent %s, want the client's %s", got, clientID)
	}
	if got := tracingtest.ParentID(process); got != tracingtest.SpanID(ingest) {
		t.Errorf("pipeline span's parent %s, want the ingestion span %s", got, tracingtest.SpanID(ingest))
	}
	if got := tracingtest.ParentID(deliver); got != tracingtest.SpanID(process) {
		t.Errorf("delivery span's parent %s, want the pipeline span %s", got, tracingtest.SpanID(process))
	}
	if want := "00-" + traceID + "-" + tracingtest.SpanID(process) + "-01"; delivered != want {
		t.Errorf("the webhook received traceparent %q, want %q (the pipeline span)", delivered, want)
	}
	if ingest.GetKind() != tracepb.Span_SPAN_KIND_SERVER || process.GetKind() != tracepb.Span_SPAN_KIND_CONSUMER || deliver.GetKind() != tracepb.Span_SPAN_KIND_PRODUCER {
		t.Errorf("span kinds %v, %v, %v", ingest.GetKind(), process.GetKind(), deliver.GetKind())
	}
	if deliver.GetStartTimeUnixNano() < process.GetStartTimeUnixNano() || deliver.GetEndTimeUnixNano() > process.GetEndTimeUnixNano() {
		t.Error("the delivery span is not within the pipeline span")
	}
	if _, bad := otlp.Count(); bad != 0 {
		t.Errorf("%d malformed exports", bad)
	}
}

func keys(m map[string]*tracepb.Span) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return strings.Join(out, ", ")
}

// The tracing keys load from a file and the environment, round-trip, and
// refuse what cannot work.
func TestTracingConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tide.yaml")
	if err := os.WriteFile(file, []byte("otlp_endpoint: http://collector:4318\ntrace_sample_ratio: 0.25\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if cfg.OTLPEndpoint != "" || cfg.TraceSampleRatio != 0.01 || cfg.TraceServiceName != "tide" {
		t.Fatalf("defaults %q %v %q", cfg.OTLPEndpoint, cfg.TraceSampleRatio, cfg.TraceServiceName)
	}
	if err := cfg.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	if err := cfg.LoadEnv([]string{"TIDE_TRACE_SERVICE_NAME=tide-eu", "TIDE_TRACE_SAMPLE_RATIO=1"}); err != nil {
		t.Fatal(err)
	}
	if cfg.OTLPEndpoint != "http://collector:4318" || cfg.TraceSampleRatio != 1 || cfg.TraceServiceName != "tide-eu" {
		t.Fatalf("loaded %q %v %q", cfg.OTLPEndpoint, cfg.TraceSampleRatio, cfg.TraceServiceName)
	}
	out := filepath.Join(dir, "out.yaml")
	if err := os.WriteFile(out, cfg.YAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	back := DefaultConfig()
	if err := back.LoadFile(out); err != nil || back.OTLPEndpoint != cfg.OTLPEndpoint || back.TraceSampleRatio != 1 || back.TraceServiceName != "tide-eu" {
		t.Fatalf("round trip %q %v %q (%v)", back.OTLPEndpoint, back.TraceSampleRatio, back.TraceServiceName, err)
	}
	for _, env := range []string{"TIDE_TRACE_SAMPLE_RATIO=1.5", "TIDE_TRACE_SAMPLE_RATIO=-0.1", "TIDE_TRACE_SAMPLE_RATIO=often",
		"TIDE_OTLP_ENDPOINT=localhost:4318", "TIDE_OTLP_ENDPOINT=grpc://collector:4317"} {
		c := DefaultConfig()
		if err := c.LoadEnv([]string{env}); err == nil {
			t.Errorf("%s accepted", env)
		}
	}
}
