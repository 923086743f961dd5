package view

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// ErrSlowSubscriber ends a subscription whose buffer filled up.
var ErrSlowSubscriber = errors.New("view: subscriber fell behind; subscribe again")

// Row is one row: its key and its encoded value.
type Row struct {
	Key   string
	Value []byte
}

// Change is one change of a view: Value nil deletes Key. Offset is the
// change's place in the view's topic.
type Change struct {
	Key    string
	Value  []byte
	Offset int64
}

// loadIdle bounds how long Open waits for records that compaction may
// have removed before the end offset (transport.ReadToEnd).
const loadIdle = 2 * time.Second

// Table is one view's rows. Safe for concurrent use.
type Table struct {
	topic  string
	logger *slog.Logger
	c      transport.Consumer
	cancel context.CancelFunc
	done   chan struct{}
	index  IndexFunc

	mu struct {
		sync.Mutex
		rows map[string][]byte
		subs map[*Subscription]struct{}
		// next is, per partition, the offset after the last change
		// applied (a view's topic has one partition; a joined table's
		// may have several).
		next   map[int32]int64
		closed bool // Close ran: a new subscription ends at once
		// byRecord maps a record key to the row key index gave its
		// value, for the deletions (records without a value) of a
		// table with an IndexFunc.
		byRecord map[string]string
		// owner maps a row key to the record key that wrote its row last
		// ("" for a keyless record): a deletion or move by a record key
		// takes away only a row it still owns.
		owner map[string]string
	}
}

// IndexFunc gives the key a record's row is kept under, computed from
// its value (a column of it), or an error for a value without one (the
// record is logged and skipped).
type IndexFunc func(key, value []byte) (string, error)

// Open reads topic to its end into a new Table and keeps tailing it
// until Close. group names the reader's consumer group, which never
// commits (unique per Table: two must not split the partition).
func Open(ctx context.Context, tr transport.Transport, topic, group string, logger *slog.Logger) (*Table, error) {
	return OpenIndexed(ctx, tr, topic, group, logger, nil)
}

// OpenIndexed is Open for a table whose rows are kept under the key
// index computes from each value rather than under their records' keys;
// a record without a value deletes the row its record key last gave.
func OpenIndexed(ctx context.Context, tr transport.Transport, topic, group string, logger *slog.Logger, index IndexFunc) (*Table, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c, err := tr.NewConsumer(ctx, transport.ConsumerOptions{Group: group, Topics: []string{topic}, Start: transport.StartEarliest})
	if err != nil {
		return nil, fmt.Errorf("view %s: %w", topic, err)
	}
	t := &Table{topic: topic, logger: logger, c: c, done: make(chan struct{}), index: index}
	t.mu.rows = map[string][]byte{}
	t.mu.next = map[int32]int64{}
	t.mu.byRecord = map[string]string{}
	t.mu.owner = map[string]string{}
	t.mu.subs = map[*Subscription]struct{}{}
	if _, err := transport.ReadToEnd(ctx, tr, c, topic, loadIdle, t.apply); err != nil {
		return nil, errors.Join(fmt.Errorf("view %s: loading: %w", topic, err), c.Close(context.WithoutCancel(ctx)))
	}
	tailCtx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	go t.tail(tailCtx)
	return t, nil
}

