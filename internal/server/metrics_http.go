package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpBuckets span a health check (500 µs) to an SQL statement or an
// ingestion waiting on a slow disk (30 s).
var httpBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// httpOtherRoute labels requests no route matched (404s, 405s).
const httpOtherRoute = "other"

// httpMetrics counts every HTTP request by route and status code, times
// it by route, and tracks those in flight. The route is the ServeMux
// pattern that matched ("POST /v1/topics/{topic}/records"), never the
// path, so the labels stay bounded whatever clients send.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func (s *Server) newHTTPMetrics() *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tide_http_requests_total",
			Help: `HTTP requests answered, by route (the matched pattern, "other" when none matched) and status code.`,
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tide_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route, until the handler returns.",
			Buckets: httpBuckets,
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tide_http_requests_in_flight",
			Help: "HTTP requests being answered.",
		}),
	}
	s.metrics.MustRegister(m.requests, m.latency, m.inFlight)
	return m
}

// instrument wraps mux. The mux sets r.Pattern on the request it is
// given when it picks a handler, so the pattern is read after it returns.
func (m *httpMetrics) instrument(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			// A panic is counted (as a 500 if nothing was sent) and goes
			// on to net/http, which logs it and drops the connection.
			p := recover()
			m.inFlight.Dec()
			route := r.Pattern
			if route == "" {
				route = httpOtherRoute
			}
			code := sw.status
			switch {
			case code == 0 && p != nil:
				code = http.StatusInternalServerError
			case code == 0:
				// Nothing written: net/http answers 200 with an empty body.
				code = http.StatusOK
			}
			m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
			if p != nil {
				panic(p)
			}
		}()
		mux.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status code a handler sends. Unwrap lets
// http.ResponseController reach the connection's own writer (flushes,
// deadlines); Flush is forwarded for handlers that assert http.Flusher.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
