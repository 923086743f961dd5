package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tide-data/tide/internal/kafka"
)

// kafkaRequestBuckets span a Metadata answered from memory (100 µs) to a
// JoinGroup waiting out a rebalance (30 s); Fetch long polls sit between.
var kafkaRequestBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// kafkaMetrics is the Kafka listener's kafka.Observer: requests, their
// latency and the errors in their responses by API, and connections. The
// api label takes Kafka's request names (about 30 served) and the error
// label Kafka's error names, so both stay bounded.
type kafkaMetrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	accepted prometheus.Counter
}

var _ kafka.Observer = (*kafkaMetrics)(nil)

// newKafkaMetrics registers the listener's metrics; conns reports the open
// connections at scrape time.
func (s *Server) newKafkaMetrics(conns func() int) *kafkaMetrics {
	m := &kafkaMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tide_kafka_requests_total",
			Help: "Kafka requests served, by API.",
		}, []string{"api"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tide_kafka_request_errors_total",
			Help: "Error codes in Kafka responses, by API and Kafka error name: one per partition, topic, group or resource that failed.",
		}, []string{"api", "error"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tide_kafka_request_duration_seconds",
			Help:    "Time from reading a Kafka request to its response being ready, by API (Fetch includes its long poll).",
			Buckets: kafkaRequestBuckets,
		}, []string{"api"}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tide_kafka_connections_total",
			Help: "Connections the Kafka listener accepted.",
		}),
	}
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tide_kafka_connections",
		Help: "Open connections to the Kafka listener.",
	}, func() float64 { return float64(conns()) })
	s.metrics.MustRegister(m.requests, m.errors, m.latency, m.accepted, open)
	return m
}

func (m *kafkaMetrics) ConnectionAccepted() { m.accepted.Inc() }

func (m *kafkaMetrics) RequestServed(api string, elapsed time.Duration) {
	m.requests.WithLabelValues(api).Inc()
	m.latency.WithLabelValues(api).Observe(elapsed.Seconds())
}

func (m *kafkaMetrics) ResponseError(api, code string) { m.errors.WithLabelValues(api, code).Inc() }