func (t *Table) tail(ctx context.Context) {
	defer close(t.done)
	for {
		recs, err := t.c.Poll(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			t.logger.Warn("view: reading its topic; retrying", "topic", t.topic, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		for _, r := range recs {
			t.apply(r)
		}
	}
}

// apply folds one record of the topic into the rows and hands the
// change to the subscribers.
func (t *Table) apply(r *transport.Record) {
	ch := Change{Key: string(r.Key), Value: r.Value, Offset: r.Offset}
	t.mu.Lock()
	defer t.mu.Unlock()
	if next, ok := t.mu.next[r.Partition]; ok && r.Offset < next {
		// Read again (the reader's group never commits, so a consumer
		// that restarts reads from the earliest offset): applied already,
		// and subscribers must not see an older value again.
		return
	}
	t.mu.next[r.Partition] = r.Offset + 1
	if t.index != nil {
		var ok bool
		if ch.Key, ok = t.indexLocked(r); !ok {
			return
		}
	}
	if ch.Value == nil {
		delete(t.mu.rows, ch.Key)
	} else {
		t.mu.rows[ch.Key] = ch.Value
	}
	for s := range t.mu.subs {
		select {
		case s.ch <- ch:
		default:
			s.err = ErrSlowSubscriber
			t.dropLocked(s)
		}
	}
}

// indexLocked gives the row key of a record of an indexed table, keeping
// track of which record key gave which row key; false for a record that
// changes nothing (a deletion of nothing, a value without a row key).
func (t *Table) indexLocked(r *transport.Record) (string, bool) {
	// A record without a key (rows POSTed without a key field) neither
	// moves nor deletes anything: keyless records are not one record key.
	keyed := len(r.Key) > 0
	old, had := t.mu.byRecord[string(r.Key)]
	if r.Value == nil {
		if !keyed || !had {
			return "", false
		}
		delete(t.mu.byRecord, string(r.Key))
		if t.mu.owner[old] != string(r.Key) {
			return "", false // another record key wrote the row since: it stays
		}
		delete(t.mu.owner, old)
		return old, true
	}
	k, err := t.index(r.Key, r.Value)
	if err != nil {
		t.logger.Warn("view: a record of the table's topic has no key; skipped", "topic", t.topic,
			"partition", r.Partition, "offset", r.Offset, "err", err)
		return "", false
	}
	if keyed && had && old != k && t.mu.owner[old] == string(r.Key) {
		delete(t.mu.rows, old) // the record key's row moved to another key
		delete(t.mu.owner, old)
	}
	if keyed {
		t.mu.byRecord[string(r.Key)] = k
	}
	t.mu.owner[k] = string(r.Key) // "" for a keyless record: no record key's
	return k, true
}

// Get returns the value of the row of key, for lookups on the hot path
// (no copy: the caller must not modify it).
func (t *Table) Get(key []byte) ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.mu.rows[string(key)]
	return v, ok
}

// Rows returns the rows in key order: the one of key when key is not
// nil, else all of them, at most limit (no limit when limit <= 0).
func (t *Table) Rows(key *string, limit int) []Row {
	t.mu.Lock()
	defer t.mu.Unlock()
	if key != nil {
		if v, ok := t.mu.rows[*key]; ok {
			return []Row{{Key: *key, Value: v}}
		}
		return nil
	}
	keys := make([]string, 0, len(t.mu.rows))
	for k := range t.mu.rows {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	out := make([]Row, len(keys))
	for i, k := range keys {
		out[i] = Row{Key: k, Value: t.mu.rows[k]}
	}
	return out
}

// Len returns how many rows the view has.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.mu.rows)
}

// Subscription is a subscriber's stream of changes.
type Subscription struct {
	t   *Table
	ch  chan Change
	err error // why the channel closed, set under the table's lock
}

// Subscribe returns the rows now (in key order) and a subscription that
// receives every later change, in the topic's order, with a buffer of
// buffer changes.
func (t *Table) Subscribe(buffer int) ([]Row, *Subscription) {
	s := &Subscription{t: t, ch: make(chan Change, max(buffer, 1))}
	// One lock for the snapshot and the registration: the subscriber
	// gets every change after the snapshot, none twice.
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		close(s.ch) // no change will come: the subscriber is told now
	} else {
		t.mu.subs[s] = struct{}{}
	}
	rows := make([]Row, 0, len(t.mu.rows))
	for k, v := range t.mu.rows {
		rows = append(rows, Row{Key: k, Value: v})
	}
	slices.SortFunc(rows, func(a, b Row) int { return strings.Compare(a.Key, b.Key) })
	return rows, s
}

// Changes is the channel of changes; it is closed when the subscription
// ends (Close, the table's Close, or the subscriber falling behind).
func (s *Subscription) Changes() <-chan Change { return s.ch }

// Err says why Changes was closed: ErrSlowSubscriber, or nil.
func (s *Subscription) Err() error {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	return s.err
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	s.t.dropLocked(s)
}

func (t *Table) dropLocked(s *Subscription) {
	if _, ok := t.mu.subs[s]; ok {
		delete(t.mu.subs, s)
		close(s.ch)
	}
}

// Close stops the reader and ends every subscription.
func (t *Table) Close(ctx context.Context) error {
	t.cancel()
	<-t.done
	t.mu.Lock()
	t.mu.closed = true
	for s := range t.mu.subs {
		t.dropLocked(s)
	}
	t.mu.Unlock()
	return t.c.Close(ctx)
}
