package tracing

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Defaults of Options.
const (
	DefaultSampleRatio  = 0.01
	DefaultServiceName  = "tide"
	DefaultBatchTimeout = 2 * time.Second
	DefaultQueueSize    = 8192
	DefaultBatchSize    = 512
)

// Options configures New.
type Options struct {
	// Endpoint is the URL of an OTLP/HTTP traces endpoint, such as
	// http://collector:4318/v1/traces; a URL without a path gets
	// /v1/traces.
	Endpoint string
	// Headers are sent with every export (a collector's API key). Nil
	// reads OTEL_EXPORTER_OTLP_TRACES_HEADERS, else
	// OTEL_EXPORTER_OTLP_HEADERS: key=value pairs separated by commas,
	// values URL-encoded, as OpenTelemetry's exporters read them.
	Headers map[string]string
	// SampleRatio is the share of new traces sampled: those started for
	// a request or record that carries no trace context. Contexts that
	// arrive follow their own sampled flag.
	SampleRatio float64
	// ServiceName is the service.name resource attribute.
	ServiceName string
	// InstanceID, if set, is the service.instance.id resource attribute
	// (the worker's id).
	InstanceID string
	// BatchTimeout is how long an ended span may wait before it is
	// exported (a batch is sent when it holds BatchSize spans, or then).
	BatchTimeout time.Duration
	// QueueSize bounds the ended spans waiting for export; past it spans
	// are dropped (and counted) rather than slowing the caller. An export
	// in progress holds up to QueueSize more.
	QueueSize int
	// BatchSize is the most spans one export request carries.
	BatchSize int
	// Logger receives export failures (at most one line a minute).
	Logger *slog.Logger
}

// Tracer starts spans and exports them. Safe for concurrent use; a nil
// *Tracer is tracing off.
type Tracer struct {
	opts Options
	// threshold: a new trace is sampled when a uniform 64-bit draw is
	// below it; always is set for a ratio of 1.
	threshold uint64
	always    bool

	pool sync.Pool // *Span
	// queue holds ended spans until the exporter takes them. A mutex and
	// a slice rather than a channel: a channel send wakes the exporter for
	// every span, and the wake-ups cost more than the spans; kick wakes it
	// once a batch is ready (or its ticker does).
	queue struct {
		sync.Mutex
		spans []*Span
	}
	kick  chan struct{}
	exp   *exporter
	stats struct {
		exported, dropped, failed atomic.Int64
	}
	mu struct {
		sync.Mutex
		closed bool
	}
}

// New returns a Tracer exporting to opts.Endpoint. It starts the
// exporting goroutine, which Shutdown stops; nothing is dialled before
// the first export, so an unreachable collector does not stop a start.
func New(opts Options) (*Tracer, error) {
	if opts.SampleRatio < 0 || opts.SampleRatio > 1 || math.IsNaN(opts.SampleRatio) {
		return nil, fmt.Errorf("tracing: sample ratio %v is not in [0, 1]", opts.SampleRatio)
	}
	endpoint, err := EndpointURL(opts.Endpoint)
	if err != nil {
		return nil, err
	}
	opts.Endpoint = endpoint
	if opts.ServiceName == "" {
		opts.ServiceName = DefaultServiceName
	}
	if opts.BatchTimeout <= 0 {
		opts.BatchTimeout = DefaultBatchTimeout
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Headers == nil {
		env := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
		if env == "" {
			env = os.Getenv("OTEL_EXPORTER_OTLP_HEADERS")
		}
		if opts.Headers, err = parseHeaders(env); err != nil {
			return nil, err
		}
	}
	t := &Tracer{opts: opts, kick: make(chan struct{}, 1)}
	t.pool.New = func() any { return new(Span) }
	switch f := opts.SampleRatio * (1 << 64); {
	case f >= 1<<64:
		t.always = true
	case f > 0:
		t.threshold = uint64(f)
	}
	t.exp = newExporter(t)
	go t.exp.run()
	return t, nil
}

// EndpointURL checks an OTLP/HTTP traces endpoint and completes a URL
// without a path with the standard /v1/traces.
func EndpointURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("tracing: OTLP endpoint %q is not an http:// or https:// URL", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// parseHeaders reads OTEL_EXPORTER_OTLP_HEADERS' form: key=value,...
func parseHeaders(v string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		k, val, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("tracing: OTLP header %q is not key=value", pair)
		}
		dec, err := url.PathUnescape(strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP header %q: %w", k, err)
		}
		out[http.CanonicalHeaderKey(k)] = dec
	}
	return out, nil
}

// SampleNew reports whether a new trace should start, with the configured
// ratio: one random draw, no allocation. False on a nil Tracer.
func (t *Tracer) SampleNew() bool {
	if t == nil {
		return false
	}
	return t.always || rand.Uint64() < t.threshold
}

// SpanKind is OTLP's span kind.
type SpanKind uint8

// Span kinds, as OTLP numbers them.
const (
	KindInternal SpanKind = 1
	KindServer   SpanKind = 2
	KindClient   SpanKind = 3
	KindProducer SpanKind = 4
	KindConsumer SpanKind = 5
)

// Attr is a span attribute: a string, an integer or a boolean.
type Attr struct {
	Key  string
	str  string
	num  int64
	kind attrKind
}

type attrKind uint8

const (
	attrString attrKind = iota
	attrInt
	attrBool
)

