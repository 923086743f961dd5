package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tide-data/tide/internal/lag"
)

// lagSnapshotTTL is how long a lag measurement is shared by the scrape,
// `tide status` and the lag objectives.
const lagSnapshotTTL = 2 * time.Second

// lagScrapeTimeout bounds a scrape's lag measurement, or its wait for the
// one in progress. It stays under Prometheus' default scrape_timeout
// (10 s): the registry answers once every collector has, so a slow
// cluster must cost the scrape its lag series, not all of its series.
const lagScrapeTimeout = 5 * time.Second

// newMetrics makes the node's Prometheus registry: the Go runtime and
// process collectors, then what each component registers (its Config's
// Metrics field) and the collectors that read the components at scrape
// time (consumer lag here).
func (s *Server) newMetrics() {
	s.metrics = prometheus.NewRegistry()
	s.metrics.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
}

// openLag starts measuring the lag of every group on the transport and
// exports it.
func (s *Server) openLag() {
	s.lag = lag.NewMonitor(s.transport, lagSnapshotTTL, lag.Options{})
	s.metrics.MustRegister(&lagCollector{monitor: s.lag})
}

// metricsHandler serves GET /metrics in the Prometheus text format. A
// collector that fails (lag on an unreachable cluster) drops its own
// metrics, not the others'.
func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{Registry: s.metrics, ErrorHandling: promhttp.ContinueOnError})
}

// lagCollector exports consumer lag per group and partition: records, and
// seconds (the age of the oldest unconsumed record).
type lagCollector struct{ monitor *lag.Monitor }

var (
	lagRecordsDesc = prometheus.NewDesc("tide_consumer_lag_records",
		"Records between a consumer group's committed offset and the end of the partition.",
		[]string{"group", "topic", "partition"}, nil)
	lagSecondsDesc = prometheus.NewDesc("tide_consumer_lag_seconds",
		"Age of the oldest record a consumer group has not consumed (0 when it is caught up).",
		[]string{"group", "topic", "partition"}, nil)
	groupMembersDesc = prometheus.NewDesc("tide_consumer_group_members",
		"Members of a consumer group.", []string{"group", "state"}, nil)
)

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagRecordsDesc
	ch <- lagSecondsDesc
	ch <- groupMembersDesc
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), lagScrapeTimeout)
	defer cancel()
	groups, err := c.monitor.Snapshot(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(lagRecordsDesc, err)
		return
	}
	for _, g := range groups {
		ch <- prometheus.MustNewConstMetric(groupMembersDesc, prometheus.GaugeValue, float64(g.Members), g.Group, g.State)
		for _, p := range g.Partitions {
			part := strconv.Itoa(int(p.Partition))
			ch <- prometheus.MustNewConstMetric(lagRecordsDesc, prometheus.GaugeValue, float64(p.Records), g.Group, p.Topic, part)
			if p.AgeKnown {
				ch <- prometheus.MustNewConstMetric(lagSecondsDesc, prometheus.GaugeValue, p.Age.Seconds(), g.Group, p.Topic, part)
			}
		}
	}
}
