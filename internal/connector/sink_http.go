package connector

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The http sink (webhook) POSTs outputs to a URL.
//
// Delivery. Without 'batch' each output is one POST whose body is the
// output's value; with 'batch' = 'true' the outputs of one Write (up to
// 'batch.max' per request) are one POST whose body is NDJSON, one value
// per line ('batch.format' = 'array': a JSON array of the values, which
// must then be JSON). Requests of one Write are sent one after the other,
// in order, so a receiver sees each input partition's outputs in order;
// Writes of different partitions run concurrently, over at most
// 'max.conns' connections, which are reused.
//
// Headers. Content-Type ('content.type'; NDJSON batches are
// application/x-ndjson), every 'headers.<name>' option, and:
//
//	traceparent         the input record's W3C trace context, if it had one
//	                    (a batch carries the first record's)
//	X-Tide-Key          the record key, if it is UTF-8 without control
//	                    characters; else X-Tide-Key-Base64, standard base64
//	                    (one event per request only)
//	Idempotency-Key     <topic>/<partition>/<offset> of the input record: the
//	                    same on every retry and on a redelivery after a crash,
//	                    so a receiver can drop repeats (one event per request only)
//	X-Tide-Signature    with 'hmac.secret': sha256=<hex HMAC-SHA256 of the
//	                    body>, as GitHub signs webhooks ('hmac.header' renames it)
//
// Retries. A 2xx answer is success. A connection error, a timeout
// ('timeout' per attempt), 408, 429 and 5xx are retried, up to
// 'max.attempts' attempts in all, after a delay drawn uniformly from
// [0, min('backoff.max', 'backoff.initial' * 2^retry)) ("full jitter");
// a 429 or 503 with Retry-After (seconds or an HTTP date) waits as long
// as it asks instead, up to 'retry-after.max'. Any other answer (4xx, an
// unfollowed 3xx) is permanent. A request that fails for good rejects its
// outputs (a *RejectedError with Code "http_<status>", "http_timeout" or
// "http_connection" and the attempt count), and the runtime dead-letters
// them; the other outputs of the Write are delivered. When ctx ends (the
// pipeline stops) between or during attempts, Write returns ctx's error
// and nothing of the batch counts as written: it is delivered again after
// a restart (at-least-once; Idempotency-Key lets receivers tell).
type httpSink struct {
	url         string
	batch       bool
	array       bool // batch body as a JSON array rather than NDJSON
	batchMax    int
	contentType string
	headers     http.Header // 'headers.<name>' options
	secret      []byte
	sigHeader   string
	maxAttempts int
	timeout     time.Duration
	backoffMin  time.Duration
	backoffMax  time.Duration
	retryMax    time.Duration

	client *http.Client
	// sleep waits d or until ctx ends (false); tests replace it to record
	// the delays.
	sleep func(ctx context.Context, d time.Duration) bool
}

var _ Sink = (*httpSink)(nil)

// Header names the http sink sets.
const (
	HTTPHeaderKey         = "X-Tide-Key"
	HTTPHeaderKeyBase64   = "X-Tide-Key-Base64"
	HTTPHeaderIdempotency = "Idempotency-Key"
	HTTPHeaderTraceparent = "traceparent"
)

