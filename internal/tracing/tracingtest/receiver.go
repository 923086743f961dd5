package tracingtest

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Receiver is an OTLP/HTTP traces endpoint on a local port. Safe for
// concurrent use.
type Receiver struct {
	srv  *httptest.Server
	keep bool
	mu   struct {
		sync.Mutex
		spans     []*tracepb.Span
		resources []*resourcepb.Resource
		count     int
		requests  int
		errors    int
	}
}

// NewReceiver starts a receiver. With keep it holds every span it
// receives (Spans); without, it only counts them.
func NewReceiver(keep bool) *Receiver {
	r := &Receiver{keep: keep}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

// URL is the traces endpoint, as otlp_endpoint takes it.
func (r *Receiver) URL() string { return r.srv.URL + "/v1/traces" }

// Close stops the receiver.
func (r *Receiver) Close() { r.srv.Close() }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	// Bodies are read into pooled buffers: the benchmark that counts
	// spans should not measure this receiver's garbage.
	buf := bodies.Get().(*bytes.Buffer)
	defer bodies.Put(buf)
	buf.Reset()
	_, err := buf.ReadFrom(req.Body)
	body := buf.Bytes()
	if err == nil && req.Header.Get("Content-Encoding") == "gzip" {
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(body)); err == nil {
			body, err = io.ReadAll(zr)
		}
	}
	// Keeping spans decodes the request; counting them walks its wire
	// format without building messages, as a collector in another process
	// would spend the decoding's CPU and garbage, not this one.
	var spans []*tracepb.Span
	var resources []*resourcepb.Resource
	n := 0
	if err == nil {
		if r.keep {
			var msg coltracepb.ExportTraceServiceRequest
			if err = proto.Unmarshal(body, &msg); err == nil {
				for _, rs := range msg.GetResourceSpans() {
					resources = append(resources, rs.GetResource())
					for _, ss := range rs.GetScopeSpans() {
						spans = append(spans, ss.GetSpans()...)
					}
				}
				n = len(spans)
			}
		} else {
			n, err = countSpans(body)
		}
	}
	r.mu.Lock()
	r.mu.requests++
	if err != nil || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		r.mu.errors++
		r.mu.Unlock()
		http.Error(w, "not an OTLP/HTTP protobuf trace export", http.StatusBadRequest)
		return
	}
	r.mu.count += n
	r.mu.spans = append(r.mu.spans, spans...)
	r.mu.resources = append(r.mu.resources, resources...)
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Field numbers of the messages countSpans walks.
const (
	fieldResourceSpans = 1 // ExportTraceServiceRequest.resource_spans
	fieldScopeSpans    = 2 // ResourceSpans.scope_spans
	fieldSpans         = 2 // ScopeSpans.spans
)

// countSpans counts the spans of an ExportTraceServiceRequest from its
// wire format.
func countSpans(b []byte) (int, error) {
	n := 0
	err := eachField(b, fieldResourceSpans, func(rs []byte) error {
		return eachField(rs, fieldScopeSpans, func(ss []byte) error {
			return eachField(ss, fieldSpans, func([]byte) error { n++; return nil })
		})
	})
	return n, err
}

// eachField calls fn with the bytes of every length-delimited field num
// of message b, skipping the other fields.
func eachField(b []byte, num protowire.Number, fn func([]byte) error) error {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return protowire.ParseError(l)
			}
			if err := fn(v); err != nil {
				return err
			}
			b = b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
	}
	return nil
}

// Spans returns the spans received so far (with keep).
func (r *Receiver) Spans() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*tracepb.Span(nil), r.mu.spans...)
}

// Resources returns the resource of every ResourceSpans received (with
// keep).
func (r *Receiver) Resources() []*resourcepb.Resource {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*resourcepb.Resource(nil), r.mu.resources...)
}

// Count returns how many spans were received, and how many requests were
// refused as malformed.
func (r *Receiver) Count() (spans, badRequests int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.count, r.mu.errors
}

// TraceID and SpanID render ids as traceparent writes them.
func TraceID(s *tracepb.Span) string { return hex.EncodeToString(s.GetTraceId()) }

// SpanID is a span's id in hex.
func SpanID(s *tracepb.Span) string { return hex.EncodeToString(s.GetSpanId()) }

// ParentID is a span's parent's id in hex ("" for a root).
func ParentID(s *tracepb.Span) string { return hex.EncodeToString(s.GetParentSpanId()) }
