package ingest

import (
	"net/http"
	"slices"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tide-data/tide/internal/tracing"
	"github.com/tide-data/tide/internal/transport"
)

// Trace context on ingestion. A request's traceparent header is carried
// to every record it writes that has no traceparent of its own (an
// envelope's headers may give one per record, which is kept). With a
// Tracer, a sampled traceparent — or none, when the tracer samples a new
// trace — gets the request a span, "ingest <topic>", child of the
// incoming context, and the records then carry the span's context
// instead (same trace id, the span as parent). An unsampled traceparent
// passes unchanged and costs a parse; an invalid one is dropped, as the
// W3C specification says.

// Span attribute keys.
const (
	attrTopic   = "tide.topic"
	attrRecords = "tide.records"
	attrStatus  = "http.response.status_code"
)

// traceRequest returns the trace context r's records are to carry (nil:
// none) and, if the request is traced, its span.
func (h *Handler) traceRequest(r *http.Request) ([]byte, *tracing.Span) {
	// The server canonicalises header names: a map read, no allocation.
	var in string
	if v := r.Header["Traceparent"]; len(v) > 0 {
		in = v[0]
	}
	tracer := h.cfg.Tracer
	var parent trace.SpanContext
	switch {
	case in != "":
		sc, ok := tracing.Parse(in)
		if !ok {
			return nil, nil
		}
		if tracer == nil || !sc.IsSampled() {
			return []byte(in), nil
		}
		parent = sc
	case !tracer.SampleNew():
		return nil, nil
	}
	span := tracer.Start(parent, "ingest", tracing.KindServer, time.Time{})
	return tracing.AppendTraceparent(make([]byte, 0, 55), span.SpanContext()), span
}

// endRequestSpan ends a request's span with its answer's status: a 5xx is
// an error of the server (a 4xx, the client's).
func endRequestSpan(span *tracing.Span, status int) {
	span.SetAttributes(tracing.Int(attrStatus, int64(status)))
	if status >= 500 {
		span.SetError(http.StatusText(status))
	}
	span.End(time.Time{})
}

// statusRecorder remembers the status a traced request was answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(status int) {
	s.status = status
	s.ResponseWriter.WriteHeader(status)
}

// withTraceparent returns the headers a record with the given headers
// carries: those, with w.traceparent added unless they hold a traceparent
// of their own. Records without headers share one slice.
func (w *work) withTraceparent(headers []transport.Header) []transport.Header {
	if len(headers) == 0 {
		if w.tpHeaders == nil {
			w.tpHeaders = []transport.Header{{Key: tracing.Header, Value: w.traceparent}}
		}
		return w.tpHeaders
	}
	for _, hd := range headers {
		if tracing.IsHeader(hd.Key) {
			return headers
		}
	}
	return append(slices.Clip(headers), transport.Header{Key: tracing.Header, Value: w.traceparent})
}
