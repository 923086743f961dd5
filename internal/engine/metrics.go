package engine

import (
	"github.com/tide-data/tide/internal/eventtime"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Pipeline metrics. The hot path only touches what it touched before —
// the pipeline's atomic counters, once per batch — plus, with
// Config.Metrics set, a task-local latency histogram merged into the
// pipeline's once per batch; the collector reads them all at scrape time.
// A dropped pipeline leaves the engine's map, and with it the scrape:
// its series disappear.

// Error codes of tide_pipeline_errors_total that are not a dead letter's
// own code: each counts a failed attempt that is retried.
const (
	errorCodeSinkWrite       = "sink_write"        // the sink's Write failed (not a rejection)
	errorCodeDeadLetterWrite = "dead_letter_write" // writing to the dead-letter topic failed
	errorCodeSourceRead      = "source_read"       // the source's Read failed
	errorCodeOther           = "other"             // past maxErrorCodes distinct codes
)

// maxErrorCodes bounds the distinct codes one pipeline reports: codes
// come from a bounded set (SQLSTATEs, http_<status>, the stage names),
// and a connector inventing codes must not grow the scrape without end.
const maxErrorCodes = 64

// latencyBounds are the upper bounds, in seconds, of the end-to-end
// latency histogram's buckets: from a millisecond (a pipeline keeping
// up on a local disk) to an hour (a backlog being read).
var latencyBounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// latencyBoundsNanos is latencyBounds in nanoseconds, and +Inf.
var latencyBoundsNanos = func() []int64 {
	b := make([]int64, 0, len(latencyBounds)+1)
	for _, s := range latencyBounds {
		b = append(b, int64(s*1e9))
	}
	return append(b, math.MaxInt64)
}()

// latencyHistogram is a pipeline's end-to-end latency: bucket counts
// (non-cumulative; the last is +Inf) and the sum in seconds. Tasks add
// whole batches (latencyCounts.flushTo); the collector reads it.
type latencyHistogram struct {
	counts  []atomic.Uint64
	sumBits atomic.Uint64 // float64 seconds
}

func newLatencyHistogram() *latencyHistogram {
	return &latencyHistogram{counts: make([]atomic.Uint64, len(latencyBoundsNanos))}
}

// snapshot returns the count, the sum and the cumulative buckets, as
// prometheus.MustNewConstHistogram takes them.
func (h *latencyHistogram) snapshot() (uint64, float64, map[float64]uint64) {
	buckets := make(map[float64]uint64, len(latencyBounds))
	var total uint64
	for i := range h.counts {
		total += h.counts[i].Load()
		if i < len(latencyBounds) {
			buckets[latencyBounds[i]] = total
		}
	}
	return total, math.Float64frombits(h.sumBits.Load()), buckets
}

// latencyCounts is one task's latencies of the current batch, merged into
// the pipeline's histogram once per batch: observing a record is a
// subtraction, a bucket check and an increment of a local counter.
type latencyCounts struct {
	counts []uint64
	sum    int64 // nanoseconds; a batch's sum cannot overflow
	last   int   // the bucket of the previous observation
	any    bool
}

func newLatencyCounts() latencyCounts {
	return latencyCounts{counts: make([]uint64, len(latencyBoundsNanos))}
}

// observe adds one latency in nanoseconds (negative, from a clock ahead
// of ours, counts as 0).
func (c *latencyCounts) observe(d int64) {
	d = max(d, 0)
	// The records of a batch are close in time: try the bucket of the
	// last one first.
	i := c.last
	if d > latencyBoundsNanos[i] || (i > 0 && d <= latencyBoundsNanos[i-1]) {
		i, _ = slices.BinarySearch(latencyBoundsNanos, d)
		c.last = i
	}
	c.counts[i]++
	c.sum += d
	c.any = true
}

// flushTo adds the batch's latencies to h and clears them.
func (c *latencyCounts) flushTo(h *latencyHistogram) {
	if !c.any {
		return
	}
	for i, n := range c.counts {
		if n != 0 {
			h.counts[i].Add(n)
			c.counts[i] = 0
		}
	}
	add := float64(c.sum) / 1e9
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+add)) {
			break
		}
	}
	c.sum, c.any = 0, false
}

