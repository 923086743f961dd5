package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tide-data/tide/internal/engine"
)

// slotCacheTTL is how long a replication slot's retained WAL, read from
// the database, is reused by scrapes: one query per source per 10 s,
// however often Prometheus scrapes.
const slotCacheTTL = 10 * time.Second

// slotQueryTimeout bounds one slot query during a scrape.
const slotQueryTimeout = 5 * time.Second

// cdcCollector exports the lag of the capturing sources this worker runs:
// in time (from the engine's memory, every scrape) and in retained WAL
// (from pg_replication_slots, cached).
type cdcCollector struct {
	engine *engine.Engine
	logger *slog.Logger
	now    func() time.Time

	// mu serialises scrapes' refreshes, so two scrapers do not both query.
	mu    sync.Mutex
	slots map[string]cachedSlot // by source
}

type cachedSlot struct {
	info engine.SlotInfo
	err  error
	at   time.Time
}

var (
	cdcSlotLagDesc = prometheus.NewDesc("tide_cdc_slot_lag_bytes",
		"WAL a capturing source's replication slot retains (restart_lsn to the server's current position), read at most every 10 s.",
		[]string{"source", "slot"}, nil)
	cdcLagDesc = prometheus.NewDesc("tide_cdc_lag_seconds",
		"Age, by the database's commit timestamps, of the oldest change a capture received and has not written durably yet; 0 when caught up, growing while it is not streaming.",
		[]string{"source"}, nil)
)

func newCDCCollector(e *engine.Engine, logger *slog.Logger) *cdcCollector {
	return &cdcCollector{engine: e, logger: logger, now: time.Now, slots: map[string]cachedSlot{}}
}

func (c *cdcCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cdcSlotLagDesc
	ch <- cdcLagDesc
}

func (c *cdcCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	captures := c.engine.Captures(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	running := map[string]bool{}
	for _, cp := range captures {
		running[cp.Source] = true
		ch <- prometheus.MustNewConstMetric(cdcLagDesc, prometheus.GaugeValue, cp.Lag.Seconds(), cp.Source)
		cached, ok := c.slots[cp.Source]
		if !ok || now.Sub(cached.at) >= slotCacheTTL || cached.info.Slot != cp.Slot {
			ctx, cancel := context.WithTimeout(context.Background(), slotQueryTimeout)
			cached.info, cached.err = c.engine.CaptureSlot(ctx, cp.Source)
			cancel()
			cached.at = now
			c.slots[cp.Source] = cached
			if cached.err != nil {
				c.logger.Warn("metrics: reading the replication slot failed; tide_cdc_slot_lag_bytes is left out",
					"source", cp.Source, "slot", cp.Slot, "err", cached.err)
			}
		}
		if cached.err == nil && cached.info.Exists {
			ch <- prometheus.MustNewConstMetric(cdcSlotLagDesc, prometheus.GaugeValue, float64(cached.info.RetainedBytes), cp.Source, cached.info.Slot)
		}
	}
	for source := range c.slots {
		if !running[source] {
			delete(c.slots, source) // dropped, or its lease moved
		}
	}
}
