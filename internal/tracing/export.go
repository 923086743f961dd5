package tracing

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// exporter is the Tracer's one goroutine: it batches ended spans and
// POSTs each batch as an OTLP ExportTraceServiceRequest, in protobuf, to
// the endpoint. Spans are encoded straight from Span into reused buffers
// (no intermediate messages), then returned to the pool; the request body
// is new for each POST.
type exporter struct {
	t      *Tracer
	client *http.Client
	flush  chan chan struct{} // export everything queued, then close the channel
	quit   chan struct{}      // closed by stop
	done   chan struct{}      // closed when run returns
	// ctx is cancelled when a Shutdown's context ends, to abandon an
	// export in progress.
	ctx    context.Context
	cancel context.CancelFunc

	batch    []*Span
	spare    []*Span // the queue's next array
	reqSize  int     // the last request's size, to size the next
	spans    []byte  // the encoded spans of the batch
	scratch  []byte  // one span
	resource []byte  // the encoded Resource and InstrumentationScope, made once
	scope    []byte

	lastLog  time.Time // of an export failure, for rate limiting
	unlogged int       // failures since
}

// exportTimeout bounds one export request; exportAttempts is how many
// times a batch is tried when the collector is unreachable or answers 429
// or 5xx, exportBackoff the first wait between (doubled each time).
const (
	exportTimeout  = 10 * time.Second
	exportAttempts = 3
	exportBackoff  = 500 * time.Millisecond
)

