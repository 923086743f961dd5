package ingest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/tracing"
	"github.com/tide-data/tide/internal/transport"
)

// API error codes: the stable, machine-readable part of an error answer.
const (
	codeMalformed       = "malformed_json"
	codeInvalidEnvelope = "invalid_envelope"
	codeMissingKeyField = "missing_key_field"
	codeMissingEventID  = "missing_event_id"
	codeInvalidRequest  = "invalid_request"
	codeInvalidTopic    = "invalid_topic"
	codeUnknownTopic    = "unknown_topic"
	codeInvalidSig      = "invalid_signature"
	codeTooLarge        = "request_too_large"
	codeRecordTooLarge  = "record_too_large"
	codeUnsupportedType = "unsupported_media_type"
	codeTooMany         = "too_many_requests"
	codeUnavailable     = "unavailable"
	codeKeyReused       = "idempotency_key_reused"
	codeSchema          = "schema_violation"
)

// Media types a body may have.
const (
	MediaJSON   = "application/json"
	MediaNDJSON = "application/x-ndjson"
)

// Headers the API reads and writes.
const (
	HeaderIdempotencyKey  = "Idempotency-Key"
	HeaderIdempotentReply = "Idempotent-Replay"
	// DefaultSignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>".
	DefaultSignatureHeader = "X-Tide-Signature"
)

// Config configures a Handler. Zero values take the defaults.
type Config struct {
	// Transport is where records go. Required.
	Transport transport.Transport
	Logger    *slog.Logger
	// MaxBodyBytes bounds a request body (413 above). Default 8 MiB.
	MaxBodyBytes int64
	// MaxInFlightBytes bounds the memory requests hold at once, from
	// reading a body until its write has settled: the bodies' bytes and
	// recordMemory per record (429 above). Default 64 MiB.
	MaxInFlightBytes int64
	// Timeout bounds how long a request waits for its write to be durable
	// (503 after it; the write goes on and may still land). Default 10s.
	Timeout time.Duration
	// IdempotencyWindow is how long a repeated Idempotency-Key or event id
	// is recognised. Default 24h.
	IdempotencyWindow time.Duration
	// IdempotencyMaxKeys bounds the Idempotency-Keys and event ids held
	// (about 130 bytes per event id, 210 per key, see docs/INGEST.md): past it the oldest are
	// forgotten before their window passes. Default 1,000,000.
	IdempotencyMaxKeys int
	// Schemas encodes the JSON values ingested into topics whose
	// schema.validation is framed or strict (the schema registry); nil
	// refuses ingestion into such topics.
	Schemas SchemaEncoder
	// SchemaValidation maps a topic to a schema.validation mode (framed
	// or strict) applied whatever the topic's own config says; the
	// stricter of the two wins. It is how the mode is set on a Kafka
	// cluster, which refuses unknown topic configs.
	SchemaValidation map[string]string
	// HMACSecrets maps a topic to the secret its bodies must be signed
	// with; topics not in it take unsigned bodies.
	HMACSecrets map[string]string
	// SignatureHeader names the signature header; default X-Tide-Signature.
	SignatureHeader string
	// IdempotencyFields maps a topic to the top-level field of its values
	// that holds each event's id.
	IdempotencyFields map[string]string
	// AutoCreateTopics creates an unknown topic (with DefaultPartitions)
	// instead of answering 404.
	AutoCreateTopics  bool
	DefaultPartitions int32
	// WorkerID names the loader's consumer group. Default "tide".
	WorkerID string
	// Now is the clock of the idempotency window; nil means time.Now.
	Now func() time.Time
	// Metrics, if set, gets the handler's metrics (tide_ingest_*).
	Metrics prometheus.Registerer
	// Tracer traces requests (a span per request, child of its
	// traceparent; see tracing.go); nil: tracing off, and a request's
	// traceparent is still carried to its records.
	Tracer *tracing.Tracer
}

