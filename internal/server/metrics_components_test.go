package server

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/record"
)

// histogramCount returns the sample count of the histogram name whose
// labels include want; ok false when there is none.
func histogramCount(families map[string]*dto.MetricFamily, name string, want map[string]string) (uint64, bool) {
	if m := sample(families, name, want); m != nil && m.Histogram != nil {
		return m.GetHistogram().GetSampleCount(), true
	}
	return 0, false
}

// value is metricValue with an absent series read as 0 (a counter not
// incremented yet).
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	v, _ := metricValue(families, name, labels)
	return v
}

// Records of known size produced through the Kafka listener move the
// log's end offset, its append counters and its size, and the listener's
// request counters, by exactly what was sent; errors are counted by API
// and Kafka error name; every fsync is timed.
func TestMetricsLogAndKafka(t *testing.T) {
	ts := startServer(t, "", func(c *Config) { c.Fsync = "always" })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := ts.srv.Log().CreateTopic("metered", 2, nil); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.srv.KafkaAddr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	p1 := map[string]string{"topic": "metered", "partition": "1"}
	produce := map[string]string{"api": "Produce"}
	before := scrape(t, ts.url)
	if v, ok := metricValue(before, "tide_log_end_offset", p1); !ok || v != 0 {
		t.Fatalf("end offset of a new partition: %v (found %v)", v, ok)
	}
	fsyncsBefore, ok := histogramCount(before, "tide_log_fsync_duration_seconds", nil)
	if !ok {
		t.Fatal("no tide_log_fsync_duration_seconds")
	}

	// 5 produce requests of one batch each: 7 records of 100-byte values.
	const requests, perBatch = 5, 7
	var bytes int
	for i := range requests {
		recs := make([]record.Record, perBatch)
		for j := range recs {
			recs[j] = record.Record{Value: fmt.Appendf(nil, "%0100d", i*perBatch+j)}
		}
		batch, err := record.AppendBatch(nil, recs, record.BatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		bytes += len(batch)
		resp := sendProduce(ctx, t, cl, "metered", 1, batch)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("produce: error %d", code)
		}
	}
	// One more to a partition that does not exist.
	if resp := sendProduce(ctx, t, cl, "metered", 9, nil); resp.Topics[0].Partitions[0].ErrorCode == 0 {
		t.Fatal("produce to partition 9 succeeded")
	}

	after := scrape(t, ts.url)
	checks := []struct {
		name   string
		labels map[string]string
		delta  float64
	}{
		{"tide_log_end_offset", p1, requests * perBatch},
		{"tide_log_appended_records_total", p1, requests * perBatch},
		{"tide_log_appended_bytes_total", p1, float64(bytes)},
		{"tide_log_size_bytes", p1, float64(bytes)},
		{"tide_log_start_offset", p1, 0},
		{"tide_log_end_offset", map[string]string{"topic": "metered", "partition": "0"}, 0},
		{"tide_kafka_requests_total", produce, requests + 1},
		{"tide_kafka_request_errors_total", map[string]string{"api": "Produce", "error": "UNKNOWN_TOPIC_OR_PARTITION"}, 1},
	}
	for _, c := range checks {
		v, ok := metricValue(after, c.name, c.labels)
		if !ok {
			t.Errorf("%s%v missing", c.name, c.labels)
			continue
		}
		if d := v - value(before, c.name, c.labels); d != c.delta {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, d, c.delta)
		}
	}
	n0, _ := histogramCount(before, "tide_kafka_request_duration_seconds", produce)
	if n, _ := histogramCount(after, "tide_kafka_request_duration_seconds", produce); n-n0 != requests+1 {
		t.Errorf("produce latency histogram counted %d requests, want %d", n-n0, requests+1)
	}
	// Each request waited for its own fsync (fsync=always, one at a time);
	// internal topics may add more.
	if n, _ := histogramCount(after, "tide_log_fsync_duration_seconds", nil); n < fsyncsBefore+requests {
		t.Errorf("fsync histogram counts %d, want at least %d", n, fsyncsBefore+requests)
	}
	if v := value(after, "tide_kafka_connections", nil); v < 1 {
		t.Errorf("open Kafka connections %v, want at least 1", v)
	}
	if v := value(after, "tide_kafka_connections_total", nil); v < 1 {
		t.Errorf("Kafka connections accepted %v, want at least 1", v)
	}
	if v := value(after, "tide_log_open_files", nil); v < 1 {
		t.Errorf("open segment files %v", v)
	}
}

// sendProduce sends one Produce request with batch for topic/partition
// straight to the broker (the client would refuse an unknown partition).
func sendProduce(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, partition int32, batch []byte) *kmsg.ProduceResponse {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.Broker(1).Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*kmsg.ProduceResponse)
}

// HTTP requests are counted under the pattern that matched, unmatched
// ones under "other", never under their path; the scrape in progress is
// the one request in flight.
func TestMetricsHTTP(t *testing.T) {
	ts := startServer(t, "", nil)
	get := func(path string, want int) {
		t.Helper()
		resp, err := http.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	healthz := map[string]string{"route": "GET /healthz", "code": "200"}
	notFound := map[string]string{"route": "other", "code": "404"}
	before := scrape(t, ts.url)
	get("/healthz", 200)
	get("/healthz", 200)
	get("/no/such/path/abc123", 404)
	if code, _ := ts.sql(t, "NOT SQL"); code != 400 {
		t.Fatalf("bad SQL answered %d", code)
	}
	after := scrape(t, ts.url)
	for _, c := range []struct {
		labels map[string]string
		delta  float64
	}{
		{healthz, 2},
		{notFound, 1},
		{map[string]string{"route": "POST /v1/sql", "code": "400"}, 1},
		{map[string]string{"route": "GET /metrics", "code": "200"}, 1}, // the scrape before
	} {
		if d := value(after, "tide_http_requests_total", c.labels) - value(before, "tide_http_requests_total", c.labels); d != c.delta {
			t.Errorf("tide_http_requests_total%v moved by %v, want %v", c.labels, d, c.delta)
		}
	}
	if n, _ := histogramCount(after, "tide_http_request_duration_seconds", map[string]string{"route": "GET /healthz"}); n != 2 {
		t.Errorf("healthz latency histogram counts %d, want 2", n)
	}
	for _, m := range after["tide_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && l.GetValue() == "/no/such/path/abc123" {
				t.Error("a path became a route label")
			}
		}
	}
	if v, ok := metricValue(after, "tide_http_requests_in_flight", nil); !ok || v != 1 {
		t.Errorf("requests in flight during a scrape: %v (found %v), want 1", v, ok)
	}
}
