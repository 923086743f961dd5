package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// IdempotencyTopic holds the answers given to idempotent requests and the
// event ids ingested, so that a repeat is recognised after a restart. It
// is compacted (one record per key) and its retention is the window.
const IdempotencyTopic = "__tide_idempotency"

// Key prefixes in the store: a request's Idempotency-Key, or one event id,
// each scoped to its topic ("r\x00orders\x00<key>").
const (
	requestKeyPrefix = "r\x00"
	eventKeyPrefix   = "e\x00"
)

func requestKey(topic, key string) string { return requestKeyPrefix + topic + "\x00" + key }
func eventKey(topic string, id []byte) string {
	return eventKeyPrefix + topic + "\x00" + string(id)
}

// position is where one record was written; offset -1: not written.
type position struct {
	partition int32
	offset    int64
}

// entry is one key's state. An entry is pending while its owner writes
// (done open), then settled: complete (every record written) or partial
// (some records of the request were not written; a retry of the same
// request writes the rest).
type entry struct {
	done     chan struct{} // closed when settled
	settled  bool
	complete bool
	at       time.Time // when it settled
	sum      string    // the request body's SHA-256 (request keys)
	written  []position
}

// idemStore is the in-memory view of the idempotency topic, guarded by
// mu, with the persistence of new entries. Safe for concurrent use.
type idemStore struct {
	t      transport.Transport
	window time.Duration
	now    func() time.Time
	logger *slog.Logger

	mu struct {
		sync.Mutex
		entries map[string]*entry
		// expiry lists settled entries by settling time (FIFO from head),
		// so expired ones are dropped without a scan or a goroutine.
		expiry []expiring
		head   int
	}
}

type expiring struct {
	key string
	at  time.Time
}

func newIdemStore(t transport.Transport, window time.Duration, now func() time.Time, logger *slog.Logger) *idemStore {
	s := &idemStore{t: t, window: window, now: now, logger: logger}
	s.mu.entries = make(map[string]*entry)
	return s
}

// storedEntry is an entry's persisted form (the record value).
type storedEntry struct {
	At       int64      `json:"at"` // Unix milliseconds
	Complete bool       `json:"complete"`
	SHA256   string     `json:"sha256,omitempty"`
	Offsets  [][2]int64 `json:"offsets"` // [partition, offset]; offset -1: not written
}