// Defaults of Config.
const (
	DefaultMaxBodyBytes      = 8 << 20
	DefaultMaxInFlightBytes  = 64 << 20
	DefaultTimeout           = 10 * time.Second
	DefaultIdempotencyWindow = 24 * time.Hour
)

// retryAfter is the Retry-After of 429 and 503 answers, in seconds.
const retryAfter = "1"

// Handler serves POST /v1/topics/{topic}/records. It is safe for
// concurrent use; Close waits for the writes it started.
type Handler struct {
	cfg     Config
	tr      transport.Transport
	logger  *slog.Logger
	limiter byteLimiter
	idem    *idemStore

	known sync.Map // topic name -> int: topics seen to exist, and their max.message.bytes
	modes sync.Map // topic name -> string: its schema.validation, when not none
	// checked: topic name -> time.Time its configs were last read; they
	// are read again after topicRecheck, so a change is seen soon.
	checked sync.Map
	writes  sync.WaitGroup
	pool    sync.Pool // *work
	metrics *ingestMetrics
}

var _ http.Handler = (*Handler)(nil)

// New returns a handler over cfg.Transport, after loading the idempotency
// keys still inside the window.
func New(ctx context.Context, cfg Config) (*Handler, error) {
	if cfg.Transport == nil {
		return nil, errors.New("ingest: no transport")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxInFlightBytes <= 0 {
		cfg.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.IdempotencyWindow <= 0 {
		cfg.IdempotencyWindow = DefaultIdempotencyWindow
	}
	if cfg.IdempotencyMaxKeys <= 0 {
		cfg.IdempotencyMaxKeys = DefaultIdempotencyMaxKeys
	}
	if cfg.SignatureHeader == "" {
		cfg.SignatureHeader = DefaultSignatureHeader
	}
	if cfg.WorkerID == "" {
		cfg.WorkerID = "tide"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, tr: cfg.Transport, logger: cfg.Logger, metrics: newIngestMetrics()}
	h.limiter.limit = cfg.MaxInFlightBytes
	h.idem = newIdemStore(cfg.Transport, cfg.IdempotencyWindow, cfg.IdempotencyMaxKeys, cfg.Now, cfg.Logger)
	if err := h.idem.load(ctx, cfg.WorkerID); err != nil {
		return nil, err
	}
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(collector{h}); err != nil {
			return nil, fmt.Errorf("ingest: metrics: %w", err)
		}
	}
	return h, nil
}

// Close waits until every write the handler started has settled, or ctx
// ends. Call it after the HTTP server stopped taking requests and before
// the transport closes.
func (h *Handler) Close(ctx context.Context) error {
	if h.cfg.Metrics != nil {
		h.cfg.Metrics.Unregister(collector{h})
	}
	done := make(chan struct{})
	go func() { h.writes.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ingest: writes still in flight: %w", ctx.Err())
	}
}

// InFlightBytes returns the request bytes held now (for metrics and tests).
func (h *Handler) InFlightBytes() int64 { return h.limiter.inFlight() }

// IdempotencyEvictions returns how many Idempotency-Keys and event ids
// were forgotten before their window passed because the store held
// IdempotencyMaxKeys (for metrics and tests).
func (h *Handler) IdempotencyEvictions() int64 { return h.idem.evictions() }

// work is one request's memory, pooled: the body, its elements, the
// records and the answer. It is released by whichever of the handler and
// the write goroutine finishes last (refs).
type work struct {
	body   []byte
	els    []element
	framed [][]byte // with schema validation: els[i]'s value, encoded and framed
	enc    []byte   // framed's storage
	recs   []transport.Record
	ptrs   []*transport.Record
	index  []int // recs[j] is els[index[j]]
	out    []byte
	claims []idClaim
	held   int64 // limiter bytes
	refs   atomic.Int32
	err    error
	done   chan struct{}
	owned  []claimed // idempotency entries to settle

	// traceparent is what the records carry as their trace context
	// (tracing.go); nil: none. tpHeaders is it as the headers of a record
	// that has none of its own, shared by all of them.
	traceparent []byte
	tpHeaders   []transport.Header
}

const maxPooledBody = 1 << 20 // larger buffers are not kept

func (h *Handler) getWork() *work {
	if w, ok := h.pool.Get().(*work); ok {
		return w
	}
	return &work{}
}

func (h *Handler) putWork(w *work) {
	h.limiter.release(w.held)
	if cap(w.body) > maxPooledBody || cap(w.els) > 1<<14 {
		return
	}
	clear(w.els)
	clear(w.recs)
	clear(w.framed)
	clear(w.ptrs)
	clear(w.claims)
	clear(w.owned)
	w.body, w.els, w.recs, w.ptrs = w.body[:0], w.els[:0], w.recs[:0], w.ptrs[:0]
	w.index, w.out, w.claims = w.index[:0], w.out[:0], w.claims[:0]
	w.owned = w.owned[:0]
	w.held, w.err, w.done = 0, nil, nil
	w.traceparent, w.tpHeaders = nil, nil
	h.pool.Put(w)
}

// unref drops one reference; the last one returns w to the pool.
func (h *Handler) unref(w *work) {
	if w.refs.Add(-1) == 0 {
		h.putWork(w)
	}
}

var jsonContentType = []string{"application/json"}

// fail answers a refused request with apiError and counts it by code.
func (h *Handler) fail(rw http.ResponseWriter, status int, code, message string) {
	h.metrics.reject(code)
	apiError(rw, status, code, message)
}

// apiError writes {"error":{"code","message"}}.
func apiError(rw http.ResponseWriter, status int, code, message string) {
	hdr := rw.Header()
	hdr["Content-Type"] = jsonContentType
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		hdr.Set("Retry-After", retryAfter)
	}
	rw.WriteHeader(status)
	b := make([]byte, 0, 64+len(message))
	b = append(b, `{"error":{"code":`...)
	b = strconv.AppendQuote(b, code)
	b = append(b, `,"message":`...)
	b = format.AppendJSONString(b, message)
	b = append(b, "}}\n"...)
	_, _ = rw.Write(b)
}

