package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tide-data/tide/internal/lag"
	"github.com/tide-data/tide/internal/transport"
)

// Defaults of Config.
const (
	DefaultInterval   = time.Second
	DefaultFireAfter  = 2
	DefaultClearAfter = 2
)

// Statuses of an Alert.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Pipeline is what the checker needs to know of one pipeline.
type Pipeline struct {
	Name   string
	Source string
	// Topics the pipeline reads, through Group: its lag is Group's, and
	// its other input groups' (Groups: a join's right side, a UNION ALL's
	// other queries).
	Topics []string
	Group  string
	Groups []string
	// SLO is the lag objective; 0 means none (the pipeline's lag is still
	// exported, but nothing fires).
	SLO time.Duration
}

// Measurer measures every group's lag. *lag.Monitor is one.
type Measurer interface {
	// Refresh measures now.
	Refresh(ctx context.Context) ([]lag.Group, error)
	// Snapshot may return a recent measurement instead.
	Snapshot(ctx context.Context) ([]lag.Group, error)
}

// TopicReader describes topics, for the recommendation's partition
// counts. transport.Transport is one.
type TopicReader interface {
	Topic(ctx context.Context, name string) (transport.TopicInfo, error)
}

// Config configures a Checker.
type Config struct {
	// Pipelines lists the pipelines to watch, each time the checker runs.
	Pipelines func() []Pipeline
	// Lag measures lag; Topics describes topics. Both required.
	Lag    Measurer
	Topics TopicReader
	// Shape is what the recommendation depends on: the backend ("kafka"
	// or the embedded log), the address for commands, the node's CPUs
	// (0 means runtime.NumCPU).
	Shape Shape
	// Interval between checks; 0 means DefaultInterval.
	Interval time.Duration
	// FireAfter and ClearAfter are the hysteresis: how many checks in a
	// row must find the lag above (at or under) the objective before the
	// alert fires (clears). 0 means the defaults.
	FireAfter, ClearAfter int
	// WebhookURL, when set, receives a POST of every alert as it fires
	// and clears.
	WebhookURL string
	// Webhook tunes deliveries; zero values mean the defaults.
	Webhook WebhookOptions
	// Registerer, when set, gets the checker's gauges.
	Registerer prometheus.Registerer
	// Logger receives the alerts' log lines; nil discards them.
	Logger *slog.Logger
	// Now is the clock of started_at and resolved_at; nil means time.Now.
	Now func() time.Time
}

