package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// waitMetrics scrapes /metrics until cond holds on the families, or 20 s
// pass; it returns the last scrape.
func waitMetrics(t *testing.T, url, what string, cond func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := scrape(t, url)
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics: timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// histogram returns the sample of a histogram family whose labels include
// want.
func histogram(families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Histogram {
	return sample(families, name, want).GetHistogram()
}

// Issue 8: under a known load /metrics shows, for a pipeline with a filter
// and a few undecodable records, records in = out + filtered + dead
// letters, the errors by code, an end-to-end latency per record written,
// and HTTP ingestion's records, requests and refusals; the series of the
// pipeline go when it is dropped.
func TestPipelineAndIngestMetrics(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ts.mustSQL(t, `CREATE SOURCE payments (id bigint, amount integer) WITH (connector = 'http', topic = 'payments');
		CREATE SINK large_payments WITH (connector = 'blackhole') AS SELECT id, amount FROM payments WHERE amount > 50;`)

	// 100 records with amounts 1..100 (50 pass the filter), and 3 that do
	// not decode into the source's columns.
	var body strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&body, "{\"id\":%d,\"amount\":%d}\n", i, i)
	}
	body.WriteString("{\"id\":\"one\",\"amount\":1}\n[1,2]\n{\"id\":7,\"amount\":\"lots\"}\n")
	if status, _, b := postRecords(t, ts.url, "payments", "application/x-ndjson", body.String()); status != http.StatusOK {
		t.Fatalf("ingest: %d %s", status, b)
	}
	if status, _, b := postRecords(t, ts.url, "payments", "application/json", `{"id":`); status != http.StatusBadRequest {
		t.Fatalf("malformed body: %d %s", status, b)
	}

	pipe := map[string]string{"pipeline": "large_payments"}
	m := waitMetrics(t, ts.url, "the pipeline to account for 103 records", func(m map[string]*dto.MetricFamily) bool {
		out, _ := metricValue(m, "tide_pipeline_records_out_total", pipe)
		filtered, _ := metricValue(m, "tide_pipeline_records_filtered_total", pipe)
		dead, _ := metricValue(m, "tide_pipeline_dead_letters_total", pipe)
		return out+filtered+dead == 103
	})
	get := func(name string, labels map[string]string) float64 {
		t.Helper()
		v, ok := metricValue(m, name, labels)
		if !ok {
			t.Fatalf("no %s%v", name, labels)
		}
		return v
	}
	in, out := get("tide_pipeline_records_in_total", pipe), get("tide_pipeline_records_out_total", pipe)
	filtered, dead := get("tide_pipeline_records_filtered_total", pipe), get("tide_pipeline_dead_letters_total", pipe)
	if in != out+filtered+dead || in != 103 || out != 50 || filtered != 50 || dead != 3 {
		t.Errorf("in %v, out %v, filtered %v, dead letters %v; want 103 = 50 + 50 + 3", in, out, filtered, dead)
	}
	// Every undecodable record is invalid_text_representation.
	if v := get("tide_pipeline_errors_total", map[string]string{"pipeline": "large_payments", "code": "22P02"}); v != 3 {
		t.Errorf("errors with code 22P02: %v, want 3", v)
	}
	if h := histogram(m, "tide_pipeline_end_to_end_latency_seconds", pipe); h == nil || h.GetSampleCount() != 50 || h.GetSampleSum() <= 0 || h.GetSampleSum() > 50*60 {
		t.Errorf("end-to-end latency %v, want 50 observations of under a minute each", h)
	}
	if _, ok := metricValue(m, "tide_pipeline_backpressure_seconds_total", pipe); !ok {
		t.Error("no tide_pipeline_backpressure_seconds_total")
	}
	topic := map[string]string{"topic": "payments"}
	if r, q := get("tide_ingest_records_total", topic), get("tide_ingest_requests_total", topic); r != 103 || q != 1 {
		t.Errorf("ingested %v records in %v requests, want 103 in 1", r, q)
	}
	if v := get("tide_ingest_rejected_requests_total", map[string]string{"code": "malformed_json"}); v != 1 {
		t.Errorf("refused as malformed_json: %v, want 1", v)
	}

	ts.mustSQL(t, `DROP SINK large_payments;`)
	m = scrape(t, ts.url)
	for name, f := range m {
		if !strings.HasPrefix(name, "tide_pipeline_") {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "pipeline" && l.GetValue() == "large_payments" {
					t.Errorf("%s still has a series of the dropped pipeline", name)
				}
			}
		}
	}
}