// validTopic says whether name is a topic a client may write: Kafka's
// legal names, internal ("__") ones excluded.
func validTopic(name string) bool {
	if name == "" || len(name) > 249 || name == "." || name == ".." || strings.HasPrefix(name, "__") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		legal := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !legal {
			return false
		}
	}
	return true
}

// mediaForm reads Content-Type.
func mediaForm(ct string) (bodyForm, bool) {
	switch ct { // the common spellings, without parsing
	case MediaJSON, "application/json; charset=utf-8":
		return formJSON, true
	case MediaNDJSON:
		return formNDJSON, true
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return 0, false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return 0, false
	}
	switch mt {
	case MediaJSON:
		return formJSON, true
	case MediaNDJSON, "application/jsonl", "application/x-jsonlines":
		return formNDJSON, true
	}
	return 0, false
}

// ServeHTTP serves POST /v1/topics/{topic}/records; see the package doc.
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	tp, span := h.traceRequest(r)
	if span == nil {
		h.serve(rw, r, tp, nil)
		return
	}
	rec := &statusRecorder{ResponseWriter: rw, status: http.StatusOK}
	h.serve(rec, r, tp, span)
	endRequestSpan(span, rec.status)
}

// serve answers one request. tp is the trace context its records carry
// (nil: none); span, if not nil, is the request's span.
func (h *Handler) serve(rw http.ResponseWriter, r *http.Request, tp []byte, span *tracing.Span) {
	topic := r.PathValue("topic")
	if !validTopic(topic) {
		h.fail(rw, http.StatusBadRequest, codeInvalidTopic, fmt.Sprintf("%q is not a topic HTTP clients may write (letters, digits, '.', '_', '-'; at most 249; not starting with \"__\")", topic))
		return
	}
	if span != nil {
		span.SetAttributes(tracing.String(attrTopic, topic))
	}
	form, ok := mediaForm(r.Header.Get("Content-Type"))
	if !ok {
		h.fail(rw, http.StatusUnsupportedMediaType, codeUnsupportedType,
			fmt.Sprintf("Content-Type %q is not supported: use %s or %s (UTF-8)", r.Header.Get("Content-Type"), MediaJSON, MediaNDJSON))
		return
	}
	opts := parseOptions{form: form, idField: h.cfg.IdempotencyFields[topic]}
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		opts.keyField = q.Get("key")
		if v := q.Get("envelope"); v != "" {
			if opts.envelope, ok = parseBool(v); !ok {
				h.fail(rw, http.StatusBadRequest, codeInvalidRequest, fmt.Sprintf("envelope=%q is not true or false", v))
				return
			}
		}
	}
	idemKey := r.Header.Get(HeaderIdempotencyKey)
	if len(idemKey) > 255 {
		h.fail(rw, http.StatusBadRequest, codeInvalidRequest, "the Idempotency-Key header is longer than 255 bytes")
		return
	}
	if r.ContentLength > h.cfg.MaxBodyBytes {
		h.tooLarge(rw)
		return
	}
	w := h.getWork()
	w.refs.Store(1)
	defer h.unref(w)
	if !h.readBody(rw, r, w) {
		return
	}
	if secret, ok := h.cfg.HMACSecrets[topic]; ok {
		sig := r.Header.Get(h.cfg.SignatureHeader)
		if sig == "" || !verifySignature(secret, sig, w.body) {
			h.fail(rw, http.StatusUnauthorized, codeInvalidSig,
				fmt.Sprintf("the %s header is missing or is not the HMAC-SHA256 of the body under the topic's secret (sha256=<hex>)", h.cfg.SignatureHeader))
			return
		}
	}
	// The records cost memory of their own (for small events, more than
	// the body): hold room for as many as the body can hold before
	// parsing it, then keep only the share of those it had.
	charge := int64(maxElements(w.body, form)) * recordMemory
	if !h.limiter.tryAcquireMore(w.held, charge) {
		h.tooMany(rw)
		return
	}
	w.held += charge
	var perr *parseError
	if w.els, perr = parseBody(w.body, opts, w.els[:0]); perr != nil {
		h.fail(rw, http.StatusBadRequest, perr.code, perr.describe(w.body))
		return
	}
	if extra := charge - int64(len(w.els))*recordMemory; extra > 0 {
		h.limiter.release(extra)
		w.held -= extra
	}
	if status, code, msg := h.checkTopic(r.Context(), topic); status != 0 {
		h.fail(rw, status, code, msg)
		return
	}
	if span != nil { // named after the topic once it is known to exist: span names stay few
		span.SetName("ingest " + topic)
	}
	if i, limit := h.oversized(topic, w.els); i >= 0 {
		h.fail(rw, http.StatusRequestEntityTooLarge, codeRecordTooLarge,
			fmt.Sprintf("element %d is larger than the topic's max.message.bytes (%d); nothing was written", i, limit))
		return
	}
	w.framed = w.framed[:0]
	if _, validated := h.modes.Load(topic); validated {
		if h.cfg.Schemas == nil {
			h.fail(rw, http.StatusUnprocessableEntity, codeSchema, "the topic has schema.validation on, but the schema registry is off (schema_registry = false)")
			return
		}
		if i, err := h.encodeValues(topic, w); err != nil {
			h.fail(rw, http.StatusUnprocessableEntity, codeSchema, fmt.Sprintf("element %d: %v; nothing was written", i, err))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()

	// Idempotency-Key: a repeat replays the first answer.
	var reqEntry *entry
	if idemKey != "" {
		sum := sha256.Sum256(w.body)
		key := requestKey(topic, idemKey)
		hash := hashKey(key)
		e, owned, err := h.idem.claimRequest(ctx, hash)
		if err != nil {
			h.fail(rw, http.StatusServiceUnavailable, codeUnavailable, "timed out waiting for a concurrent request with the same Idempotency-Key")
			return
		}
		if e.req.sum != ([sha256.Size]byte{}) && e.req.sum != sum {
			if owned {
				h.idem.settle(ctx, []claimed{{key: key, hash: hash, entry: e}}) // give it back unchanged
			}
			h.fail(rw, http.StatusUnprocessableEntity, codeKeyReused, "this Idempotency-Key was used with a different body within the idempotency window")
			return
		}
		if !owned {
			rw.Header().Set(HeaderIdempotentReply, "true")
			h.answer(rw, e.req.written, e.req.dups, nil)
			h.metrics.ingested(topic, 0)
			return
		}
		if e.req.written != nil && len(e.req.written) != len(w.els) {
			e.req.written, e.req.dups = nil, nil // cannot happen with the same body
		}
		e.req.sum = sum
		reqEntry = e
		w.owned = append(w.owned, claimed{key: key, hash: hash, entry: e})
	}
	// Event ids: each id is claimed; those ingested before are skipped.
	if opts.idField != "" {
		w.claims = grow(w.claims, len(w.els))
		if err := h.idem.claimIDs(ctx, topic, w.els, w.claims); err != nil {
			h.idem.settle(context.WithoutCancel(ctx), w.owned)
			h.fail(rw, http.StatusServiceUnavailable, codeUnavailable, "timed out waiting for a concurrent request with the same event ids")
			return
		}
		for i := range w.claims {
			if c := &w.claims[i]; c.entry != nil {
				w.owned = append(w.owned, claimed{key: c.key, hash: c.hash, entry: c.entry})
			}
		}
	}
	if span != nil {
		span.SetAttributes(tracing.Int(attrRecords, int64(len(w.els))))
	}
	w.traceparent = tp
	h.buildRecords(topic, w, reqEntry)

	// The write runs on its own goroutine so that a stalled disk cannot
	// hold the request past the timeout; the goroutine keeps a reference
	// on w (the records point into the body) until the write settles.
	w.done = make(chan struct{})
	w.refs.Add(1)
	h.writes.Add(1)
	go h.write(w, reqEntry)
	timer := time.NewTimer(h.cfg.Timeout)
	defer timer.Stop()
	select {
	case <-w.done:
	case <-timer.C:
		h.fail(rw, http.StatusServiceUnavailable, codeUnavailable,
			fmt.Sprintf("the write was not durable within %s; it may still complete: retry with the same Idempotency-Key", h.cfg.Timeout))
		return
	case <-r.Context().Done():
		return // the client is gone; the write goes on
	}
	if w.err != nil {
		if errors.Is(w.err, transport.ErrTopicNotFound) {
			h.forget(topic)
			h.fail(rw, http.StatusNotFound, codeUnknownTopic, fmt.Sprintf("topic %q does not exist", topic))
			return
		}
		if errors.Is(w.err, transport.ErrRecordTooLarge) { // the topic's limit changed since it was looked up
			h.forget(topic)
			h.fail(rw, http.StatusRequestEntityTooLarge, codeRecordTooLarge,
				"a record is larger than the topic's max.message.bytes, which changed since the topic was looked up; records of other partitions may have been written")
			return
		}
		h.logger.Warn("ingest: write failed", "topic", topic, "records", len(w.ptrs), "err", w.err)
		h.fail(rw, http.StatusServiceUnavailable, codeUnavailable,
			"the write failed; some records may have been written (retry with an Idempotency-Key to make retries safe): "+w.err.Error())
		return
	}
	var written []position
	if reqEntry != nil {
		written = reqEntry.req.written
	}
	h.answer(rw, written, nil, w)
	h.metrics.ingested(topic, len(w.ptrs))
}

func parseBool(v string) (bool, bool) {
	b, err := strconv.ParseBool(v)
	return b, err == nil
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func (h *Handler) tooLarge(rw http.ResponseWriter) {
	h.fail(rw, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("the request body exceeds %d bytes", h.cfg.MaxBodyBytes))
}

func (h *Handler) tooMany(rw http.ResponseWriter) {
	h.fail(rw, http.StatusTooManyRequests, codeTooMany,
		fmt.Sprintf("the server holds its limit of %d bytes of requests in flight; retry later", h.cfg.MaxInFlightBytes))
}

// readChunk is how much more in-flight room a body of unknown length
// takes at a time.
const readChunk = 64 << 10

// forget drops what the handler knows of topic (that it exists, its
// limit, its schema mode), so the next request looks it up again: a
// write found it deleted (auto-create then makes it again) or its limit
// changed.
func (h *Handler) forget(topic string) {
	h.known.Delete(topic)
	h.checked.Delete(topic)
	h.modes.Delete(topic)
}

// readBody reads the body into w.body, holding its size in the limiter;
// it answers 413 or 429 itself and returns false then.
func (h *Handler) readBody(rw http.ResponseWriter, r *http.Request, w *work) bool {
	limit := h.cfg.MaxBodyBytes
	if n := r.ContentLength; n >= 0 {
		if !h.limiter.tryAcquire(n) {
			h.tooMany(rw)
			return false
		}
		w.held = n
		w.body = grow(w.body, int(n))
		if _, err := io.ReadFull(r.Body, w.body); err != nil {
			h.fail(rw, http.StatusBadRequest, codeInvalidRequest, "reading the body: "+err.Error())
			return false
		}
		return true
	}
	// Chunked: take room as the body grows (the pooled buffer's too).
	body := w.body[:0]
	if c := int64(cap(body)); c > 0 {
		if !h.limiter.tryAcquire(c) {
			h.tooMany(rw)
			return false
		}
		w.held = c
	}
	for {
		if len(body) == cap(body) {
			if int64(len(body)) > limit {
				h.tooLarge(rw)
				return false
			}
			if !h.limiter.tryAcquire(readChunk) {
				w.body = body
				h.tooMany(rw)
				return false
			}
			w.held += readChunk
			grown := make([]byte, len(body), cap(body)+readChunk)
			copy(grown, body)
			body = grown
		}
		n, err := r.Body.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			w.body = body
			h.fail(rw, http.StatusBadRequest, codeInvalidRequest, "reading the body: "+err.Error())
			return false
		}
	}
	w.body = body
	if int64(len(body)) > limit {
		h.tooLarge(rw)
		return false
	}
	return true
}

// checkTopic answers whether topic exists, creating it when allowed.
func (h *Handler) checkTopic(ctx context.Context, topic string) (status int, code, msg string) {
	if at, ok := h.checked.Load(topic); ok && time.Since(at.(time.Time)) < topicRecheck {
		return 0, "", ""
	}
	info, err := h.tr.Topic(ctx, topic)
	if errors.Is(err, transport.ErrTopicNotFound) && h.cfg.AutoCreateTopics {
		err = h.tr.CreateTopic(ctx, transport.TopicSpec{Name: topic, Partitions: h.cfg.DefaultPartitions})
		if errors.Is(err, transport.ErrTopicExists) {
			err = nil
		}
		if err == nil {
			h.logger.Info("ingest: topic created", "topic", topic)
		}
	}
	switch {
	case errors.Is(err, transport.ErrTopicNotFound):
		return http.StatusNotFound, codeUnknownTopic, fmt.Sprintf("topic %q does not exist (create it, or turn auto_create_topics on)", topic)
	case err != nil:
		return http.StatusServiceUnavailable, codeUnavailable, "looking up the topic: " + err.Error()
	}
	limit := defaultMaxMessageBytes
	if v, err := strconv.Atoi(info.Configs["max.message.bytes"]); err == nil && v > 0 {
		limit = v
	}
	if mode := stricterValidation(info.Configs["schema.validation"], h.cfg.SchemaValidation[topic]); mode != "" {
		h.modes.Store(topic, mode)
	} else {
		h.modes.Delete(topic)
	}
	h.known.Store(topic, limit)
	h.checked.Store(topic, time.Now())
	return 0, "", ""
}

// stricterValidation returns the stricter of two schema.validation
// modes, "" for none.
func stricterValidation(a, b string) string {
	switch {
	case a == "strict" || b == "strict":
		return "strict"
	case a == "framed" || b == "framed":
		return "framed"
	}
	return ""
}

// SchemaEncoder turns an ingested JSON document into the framed value of
// the latest schema of the topic's value subject; an error names the
// failing path.
type SchemaEncoder interface {
	// FramedJSON returns the encoder of topic's values for one request:
	// the schema version is resolved once, not per element.
	FramedJSON(topic string) (func(dst, doc []byte) ([]byte, error), error)
}

// encodeValues encodes every element's value for a topic with schema
// validation into w.framed; it reports the first element refused.
func (h *Handler) encodeValues(topic string, w *work) (int, error) {
	encode, err := h.cfg.Schemas.FramedJSON(topic)
	if err != nil {
		return 0, err // as every element's error would be
	}
	w.framed = grow(w.framed, len(w.els))[:0]
	// Room for every value at once (a frame adds 5 bytes; Avro is smaller
	// than its JSON): the values are slices of enc.
	w.enc = slices.Grow(w.enc[:0], len(w.body)+8*len(w.els))
	for i := range w.els {
		start := len(w.enc)
		if w.enc, err = encode(w.enc, w.els[i].value); err != nil {
			return i, err
		}
		w.framed = append(w.framed, w.enc[start:len(w.enc):len(w.enc)])
	}
	return -1, nil
}

// topicRecheck is how long a topic's configs (max.message.bytes,
// schema.validation) are taken as read.
const topicRecheck = 10 * time.Second

// defaultMaxMessageBytes is max.message.bytes when a topic does not
// override it: Kafka's default, and the embedded log's.
const defaultMaxMessageBytes = 1048588

// recordOverhead bounds what a record adds to its key, value and headers
// in a batch (lengths, offsets, timestamps) and a batch to its records.
const recordOverhead = 128

// oversized returns the index of the first element that cannot fit the
// topic's max.message.bytes, or -1: such a record can never be written,
// so the request is refused (413) before anything is.
func (h *Handler) oversized(topic string, els []element) (int, int) {
	v, _ := h.known.Load(topic)
	limit, _ := v.(int)
	if limit <= 0 {
		return -1, 0
	}
	for i := range els {
		n := len(els[i].key) + len(els[i].value) + recordOverhead
		for _, hd := range els[i].headers {
			n += len(hd.Key) + len(hd.Value)
		}
		if n > limit {
			return i, limit
		}
	}
	return -1, limit
}

// buildRecords makes the records to write: every element, except those
// an earlier partial attempt wrote (reqEntry.req.written) and those whose
// event id was ingested before or repeats within the request.
func (h *Handler) buildRecords(topic string, w *work, reqEntry *entry) {
	w.recs = grow(w.recs, len(w.els))[:0]
	w.index = w.index[:0]
	for i := range w.els {
		if reqEntry != nil && reqEntry.req.written != nil && reqEntry.req.written[i].offset >= 0 {
			continue
		}
		if len(w.claims) > 0 && w.claims[i].entry == nil {
			continue
		}
		el := &w.els[i]
		value := el.value
		if len(w.framed) > 0 {
			value = w.framed[i]
		}
		headers := el.headers
		if w.traceparent != nil {
			headers = w.withTraceparent(headers)
		}
		w.recs = append(w.recs, transport.Record{Topic: topic, Partition: -1, Offset: -1, Key: el.key, Value: value, Headers: headers})
		w.index = append(w.index, i)
	}
	w.ptrs = w.ptrs[:0]
	for j := range w.recs {
		w.ptrs = append(w.ptrs, &w.recs[j])
	}
}

// write produces w's records and settles the idempotency entries with
// what was written. It runs on its own goroutine.
func (h *Handler) write(w *work, reqEntry *entry) {
	defer h.writes.Done()
	defer h.unref(w)
	ctx := context.Background()
	if len(w.ptrs) > 0 {
		w.err = h.tr.Produce(ctx, w.ptrs)
	}
	if len(w.owned) > 0 {
		if reqEntry != nil {
			if reqEntry.req.written == nil {
				reqEntry.req.written = make([]position, len(w.els))
				for i := range reqEntry.req.written {
					reqEntry.req.written[i].offset = -1
				}
			}
			for j, i := range w.index {
				if r := &w.recs[j]; r.Offset >= 0 {
					reqEntry.req.written[i] = position{partition: r.Partition, offset: r.Offset}
				}
			}
		}
		for j, i := range w.index {
			if len(w.claims) == 0 {
				break
			}
			c := &w.claims[i]
			if c.entry == nil {
				continue
			}
			r := &w.recs[j]
			c.entry.pos = position{partition: r.Partition, offset: r.Offset}
			c.entry.complete = r.Offset >= 0
		}
		if reqEntry != nil {
			// Complete once every element has a position: written now,
			// before, or (event ids) found or repeated.
			reqEntry.complete = true
			for i, p := range reqEntry.req.written {
				if p.offset < 0 && (len(w.claims) == 0 || w.claims[i].entry != nil) {
					reqEntry.complete = false
				}
			}
			if reqEntry.complete && len(w.claims) > 0 {
				h.resolveClaims(w, reqEntry.req)
			}
		}
		h.idem.settle(ctx, w.owned)
	}
	close(w.done)
}

// resolveClaims fills in req the positions of elements that were not
// written because their event id was found or repeated, and marks them
// duplicates, as the first answer does: a replay answers the same.
func (h *Handler) resolveClaims(w *work, req *requestEntry) {
	for i := range w.claims {
		c := &w.claims[i]
		switch {
		case c.found:
			req.written[i] = c.pos
		case c.dupOf >= 0:
			req.written[i] = w.claims[c.dupOf].entry.pos
		default:
			continue
		}
		if req.dups == nil {
			req.dups = make([]bool, len(req.written))
		}
		req.dups[i] = true
	}
}

// answer writes 200 {"offsets":[...]}: written, when given, holds every
// element's position (a replay, dups marking the duplicates among them);
// otherwise positions come from w's records and event-id claims.
func (h *Handler) answer(rw http.ResponseWriter, written []position, dups []bool, w *work) {
	var b []byte
	if w != nil {
		b = w.out[:0]
	}
	b = append(b, `{"offsets":[`...)
	appendPos := func(i int, p position, dup bool) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"partition":`...)
		b = strconv.AppendInt(b, int64(p.partition), 10)
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, p.offset, 10)
		if dup {
			b = append(b, `,"duplicate":true`...)
		}
		b = append(b, '}')
	}
	switch {
	case w == nil || (written != nil && len(w.claims) == 0):
		for i, p := range written {
			appendPos(i, p, i < len(dups) && dups[i])
		}
	default:
		j := 0
		for i := range w.els {
			var p position
			dup := false
			switch {
			case len(w.claims) > 0 && w.claims[i].found:
				p, dup = w.claims[i].pos, true
			case len(w.claims) > 0 && w.claims[i].dupOf >= 0:
				p, dup = w.claims[w.claims[i].dupOf].entry.pos, true
			case written != nil && (j >= len(w.index) || w.index[j] != i):
				p = written[i]
			default:
				r := &w.recs[j]
				p = position{partition: r.Partition, offset: r.Offset}
				j++
			}
			appendPos(i, p, dup)
		}
	}
	b = append(b, "]}\n"...)
	if w != nil {
		w.out = b
	}
	hdr := rw.Header()
	hdr["Content-Type"] = jsonContentType
	hdr["Content-Length"] = []string{strconv.Itoa(len(b))}
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(b)
}
