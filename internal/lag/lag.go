package lag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// Partition is one partition's lag for one group.
type Partition struct {
	transport.TopicPartition
	// Committed is the group's next offset to consume; End the
	// partition's end offset (high watermark).
	Committed, End int64
	// Records is End - Committed, never below 0.
	Records int64
	// Age is how long ago the oldest unconsumed record was written (its
	// timestamp); 0 when nothing is unconsumed, or when its age was not
	// read (AgeKnown false).
	Age      time.Duration
	AgeKnown bool
}

// Group is one consumer group's lag.
type Group struct {
	Group   string
	State   string
	Members int
	// Partitions are sorted by topic and partition.
	Partitions []Partition
	// Records sums the partitions' records; Age is their greatest age.
	Records int64
	Age     time.Duration
	// AgeKnown says every partition's age was read. When it is false (a
	// read failed, or MaxAgeReads ran out) Age is only a lower bound: a
	// lagging partition whose age is unknown counts as 0 in it.
	AgeKnown bool
}

// Options tune Measure.
type Options struct {
	// Now is the clock ages are measured against; nil means time.Now.
	Now func() time.Time
	// MaxAgeReads bounds the record reads one measurement makes for ages
	// (one per lagging partition); past it, ages are left unknown.
	// 0 means DefaultMaxAgeReads.
	MaxAgeReads int
}

// DefaultMaxAgeReads is Options.MaxAgeReads by default.
const DefaultMaxAgeReads = 10_000

// Measure measures every group's lag now.
func Measure(ctx context.Context, tr transport.Transport, opts Options) ([]Group, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxAgeReads <= 0 {
		opts.MaxAgeReads = DefaultMaxAgeReads
	}
	groups, err := tr.Groups(ctx)
	if err != nil {
		return nil, fmt.Errorf("lag: %w", err)
	}
	ends := map[string]map[int32]int64{}
	for _, g := range groups {
		for tp := range g.Offsets {
			if _, ok := ends[tp.Topic]; ok {
				continue
			}
			e, err := tr.EndOffsets(ctx, tp.Topic)
			if errors.Is(err, transport.ErrTopicNotFound) {
				e = nil // offsets of a deleted topic: no lag to speak of
			} else if err != nil {
				return nil, fmt.Errorf("lag: end offsets of %s: %w", tp.Topic, err)
			}
			ends[tp.Topic] = e
		}
	}
	now := opts.Now()
	reads := 0
	out := make([]Group, 0, len(groups))
	for _, g := range groups {
		lg := Group{Group: g.Group, State: g.State, Members: g.Members, AgeKnown: true}
		for tp, committed := range g.Offsets {
			end, ok := ends[tp.Topic][tp.Partition]
			if !ok {
				continue
			}
			p := Partition{TopicPartition: tp, Committed: committed, End: end, Records: max(end-committed, 0)}
			if p.Records == 0 {
				p.AgeKnown = true
			} else if reads < opts.MaxAgeReads {
				reads++
				if ts, none, ok := oldest(ctx, tr, tp, committed); ok {
					p.AgeKnown = true
					if !none {
						p.Age = max(now.Sub(ts), 0)
					}
				}
			}
			lg.Records += p.Records
			lg.Age = max(lg.Age, p.Age)
			lg.AgeKnown = lg.AgeKnown && p.AgeKnown
			lg.Partitions = append(lg.Partitions, p)
		}
		slices.SortFunc(lg.Partitions, func(a, b Partition) int {
			if c := strings.Compare(a.Topic, b.Topic); c != 0 {
				return c
			}
			return int(a.Partition - b.Partition)
		})
		out = append(out, lg)
	}
	return out, nil
}

// oldest returns the timestamp of the first record at or after offset
// (the log start, if retention removed offset). none says there is no
// record to consume up to the end (transaction markers only): nothing is
// waiting, whatever the offsets say. ok is false when the read failed.
func oldest(ctx context.Context, tr transport.Transport, tp transport.TopicPartition, offset int64) (ts time.Time, none, ok bool) {
	recs, err := tr.ReadAt(ctx, tp, offset, 1)
	if errors.Is(err, transport.ErrOffsetOutOfRange) {
		starts, serr := tr.StartOffsets(ctx, tp.Topic)
		if serr != nil {
			return time.Time{}, false, false
		}
		recs, err = tr.ReadAt(ctx, tp, starts[tp.Partition], 1)
	}
	switch {
	case err != nil:
		return time.Time{}, false, false
	case len(recs) == 0:
		return time.Time{}, true, true
	}
	return recs[0].Timestamp, false, true
}

