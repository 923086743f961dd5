package ingest

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Ingestion metrics: per topic, the requests answered 200 and the records
// they wrote; per API error code, the requests refused. A request costs a
// sync.Map load and two atomic adds; the collector reads them at scrape
// time. Topics are counted only once a request to them succeeded (they
// exist), so a client posting to made-up names cannot grow the series;
// refusals carry only the code, from the fixed catalogue below.

// rejectCodes are the API error codes, in the order their counters are
// kept.
var rejectCodes = []string{codeMalformed, codeInvalidEnvelope, codeMissingKeyField, codeMissingEventID, codeInvalidRequest,
	codeInvalidTopic, codeUnknownTopic, codeInvalidSig, codeTooLarge, codeRecordTooLarge, codeUnsupportedType,
	codeTooMany, codeUnavailable, codeKeyReused, codeSchema}

var rejectIndex = func() map[string]int {
	m := make(map[string]int, len(rejectCodes))
	for i, c := range rejectCodes {
		m[c] = i
	}
	return m
}()

// topicCounters are one topic's successful requests and records.
type topicCounters struct {
	requests, records atomic.Int64
}

type ingestMetrics struct {
	topics   sync.Map // topic -> *topicCounters
	rejected []atomic.Int64
}

func newIngestMetrics() *ingestMetrics {
	return &ingestMetrics{rejected: make([]atomic.Int64, len(rejectCodes))}
}

// ingested counts a request answered 200 that wrote records records.
func (m *ingestMetrics) ingested(topic string, records int) {
	c, ok := m.topics.Load(topic)
	if !ok {
		c, _ = m.topics.LoadOrStore(topic, &topicCounters{})
	}
	tc := c.(*topicCounters)
	tc.requests.Add(1)
	tc.records.Add(int64(records))
}

// reject counts a request refused with code.
func (m *ingestMetrics) reject(code string) {
	if i, ok := rejectIndex[code]; ok {
		m.rejected[i].Add(1)
	}
}

var (
	ingestRequestsDesc = prometheus.NewDesc("tide_ingest_requests_total",
		"HTTP ingestion requests answered 200 (written, or replayed for an Idempotency-Key), by topic.", []string{"topic"}, nil)
	ingestRecordsDesc = prometheus.NewDesc("tide_ingest_records_total",
		"Records written by HTTP ingestion, by topic.", []string{"topic"}, nil)
	ingestRejectedDesc = prometheus.NewDesc("tide_ingest_rejected_requests_total",
		"HTTP ingestion requests refused, by API error code (docs/INGEST.md).", []string{"code"}, nil)
	ingestInFlightDesc = prometheus.NewDesc("tide_ingest_inflight_bytes",
		"Memory HTTP ingestion requests hold from reading until durable, against ingest_max_inflight_bytes.", nil, nil)
	ingestEvictionsDesc = prometheus.NewDesc("tide_ingest_idempotency_evictions_total",
		"Idempotency-Keys and event ids forgotten before their window passed, because idempotency_max_keys were held.", nil, nil)
)

// collector exports a Handler's metrics.
type collector struct{ h *Handler }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- ingestRequestsDesc
	ch <- ingestRecordsDesc
	ch <- ingestRejectedDesc
	ch <- ingestInFlightDesc
	ch <- ingestEvictionsDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.h.metrics
	m.topics.Range(func(k, v any) bool {
		topic, tc := k.(string), v.(*topicCounters)
		ch <- prometheus.MustNewConstMetric(ingestRequestsDesc, prometheus.CounterValue, float64(tc.requests.Load()), topic)
		ch <- prometheus.MustNewConstMetric(ingestRecordsDesc, prometheus.CounterValue, float64(tc.records.Load()), topic)
		return true
	})
	for i, code := range rejectCodes {
		ch <- prometheus.MustNewConstMetric(ingestRejectedDesc, prometheus.CounterValue, float64(m.rejected[i].Load()), code)
	}
	ch <- prometheus.MustNewConstMetric(ingestInFlightDesc, prometheus.GaugeValue, float64(c.h.InFlightBytes()))
	ch <- prometheus.MustNewConstMetric(ingestEvictionsDesc, prometheus.CounterValue, float64(c.h.IdempotencyEvictions()))
}
