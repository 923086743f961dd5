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
		lg := Group{Group: g.Group, State: g.State, Members: g.Members}
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
				if ts, ok := oldest(ctx, tr, tp, committed); ok {
					p.Age, p.AgeKnown = max(now.Sub(ts), 0), true
				}
			}
			lg.Records += p.Records
			lg.Age = max(lg.Age, p.Age)
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
// (the log start, if retention removed offset).
func oldest(ctx context.Context, tr transport.Transport, tp transport.TopicPartition, offset int64) (time.Time, bool) {
	recs, err := tr.ReadAt(ctx, tp, offset, 1)
	if errors.Is(err, transport.ErrOffsetOutOfRange) {
		starts, serr := tr.StartOffsets(ctx, tp.Topic)
		if serr != nil {
			return time.Time{}, false
		}
		recs, err = tr.ReadAt(ctx, tp, starts[tp.Partition], 1)
	}
	if err != nil || len(recs) == 0 {
		return time.Time{}, false
	}
	return recs[0].Timestamp, true
}

// Monitor caches measurements: Snapshot measures at most once per TTL
// and callers in between share the result. Safe for concurrent use.
type Monitor struct {
	tr   transport.Transport
	opts Options
	ttl  time.Duration

	mu     sync.Mutex
	at     time.Time
	groups []Group
	err    error
}

// NewMonitor returns a monitor of tr's groups whose snapshots live ttl.
func NewMonitor(tr transport.Transport, ttl time.Duration, opts Options) *Monitor {
	return &Monitor{tr: tr, ttl: ttl, opts: opts}
}

// Snapshot returns the last measurement if it is younger than the TTL,
// else measures again. The result is shared: callers must not modify it.
func (m *Monitor) Snapshot(ctx context.Context) ([]Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.at.IsZero() && time.Since(m.at) < m.ttl {
		return m.groups, m.err
	}
	m.groups, m.err = Measure(ctx, m.tr, m.opts)
	m.at = time.Now()
	return m.groups, m.err
}

// Refresh measures now, whatever the age of the last measurement, and
// shares the result with later Snapshot calls: a periodic caller (the lag
// objectives' checker) keeps the monitor fresh, and scrapes within the
// TTL reuse its measurement instead of reading the transport again. The
// result is shared: callers must not modify it.
func (m *Monitor) Refresh(ctx context.Context) ([]Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.groups, m.err = Measure(ctx, m.tr, m.opts)
	m.at = time.Now()
	return m.groups, m.err
}

// Find returns group's lag in groups, if it is there.
func Find(groups []Group, group string) (Group, bool) {
	i, ok := slices.BinarySearchFunc(groups, group, func(g Group, name string) int { return strings.Compare(g.Group, name) })
	if !ok {
		return Group{}, false
	}
	return groups[i], true
}
