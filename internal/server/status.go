package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tide-data/tide/internal/alert"
	"github.com/tide-data/tide/internal/engine"
	"github.com/tide-data/tide/internal/lag"
	"github.com/tide-data/tide/internal/transport"
)

// openAlerts starts the lag objectives' checker over the engine's
// pipelines and the shared lag monitor.
func (s *Server) openAlerts() error {
	shape := alert.Shape{Backend: s.transport.Name()}
	if s.kafka != nil {
		shape.Server = s.kafka.AdvertisedAddr()
	} else {
		shape.Server = strings.Join(s.cfg.KafkaBrokers, ",")
	}
	checker, err := alert.New(alert.Config{
		Pipelines:  s.alertPipelines,
		Lag:        s.lag,
		Topics:     s.transport,
		Shape:      shape,
		Interval:   s.cfg.AlertCheckInterval,
		WebhookURL: s.cfg.AlertWebhookURL,
		Registerer: s.metrics,
		Logger:     s.logger,
	})
	if err != nil {
		return err
	}
	s.alerts = checker
	checker.Start()
	return nil
}

// alertFlushTimeout bounds how long shutdown waits for queued alert
// deliveries: a dead receiver must not hold a shutdown for its retries.
const alertFlushTimeout = 5 * time.Second

// closeAlerts stops the checker, giving queued webhook deliveries until
// ctx ends or alertFlushTimeout passes. Abandoned deliveries are logged:
// a receiver that is down does not make the shutdown fail.
func (s *Server) closeAlerts(ctx context.Context) {
	if s.alerts == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, alertFlushTimeout)
	defer cancel()
	if err := s.alerts.Close(ctx); err != nil {
		s.logger.Warn("lag alerts not delivered at shutdown", "err", err)
	}
}

func (s *Server) alertPipelines() []alert.Pipeline {
	infos := s.engine.Pipelines()
	out := make([]alert.Pipeline, len(infos))
	for i, p := range infos {
		out[i] = alert.Pipeline{Name: p.Name, Source: p.Source, Topics: p.Topics, Group: p.Group, Groups: p.Groups, SLO: p.LagSLO}
	}
	return out
}

// The JSON of GET /v1/status (docs/OBSERVABILITY.md). Rates are null until
// two samples are at least minRateInterval apart.
type statusResponse struct {
	Backend       string    `json:"backend"`
	Worker        string    `json:"worker"`
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	// RateIntervalSeconds is the span the per-second rates cover; 0
	// without rates.
	RateIntervalSeconds float64          `json:"rate_interval_seconds"`
	Topics              []topicStatus    `json:"topics"`
	Pipelines           []pipelineStatus `json:"pipelines"`
	Groups              []groupStatus    `json:"groups"`
	Alerts              []alert.Alert    `json:"alerts"`
	// Errors names what could not be read (the lag, on an unreachable
	// cluster); the rest of the answer stands.
	Errors []string `json:"errors,omitempty"`
}

type topicStatus struct {
	Name       string `json:"name"`
	Partitions int32  `json:"partitions"`
	// EndOffset sums the partitions' end offsets: every record written,
	// less none (retention does not lower it).
	EndOffset        int64    `json:"end_offset"`
	RecordsPerSecond *float64 `json:"records_per_second"`
}

type pipelineStatus struct {
	Name         string   `json:"name"`
	Source       string   `json:"source"`
	Connector    string   `json:"connector"`
	Topics       []string `json:"topics"`
	Group        string   `json:"group"`
	State        string   `json:"state"`
	In           int64    `json:"in"`
	Out          int64    `json:"out"`
	Filtered     int64    `json:"filtered"`
	DeadLettered int64    `json:"dead_lettered"`
	LastError    string   `json:"last_error,omitempty"`
	InPerSecond  *float64 `json:"in_per_second"`
	OutPerSecond *float64 `json:"out_per_second"`
	// LagRecords and LagSeconds are the group's; null when not measured
	// (nothing committed yet, or the measurement failed; LagSeconds also
	// when a lagging partition's oldest record could not be read).
	LagRecords    *int64   `json:"lag_records"`
	LagSeconds    *float64 `json:"lag_seconds"`
	LagSLOSeconds float64  `json:"lag_slo_seconds,omitempty"`
	// Alert is "firing" while the pipeline's lag alert fires, else "".
	Alert string `json:"alert,omitempty"`
}

type groupStatus struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Members int    `json:"members"`
	// Internal marks Tide's own groups (names starting "__").
	Internal   bool    `json:"internal"`
	Partitions int     `json:"partitions"`
	LagRecords int64   `json:"lag_records"`
	LagSeconds float64 `json:"lag_seconds"`
}

// Rates come from two samples of the counters: minRateInterval apart at
// least, and a base older than maxRateBase is not used.
const (
	minRateInterval = time.Second
	maxRateBase     = time.Minute
)

// statusSample is what rates are computed from: end offsets per topic,
// records in and out per pipeline.
type statusSample struct {
	at        time.Time
	topics    map[string]int64
	pipelines map[string][2]int64
}

// statusSamples keeps the last two samples a status request took, so
// that requests share them: a request computes rates against the latest
// one at least minRateInterval old. Requests in a quick row (several
// watchers) do not shorten each other's interval.
type statusSamples struct {
	mu           sync.Mutex
	last, before *statusSample
}