// Monitor caches measurements: Snapshot measures at most once per TTL
// and callers in between share the result. Safe for concurrent use.
//
// One caller measures at a time; the others wait for its result, each
// only as long as its own context allows: a slow cluster holding a
// measurement up must not hold a scrape past its deadline (the whole
// /metrics answer would be lost with it). A measurement that fails
// because its caller's context ended is that caller's alone: it is not
// shared as the cluster's state.
type Monitor struct {
	tr   transport.Transport
	opts Options
	ttl  time.Duration

	// measuring holds one token; whoever takes it measures.
	measuring chan struct{}

	mu struct {
		sync.Mutex
		at     time.Time
		groups []Group
		err    error
	}
}

// NewMonitor returns a monitor of tr's groups whose snapshots live ttl.
func NewMonitor(tr transport.Transport, ttl time.Duration, opts Options) *Monitor {
	m := &Monitor{tr: tr, ttl: ttl, opts: opts, measuring: make(chan struct{}, 1)}
	m.measuring <- struct{}{}
	return m
}

// Snapshot returns the last measurement if it is younger than the TTL,
// else measures again, or waits for the measurement in progress. The
// result is shared: callers must not modify it.
func (m *Monitor) Snapshot(ctx context.Context) ([]Group, error) {
	if groups, err, ok := m.fresh(); ok {
		return groups, err
	}
	if err := m.acquire(ctx); err != nil {
		return nil, err
	}
	defer m.release()
	if groups, err, ok := m.fresh(); ok { // measured while this call waited
		return groups, err
	}
	return m.measure(ctx)
}

// Refresh measures now, whatever the age of the last measurement, and
// shares the result with later Snapshot calls: a periodic caller (the lag
// objectives' checker) keeps the monitor fresh, and scrapes within the
// TTL reuse its measurement instead of reading the transport again. The
// result is shared: callers must not modify it.
func (m *Monitor) Refresh(ctx context.Context) ([]Group, error) {
	if err := m.acquire(ctx); err != nil {
		return nil, err
	}
	defer m.release()
	return m.measure(ctx)
}

func (m *Monitor) fresh() ([]Group, error, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.mu.at.IsZero() && time.Since(m.mu.at) < m.ttl {
		return m.mu.groups, m.mu.err, true
	}
	return nil, nil, false
}

// acquire takes the right to measure, waiting for a measurement in
// progress at most until ctx ends.
func (m *Monitor) acquire(ctx context.Context) error {
	select {
	case <-m.measuring:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("lag: waiting for the measurement in progress: %w", ctx.Err())
	}
}

func (m *Monitor) release() { m.measuring <- struct{}{} }

// measure measures (the caller holds the token) and records the result,
// unless it failed because ctx ended.
func (m *Monitor) measure(ctx context.Context) ([]Group, error) {
	groups, err := Measure(ctx, m.tr, m.opts)
	if err != nil && ctx.Err() != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.groups, m.mu.err, m.mu.at = groups, err, time.Now()
	return groups, err
}

// Find returns group's lag in groups, if it is there.
func Find(groups []Group, group string) (Group, bool) {
	i, ok := slices.BinarySearchFunc(groups, group, func(g Group, name string) int { return strings.Compare(g.Group, name) })
	if !ok {
		return Group{}, false
	}
	return groups[i], true
}

// FindAll returns the named groups' lag as one: a pipeline that reads
// through several groups (a join's two inputs, a UNION ALL's queries)
// lags as much as all of them — their partitions, their records summed,
// the greatest age, known only if every one found is. It is named after
// the first; ok reports whether any was found.
func FindAll(groups []Group, names ...string) (Group, bool) {
	out := Group{AgeKnown: true}
	found := false
	for i, name := range names {
		g, ok := Find(groups, name)
		if !ok {
			continue
		}
		if !found || i == 0 {
			out.Group, out.State, out.Members = g.Group, g.State, g.Members
		}
		found = true
		out.Partitions = append(out.Partitions, g.Partitions...)
		out.Records += g.Records
		out.Age = max(out.Age, g.Age)
		out.AgeKnown = out.AgeKnown && g.AgeKnown
	}
	if !found {
		return Group{}, false
	}
	return out, true
}