// waitClock accumulates the time a pipeline's reader waits to hand
// batches on, including a wait still going on (a sink stalled for ten
// minutes shows ten minutes, not nothing until it recovers). Only a
// reader that has to wait touches it.
type waitClock struct {
	mu    sync.Mutex
	total time.Duration
	since time.Time // the current wait's start; zero when not waiting
}

func (w *waitClock) start(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.since = now
}

func (w *waitClock) stop(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.since.IsZero() {
		w.total += now.Sub(w.since)
		w.since = time.Time{}
	}
}

// read returns the time waited until now.
func (w *waitClock) read(now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.since.IsZero() {
		return w.total
	}
	return w.total + now.Sub(w.since)
}

// errorCounts are a pipeline's errors by code.
type errorCounts struct {
	mu     sync.Mutex
	byCode map[string]int64
}

// add counts n errors of code.
func (e *errorCounts) add(code string, n int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byCode == nil {
		e.byCode = map[string]int64{}
	}
	if _, ok := e.byCode[code]; !ok && len(e.byCode) >= maxErrorCodes {
		code = errorCodeOther
	}
	e.byCode[code] += n
}

// addAll adds a task's batch of counts and clears them.
func (e *errorCounts) addAll(counts map[string]int64) {
	for code, n := range counts {
		e.add(code, n)
	}
	clear(counts)
}

func (e *errorCounts) snapshot() map[string]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int64, len(e.byCode))
	for k, v := range e.byCode {
		out[k] = v
	}
	return out
}

var (
	pipelineInDesc = prometheus.NewDesc("tide_pipeline_records_in_total",
		"Records a pipeline read from its source and processed.", []string{"pipeline"}, nil)
	pipelineOutDesc = prometheus.NewDesc("tide_pipeline_records_out_total",
		"Records a pipeline wrote to its sink, durably.", []string{"pipeline"}, nil)
	pipelineFilteredDesc = prometheus.NewDesc("tide_pipeline_records_filtered_total",
		"Records a pipeline's WHERE clause (or its format's skip option) dropped.", []string{"pipeline"}, nil)
	pipelineDeadDesc = prometheus.NewDesc("tide_pipeline_dead_letters_total",
		"Records a pipeline sent to its dead-letter topic.", []string{"pipeline"}, nil)
	pipelineErrorsDesc = prometheus.NewDesc("tide_pipeline_errors_total",
		"A pipeline's errors by code: per dead-lettered record its SQLSTATE or the sink's code (http_<status>, ...), "+
			"else <stage>_error; per failed attempt that is retried sink_write, dead_letter_write or source_read.",
		[]string{"pipeline", "code"}, nil)
	pipelineLatencyDesc = prometheus.NewDesc("tide_pipeline_end_to_end_latency_seconds",
		"Time from an input record's timestamp (when it was produced or ingested) until its output was durable at the sink.",
		[]string{"pipeline"}, nil)
	pipelineBackpressureDesc = prometheus.NewDesc("tide_pipeline_backpressure_seconds_total",
		"Time a pipeline's reader waited for room in its byte budget or its task queues (a slow sink holding the source back).",
		[]string{"pipeline"}, nil)
	pipelineBufferedDesc = prometheus.NewDesc("tide_pipeline_buffered_bytes",
		"Bytes of input a pipeline holds in its task queues and tasks, against its byte budget.", []string{"pipeline"}, nil)
	pipelineAggregatedDesc = prometheus.NewDesc("tide_pipeline_records_aggregated_total",
		"Events a pipeline with GROUP BY folded into its groups.", []string{"pipeline"}, nil)
	pipelineLateDesc = prometheus.NewDesc("tide_pipeline_late_records_total",
		"Events that arrived after the watermark closed their windows, or rows of a join behind its watermark: dropped, or written to the source's late.topic.", []string{"pipeline"}, nil)
	pipelineWatermarkLagDesc = prometheus.NewDesc("tide_pipeline_watermark_lag_seconds",
		"Wall-clock time minus the lowest watermark of a windowed pipeline's (or a join's) stage tasks on this worker (absent before the first watermark).",
		[]string{"pipeline"}, nil)
	pipelineStateMemoryDesc = prometheus.NewDesc("tide_pipeline_state_memory_bytes",
		"Approximate bytes of a pipeline's GROUP BY or join state held in memory on this worker (bounded by the sink's state.memory per task).",
		[]string{"pipeline"}, nil)
	pipelineStateEvictedDesc = prometheus.NewDesc("tide_pipeline_state_evicted_entries",
		"Windows, groups or join rows of a pipeline's state held only in its on-disk store on this worker (beyond state.memory).",
		[]string{"pipeline"}, nil)
)