// base returns the sample to compute cur's rates against (nil: none fit)
// and records cur.
func (ss *statusSamples) base(cur *statusSample) *statusSample {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	fits := func(b *statusSample) bool {
		if b == nil {
			return false
		}
		d := cur.at.Sub(b.at)
		return d >= minRateInterval && d <= maxRateBase
	}
	switch {
	case fits(ss.last):
		b := ss.last
		ss.before, ss.last = ss.last, cur
		return b
	case ss.last != nil && cur.at.Sub(ss.last.at) < minRateInterval && fits(ss.before):
		return ss.before
	case ss.last == nil || cur.at.Sub(ss.last.at) >= minRateInterval:
		ss.before, ss.last = ss.last, cur
	}
	return nil
}

// handleStatus serves GET /v1/status: topics, pipelines, groups, active
// alerts, backend and uptime in one JSON document. With no recent sample
// to compute rates from, it samples twice, a second apart.
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := time.Now()
	resp := statusResponse{
		Backend: s.transport.Name(), Worker: s.workerID(),
		StartedAt: s.started, UptimeSeconds: now.Sub(s.started).Seconds(),
	}
	topics, err := s.transport.Topics(ctx)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError("status_unavailable", "listing topics: "+err.Error()))
		return
	}
	pipes := s.engine.Pipelines()
	cur := s.sampleStatus(ctx, topics, pipes, &resp)
	base := s.statusSamples.base(cur)
	if base == nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(minRateInterval):
		}
		pipes = s.engine.Pipelines()
		base, cur = cur, s.sampleStatus(ctx, topics, pipes, nil)
		s.statusSamples.base(cur)
	}
	interval := cur.at.Sub(base.at).Seconds()
	resp.RateIntervalSeconds = interval
	rate := func(now, then int64, ok bool) *float64 {
		if !ok {
			return nil
		}
		v := float64(max(now-then, 0)) / interval
		return &v
	}

	for _, t := range topics {
		end, ok := cur.topics[t.Name]
		if !ok {
			continue
		}
		then, had := base.topics[t.Name]
		resp.Topics = append(resp.Topics, topicStatus{Name: t.Name, Partitions: t.Partitions, EndOffset: end,
			RecordsPerSecond: rate(end, then, had)})
	}

	groups, lagErr := s.lag.Snapshot(ctx)
	if lagErr != nil {
		resp.Errors = append(resp.Errors, "lag: "+lagErr.Error())
	}
	active := map[string]bool{}
	if s.alerts != nil {
		resp.Alerts = s.alerts.Active()
		for _, a := range resp.Alerts {
			active[a.Pipeline] = true
		}
	}
	for _, p := range pipes {
		ps := pipelineStatus{Name: p.Name, Source: p.Source, Connector: p.Connector, Topics: append([]string{}, p.Topics...), Group: p.Group,
			State: p.State, In: p.In, Out: p.Out, Filtered: p.Filtered, DeadLettered: p.DeadLettered, LastError: p.LastError,
			LagSLOSeconds: p.LagSLO.Seconds()}
		then, had := base.pipelines[p.Name]
		ps.InPerSecond = rate(p.In, then[0], had)
		ps.OutPerSecond = rate(p.Out, then[1], had)
		// A group without commits has no lag to speak of yet (not 0), and
		// one with a partition's age unread no age (only a lower bound).
		if g, ok := lag.FindAll(groups, append([]string{p.Group}, p.Groups...)...); ok && lagErr == nil && len(g.Partitions) > 0 {
			records := g.Records
			ps.LagRecords = &records
			if g.AgeKnown {
				seconds := g.Age.Seconds()
				ps.LagSeconds = &seconds
			}
		}
		if active[p.Name] {
			ps.Alert = alert.StatusFiring
		}
		resp.Pipelines = append(resp.Pipelines, ps)
	}
	for _, g := range groups {
		resp.Groups = append(resp.Groups, groupStatus{Name: g.Group, State: g.State, Members: g.Members,
			Internal: strings.HasPrefix(g.Group, "__"), Partitions: len(g.Partitions), LagRecords: g.Records, LagSeconds: g.Age.Seconds()})
	}
	if resp.Topics == nil {
		resp.Topics = []topicStatus{}
	}
	if resp.Pipelines == nil {
		resp.Pipelines = []pipelineStatus{}
	}
	if resp.Groups == nil {
		resp.Groups = []groupStatus{}
	}
	if resp.Alerts == nil {
		resp.Alerts = []alert.Alert{}
	}
	writeJSON(w, http.StatusOK, resp)
}

// sampleStatus reads the counters rates come from: every topic's summed
// end offsets (a topic that fails to answer is left out, and noted in
// resp when given) and every pipeline's records in and out.
func (s *Server) sampleStatus(ctx context.Context, topics []transport.TopicInfo, pipes []engine.PipelineInfo, resp *statusResponse) *statusSample {
	cur := &statusSample{topics: make(map[string]int64, len(topics)), pipelines: make(map[string][2]int64, len(pipes))}
	for _, t := range topics {
		ends, err := s.transport.EndOffsets(ctx, t.Name)
		if err != nil {
			if resp != nil {
				resp.Errors = append(resp.Errors, "end offsets of "+t.Name+": "+err.Error())
			}
			continue
		}
		var sum int64
		for _, e := range ends {
			sum += e
		}
		cur.topics[t.Name] = sum
	}
	for _, p := range pipes {
		cur.pipelines[p.Name] = [2]int64{p.In, p.Out}
	}
	cur.at = time.Now()
	return cur
}
