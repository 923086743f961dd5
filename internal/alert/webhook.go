package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// WebhookOptions tune webhook deliveries.
type WebhookOptions struct {
	// Attempts per notification (first try included); 0 means 4.
	Attempts int
	// Backoff before the second attempt, doubled before each later one;
	// 0 means 500 ms (so 0.5 s, 1 s, 2 s: about 4 s of retries). A 429
	// or 503 with Retry-After waits what it asks if that is longer, up
	// to 30 s.
	Backoff time.Duration
	// Timeout of one attempt; 0 means 5 s.
	Timeout time.Duration
	// Queue is how many notifications wait for the sender at most; past
	// it the oldest waiting one is dropped. 0 means 64.
	Queue int
	// Client sends the requests; nil means a client of its own.
	Client *http.Client
}

func (o *WebhookOptions) defaults() {
	if o.Attempts <= 0 {
		o.Attempts = 4
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Queue <= 0 {
		o.Queue = 64
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
}

// webhook delivers alerts in order from one goroutine. The checker only
// enqueues, so a slow or dead receiver never holds a check up.
type webhook struct {
	url    string
	opts   WebhookOptions
	logger *slog.Logger
	queue  chan Alert

	ctx     context.Context // canceled by close when its deadline passes
	cancel  context.CancelFunc
	done    chan struct{}
	started bool // by start, before close
}

func newWebhook(url string, opts WebhookOptions, logger *slog.Logger) *webhook {
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &webhook{url: url, opts: opts, logger: logger, queue: make(chan Alert, opts.Queue), ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

func (w *webhook) start() {
	w.started = true
	go func() {
		defer close(w.done)
		for a := range w.queue {
			w.deliver(a)
		}
	}()
}

// close stops taking notifications and waits until the queued ones are
// delivered or ctx ends (then the one in flight is abandoned, the rest
// dropped).
func (w *webhook) close(ctx context.Context) error {
	close(w.queue)
	defer w.cancel()
	if !w.started {
		// No sender to wait for (the checker never started): what a
		// direct Check queued is dropped.
		if n := len(w.queue); n > 0 {
			w.logger.Warn("lag alert webhook: closed before it started; notifications dropped", "count", n)
		}
		return nil
	}
	stop := context.AfterFunc(ctx, w.cancel)
	defer stop()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		<-w.done
		return fmt.Errorf("alert: webhook deliveries abandoned at shutdown: %w", ctx.Err())
	}
}

// enqueue queues a for delivery; when the queue is full it drops the
// oldest waiting notification, since the newest state matters most.
func (w *webhook) enqueue(a Alert) {
	for {
		select {
		case w.queue <- a:
			return
		default:
		}
		select {
		case old := <-w.queue:
			w.logger.Warn("lag alert webhook: queue full, dropping a notification", "pipeline", old.Pipeline, "status", old.Status, "id", old.ID)
		default:
		}
	}
}

// deliver posts a, retrying with backoff; failures are logged.
func (w *webhook) deliver(a Alert) {
	body, err := json.Marshal(a)
	if err != nil {
		w.logger.Error("lag alert webhook: encoding the alert", "pipeline", a.Pipeline, "err", err)
		return
	}
	backoff := w.opts.Backoff
	for attempt := 1; ; attempt++ {
		err := w.post(body, a.ID+"-"+a.Status)
		if err == nil {
			return
		}
		retryable := !isPermanent(err)
		if attempt >= w.opts.Attempts || !retryable || w.ctx.Err() != nil {
			w.logger.Error("lag alert webhook: delivery failed", "pipeline", a.Pipeline, "status", a.Status, "id", a.ID,
				"attempts", attempt, "url", w.url, "err", err)
			return
		}
		wait := backoff
		if se, ok := errors.AsType[*statusError](err); ok {
			wait = max(wait, se.retryAfter)
		}
		w.logger.Warn("lag alert webhook: delivery failed, retrying", "pipeline", a.Pipeline, "status", a.Status,
			"attempt", attempt, "retry_in", wait, "err", err)
		select {
		case <-w.ctx.Done():
		case <-time.After(wait):
		}
		backoff *= 2
	}
}

// statusError is a receiver's non-2xx answer; retryAfter is the wait its
// Retry-After asked for (429 and 503 only), 0 without one.
type statusError struct {
	code       int
	retryAfter time.Duration
}

func (e *statusError) Error() string {
	return fmt.Sprintf("receiver answered %d %s", e.code, http.StatusText(e.code))
}

// isPermanent reports an answer that a retry cannot change: a 4xx other
// than 408 (timeout) and 429 (too many requests).
func isPermanent(err error) bool {
	se, ok := errors.AsType[*statusError](err)
	return ok && se.code >= 400 && se.code < 500 && se.code != http.StatusRequestTimeout && se.code != http.StatusTooManyRequests
}

func (w *webhook) post(body []byte, id string) error {
	ctx, cancel := context.WithTimeout(w.ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tide-alert")
	req.Header.Set("Idempotency-Key", id)
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &statusError{code: resp.StatusCode}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			se.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return se
	}
	return nil
}

// maxRetryAfter caps how long a receiver's Retry-After holds the queue:
// deliveries leave in order, so one long wait delays every later alert.
const maxRetryAfter = 30 * time.Second

// parseRetryAfter reads a Retry-After header, delay-seconds or an HTTP
// date, as a wait from now: 0 when absent, unreadable or past, at most
// maxRetryAfter.
func parseRetryAfter(header string, now time.Time) time.Duration {
	if header == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(header, 10, 64); err == nil {
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second)+1)) * time.Second
	} else if at, err := http.ParseTime(header); err == nil {
		d = at.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