func newExporter(t *Tracer) *exporter {
	e := &exporter{
		t:      t,
		client: &http.Client{Timeout: exportTimeout},
		flush:  make(chan chan struct{}),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		batch:  make([]*Span, 0, t.opts.BatchSize),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	res := []Attr{String("service.name", t.opts.ServiceName), String("telemetry.sdk.name", "tide"), String("telemetry.sdk.language", "go")}
	if t.opts.InstanceID != "" {
		res = append(res, String("service.instance.id", t.opts.InstanceID))
	}
	for _, a := range res {
		e.resource = appendKeyValue(e.resource, 1, a) // Resource.attributes
	}
	e.scope = protowire.AppendTag(e.scope, 1, protowire.BytesType) // InstrumentationScope.name
	e.scope = protowire.AppendString(e.scope, "github.com/tide-data/tide")
	return e
}

func (e *exporter) run() {
	defer close(e.done)
	tick := time.NewTicker(e.t.opts.BatchTimeout)
	defer tick.Stop()
	for {
		select {
		case <-e.t.kick:
			e.exportQueued()
		case <-tick.C:
			e.exportQueued()
		case ack := <-e.flush:
			e.exportQueued()
			close(ack)
		case <-e.quit:
			e.exportQueued()
			return
		}
	}
}

// exportQueued exports every span queued now, BatchSize to a request.
func (e *exporter) exportQueued() {
	taken := e.t.takeQueued(e.spare)
	for rest := taken; len(rest) > 0; {
		n := min(e.t.opts.BatchSize, len(rest))
		e.batch = append(e.batch[:0], rest[:n]...)
		rest = rest[n:]
		e.export()
	}
	clear(taken)
	e.spare = taken[:0]
}

// stop ends run after a last export; ctx's end abandons it.
func (e *exporter) stop(ctx context.Context) {
	close(e.quit)
	select {
	case <-e.done:
	case <-ctx.Done():
		e.cancel()
		<-e.done
	}
	e.cancel()
}

// export sends the batch and returns its spans to the pool.
func (e *exporter) export() {
	if len(e.batch) == 0 {
		return
	}
	n := len(e.batch)
	// A fresh request body each time: net/http may still read a body
	// after Do returned (a receiver that answered before reading it), so
	// it is never reused. The span buffers are.
	body := e.encode(make([]byte, 0, e.reqSize))
	e.reqSize = len(body)
	for i, s := range e.batch {
		e.t.release(s)
		e.batch[i] = nil
	}
	e.batch = e.batch[:0]
	if err := e.post(body); err != nil {
		e.t.stats.failed.Add(int64(n))
		e.logFailure(err, n)
		return
	}
	e.t.stats.exported.Add(int64(n))
}

// logFailure logs an export failure, at most once a minute.
func (e *exporter) logFailure(err error, spans int) {
	e.unlogged += spans
	if time.Since(e.lastLog) < time.Minute {
		return
	}
	e.t.opts.Logger.Warn("tracing: export failed; spans dropped", "endpoint", e.t.opts.Endpoint, "spans", e.unlogged, "err", err)
	e.lastLog, e.unlogged = time.Now(), 0
}

// post sends one request, retrying a connection error, 429 and 5xx.
func (e *exporter) post(body []byte) error {
	backoff := exportBackoff
	var err error
	for attempt := 1; ; attempt++ {
		var retry bool
		retry, err = e.attempt(body)
		if err == nil || !retry || attempt == exportAttempts {
			return err
		}
		select {
		case <-time.After(backoff):
		case <-e.ctx.Done():
			return err
		case <-e.quit: // shutting down: one attempt is all a flush gets
			return err
		}
		backoff *= 2
	}
}

func (e *exporter) attempt(body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.t.opts.Endpoint, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	for k, v := range e.t.opts.Headers {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return true, err
	}
	defer func() {
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		_ = resp.Body.Close()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	err = fmt.Errorf("POST %s: %s: %s", e.t.opts.Endpoint, resp.Status, bytes.TrimSpace(snippet))
	return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500, err
}

// OTLP field numbers (opentelemetry/proto/trace/v1/trace.proto,
// collector/trace/v1/trace_service.proto, common/v1/common.proto).
const (
	fieldRequestResourceSpans = 1 // ExportTraceServiceRequest.resource_spans
	fieldResource             = 1 // ResourceSpans.resource
	fieldScopeSpans           = 2 // ResourceSpans.scope_spans
	fieldScope                = 1 // ScopeSpans.scope
	fieldSpans                = 2 // ScopeSpans.spans
	fieldTraceID              = 1 // Span.trace_id
	fieldSpanID               = 2 // Span.span_id
	fieldTraceState           = 3 // Span.trace_state
	fieldParentSpanID         = 4 // Span.parent_span_id
	fieldName                 = 5 // Span.name
	fieldKind                 = 6 // Span.kind
	fieldStart                = 7 // Span.start_time_unix_nano
	fieldEnd                  = 8 // Span.end_time_unix_nano
	fieldAttributes           = 9 // Span.attributes
	fieldStatus               = 15
	fieldFlags                = 16
	fieldStatusMessage        = 2 // Status.message
	fieldStatusCode           = 3 // Status.code
	statusCodeError           = 2
	fieldKey                  = 1 // KeyValue.key
	fieldValue                = 2 // KeyValue.value
	fieldStringValue          = 1 // AnyValue.string_value
	fieldBoolValue            = 2 // AnyValue.bool_value
	fieldIntValue             = 3 // AnyValue.int_value
	// Span.flags: the W3C trace flags in the low byte, and whether the
	// parent is remote.
	flagsHasIsRemote = 0x100
	flagsIsRemote    = 0x200
)

// encode appends the batch as an ExportTraceServiceRequest to dst:
//
//	ExportTraceServiceRequest
//	└─ resource_spans: ResourceSpans
//	   ├─ resource: Resource{attributes: service.name, ...}
//	   └─ scope_spans: ScopeSpans
//	      ├─ scope: InstrumentationScope{name}
//	      └─ spans: Span, Span, ...
func (e *exporter) encode(dst []byte) []byte {
	e.spans = e.spans[:0]
	for _, s := range e.batch {
		e.scratch = appendSpan(e.scratch[:0], s)
		e.spans = protowire.AppendTag(e.spans, fieldSpans, protowire.BytesType)
		e.spans = protowire.AppendBytes(e.spans, e.scratch)
	}
	scopeSpans := protowire.SizeTag(fieldScope) + protowire.SizeBytes(len(e.scope)) + len(e.spans)
	resourceSpans := protowire.SizeTag(fieldResource) + protowire.SizeBytes(len(e.resource)) +
		protowire.SizeTag(fieldScopeSpans) + protowire.SizeBytes(scopeSpans)
	dst = protowire.AppendTag(dst, fieldRequestResourceSpans, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(resourceSpans))
	dst = protowire.AppendTag(dst, fieldResource, protowire.BytesType)
	dst = protowire.AppendBytes(dst, e.resource)
	dst = protowire.AppendTag(dst, fieldScopeSpans, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(scopeSpans))
	dst = protowire.AppendTag(dst, fieldScope, protowire.BytesType)
	dst = protowire.AppendBytes(dst, e.scope)
	return append(dst, e.spans...)
}

// appendSpan appends s's Span message (without its tag and length).
func appendSpan(b []byte, s *Span) []byte {
	tid, sid := s.sc.TraceID(), s.sc.SpanID()
	b = protowire.AppendTag(b, fieldTraceID, protowire.BytesType)
	b = protowire.AppendBytes(b, tid[:])
	b = protowire.AppendTag(b, fieldSpanID, protowire.BytesType)
	b = protowire.AppendBytes(b, sid[:])
	if ts := s.sc.TraceState(); ts.Len() > 0 {
		b = protowire.AppendTag(b, fieldTraceState, protowire.BytesType)
		b = protowire.AppendString(b, ts.String())
	}
	if s.parent.IsValid() {
		b = protowire.AppendTag(b, fieldParentSpanID, protowire.BytesType)
		b = protowire.AppendBytes(b, s.parent[:])
	}
	b = protowire.AppendTag(b, fieldName, protowire.BytesType)
	b = protowire.AppendString(b, s.name)
	b = protowire.AppendTag(b, fieldKind, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(s.kind))
	b = protowire.AppendTag(b, fieldStart, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(s.start))
	b = protowire.AppendTag(b, fieldEnd, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(s.end))
	for i := range s.attrs[:s.nattrs] {
		b = appendKeyValue(b, fieldAttributes, s.attrs[i])
	}
	if s.failed {
		status := protowire.SizeTag(fieldStatusMessage) + protowire.SizeBytes(len(s.message)) +
			protowire.SizeTag(fieldStatusCode) + protowire.SizeVarint(statusCodeError)
		b = protowire.AppendTag(b, fieldStatus, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(status))
		b = protowire.AppendTag(b, fieldStatusMessage, protowire.BytesType)
		b = protowire.AppendString(b, s.message)
		b = protowire.AppendTag(b, fieldStatusCode, protowire.VarintType)
		b = protowire.AppendVarint(b, statusCodeError)
	}
	flags := uint32(s.sc.TraceFlags()) | flagsHasIsRemote
	if s.remoteParent {
		flags |= flagsIsRemote
	}
	b = protowire.AppendTag(b, fieldFlags, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, flags)
}

// appendKeyValue appends a as a KeyValue in field num.
func appendKeyValue(b []byte, num protowire.Number, a Attr) []byte {
	var value int // the AnyValue's size
	switch a.kind {
	case attrString:
		value = protowire.SizeTag(fieldStringValue) + protowire.SizeBytes(len(a.str))
	case attrInt:
		value = protowire.SizeTag(fieldIntValue) + protowire.SizeVarint(uint64(a.num))
	case attrBool:
		value = protowire.SizeTag(fieldBoolValue) + 1
	}
	kv := protowire.SizeTag(fieldKey) + protowire.SizeBytes(len(a.Key)) + protowire.SizeTag(fieldValue) + protowire.SizeBytes(value)
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(kv))
	b = protowire.AppendTag(b, fieldKey, protowire.BytesType)
	b = protowire.AppendString(b, a.Key)
	b = protowire.AppendTag(b, fieldValue, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(value))
	switch a.kind {
	case attrString:
		b = protowire.AppendTag(b, fieldStringValue, protowire.BytesType)
		b = protowire.AppendString(b, a.str)
	case attrInt:
		b = protowire.AppendTag(b, fieldIntValue, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.num))
	case attrBool:
		b = protowire.AppendTag(b, fieldBoolValue, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.num))
	}
	return b
}

// String renders a span for tests and logs.
func (s *Span) String() string {
	return s.name + " " + s.sc.TraceID().String() + "/" + s.sc.SpanID().String() + " parent " + s.parent.String() + " " + strconv.Itoa(s.nattrs) + " attributes"
}
