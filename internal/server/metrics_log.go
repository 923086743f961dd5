package server

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tide-data/tide/internal/log"
)

// The log's metrics (embedded backend only). Offsets, sizes and append
// counters are read from the partitions at scrape time (log.Partition.Stats,
// one mutex acquisition per partition), so the append path pays nothing
// for them; the fsync histogram is fed by log.WithFsyncObserver, one
// Observe per fsync (which costs far more than the Observe).

// fsyncBuckets go from 50 µs (a write cache that acknowledges at once) to
// 1 s (a disk in trouble).
var fsyncBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// fsyncObserver registers the fsync latency histogram and returns the log
// option that feeds it.
func (s *Server) fsyncObserver() log.Option {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tide_log_fsync_duration_seconds",
		Help:    "Time each fsync of a log segment took (group commits, interval flushes, segment rolls).",
		Buckets: fsyncBuckets,
	})
	s.metrics.MustRegister(h)
	return log.WithFsyncObserver(func(d time.Duration) { h.Observe(d.Seconds()) })
}

// logCollector exports every partition's offsets, size and append
// counters, read at scrape time.
type logCollector struct{ log *log.Log }

var (
	logStartOffsetDesc = prometheus.NewDesc("tide_log_start_offset",
		"First offset readable in the partition (retention and DeleteRecords move it).",
		[]string{"topic", "partition"}, nil)
	logEndOffsetDesc = prometheus.NewDesc("tide_log_end_offset",
		"The partition's high watermark: one past the last offset readers may see.",
		[]string{"topic", "partition"}, nil)
	logSizeDesc = prometheus.NewDesc("tide_log_size_bytes",
		"Bytes the partition's segments hold on disk.",
		[]string{"topic", "partition"}, nil)
	logSegmentsDesc = prometheus.NewDesc("tide_log_segments",
		"Segment files of the partition.",
		[]string{"topic", "partition"}, nil)
	logAppendedRecordsDesc = prometheus.NewDesc("tide_log_appended_records_total",
		"Records appended to the partition since the node started (retries of an idempotent producer not counted).",
		[]string{"topic", "partition"}, nil)
	logAppendedBytesDesc = prometheus.NewDesc("tide_log_appended_bytes_total",
		"Bytes of record batches appended to the partition since the node started.",
		[]string{"topic", "partition"}, nil)
	logOpenFilesDesc = prometheus.NewDesc("tide_log_open_files",
		"Segment files the log holds open (bounded by its file cache).", nil, nil)
)

func (c *logCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- logStartOffsetDesc
	ch <- logEndOffsetDesc
	ch <- logSizeDesc
	ch <- logSegmentsDesc
	ch <- logAppendedRecordsDesc
	ch <- logAppendedBytesDesc
	ch <- logOpenFilesDesc
}

func (c *logCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.log.Topics() {
		topic := t.Name()
		for _, p := range t.Partitions() {
			st := p.Stats()
			part := strconv.Itoa(int(p.ID()))
			ch <- prometheus.MustNewConstMetric(logStartOffsetDesc, prometheus.GaugeValue, float64(st.LogStart), topic, part)
			ch <- prometheus.MustNewConstMetric(logEndOffsetDesc, prometheus.GaugeValue, float64(st.HighWatermark), topic, part)
			ch <- prometheus.MustNewConstMetric(logSizeDesc, prometheus.GaugeValue, float64(st.Size), topic, part)
			ch <- prometheus.MustNewConstMetric(logSegmentsDesc, prometheus.GaugeValue, float64(st.Segments), topic, part)
			ch <- prometheus.MustNewConstMetric(logAppendedRecordsDesc, prometheus.CounterValue, float64(st.AppendedRecords), topic, part)
			ch <- prometheus.MustNewConstMetric(logAppendedBytesDesc, prometheus.CounterValue, float64(st.AppendedBytes), topic, part)
		}
	}
	ch <- prometheus.MustNewConstMetric(logOpenFilesDesc, prometheus.GaugeValue, float64(c.log.OpenFiles()))
}
