package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tide-data/tide/internal/tracing"
)

// openTracing starts exporting spans when otlp_endpoint is set. Without
// it s.tracer stays nil: nothing is traced, and traceparent headers pass
// through ingestion and pipelines unchanged.
func (s *Server) openTracing() error {
	if s.cfg.OTLPEndpoint == "" {
		return nil
	}
	t, err := tracing.New(tracing.Options{
		Endpoint:    s.cfg.OTLPEndpoint,
		SampleRatio: s.cfg.TraceSampleRatio,
		ServiceName: s.cfg.TraceServiceName,
		InstanceID:  s.workerID(),
		Logger:      s.logger,
	})
	if err != nil {
		return err
	}
	s.tracer = t
	s.metrics.MustRegister(tracingCollector{t})
	s.logger.Info("tracing on", "otlp_endpoint", s.cfg.OTLPEndpoint, "sample_ratio", s.cfg.TraceSampleRatio)
	return nil
}

// tracingFlushTimeout bounds the last export at shutdown: a collector
// that does not answer must not hold the node's exit.
const tracingFlushTimeout = 5 * time.Second

// closeTracing exports the spans still queued (the pipelines have
// stopped: their last spans have ended) and stops the exporter.
func (s *Server) closeTracing() error {
	if s.tracer == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(s.cfg.ShutdownTimeout, tracingFlushTimeout))
	defer cancel()
	err := s.tracer.Shutdown(ctx)
	s.metrics.Unregister(tracingCollector{s.tracer})
	s.tracer = nil
	return err
}

var (
	spansExportedDesc = prometheus.NewDesc("tide_tracing_spans_exported_total",
		"Spans exported to the OTLP endpoint.", nil, nil)
	spansDroppedDesc = prometheus.NewDesc("tide_tracing_spans_dropped_total",
		"Spans not exported: the export queue was full (queue_full) or the endpoint failed after retries (export_failed).",
		[]string{"reason"}, nil)
)

// tracingCollector exports the tracer's span counts.
type tracingCollector struct{ t *tracing.Tracer }

func (c tracingCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- spansExportedDesc
	ch <- spansDroppedDesc
}

func (c tracingCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.t.Stats()
	ch <- prometheus.MustNewConstMetric(spansExportedDesc, prometheus.CounterValue, float64(st.Exported))
	ch <- prometheus.MustNewConstMetric(spansDroppedDesc, prometheus.CounterValue, float64(st.Dropped), "queue_full")
	ch <- prometheus.MustNewConstMetric(spansDroppedDesc, prometheus.CounterValue, float64(st.Failed), "export_failed")
}