// load reads the idempotency topic, if there is one, keeping the entries
// still inside the window. It reads through a consumer group of its own
// that never commits (as the catalog does).
func (s *idemStore) load(ctx context.Context, workerID string) error {
	if _, err := s.t.Topic(ctx, IdempotencyTopic); errors.Is(err, transport.ErrTopicNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("ingest: load %s: %w", IdempotencyTopic, err)
	}
	c, err := s.t.NewConsumer(ctx, transport.ConsumerOptions{
		Group:  "__tide-ingest-idempotency-loader-" + workerID + "-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Topics: []string{IdempotencyTopic}, Start: transport.StartEarliest,
	})
	if err != nil {
		return fmt.Errorf("ingest: load %s: %w", IdempotencyTopic, err)
	}
	defer func() { _ = c.Close(context.WithoutCancel(ctx)) }()
	now := s.now()
	loaded := 0
	complete, err := transport.ReadToEnd(ctx, s.t, c, IdempotencyTopic, 30*time.Second, func(r *transport.Record) {
		if r.Value == nil {
			return
		}
		var se storedEntry
		if err := json.Unmarshal(r.Value, &se); err != nil {
			s.logger.Warn("ingest: skipping an unreadable idempotency entry", "offset", r.Offset, "err", err)
			return
		}
		at := time.UnixMilli(se.At)
		if now.Sub(at) >= s.window {
			return
		}
		e := &entry{done: closedChan, settled: true, complete: se.Complete, at: at, sum: se.SHA256}
		for _, po := range se.Offsets {
			e.written = append(e.written, position{partition: int32(po[0]), offset: po[1]})
		}
		s.mu.Lock()
		s.mu.entries[string(r.Key)] = e
		s.mu.expiry = append(s.mu.expiry, expiring{key: string(r.Key), at: at})
		s.mu.Unlock()
		loaded++
	})
	if err != nil {
		return fmt.Errorf("ingest: load %s: %w", IdempotencyTopic, err)
	}
	if !complete {
		s.logger.Warn("ingest: nothing arrived for a while before the end of the idempotency topic; taking what was read (retention or compaction removed the rest)")
	}
	s.logger.Info("ingest: idempotency keys loaded", "entries", loaded)
	return nil
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// liveLocked returns key's entry unless it has expired.
func (s *idemStore) liveLocked(key string, now time.Time) *entry {
	e := s.mu.entries[key]
	if e == nil {
		return nil
	}
	if e.settled && now.Sub(e.at) >= s.window {
		delete(s.mu.entries, key)
		return nil
	}
	return e
}

// expireLocked drops entries that left the window.
func (s *idemStore) expireLocked(now time.Time) {
	for s.mu.head < len(s.mu.expiry) {
		x := s.mu.expiry[s.mu.head]
		if now.Sub(x.at) < s.window {
			break
		}
		if e := s.mu.entries[x.key]; e != nil && e.settled && e.at.Equal(x.at) {
			delete(s.mu.entries, x.key)
		}
		s.mu.expiry[s.mu.head] = expiring{}
		s.mu.head++
	}
	if s.mu.head > 1024 && s.mu.head*2 > len(s.mu.expiry) {
		s.mu.expiry = append(s.mu.expiry[:0], s.mu.expiry[s.mu.head:]...)
		s.mu.head = 0
	}
}

// claimRequest returns, for a request key: a settled complete entry to
// replay (owned false), or an entry this request now owns (owned true;
// written holds what a partial earlier attempt wrote, or is nil). A
// pending entry of a concurrent duplicate is waited for first.
func (s *idemStore) claimRequest(ctx context.Context, key string) (e *entry, owned bool, err error) {
	for {
		now := s.now()
		s.mu.Lock()
		e = s.liveLocked(key, now)
		switch {
		case e == nil:
			e = &entry{done: make(chan struct{})}
			s.mu.entries[key] = e
			s.mu.Unlock()
			return e, true, nil
		case !e.settled:
			done := e.done
			s.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
		case e.complete:
			s.mu.Unlock()
			return e, false, nil
		}
		// Partial: this request takes it over to write the rest.
		e.settled, e.done = false, make(chan struct{})
		s.mu.Unlock()
		return e, true, nil
	}
}

// idClaim is the state of one element's event id: dupOf >= 0 names an
// earlier element of the same request with the same id; pos is where an
// earlier request wrote it (found); entry is the pending entry this
// request owns for it.
type idClaim struct {
	found bool
	pos   position
	dupOf int
	entry *entry
	key   string
}

// claimIDs claims the event ids of a request's elements all at once (so
// two requests never hold part of each other's ids and wait on each
// other): ids pending in another request are waited for, then every id is
// either found (ingested before), a repeat within the request, or owned.
func (s *idemStore) claimIDs(ctx context.Context, topic string, els []element, claims []idClaim) error {
	keys := make([]string, len(els))
	for i := range els {
		keys[i] = eventKey(topic, els[i].id)
	}
	for {
		now := s.now()
		var wait chan struct{}
		s.mu.Lock()
		for _, k := range keys {
			if e := s.liveLocked(k, now); e != nil && !e.settled {
				wait = e.done
				break
			}
		}
		if wait != nil {
			s.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		first := make(map[string]int, len(keys))
		for i, k := range keys {
			c := idClaim{dupOf: -1, key: k}
			if j, ok := first[k]; ok {
				c.dupOf = j
			} else if e := s.liveLocked(k, now); e != nil && e.complete && len(e.written) == 1 {
				c.found, c.pos = true, e.written[0]
			} else {
				first[k] = i
				c.entry = &entry{done: make(chan struct{})}
				s.mu.entries[k] = c.entry
			}
			claims[i] = c
		}
		s.mu.Unlock()
		return nil
	}
}

// settle ends the ownership of entries: each key whose entry has written
// positions is kept (complete or partial) and persisted; one with nothing
// written is forgotten. Waiters are woken either way. Persisting is best
// effort: a failure is logged and the entries stay in memory (the records
// are durable and the answer stands; only a restart would forget them).
func (s *idemStore) settle(ctx context.Context, keys []string, entries []*entry) {
	now := s.now()
	var recs []*transport.Record
	s.mu.Lock()
	for i, e := range entries {
		anyWritten := false
		for _, p := range e.written {
			if p.offset >= 0 {
				anyWritten = true
				break
			}
		}
		if !anyWritten {
			if s.mu.entries[keys[i]] == e {
				delete(s.mu.entries, keys[i])
			}
			close(e.done)
			continue
		}
		e.settled, e.at = true, now
		s.mu.expiry = append(s.mu.expiry, expiring{key: keys[i], at: now})
		se := storedEntry{At: now.UnixMilli(), Complete: e.complete, SHA256: e.sum, Offsets: make([][2]int64, len(e.written))}
		for j, p := range e.written {
			se.Offsets[j] = [2]int64{int64(p.partition), p.offset}
		}
		value, _ := json.Marshal(se)
		recs = append(recs, &transport.Record{Topic: IdempotencyTopic, Partition: -1, Key: []byte(keys[i]), Value: value})
		close(e.done)
	}
	s.expireLocked(now)
	s.mu.Unlock()
	if len(recs) > 0 {
		if err := s.persist(ctx, recs); err != nil {
			s.logger.Warn("ingest: idempotency entries not persisted (kept in memory)", "entries", len(recs), "err", err)
		}
	}
}

// persist writes entries, creating the topic on first use.
func (s *idemStore) persist(ctx context.Context, recs []*transport.Record) error {
	err := s.t.Produce(ctx, recs)
	if !errors.Is(err, transport.ErrTopicNotFound) {
		return err
	}
	ms := strconv.FormatInt(s.window.Milliseconds(), 10)
	err = s.t.CreateTopic(ctx, transport.TopicSpec{Name: IdempotencyTopic, Partitions: 1, Configs: map[string]string{
		"cleanup.policy": "compact,delete",
		"retention.ms":   ms,
		// Retention drops whole segments only: roll them often enough.
		"segment.ms": strconv.FormatInt(min(s.window, time.Hour).Milliseconds(), 10),
	}})
	if err != nil && !errors.Is(err, transport.ErrTopicExists) {
		return err
	}
	for _, r := range recs {
		r.Partition = -1
	}
	return s.t.Produce(ctx, recs)
}
