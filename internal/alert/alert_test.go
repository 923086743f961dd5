package alert

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tide-data/tide/internal/lag"
	"github.com/tide-data/tide/internal/transport"
)

// fakeLag serves the groups a test sets.
type fakeLag struct {
	mu                   sync.Mutex
	groups               []lag.Group
	err                  error
	refreshes, snapshots int
}

func (f *fakeLag) Refresh(context.Context) ([]lag.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshes++
	return f.groups, f.err
}

func (f *fakeLag) Snapshot(context.Context) ([]lag.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snapshots++
	return f.groups, f.err
}

// set makes group lag age (and records) on partitions partitions of topic.
func (f *fakeLag) set(group, topic string, partitions int, members int, age time.Duration, records int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := lag.Group{Group: group, Members: members, Records: records, Age: age, AgeKnown: true}
	for i := range partitions {
		g.Partitions = append(g.Partitions, lag.Partition{TopicPartition: transport.TopicPartition{Topic: topic, Partition: int32(i)}})
	}
	f.groups = []lag.Group{g}
}

type fakeTopics map[string]int32

func (f fakeTopics) Topic(_ context.Context, name string) (transport.TopicInfo, error) {
	n, ok := f[name]
	if !ok {
		return transport.TopicInfo{}, transport.ErrTopicNotFound
	}
	return transport.TopicInfo{Name: name, Partitions: n}, nil
}

// hookRecorder is a webhook receiver that answers with codes in turn (200
// once they run out) and keeps the alerts it accepted.
type hookRecorder struct {
	srv *httptest.Server
	mu  struct {
		sync.Mutex
		codes    []int
		attempts int
		got      []Alert
		keys     []string
	}
	arrived chan struct{}
}

func newHookRecorder(t *testing.T, codes ...int) *hookRecorder {
	h := &hookRecorder{arrived: make(chan struct{}, 100)}
	h.mu.codes = codes
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.mu.attempts++
		code := http.StatusOK
		if len(h.mu.codes) > 0 {
			code, h.mu.codes = h.mu.codes[0], h.mu.codes[1:]
		}
		if code == http.StatusOK {
			var a Alert
			if err := json.Unmarshal(body, &a); err != nil {
				t.Errorf("webhook body %q: %v", body, err)
			}
			h.mu.got = append(h.mu.got, a)
			h.mu.keys = append(h.mu.keys, r.Header.Get("Idempotency-Key"))
		}
		h.mu.Unlock()
		w.WriteHeader(code)
		if code == http.StatusOK {
			h.arrived <- struct{}{}
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookRecorder) wait(t *testing.T, n int) []Alert {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		h.mu.Lock()
		got := append([]Alert(nil), h.mu.got...)
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-h.arrived:
		case <-deadline:
			t.Fatalf("webhook received %d alerts, want %d", len(got), n)
		}
	}
}

type fixture struct {
	checker *Checker
	lag     *fakeLag
	reg     *prometheus.Registry
	pipes   []Pipeline
	now     time.Time
}

