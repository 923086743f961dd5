package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/transport"
)

// Topic is the catalog's topic name.
const Topic = "__tide_catalog"

// loadIdle is how long loading waits for a record before taking what it
// read as the whole catalog (see transport.ReadToEnd): long, because a
// partial catalog would leave pipelines stopped.
const loadIdle = 30 * time.Second

// Entry is one persisted object.
type Entry struct {
	Kind ast.ObjectKind `json:"kind"`
	Name string         `json:"name"`
	SQL  string         `json:"sql"`
	// Written is the statement as the user wrote it when SQL is the
	// engine's completion of it (a source whose columns came from the
	// schema registry); empty when they are the same.
	Written string    `json:"written,omitempty"`
	Created time.Time `json:"created"`
	// ID is unique per creation: dropping and re-creating a name gives a
	// new ID (pipelines derive their consumer group from it).
	ID string `json:"id"`
}

// Change is one catalog change seen by Watch: Entry is the new entry, or
// for a drop (Deleted) the name alone.
type Change struct {
	Name    string
	Entry   Entry
	Deleted bool
}

// Catalog is the in-memory view of the catalog topic. Safe for
// concurrent use.
type Catalog struct {
	t      transport.Transport
	logger *slog.Logger
	group  string

	mu struct {
		sync.Mutex
		entries map[string]Entry
		order   map[string]int64 // name -> offset of its latest record (tombstones too)
	}
	// writing is held by Put and Delete from before they produce their
	// record until they have applied it, and by Watch while it applies
	// what it read: the tail can read a record before Produce returns,
	// and must not take this Catalog's own write for another worker's.
	writing  sync.Mutex
	consumer transport.Consumer
}

// Options configure Open.
type Options struct {
	// WorkerID names this worker; the catalog reader's consumer group is
	// derived from it (it never commits). Default: random.
	WorkerID string
	Logger   *slog.Logger
}

// Open creates the catalog topic if needed and loads every entry.
func Open(ctx context.Context, t transport.Transport, opts Options) (*Catalog, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.WorkerID == "" {
		opts.WorkerID = NewID()
	}
	// The reader's group never commits; a random suffix keeps two workers
	// that share a name (a host name) from splitting the one partition.
	c := &Catalog{t: t, logger: opts.Logger, group: "__tide-catalog-reader-" + opts.WorkerID + "-" + NewID()[:8]}
	c.mu.entries = map[string]Entry{}
	c.mu.order = map[string]int64{}
	err := t.CreateTopic(ctx, transport.TopicSpec{Name: Topic, Partitions: 1, Configs: map[string]string{"cleanup.policy": "compact"}})
	if err != nil && !errors.Is(err, transport.ErrTopicExists) {
		return nil, fmt.Errorf("catalog: create %s: %w", Topic, err)
	}
	c.consumer, err = t.NewConsumer(ctx, transport.ConsumerOptions{Group: c.group, Topics: []string{Topic}, Start: transport.StartEarliest})
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	complete, err := transport.ReadToEnd(ctx, t, c.consumer, Topic, loadIdle, func(r *transport.Record) { c.apply(r) })
	if err != nil {
		return nil, errors.Join(fmt.Errorf("catalog: load: %w", err), c.consumer.Close(context.WithoutCancel(ctx)))
	}
	if !complete {
		c.logger.Warn("catalog: nothing arrived for a while before the end offset; taking what was read as the catalog (compaction may have removed the last records)", "idle", loadIdle)
	}
	return c, nil
}

// NewID returns a random 16-hex-digit identifier.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// apply folds one record into the view and returns the change it made,
// or false if it changed nothing (a record this worker applied already).
func (c *Catalog) apply(r *transport.Record) (Change, bool) {
	name := string(r.Key)
	c.mu.Lock()
	defer c.mu.Unlock()
	// One partition: records arrive in offset order, but Put and Delete
	// apply their own records before the tail reaches the older ones.
	if last, ok := c.mu.order[name]; ok && r.Offset <= last {
		return Change{}, false
	}
	c.mu.order[name] = r.Offset
	if r.Value == nil {
		if _, ok := c.mu.entries[name]; !ok {
			return Change{}, false
		}
		delete(c.mu.entries, name)
		return Change{Name: name, Deleted: true}, true
	}
	var e Entry
	if err := json.Unmarshal(r.Value, &e); err != nil || e.Name != name {
		c.logger.Error("catalog: skipping an unreadable entry", "offset", r.Offset, "key", name, "err", err)
		return Change{}, false
	}
	if old, ok := c.mu.entries[name]; ok && old.ID == e.ID {
		return Change{}, false
	}
	c.mu.entries[name] = e
	return Change{Name: name, Entry: e}, true
}

// Get returns the entry for name.
func (c *Catalog) Get(name string) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.mu.entries[name]
	return e, ok
}

// Entries returns every entry in the order they were written, so that a
// sink comes after the sources it reads.
func (c *Catalog) Entries() []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Entry, 0, len(c.mu.entries))
	for _, e := range c.mu.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return int(c.mu.order[a.Name] - c.mu.order[b.Name])
	})
	return out
}

// Put writes an entry and returns once it is durable.
func (c *Catalog) Put(ctx context.Context, e Entry) error {
	value, err := json.Marshal(e)
	if err != nil {
		return err
	}
	rec := &transport.Record{Topic: Topic, Partition: 0, Key: []byte(e.Name), Value: value}
	c.writing.Lock()
	defer c.writing.Unlock()
	if err := c.t.Produce(ctx, []*transport.Record{rec}); err != nil {
		return fmt.Errorf("catalog: put %s: %w", e.Name, err)
	}
	c.apply(rec)
	return nil
}

// Delete writes a tombstone for name and returns once it is durable.
func (c *Catalog) Delete(ctx context.Context, name string) error {
	rec := &transport.Record{Topic: Topic, Partition: 0, Key: []byte(name)}
	c.writing.Lock()
	defer c.writing.Unlock()
	if err := c.t.Produce(ctx, []*transport.Record{rec}); err != nil {
		return fmt.Errorf("catalog: delete %s: %w", name, err)
	}
	c.apply(rec)
	return nil
}

// Watch tails the catalog topic until ctx is done, calling fn for each
// change made by another writer (changes this Catalog made itself were
// applied by Put and Delete and are not repeated). fn runs on Watch's
// goroutine.
func (c *Catalog) Watch(ctx context.Context, fn func(Change)) error {
	for {
		recs, err := c.consumer.Poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil //nolint:nilerr // the caller ended the watch: not a failure
			}
			return fmt.Errorf("catalog: watch: %w", err)
		}
		// Apply under writing (a Put or Delete in flight applies its own
		// record first, so it is not reported), call fn outside it (fn
		// may wait for a statement that is writing).
		var changes []Change
		c.writing.Lock()
		for _, r := range recs {
			if ch, ok := c.apply(r); ok {
				changes = append(changes, ch)
			}
		}
		c.writing.Unlock()
		for _, ch := range changes {
			fn(ch)
		}
	}
}

// Close stops the catalog's reader.
func (c *Catalog) Close(ctx context.Context) error {
	return c.consumer.Close(ctx)
}
