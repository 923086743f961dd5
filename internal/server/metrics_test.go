package server

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"
)

// scrape fetches /metrics and parses it with Prometheus' text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics answered %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	return families
}

// sample returns the first sample of family name whose labels include
// want; nil when there is none.
func sample(families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f, ok := families[name]
	if !ok {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// metricValue returns the gauge, counter or untyped value of the sample
// of family name whose labels include want; ok false when there is none.
func metricValue(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	m := sample(families, name, want)
	switch {
	case m == nil:
		return 0, false
	case m.Gauge != nil:
		return m.GetGauge().GetValue(), true
	case m.Counter != nil:
		return m.GetCounter().GetValue(), true
	case m.Untyped != nil:
		return m.GetUntyped().GetValue(), true
	}
	return 0, false
}

// /metrics serves the Go runtime and the consumer lag of every group, in
// records and in seconds, and the lag falls when the group catches up.
func TestMetricsConsumerLag(t *testing.T) {
	ts := startServer(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.srv.KafkaAddr().String()), kgo.AllowAutoTopicCreation(),
		kgo.ConsumerGroup("reader"), kgo.ConsumeTopics("events"), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	old := time.Now().Add(-time.Minute)
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "events", Value: fmt.Appendf(nil, "%d", i), Timestamp: old}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var got int
	var last *kgo.Record
	for got < 10 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { got++; last = r })
	}
	// Commit 3 of 10: 7 records behind, the oldest a minute old.
	if err := cl.CommitRecords(ctx, &kgo.Record{Topic: last.Topic, Partition: last.Partition, Offset: 2, LeaderEpoch: last.LeaderEpoch}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"group": "reader", "topic": "events", "partition": "0"}
	m := scrape(t, ts.url)
	if _, ok := m["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	if v, ok := metricValue(m, "tide_consumer_lag_records", labels); !ok || v != 7 {
		t.Errorf("lag records %v (found %v), want 7", v, ok)
	}
	if v, ok := metricValue(m, "tide_consumer_lag_seconds", labels); !ok || v < 55 || v > 600 {
		t.Errorf("lag seconds %v (found %v), want about 60", v, ok)
	}
	if err := cl.CommitRecords(ctx, last); err != nil {
		t.Fatal(err)
	}
	time.Sleep(lagSnapshotTTL + 100*time.Millisecond)
	m = scrape(t, ts.url)
	if v, ok := metricValue(m, "tide_consumer_lag_records", labels); !ok || v != 0 {
		t.Errorf("lag records after catching up %v (found %v), want 0", v, ok)
	}
	if v, ok := metricValue(m, "tide_consumer_lag_seconds", labels); !ok || v != 0 {
		t.Errorf("lag seconds after catching up %v (found %v), want 0", v, ok)
	}
}