// pipelineCollector exports every running pipeline's metrics at scrape
// time.
type pipelineCollector struct{ e *Engine }

func (c pipelineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pipelineInDesc, pipelineOutDesc, pipelineFilteredDesc, pipelineDeadDesc,
		pipelineErrorsDesc, pipelineLatencyDesc, pipelineBackpressureDesc, pipelineBufferedDesc,
		pipelineAggregatedDesc, pipelineLateDesc, pipelineWatermarkLagDesc, pipelineStateMemoryDesc, pipelineStateEvictedDesc} {
		ch <- d
	}
}

func (c pipelineCollector) Collect(ch chan<- prometheus.Metric) {
	c.e.mu.Lock()
	pipes := make([]*pipeline, 0, len(c.e.mu.pipelines))
	for _, p := range c.e.mu.pipelines {
		pipes = append(pipes, p)
	}
	c.e.mu.Unlock()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, p := range pipes {
		// One set per sink: a UNION ALL's parts (unionParts) added up,
		// its watermark their lowest.
		name := p.entry.Name
		all := p.all()
		var in, out, filtered, dead, aggregated, late, memory, evicted, buffered int64
		var backpressure float64
		errs := map[string]int64{}
		wm, stateful, windowed := int64(math.MaxInt64), false, false
		var latency *latencyHistogram
		var count uint64
		var sum float64
		buckets := map[float64]uint64{}
		for _, q := range all {
			in, out, filtered, dead = in+q.stats.in.Load(), out+q.stats.out.Load(), filtered+q.stats.filtered.Load(), dead+q.stats.dead.Load()
			backpressure += q.backpressure.read(time.Now()).Seconds()
			for code, n := range q.errors.snapshot() {
				errs[code] += n
			}
			if q.latency != nil {
				latency = q.latency
				n, s, b := q.latency.snapshot()
				count, sum = count+n, sum+s
				for bound, n := range b {
					buckets[bound] += n
				}
			}
			buffered += q.buffer.stats().Held
			if st := q.stateful; st != nil {
				stateful = true
				aggregated, late = aggregated+q.stats.aggregated.Load(), late+q.stats.late.Load()
				memory, evicted = memory+q.stats.stateMemory.Load(), evicted+q.stats.stateEvicted.Load()
				if w := q.stats.watermark.Load(); (st.agg == nil || st.agg.Window != nil) && w != endOfInput {
					windowed, wm = true, min(wm, w)
				}
			}
		}
		counter(pipelineInDesc, float64(in), name)
		counter(pipelineOutDesc, float64(out), name)
		counter(pipelineFilteredDesc, float64(filtered), name)
		counter(pipelineDeadDesc, float64(dead), name)
		counter(pipelineBackpressureDesc, backpressure, name)
		for code, n := range errs {
			counter(pipelineErrorsDesc, float64(n), name, code)
		}
		if latency != nil {
			ch <- prometheus.MustNewConstHistogram(pipelineLatencyDesc, count, sum, buckets, name)
		}
		gauge(pipelineBufferedDesc, float64(buffered), name)
		if stateful {
			counter(pipelineAggregatedDesc, float64(aggregated), name)
			counter(pipelineLateDesc, float64(late), name)
			gauge(pipelineStateMemoryDesc, float64(memory), name)
			gauge(pipelineStateEvictedDesc, float64(evicted), name)
			if windowed && wm != eventtime.NoWatermark {
				gauge(pipelineWatermarkLagDesc, time.Since(time.UnixMicro(wm)).Seconds(), name)
			}
		}
	}
}