// NewHTTP returns an http (webhook) sink. Options:
//
//	url               required, http:// or https://
//	batch             'false' (default): one POST per output; 'true': one per Write
//	batch.format      'ndjson' (default) or 'array' (a JSON array of the values)
//	batch.max         outputs per batched request (500)
//	content.type      of a single event's body ('application/json')
//	hmac.secret       sign bodies with HMAC-SHA256
//	hmac.secret.env   or: the environment variable holding the secret
//	                  (which then shows neither in the catalog nor in SHOW SINKS)
//	hmac.header       the signature's header ('X-Tide-Signature')
//	max.attempts      attempts per request before dead-lettering (8)
//	timeout           per attempt ('10s')
//	backoff.initial   first retry delay bound ('200ms')
//	backoff.max       largest retry delay bound ('30s')
//	retry-after.max   longest Retry-After honoured ('5m')
//	max.conns         connections to the host (16)
//	headers.<name>    an extra request header
//
// It connects to nothing until the first Write.
func NewHTTP(opts map[string]string, _ Env) (Sink, error) {
	o := newOptions("http", opts, "url", "batch", "batch.format", "batch.max", "content.type", "hmac.secret", "hmac.secret.env",
		"hmac.header", "max.attempts", "timeout", "backoff.initial", "backoff.max", "retry-after.max", "max.conns", "headers.<name>")
	s := &httpSink{
		url:         o.required("url"),
		batch:       o.bool("batch", false),
		array:       o.oneOf("batch.format", "ndjson", "ndjson", "array") == "array",
		batchMax:    int(o.int("batch.max", 500, 1, 1<<20)),
		contentType: o.str("content.type", "application/json"),
		secret:      []byte(o.str("hmac.secret", "")),
		sigHeader:   o.str("hmac.header", "X-Tide-Signature"),
		maxAttempts: int(o.int("max.attempts", 8, 1, 1000)),
		timeout:     o.duration("timeout", 10*time.Second),
		backoffMin:  o.duration("backoff.initial", 200*time.Millisecond),
		backoffMax:  o.duration("backoff.max", 30*time.Second),
		retryMax:    o.duration("retry-after.max", 5*time.Minute),
		headers:     http.Header{},
		sleep:       sleepCtx,
	}
	if name := o.str("hmac.secret.env", ""); name != "" {
		// The secret from the server's environment, so that it appears
		// neither in the catalog nor in SHOW SINKS.
		v, ok := os.LookupEnv(name)
		switch {
		case len(s.secret) > 0:
			o.fail("give 'hmac.secret' or 'hmac.secret.env', not both")
		case !ok || v == "":
			o.fail("option 'hmac.secret.env': environment variable %s is not set", name)
		}
		s.secret = []byte(v)
	}
	maxConns := int(o.int("max.conns", 16, 1, 1024))
	for _, k := range o.keysWithPrefix("headers.") {
		name := strings.TrimPrefix(k, "headers.")
		v := o.str(k, "")
		if name == "" || !validHeader(name, v) {
			o.fail("option '%s': not a valid HTTP header", k)
		}
		s.headers.Add(name, v)
	}
	if s.url != "" {
		u, err := url.Parse(s.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			o.fail("option 'url' must be an http:// or https:// URL, not '%s'", s.url)
		}
	}
	if !validHeader(s.sigHeader, "") || s.sigHeader == "" {
		o.fail("option 'hmac.header': '%s' is not a valid header name", s.sigHeader)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxConnsPerHost = maxConns
	tr.MaxIdleConnsPerHost = maxConns
	tr.IdleConnTimeout = 90 * time.Second
	s.client = &http.Client{Transport: tr,
		// A redirect is an answer, not followed: a 301, 302 or 303 would
		// be followed by a GET without the body, whose 2xx would count
		// the event as delivered. It is permanent, as any 3xx.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s, nil
}

// validHeader reports whether name and value can be sent as a header.
func validHeader(name, value string) bool {
	for _, r := range name {
		if r > unicode.MaxASCII || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return !strings.ContainsFunc(value, func(r rune) bool { return r != '\t' && unicode.IsControl(r) })
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Write delivers outputs; see httpSink. It returns nil when all were
// delivered, a *RejectedError naming those that were not, or ctx's error.
func (s *httpSink) Write(ctx context.Context, outputs []Output) error {
	var rejected []Rejection
	reject := func(from, to int, f *deliveryFailure) {
		for i := from; i < to; i++ {
			rejected = append(rejected, Rejection{Index: i, Err: f.err, Code: f.code, Attempts: f.attempts})
		}
	}
	step := 1
	if s.batch {
		step = s.batchMax
	}
	var seqs []int32
	if !s.batch {
		seqs = outputSeqs(outputs)
	}
	for from := 0; from < len(outputs); from += step {
		to := min(from+step, len(outputs))
		var seq int32
		if seqs != nil {
			seq = seqs[from]
		}
		body, hdr := s.request(outputs[from:to], seq)
		f, err := s.deliver(ctx, body, hdr)
		if err != nil {
			return err
		}
		if f != nil {
			reject(from, to, f)
		}
	}
	if len(rejected) > 0 {
		return &RejectedError{Rejected: rejected}
	}
	return nil
}

// request builds the body and headers of a request carrying outs; seq
// numbers a single output among its input's. The body is new each time:
// net/http may still read a request's body after Do returned (it closes
// it asynchronously), so a reused buffer could race with that read.
func (s *httpSink) request(outs []Output, seq int32) ([]byte, http.Header) {
	var buf []byte
	hdr := s.headers.Clone()
	first := &outs[0]
	switch {
	case !s.batch:
		buf = append(buf, first.Value...)
		hdr.Set("Content-Type", s.contentType)
		if first.Key != nil {
			// HTTP trims a header value's leading and trailing blanks: such
			// a key goes in base64.
			if k := string(first.Key); utf8.Valid(first.Key) && validHeader("k", k) && strings.Trim(k, " \t") == k {
				hdr.Set(HTTPHeaderKey, string(first.Key))
			} else {
				hdr.Set(HTTPHeaderKeyBase64, base64.StdEncoding.EncodeToString(first.Key))
			}
		}
		if o := first.Origin; o.Topic != "" {
			// The outputs of one input (a window's rows, fired by one
			// checkpoint) share its origin: the n-th of them is named so.
			id := o.Stream() + "/" + strconv.Itoa(int(o.Partition)) + "/" + strconv.FormatInt(o.Offset, 10)
			if seq > 0 {
				id += "/" + strconv.Itoa(int(seq))
			}
			hdr.Set(HTTPHeaderIdempotency, id)
		}
	case s.array:
		buf = append(buf, '[')
		for i := range outs {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, outs[i].Value...)
		}
		buf = append(buf, ']')
		hdr.Set("Content-Type", "application/json")
	default:
		for i := range outs {
			buf = append(buf, outs[i].Value...)
			buf = append(buf, '\n')
		}
		hdr.Set("Content-Type", "application/x-ndjson")
	}
	for _, h := range first.Headers {
		if strings.EqualFold(h.Key, HTTPHeaderTraceparent) && validHeader("k", string(h.Value)) {
			hdr.Set(HTTPHeaderTraceparent, string(h.Value))
			break
		}
	}
	if len(s.secret) > 0 {
		mac := hmac.New(sha256.New, s.secret)
		mac.Write(buf)
		hdr.Set(s.sigHeader, "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	return buf, hdr
}

// deliveryFailure is a request the sink gave up on.
type deliveryFailure struct {
	err      error
	code     string
	attempts int
}

// attemptError is the outcome of one failed attempt.
type attemptError struct {
	err        error
	code       string
	retryable  bool
	retryAfter time.Duration // from Retry-After; -1 if none
}

// deliver POSTs body until it is accepted, fails for good (a
// *deliveryFailure) or ctx ends (ctx's error).
func (s *httpSink) deliver(ctx context.Context, body []byte, hdr http.Header) (*deliveryFailure, error) {
	for attempt := 1; ; attempt++ {
		ae := s.attempt(ctx, body, hdr)
		if ae == nil {
			return nil, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !ae.retryable || attempt >= s.maxAttempts {
			return &deliveryFailure{err: ae.err, code: ae.code, attempts: attempt}, nil
		}
		delay := ae.retryAfter
		if delay < 0 {
			// Full jitter: uniform in [0, min(max, initial*2^(attempt-1))).
			// Double without overflowing: stop once the ceiling is reached.
			ceiling := s.backoffMin
			for i := 1; i < attempt && ceiling < s.backoffMax; i++ {
				ceiling *= 2
			}
			ceiling = min(ceiling, s.backoffMax)
			delay = 0
			if ceiling > 0 {
				delay = rand.N(ceiling)
			}
		}
		if !s.sleep(ctx, min(delay, s.retryMax)) {
			return nil, ctx.Err()
		}
	}
}

// attempt sends body once; nil means the receiver accepted it.
func (s *httpSink) attempt(ctx context.Context, body []byte, hdr http.Header) *attemptError {
	actx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return &attemptError{err: fmt.Errorf("connector http: %w", err), code: "http_request", retryAfter: -1}
	}
	req.Header = hdr
	resp, err := s.client.Do(req)
	if err != nil {
		ae := &attemptError{retryable: true, retryAfter: -1, code: "http_connection"}
		var nerr net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &nerr) && nerr.Timeout()) {
			ae.code = "http_timeout"
			err = fmt.Errorf("no answer within %s: %w", s.timeout, err)
		}
		ae.err = fmt.Errorf("connector http: POST %s: %w", s.safeURL(), err)
		return ae
	}
	defer func() {
		// Drain a little, so the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		_ = resp.Body.Close()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg := strings.TrimSpace(string(bytes.ToValidUTF8(snippet, []byte("?"))))
	ae := &attemptError{
		code:       "http_" + strconv.Itoa(resp.StatusCode),
		retryAfter: -1,
		err:        fmt.Errorf("connector http: POST %s: %s", s.safeURL(), resp.Status),
	}
	if msg != "" {
		ae.err = fmt.Errorf("%w: %s", ae.err, msg)
	}
	switch sc := resp.StatusCode; {
	case sc == http.StatusTooManyRequests || sc == http.StatusServiceUnavailable:
		ae.retryable = true
		ae.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	case sc == http.StatusRequestTimeout || sc >= 500:
		ae.retryable = true
	}
	return ae
}

// safeURL is the URL without its query and credentials, for messages
// that end up in dead-letter headers.
func (s *httpSink) safeURL() string {
	u, err := url.Parse(s.url)
	if err != nil {
		return "(url)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP
// date; -1 if it is absent or malformed.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return -1
		}
		return time.Duration(min(n, int64(1<<31))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// Close drops idle connections.
func (s *httpSink) Close(context.Context) error {
	s.client.CloseIdleConnections()
	return nil
}
