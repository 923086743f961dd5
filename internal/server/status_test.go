package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/alert"
	"github.com/tide-data/tide/internal/transport"
)

// alertReceiver is the alerts' webhook: it keeps every alert posted.
type alertReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []alert.Alert
}

func newAlertReceiver(t *testing.T) *alertReceiver {
	r := &alertReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var a alert.Alert
		if err := json.NewDecoder(req.Body).Decode(&a); err != nil {
			t.Errorf("alert webhook: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, a)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *alertReceiver) alerts() []alert.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]alert.Alert(nil), r.got...)
}

// stallableSink is the pipeline's webhook: 200 normally, 503 with
// Retry-After while stalled.
type stallableSink struct {
	srv       *httptest.Server
	stalled   atomic.Bool
	delivered atomic.Int64
}

func newStallableSink(t *testing.T) *stallableSink {
	s := &stallableSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		if s.stalled.Load() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "stalled", http.StatusServiceUnavailable)
			return
		}
		s.delivered.Add(1)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// getStatus fetches GET /v1/status.
func getStatus(t *testing.T, url string) statusResponse {
	t.Helper()
	resp, err := http.Get(url + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("/v1/status answered %d: %s", resp.StatusCode, b)
	}
	var st statusResponse
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitUntil polls cond every 100 ms until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last: %s", what, d, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Issue 8: a stalled sink fires the lag alert at a test webhook and clears
// it afterwards. A pipeline with lag_slo = '1s' delivers to a webhook sink
// while records keep arriving; the sink starts answering 503, the
// pipeline's committed offset stays put and its oldest unconsumed record
// ages past the objective: the alert webhook receives "firing" for the
// pipeline with the recommendation, /metrics shows the gauge at 1, and
// /v1/status lists the alert. The sink recovers: the webhook receives
// "resolved" and the gauge falls to 0.
func TestLagAlertStalledSink(t *testing.T) {
	hook := newAlertReceiver(t)
	sink := newStallableSink(t)
	ts := startServer(t, "", func(c *Config) {
		c.AlertCheckInterval = 200 * time.Millisecond
		c.AlertWebhookURL = hook.srv.URL
	})
	ts.mustSQL(t, `CREATE SOURCE orders (id bigint) WITH (connector = 'topic', topic = 'orders', topic.partitions = '1', commit.interval = '100ms');`)
	ts.mustSQL(t, fmt.Sprintf(`CREATE SINK hook WITH (connector = 'http', url = '%s', lag_slo = '1s', max.attempts = '1000', backoff.max = '200ms')
		AS SELECT id FROM orders;`, sink.srv.URL))

	// Records keep arriving, ten a second.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ctx.Err() == nil; i++ {
			rec := &transport.Record{Topic: "orders", Partition: 0, Value: fmt.Appendf(nil, `{"id":%d}`, i)}
			if err := ts.srv.transport.Produce(ctx, []*transport.Record{rec}); err != nil && ctx.Err() == nil {
				t.Errorf("produce: %v", err)
				return
			}
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	})
	defer func() { cancel(); wg.Wait() }()

	firing := func() (float64, bool) {
		return metricValue(scrape(t, ts.url), "tide_lag_slo_alert_firing", map[string]string{"pipeline": "hook"})
	}
	// Healthy: deliveries, commits, a lag under the objective, no alert.
	waitUntil(t, 15*time.Second, "the healthy pipeline's lag measured", func() (bool, string) {
		st := getStatus(t, ts.url)
		for _, p := range st.Pipelines {
			if p.Name == "hook" && p.LagSeconds != nil && p.Out > 0 {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", st.Pipelines)
	})
	if v, ok := firing(); !ok || v != 0 {
		t.Fatalf("tide_lag_slo_alert_firing{pipeline=hook} is %v (present %v) while healthy, want 0", v, ok)
	}
	if v, ok := metricValue(scrape(t, ts.url), "tide_pipeline_lag_slo_seconds", map[string]string{"pipeline": "hook"}); !ok || v != 1 {
		t.Errorf("tide_pipeline_lag_slo_seconds %v (present %v), want 1", v, ok)
	}
	if len(hook.alerts()) != 0 {
		t.Fatalf("alerts while healthy: %+v", hook.alerts())
	}

	// Stalled: the alert fires.
	sink.stalled.Store(true)
	stalledAt := time.Now()
	waitUntil(t, 20*time.Second, "the firing alert at the webhook", func() (bool, string) {
		got := hook.alerts()
		return len(got) >= 1, fmt.Sprintf("%d alerts", len(got))
	})
	fired := hook.alerts()[0]
	t.Logf("fired %v after the stall: %+v", time.Since(stalledAt).Round(time.Millisecond), fired)
	if fired.Status != alert.StatusFiring || fired.Pipeline != "hook" || fired.Source != "orders" ||
		len(fired.Topics) != 1 || fired.Topics[0] != "orders" || fired.SLOSeconds != 1 || fired.LagSeconds <= 1 ||
		fired.LagRecords <= 0 || fired.Backend != "embedded" || fired.StartedAt.IsZero() ||
		fired.Action != alert.ActionAddPartitions || !strings.Contains(fired.Recommendation, "tide topic alter orders --partitions 2 --server 127.0.0.1:") {
		t.Errorf("firing alert %+v", fired)
	}
	if v, ok := firing(); !ok || v != 1 {
		t.Errorf("tide_lag_slo_alert_firing{pipeline=hook} is %v (present %v) while firing, want 1", v, ok)
	}
	if v, ok := metricValue(scrape(t, ts.url), "tide_pipeline_lag_seconds", map[string]string{"pipeline": "hook"}); !ok || v <= 1 {
		t.Errorf("tide_pipeline_lag_seconds %v (present %v) while firing, want > 1", v, ok)
	}
	st := getStatus(t, ts.url)
	if len(st.Alerts) != 1 || st.Alerts[0].Pipeline != "hook" || st.Alerts[0].Status != alert.StatusFiring {
		t.Errorf("status alerts %+v", st.Alerts)
	}
	for _, p := range st.Pipelines {
		if p.Name == "hook" && (p.Alert != alert.StatusFiring || p.LagSLOSeconds != 1 || p.LagRecords == nil || *p.LagRecords <= 0) {
			t.Errorf("status pipeline %+v", p)
		}
	}

	// Recovered: the alert clears.
	sink.stalled.Store(false)
	waitUntil(t, 30*time.Second, "the resolved alert at the webhook", func() (bool, string) {
		got := hook.alerts()
		return len(got) >= 2, fmt.Sprintf("%d alerts", len(got))
	})
	resolved := hook.alerts()[1]
	if resolved.Status != alert.StatusResolved || resolved.Pipeline != "hook" || resolved.ID != fired.ID ||
		resolved.ResolvedAt == nil || resolved.LagSeconds > 1 {
		t.Errorf("resolved alert %+v", resolved)
	}
	if v, ok := firing(); !ok || v != 0 {
		t.Errorf("tide_lag_slo_alert_firing{pipeline=hook} is %v (present %v) after recovery, want 0", v, ok)
	}
	if st := getStatus(t, ts.url); len(st.Alerts) != 0 {
		t.Errorf("status alerts after recovery %+v", st.Alerts)
	}
	if n := len(hook.alerts()); n != 2 {
		t.Errorf("%d alerts posted, want firing and resolved: %+v", n, hook.alerts())
	}
}

// GET /v1/status: the backend, uptime, topics with their end offsets and
// rates, pipelines with counters and lag, groups with internal ones
// marked.
func TestStatusEndpoint(t *testing.T) {
	ts := startServer(t, "", nil)
	ts.mustSQL(t, `CREATE SOURCE orders (id bigint) WITH (connector = 'topic', topic = 'orders', topic.partitions = '2');
		CREATE SINK quiet WITH (connector = 'blackhole', lag_slo = '30s') AS SELECT id FROM orders;`)
	ctx := context.Background()
	var recs []*transport.Record
	for i := range 10 {
		recs = append(recs, &transport.Record{Topic: "orders", Partition: int32(i % 2), Value: fmt.Appendf(nil, `{"id":%d}`, i)})
	}
	if err := ts.srv.transport.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	st := getStatus(t, ts.url)
	// No sample to compute rates from: it sampled twice, a second apart.
	if took := time.Since(start); took < minRateInterval {
		t.Errorf("the first status took %v, want a second's sampling", took)
	}
	if st.Backend != "embedded" || st.Worker == "" || st.UptimeSeconds <= 0 || st.RateIntervalSeconds < 1 {
		t.Errorf("status %+v", st)
	}
	var orders *topicStatus
	for i, tp := range st.Topics {
		if tp.Name == "orders" {
			orders = &st.Topics[i]
		}
	}
	if orders == nil || orders.Partitions != 2 || orders.EndOffset != 10 || orders.RecordsPerSecond == nil {
		t.Fatalf("topics %+v", st.Topics)
	}
	waitUntil(t, 15*time.Second, "the pipeline's counters and lag", func() (bool, string) {
		st = getStatus(t, ts.url)
		if len(st.Pipelines) != 1 {
			return false, fmt.Sprintf("%+v", st.Pipelines)
		}
		p := st.Pipelines[0]
		ok := p.Name == "quiet" && p.Source == "orders" && p.Connector == "blackhole" && p.State == "running" && p.In == 10 && p.Out == 10 &&
			p.LagRecords != nil && *p.LagRecords == 0 && p.LagSLOSeconds == 30 && p.InPerSecond != nil && p.Alert == ""
		var sawPipelineGroup, sawInternal bool
		for _, g := range st.Groups {
			if g.Name == p.Group && !g.Internal && g.Partitions == 2 {
				sawPipelineGroup = true
			}
			if strings.HasPrefix(g.Name, "__") && g.Internal {
				sawInternal = true
			}
		}
		return ok && sawPipelineGroup && sawInternal, fmt.Sprintf("pipeline %+v; groups (an internal one marked) %+v", p, st.Groups)
	})
	if st.Alerts == nil || len(st.Alerts) != 0 {
		t.Errorf("alerts %+v, want []", st.Alerts)
	}
	// A request right after shares the last samples: no second wait.
	start = time.Now()
	getStatus(t, ts.url)
	if took := time.Since(start); took >= minRateInterval {
		t.Errorf("a status right after another took %v", took)
	}
}

// Rates are computed against the latest sample at least a second old;
// quick requests use the one before and do not replace the base.
func TestStatusSamples(t *testing.T) {
	at := time.Unix(1000, 0)
	sample := func(d time.Duration) *statusSample { return &statusSample{at: at.Add(d)} }
	var ss statusSamples
	s0 := sample(0)
	if b := ss.base(s0); b != nil {
		t.Fatal("a base with no sample before")
	}
	s1 := sample(1500 * time.Millisecond)
	if b := ss.base(s1); b != s0 {
		t.Fatalf("base %v, want the first sample", b)
	}
	if b := ss.base(sample(1700 * time.Millisecond)); b != s0 {
		t.Fatalf("a quick request's base %v, want the sample before the last", b)
	}
	s3 := sample(2600 * time.Millisecond)
	if b := ss.base(s3); b != s1 {
		t.Fatalf("base %v, want the last sample a second old", b)
	}
	if b := ss.base(sample(2 * time.Minute)); b != nil {
		t.Fatalf("base %v for a sample minutes after the last", b)
	}
}