// String is a string attribute.
func String(key, value string) Attr { return Attr{Key: key, str: value, kind: attrString} }

// Int is an integer attribute.
func Int(key string, value int64) Attr { return Attr{Key: key, num: value, kind: attrInt} }

// Bool is a boolean attribute.
func Bool(key string, value bool) Attr {
	a := Attr{Key: key, kind: attrBool}
	if value {
		a.num = 1
	}
	return a
}

// maxAttrs bounds a span's attributes (more are dropped): Tide's spans
// have a handful.
const maxAttrs = 8

// Span is one operation of a trace. It is owned by the goroutine that
// started it until End, which hands it to the exporter: the span must not
// be used after End.
type Span struct {
	tracer       *Tracer
	sc           trace.SpanContext
	parent       trace.SpanID
	remoteParent bool
	name         string
	kind         SpanKind
	start, end   int64 // Unix nanoseconds
	failed       bool  // status error
	message      string
	attrs        [maxAttrs]Attr
	nattrs       int
}

// Start starts a span named name as a child of parent, or as the root of
// a new trace when parent is not valid; start zero means now. The caller
// has decided to trace (parent is sampled, or SampleNew said so) and must
// End the span. The span, its ids and its attributes take no allocation
// beyond a pooled Span.
func (t *Tracer) Start(parent trace.SpanContext, name string, kind SpanKind, start time.Time, attrs ...Attr) *Span {
	s := t.pool.Get().(*Span)
	*s = Span{tracer: t, name: name, kind: kind}
	cfg := trace.SpanContextConfig{TraceFlags: trace.FlagsSampled, SpanID: newSpanID()}
	if parent.IsValid() {
		cfg.TraceID, cfg.TraceState = parent.TraceID(), parent.TraceState()
		s.parent, s.remoteParent = parent.SpanID(), parent.IsRemote()
	} else {
		cfg.TraceID = newTraceID()
	}
	s.sc = trace.NewSpanContext(cfg)
	if start.IsZero() {
		start = time.Now()
	}
	s.start = start.UnixNano()
	s.nattrs = copy(s.attrs[:], attrs)
	return s
}

func newTraceID() trace.TraceID {
	var id trace.TraceID
	for id == (trace.TraceID{}) {
		binary.BigEndian.PutUint64(id[:8], rand.Uint64())
		binary.BigEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

func newSpanID() trace.SpanID {
	var id trace.SpanID
	for id == (trace.SpanID{}) {
		binary.BigEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}

// SpanContext is the span's context: what a traceparent naming it holds.
func (s *Span) SpanContext() trace.SpanContext { return s.sc }

// SetName renames the span (once what it is about is known).
func (s *Span) SetName(name string) { s.name = name }

// SetAttributes adds attributes; past maxAttrs they are dropped.
func (s *Span) SetAttributes(attrs ...Attr) {
	s.nattrs += copy(s.attrs[s.nattrs:], attrs)
}

// SetError marks the span failed, with a message.
func (s *Span) SetError(message string) { s.failed, s.message = true, message }

// End ends the span at end (zero: now) and queues it for export; if the
// queue is full the span is dropped. The span must not be used after.
func (s *Span) End(end time.Time) {
	if end.IsZero() {
		end = time.Now()
	}
	s.end = end.UnixNano()
	t := s.tracer
	t.queue.Lock()
	n := len(t.queue.spans)
	if n < t.opts.QueueSize {
		t.queue.spans = append(t.queue.spans, s)
	}
	t.queue.Unlock()
	switch {
	case n >= t.opts.QueueSize:
		t.stats.dropped.Add(1)
		t.release(s)
	case n+1 == t.opts.BatchSize:
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
}

// takeQueued moves the queued spans to dst (emptied) and returns it; the
// queue keeps dst's old array for the next spans.
func (t *Tracer) takeQueued(dst []*Span) []*Span {
	t.queue.Lock()
	defer t.queue.Unlock()
	spans := t.queue.spans
	t.queue.spans = dst[:0]
	return spans
}

// release returns a span to the pool.
func (t *Tracer) release(s *Span) {
	*s = Span{}
	t.pool.Put(s)
}

// ForceFlush exports every span ended so far, waiting until the exports
// are done or ctx ends.
func (t *Tracer) ForceFlush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	done := make(chan struct{})
	select {
	case t.exp.flush <- done:
	case <-t.exp.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tracing: flush: %w", ctx.Err())
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tracing: flush: %w", ctx.Err())
	}
}

// Shutdown exports the spans ended so far and stops the exporter (spans
// ended later are dropped); nil on a nil Tracer. ctx bounds the wait, and
// cancels an export in progress when it ends.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	closed := t.mu.closed
	t.mu.closed = true
	t.mu.Unlock()
	if closed {
		return nil
	}
	err := t.ForceFlush(ctx)
	t.exp.stop(ctx)
	if err != nil {
		t.queue.Lock()
		n := len(t.queue.spans)
		t.queue.Unlock()
		return errors.Join(err, fmt.Errorf("tracing: %d spans not exported", n))
	}
	return nil
}

// Stats counts spans: exported, dropped because the queue was full, and
// dropped because their export failed.
type Stats struct {
	Exported, Dropped, Failed int64
}

// Stats returns the tracer's counts so far.
func (t *Tracer) Stats() Stats {
	return Stats{Exported: t.stats.exported.Load(), Dropped: t.stats.dropped.Load(), Failed: t.stats.failed.Load()}
}