// Alert is one pipeline's missed lag objective: the webhook's JSON
// payload, and what the status endpoint lists.
type Alert struct {
	// ID is the same in an alert's firing and resolved notifications.
	ID       string   `json:"id"`
	Status   string   `json:"status"` // "firing" or "resolved"
	Pipeline string   `json:"pipeline"`
	Source   string   `json:"source"`
	Topics   []string `json:"topics"`
	Group    string   `json:"group"`
	Backend  string   `json:"backend"`
	// LagSeconds and LagRecords are the lag at the last check (when
	// resolved: the check that cleared it).
	LagSeconds float64 `json:"lag_seconds"`
	LagRecords int64   `json:"lag_records"`
	SLOSeconds float64 `json:"slo_seconds"`
	// StartedAt is the check that fired the alert; ResolvedAt the one
	// that cleared it.
	StartedAt  time.Time  `json:"started_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	// Recommendation says, in words, what to scale out; Action names it
	// for automation: "add_partitions", "add_workers" or "move_to_kafka".
	Recommendation string `json:"recommendation"`
	Action         string `json:"action"`
	// Partitions and Members are the figures the recommendation was made
	// from: partitions of the pipeline's (first) topic, members of its
	// group.
	Partitions int32 `json:"partitions"`
	Members    int   `json:"members"`
}

// Checker watches lag objectives. Start runs it; Close stops it.
type Checker struct {
	cfg     Config
	logger  *slog.Logger
	webhook *webhook // nil without a URL

	firing, lagSeconds, sloSeconds *prometheus.GaugeVec

	// Owned by the loop (or by a caller of Check, never both).
	state map[string]*pipelineState

	mu struct {
		sync.Mutex
		active  map[string]Alert // by pipeline
		lastErr string           // last measurement error logged
	}

	stop      context.CancelFunc
	done      chan struct{}
	started   bool
	closeOnce sync.Once
}

// pipelineState is one pipeline's hysteresis.
type pipelineState struct {
	above, below int // consecutive checks above / at or under the objective
	alert        *Alert
	exported     bool // its gauges have label values to delete when it goes
}

// New returns a checker; Start runs it.
func New(cfg Config) (*Checker, error) {
	if cfg.Pipelines == nil || cfg.Lag == nil || cfg.Topics == nil {
		return nil, errors.New("alert: Pipelines, Lag and Topics are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.FireAfter <= 0 {
		cfg.FireAfter = DefaultFireAfter
	}
	if cfg.ClearAfter <= 0 {
		cfg.ClearAfter = DefaultClearAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Shape.CPUs <= 0 {
		cfg.Shape.CPUs = runtime.NumCPU()
	}
	c := &Checker{cfg: cfg, logger: cfg.Logger, state: map[string]*pipelineState{}}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	c.mu.active = map[string]Alert{}
	if cfg.WebhookURL != "" {
		if err := ValidateWebhookURL(cfg.WebhookURL); err != nil {
			return nil, err
		}
		c.webhook = newWebhook(cfg.WebhookURL, cfg.Webhook, c.logger)
	}
	c.firing = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tide_lag_slo_alert_firing",
		Help: "1 while a pipeline's lag objective (lag_slo) alert fires, else 0.",
	}, []string{"pipeline"})
	c.lagSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tide_pipeline_lag_seconds",
		Help: "Age of the oldest record a pipeline has not consumed, over its partitions (its group's lag), at the last check.",
	}, []string{"pipeline"})
	c.sloSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tide_pipeline_lag_slo_seconds",
		Help: "A pipeline's lag objective (the sink's lag_slo option).",
	}, []string{"pipeline"})
	if cfg.Registerer != nil {
		for _, col := range []prometheus.Collector{c.firing, c.lagSeconds, c.sloSeconds} {
			if err := cfg.Registerer.Register(col); err != nil {
				return nil, fmt.Errorf("alert: %w", err)
			}
		}
	}
	return c, nil
}

// ValidateWebhookURL checks that u is an absolute http or https URL.
func ValidateWebhookURL(u string) error {
	parsed, err := url.Parse(u)
	if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
		return fmt.Errorf("alert: webhook URL %q is not an http(s) URL", u)
	}
	return nil
}

// Start runs the checker's loop and its webhook sender until Close.
// It must be called at most once.
func (c *Checker) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.stop, c.done, c.started = cancel, make(chan struct{}), true
	if c.webhook != nil {
		c.webhook.start()
	}
	go func() {
		defer close(c.done)
		tick := time.NewTicker(c.cfg.Interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			checkCtx, cancelCheck := context.WithTimeout(ctx, max(c.cfg.Interval*5, 10*time.Second))
			c.Check(checkCtx)
			cancelCheck()
		}
	}()
}

// Close stops the loop, waiting for a check in progress, then gives the
// webhook sender until ctx ends to deliver what is queued.
// Later calls return nil at once.
func (c *Checker) Close(ctx context.Context) error {
	var err error
	c.closeOnce.Do(func() {
		if c.started {
			c.stop()
			<-c.done
		}
		if c.webhook != nil {
			err = c.webhook.close(ctx)
		}
	})
	return err
}

// Active returns the alerts firing now, sorted by pipeline. The caller
// owns the slice.
func (c *Checker) Active() []Alert {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Alert, 0, len(c.mu.active))
	for _, a := range c.mu.active {
		a.Topics = slices.Clone(a.Topics)
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Alert) int { return strings.Compare(a.Pipeline, b.Pipeline) })
	return out
}

// Check runs one check: measure, compare, fire or clear. The loop calls
// it every interval; tests call it directly (not while the loop runs).
func (c *Checker) Check(ctx context.Context) {
	pipes := c.cfg.Pipelines()
	// Objectives need a fresh measurement every check; without any, the
	// pipelines' lag gauges make do with a shared recent one, and with no
	// pipeline nothing is measured.
	var groups []lag.Group
	var err error
	switch {
	case slices.ContainsFunc(pipes, func(p Pipeline) bool { return p.SLO > 0 }):
		groups, err = c.cfg.Lag.Refresh(ctx)
		c.noteMeasurement(err)
	case len(pipes) > 0:
		groups, err = c.cfg.Lag.Snapshot(ctx)
		c.noteMeasurement(err)
	}
	seen := make(map[string]bool, len(pipes))
	for _, p := range pipes {
		seen[p.Name] = true
		st := c.state[p.Name]
		if st == nil {
			st = &pipelineState{}
			c.state[p.Name] = st
		}
		var g lag.Group
		measured := false
		if err == nil && p.Group != "" {
			g, measured = lag.FindAll(groups, append([]string{p.Group}, p.Groups...)...)
			// A group that has committed nothing has no lag yet: unknown, not 0.
			measured = measured && len(g.Partitions) > 0
		}
		// With a partition's age unread, g.Age is a lower bound: enough to
		// say the lag is above an objective, not that it is under one.
		known := measured && g.AgeKnown
		c.export(p, st, g, known)
		if p.SLO <= 0 {
			if st.alert != nil { // the objective was dropped: nothing to miss
				c.resolve(p, st, g, known)
			}
			st.above, st.below = 0, 0
			continue
		}
		switch {
		case measured && g.Age > p.SLO:
			st.above, st.below = st.above+1, 0
		case known:
			st.above, st.below = 0, st.below+1
		default:
			continue
		}
		switch {
		case st.alert == nil && st.above >= c.cfg.FireAfter:
			c.fire(ctx, p, st, g)
		case st.alert != nil && st.below >= c.cfg.ClearAfter:
			c.resolve(p, st, g, true)
		case st.alert != nil:
			c.update(p, st, g)
		}
	}
	for name, st := range c.state {
		if seen[name] {
			continue
		}
		if st.alert != nil {
			c.resolve(Pipeline{Name: name, Source: st.alert.Source, Topics: st.alert.Topics, Group: st.alert.Group}, st, lag.Group{}, false)
		}
		c.firing.DeleteLabelValues(name)
		c.lagSeconds.DeleteLabelValues(name)
		c.sloSeconds.DeleteLabelValues(name)
		delete(c.state, name)
	}
}

// noteMeasurement logs a failed measurement once per distinct error.
func (c *Checker) noteMeasurement(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	c.mu.Lock()
	changed := msg != c.mu.lastErr
	c.mu.lastErr = msg
	c.mu.Unlock()
	switch {
	case changed && err != nil:
		c.logger.Warn("lag objectives: measuring lag failed; alerts keep their state until it works", "err", err)
	case changed:
		c.logger.Info("lag objectives: measuring lag works again")
	}
}

// export sets the pipeline's gauges.
func (c *Checker) export(p Pipeline, st *pipelineState, g lag.Group, known bool) {
	if known {
		c.lagSeconds.WithLabelValues(p.Name).Set(g.Age.Seconds())
		st.exported = true
	}
	if p.SLO > 0 {
		c.sloSeconds.WithLabelValues(p.Name).Set(p.SLO.Seconds())
		firing := 0.0
		if st.alert != nil {
			firing = 1
		}
		c.firing.WithLabelValues(p.Name).Set(firing)
	} else {
		c.sloSeconds.DeleteLabelValues(p.Name)
		c.firing.DeleteLabelValues(p.Name)
	}
}

func (c *Checker) fire(ctx context.Context, p Pipeline, st *pipelineState, g lag.Group) {
	now := c.cfg.Now()
	rec := Recommend(ctx, c.cfg.Shape, c.cfg.Topics, p, g)
	a := &Alert{
		ID:       fmt.Sprintf("%s-%d", p.Name, now.UnixMilli()),
		Status:   StatusFiring,
		Pipeline: p.Name, Source: p.Source, Topics: append([]string{}, p.Topics...), Group: p.Group, Backend: c.cfg.Shape.Backend,
		LagSeconds: g.Age.Seconds(), LagRecords: g.Records, SLOSeconds: p.SLO.Seconds(),
		StartedAt:      now,
		Recommendation: rec.Text, Action: rec.Action, Partitions: rec.Partitions, Members: rec.Members,
	}
	st.alert = a
	c.firing.WithLabelValues(p.Name).Set(1)
	c.mu.Lock()
	c.mu.active[p.Name] = *a
	c.mu.Unlock()
	c.logger.Warn("lag objective missed", "pipeline", p.Name, "lag", g.Age.Round(time.Millisecond), "lag_records", g.Records,
		"objective", p.SLO, "group", p.Group, "recommendation", rec.Text)
	c.notify(*a)
}

// update refreshes a firing alert's figures for Active.
func (c *Checker) update(p Pipeline, st *pipelineState, g lag.Group) {
	st.alert.LagSeconds, st.alert.LagRecords = g.Age.Seconds(), g.Records
	c.mu.Lock()
	c.mu.active[p.Name] = *st.alert
	c.mu.Unlock()
}

func (c *Checker) resolve(p Pipeline, st *pipelineState, g lag.Group, known bool) {
	a := *st.alert
	st.alert = nil
	st.above, st.below = 0, 0
	now := c.cfg.Now()
	a.Status, a.ResolvedAt = StatusResolved, &now
	if known {
		a.LagSeconds, a.LagRecords = g.Age.Seconds(), g.Records
	}
	if p.SLO > 0 {
		c.firing.WithLabelValues(p.Name).Set(0)
	}
	c.mu.Lock()
	delete(c.mu.active, p.Name)
	c.mu.Unlock()
	c.logger.Info("lag objective met again", "pipeline", p.Name, "lag", time.Duration(a.LagSeconds*float64(time.Second)).Round(time.Millisecond),
		"objective", time.Duration(a.SLOSeconds*float64(time.Second)), "fired_for", now.Sub(a.StartedAt).Round(time.Millisecond))
	c.notify(a)
}

func (c *Checker) notify(a Alert) {
	if c.webhook != nil {
		c.webhook.enqueue(a)
	}
}