func newFixture(t *testing.T, hookURL string, shape Shape) *fixture {
	f := &fixture{lag: &fakeLag{}, reg: prometheus.NewRegistry(), now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.pipes = []Pipeline{{Name: "hook", Source: "orders", Topics: []string{"orders"}, Group: "tide-sink-hook-1", SLO: time.Second}}
	c, err := New(Config{
		Pipelines: func() []Pipeline { return f.pipes },
		Lag:       f.lag, Topics: fakeTopics{"orders": 2},
		Shape:      shape,
		WebhookURL: hookURL,
		Webhook:    WebhookOptions{Backoff: 10 * time.Millisecond},
		Registerer: f.reg,
		Now:        func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.webhook != nil {
		c.webhook.start()
	}
	t.Cleanup(func() {
		if err := c.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	f.checker = c
	return f
}

// check runs one check at lag age.
func (f *fixture) check(age time.Duration) {
	f.now = f.now.Add(time.Second)
	f.lag.set("tide-sink-hook-1", "orders", 2, 1, age, int64(age/time.Millisecond))
	f.checker.Check(context.Background())
}

func (f *fixture) firing(t *testing.T) float64 {
	t.Helper()
	return gaugeValue(t, f.checker.firing.WithLabelValues("hook"))
}

// The alert fires after two checks above the objective, not one; stays
// while the lag is above; clears after two checks at or under it; the
// webhook gets firing then resolved, with the same id, the figures and a
// recommendation; the gauges follow.
func TestFireAndClear(t *testing.T) {
	hook := newHookRecorder(t)
	f := newFixture(t, hook.srv.URL, Shape{Backend: "embedded", Server: "127.0.0.1:9092", CPUs: 4})

	f.check(3 * time.Second)
	if f.firing(t) != 0 || len(f.checker.Active()) != 0 {
		t.Fatal("fired after one check above the objective")
	}
	f.check(4 * time.Second)
	if f.firing(t) != 1 {
		t.Fatal("not firing after two checks above the objective")
	}
	active := f.checker.Active()
	if len(active) != 1 || active[0].Pipeline != "hook" || active[0].Status != StatusFiring {
		t.Fatalf("active %+v", active)
	}
	if v := gaugeValue(t, f.checker.lagSeconds.WithLabelValues("hook")); v != 4 {
		t.Errorf("tide_pipeline_lag_seconds %v, want 4", v)
	}
	if v := gaugeValue(t, f.checker.sloSeconds.WithLabelValues("hook")); v != 1 {
		t.Errorf("tide_pipeline_lag_slo_seconds %v, want 1", v)
	}
	got := hook.wait(t, 1)
	fired := got[0]
	if fired.Status != StatusFiring || fired.Pipeline != "hook" || fired.Source != "orders" || fired.LagSeconds != 4 ||
		fired.LagRecords != 4000 || fired.SLOSeconds != 1 || !fired.StartedAt.Equal(f.now) || fired.ResolvedAt != nil ||
		fired.Action != ActionAddPartitions || fired.Partitions != 2 ||
		!strings.Contains(fired.Recommendation, "tide topic alter orders --partitions 4 --server 127.0.0.1:9092") {
		t.Errorf("firing payload %+v", fired)
	}

	// Still above: no second notification; the active alert follows the lag.
	f.check(6 * time.Second)
	if a := f.checker.Active(); len(a) != 1 || a[0].LagSeconds != 6 {
		t.Errorf("active while above %+v", a)
	}
	// One check under, then above again: still firing.
	f.check(500 * time.Millisecond)
	f.check(5 * time.Second)
	f.check(time.Second) // at the objective is under it
	if f.firing(t) != 1 {
		t.Fatal("cleared after one check under the objective")
	}
	f.check(0)
	if f.firing(t) != 0 || len(f.checker.Active()) != 0 {
		t.Fatal("still firing after two checks under the objective")
	}
	got = hook.wait(t, 2)
	resolved := got[1]
	if resolved.Status != StatusResolved || resolved.ID != fired.ID || resolved.ResolvedAt == nil || !resolved.ResolvedAt.Equal(f.now) ||
		resolved.LagSeconds != 0 || !resolved.StartedAt.Equal(fired.StartedAt) {
		t.Errorf("resolved payload %+v", resolved)
	}
	if len(got) != 2 {
		t.Errorf("webhook got %d alerts, want 2: %+v", len(got), got)
	}
	hook.mu.Lock()
	keys := hook.mu.keys
	hook.mu.Unlock()
	if keys[0] == keys[1] {
		t.Errorf("firing and resolved share the Idempotency-Key %q", keys[0])
	}
}

// A lag that crosses the objective on every other check never fires, and
// an unknown lag (a failed measurement, a group without commits) changes
// nothing.
func TestHysteresis(t *testing.T) {
	f := newFixture(t, "", Shape{})
	for range 5 {
		f.check(2 * time.Second)
		f.check(0)
	}
	if f.firing(t) != 0 {
		t.Fatal("a flapping lag fired")
	}
	f.check(2 * time.Second)
	f.lag.mu.Lock()
	f.lag.err = context.DeadlineExceeded
	f.lag.mu.Unlock()
	f.checker.Check(context.Background())
	if f.firing(t) != 0 {
		t.Fatal("a failed measurement counted as above")
	}
	f.lag.mu.Lock()
	f.lag.err = nil
	f.lag.groups = nil
	f.lag.mu.Unlock()
	f.checker.Check(context.Background())
	// A group with members but no commits: its lag is unknown, not 0.
	f.lag.mu.Lock()
	f.lag.groups = []lag.Group{{Group: "tide-sink-hook-1", Members: 1}}
	f.lag.mu.Unlock()
	f.checker.Check(context.Background())
	f.check(2 * time.Second)
	if f.firing(t) != 1 {
		t.Fatal("two checks above, around unknown lags, did not fire")
	}
}

// A pipeline dropped while its alert fires is resolved, and its gauges go.
func TestDroppedPipelineResolves(t *testing.T) {
	hook := newHookRecorder(t)
	f := newFixture(t, hook.srv.URL, Shape{})
	f.check(2 * time.Second)
	f.check(2 * time.Second)
	f.pipes = nil
	f.checker.Check(context.Background())
	if len(f.checker.Active()) != 0 {
		t.Error("a dropped pipeline's alert is active")
	}
	got := hook.wait(t, 2)
	if got[1].Status != StatusResolved || got[1].Pipeline != "hook" {
		t.Errorf("after the drop %+v", got[1])
	}
	families, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if len(fam.GetMetric()) != 0 {
			t.Errorf("%s has %d samples left after the pipeline went", fam.GetName(), len(fam.GetMetric()))
		}
	}
}

// A receiver answering 503 is retried until it takes the alert; one
// answering 400 is not retried.
func TestWebhookRetries(t *testing.T) {
	hook := newHookRecorder(t, http.StatusServiceUnavailable, http.StatusServiceUnavailable)
	f := newFixture(t, hook.srv.URL, Shape{})
	f.check(2 * time.Second)
	f.check(2 * time.Second)
	hook.wait(t, 1)
	hook.mu.Lock()
	if hook.mu.attempts != 3 {
		t.Errorf("%d attempts, want 3", hook.mu.attempts)
	}
	hook.mu.codes = []int{http.StatusBadRequest}
	hook.mu.Unlock()
	f.check(0)
	f.check(0)
	if err := f.checker.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if hook.mu.attempts != 4 || len(hook.mu.got) != 1 {
		t.Errorf("after a 400: %d attempts, %d accepted; want 4 and 1", hook.mu.attempts, len(hook.mu.got))
	}
}

// A full queue drops the oldest notification waiting, not the newest.
func TestWebhookQueueDropsOldest(t *testing.T) {
	w := newWebhook("http://127.0.0.1:1", WebhookOptions{Queue: 2}, slog.New(slog.DiscardHandler))
	for i, status := range []string{"a", "b", "c"} {
		w.enqueue(Alert{ID: string(rune('0' + i)), Status: status})
	}
	if a, b := <-w.queue, <-w.queue; a.Status != "b" || b.Status != "c" {
		t.Errorf("queue holds %q, %q; want b, c", a.Status, b.Status)
	}
}

func TestRecommend(t *testing.T) {
	ctx := context.Background()
	topics := fakeTopics{"orders": 4}
	p := Pipeline{Name: "hook", Topics: []string{"orders"}, Group: "g"}
	for _, c := range []struct {
		name    string
		shape   Shape
		members int
		topics  TopicReader
		action  string
		want    []string
	}{
		{"embedded, few partitions", Shape{Backend: "embedded", Server: "h:9092", CPUs: 4}, 1, topics, ActionAddPartitions,
			[]string{"orders has 4 partition(s)", "tide topic alter orders --partitions 8 --server h:9092", "move to Kafka"}},
		{"embedded, partitions past the CPUs", Shape{Backend: "embedded", CPUs: 2}, 1, topics, ActionMoveToKafka,
			[]string{"orders has 4 partitions", "2 CPU(s)", "--kafka-brokers"}},
		{"kafka, fewer members than partitions", Shape{Backend: "kafka", Server: "k1:9092,k2:9092"}, 1, topics, ActionAddWorkers,
			[]string{"1 member(s) for the 4 partitions of orders", "start up to 3 more", "--kafka-brokers k1:9092,k2:9092"}},
		{"kafka, a member per partition", Shape{Backend: "kafka", Server: "k:9092"}, 4, topics, ActionAddPartitions,
			[]string{"a member for each of the 4 partition(s)", "tide topic alter orders --partitions 8 --server k:9092"}},
		{"topic unknown: the group's partitions", Shape{Backend: "kafka"}, 1, fakeTopics{}, ActionAddWorkers,
			[]string{"for the 3 partitions of orders", "HOST:PORT"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := lag.Group{Group: "g", Members: c.members}
			for i := range 3 {
				g.Partitions = append(g.Partitions, lag.Partition{TopicPartition: transport.TopicPartition{Topic: "orders", Partition: int32(i)}})
			}
			r := Recommend(ctx, c.shape, c.topics, p, g)
			if r.Action != c.action {
				t.Errorf("action %s, want %s (%s)", r.Action, c.action, r.Text)
			}
			for _, w := range c.want {
				if !strings.Contains(r.Text, w) {
					t.Errorf("%q lacks %q", r.Text, w)
				}
			}
		})
	}
}

// The loop runs checks on its own every interval.
func TestStartRunsChecks(t *testing.T) {
	l := &fakeLag{}
	l.set("g", "t", 1, 1, time.Minute, 10)
	c, err := New(Config{
		Pipelines: func() []Pipeline { return []Pipeline{{Name: "p", Topics: []string{"t"}, Group: "g", SLO: time.Second}} },
		Lag:       l, Topics: fakeTopics{}, Interval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	deadline := time.Now().Add(5 * time.Second)
	for len(c.Active()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(c.Active()) != 1 {
		t.Error("the loop did not fire the alert")
	}
}

func TestValidateWebhookURL(t *testing.T) {
	for u, ok := range map[string]bool{"http://h/x": true, "https://h:8443/": true, "ftp://h/": false, "/relative": false, "http://": false} {
		if err := ValidateWebhookURL(u); (err == nil) != ok {
			t.Errorf("%q: %v", u, err)
		}
	}
}

// gaugeValue reads a gauge (testutil would need a module go.mod lacks).
func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// Checks measure afresh only when some pipeline has an objective; without
// one the lag gauge makes do with a shared snapshot; without pipelines
// nothing is measured.
func TestMeasuresOnlyWhatIsNeeded(t *testing.T) {
	f := newFixture(t, "", Shape{})
	f.check(time.Second)
	if f.lag.refreshes != 1 || f.lag.snapshots != 0 {
		t.Errorf("with an objective: %d refreshes, %d snapshots", f.lag.refreshes, f.lag.snapshots)
	}
	f.pipes[0].SLO = 0
	f.check(time.Second)
	if f.lag.refreshes != 1 || f.lag.snapshots != 1 {
		t.Errorf("without objectives: %d refreshes, %d snapshots", f.lag.refreshes, f.lag.snapshots)
	}
	if v := gaugeValue(t, f.checker.lagSeconds.WithLabelValues("hook")); v != 1 {
		t.Errorf("tide_pipeline_lag_seconds without an objective %v, want 1", v)
	}
	f.pipes = nil
	f.check(time.Second)
	if f.lag.refreshes != 1 || f.lag.snapshots != 1 {
		t.Errorf("without pipelines: %d refreshes, %d snapshots", f.lag.refreshes, f.lag.snapshots)
	}
}

// A lag whose age could not be read on some lagging partition (its
// leader down) is not a lag under the objective: a firing alert stays,
// and does not resolve with a lag of 0 only to fire again. A known part
// already past the objective is past it.
func TestUnreadAgeIsUnknown(t *testing.T) {
	hook := newHookRecorder(t)
	f := newFixture(t, hook.srv.URL, Shape{})
	f.check(3 * time.Second)
	f.check(3 * time.Second)
	if f.firing(t) != 1 {
		t.Fatal("not firing")
	}
	unread := func(age time.Duration) {
		f.now = f.now.Add(time.Second)
		f.lag.set("tide-sink-hook-1", "orders", 2, 1, age, 40)
		f.lag.mu.Lock()
		f.lag.groups[0].AgeKnown = false
		f.lag.groups[0].Partitions[1].Records = 40 // age unread
		f.lag.mu.Unlock()
		f.checker.Check(context.Background())
	}
	unread(0)
	unread(0)
	unread(0)
	if f.firing(t) != 1 || len(f.checker.Active()) != 1 {
		t.Fatal("unread ages cleared the alert")
	}
	if v := gaugeValue(t, f.checker.lagSeconds.WithLabelValues("hook")); v != 3 {
		t.Errorf("tide_pipeline_lag_seconds %v while unread, want the last known 3", v)
	}
	f.check(0)
	f.check(0)
	if f.firing(t) != 0 {
		t.Fatal("a measured lag under the objective did not clear it")
	}
	// Past the objective on what could be read: counts as above.
	unread(2 * time.Second)
	unread(2 * time.Second)
	if f.firing(t) != 1 {
		t.Fatal("a lower bound past the objective did not fire")
	}
	if got := hook.wait(t, 3); got[1].Status != StatusResolved || got[1].LagSeconds != 0 || got[2].Status != StatusFiring {
		t.Errorf("notifications %+v", got)
	}
}

// A checker closed without having been started (a server whose start
// failed after creating it) returns at once, webhook or not.
func TestCloseWithoutStart(t *testing.T) {
	c, err := New(Config{
		Pipelines: func() []Pipeline { return nil }, Lag: &fakeLag{}, Topics: fakeTopics{},
		WebhookURL: "http://127.0.0.1:1/hook",
	})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		closed <- c.Close(ctx)
	}()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close of a checker never started did not return")
	}
}

// A receiver answering 429 or 503 with Retry-After is retried no sooner
// than it asked (up to maxRetryAfter), whatever the backoff.
func TestWebhookRetryAfter(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		n := len(times)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	w := newWebhook(srv.URL, WebhookOptions{Backoff: 10 * time.Millisecond}, slog.New(slog.DiscardHandler))
	w.start()
	w.enqueue(Alert{ID: "a", Status: StatusFiring})
	if err := w.close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 2 {
		t.Fatalf("%d attempts, want 2", len(times))
	}
	if gap := times[1].Sub(times[0]); gap < 900*time.Millisecond {
		t.Errorf("retried after %v; the receiver asked for 1s", gap)
	}

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for header, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Sun, 01 Mar 2026 12:00:07 GMT": 7 * time.Second,
		"Sun, 01 Mar 2026 11:00:00 GMT": 0,
		"86400":                         maxRetryAfter,
	} {
		if got := parseRetryAfter(header, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", header, got, want)
		}
	}
}
