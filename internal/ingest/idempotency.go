package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// IdempotencyTopic holds the answers given to idempotent requests and the
// event ids ingested, so that a repeat is recognised after a restart. It
// is compacted (one record per key) and its retention is the window.
const IdempotencyTopic = "__tide_idempotency"

// Key prefixes in the store: a request's Idempotency-Key, or one event id,
// each scoped to its topic ("r\x00orders\x00<key>"). This text is the key
// of the entry's record in IdempotencyTopic; in memory an entry is found
// by its hash (idemKey).
const (
	requestKeyPrefix = "r\x00"
	eventKeyPrefix   = "e\x00"
)

func requestKey(topic, key string) string { return requestKeyPrefix + topic + "\x00" + key }
func eventKey(topic string, id []byte) string {
	return eventKeyPrefix + topic + "\x00" + string(id)
}

// idemKey is what the store keys an entry by in memory: the first 16
// bytes of the SHA-256 of its text key (requestKey, eventKey). It is the
// same size whatever the key's length, and holds no pointer for the
// garbage collector to follow.
//
// Two keys sharing an idemKey would be taken for one another (a request
// replayed with another's answer, or an event skipped as a duplicate), so
// the hash is 128 bits of a cryptographic one. By the birthday bound, n
// keys held at once collide with probability about n²/2¹²⁹: 1.5·10⁻²⁷
// for the default cap of a million, 10⁻²⁰ for a billion — far below the
// odds of an undetected memory or disk error. A client cannot aim for a
// collision either: finding any colliding pair of SHA-256 prefixes takes
// about 2⁶⁴ hashes, matching another client's key 2¹²⁸. The hash is not
// persisted (records keep the text key), so it can change freely.
type idemKey [16]byte

func hashKey(key string) idemKey {
	sum := sha256.Sum256([]byte(key))
	return idemKey(sum[:16])
}

// position is where one record was written; offset -1: not written.
type position struct {
	partition int32
	offset    int64
}

// entry is one key's state. An entry is pending while its owner writes
// (done open), then settled: complete (every record written) or partial
// (some records of the request were not written; a retry of the same
// request writes the rest). It is kept small — 48 bytes, one allocation
// for an event id — because there may be millions.
type entry struct {
	done     chan struct{} // closed when settled (then closedChan: no channel kept per entry)
	at       int64         // when it settled: the store's stamp (Unix ns, unique, increasing)
	pos      position      // event ids: where the record was written
	req      *requestEntry // request keys (nil for event ids)
	settled  bool
	complete bool
}

// requestEntry is what a request key holds beyond an entry.
type requestEntry struct {
	sum     [sha256.Size]byte // the body's; zero: not known (accept any body)
	written []position        // per element; nil: nothing written yet
	dups    []bool            // per element, those answered as duplicates (event ids); nil: none
}

// DefaultIdempotencyMaxKeys is the default of Config.IdempotencyMaxKeys.
const DefaultIdempotencyMaxKeys = 1_000_000

// evictionLogInterval spaces the warnings that the cap evicted entries.
const evictionLogInterval = time.Minute

// idemStore is the in-memory view of the idempotency topic, guarded by
// mu, with the persistence of new entries. Safe for concurrent use.
//
// It holds at most maxKeys settled entries (pending ones, which belong to
// requests in flight, are bounded by the in-flight limit instead): past
// that the oldest are evicted, as if their window had passed.
type idemStore struct {
	t       transport.Transport
	window  time.Duration
	maxKeys int
	now     func() time.Time
	logger  *slog.Logger

	mu struct {
		sync.Mutex
		entries map[idemKey]*entry
		settled int // entries in the map that are settled
		// expiry lists settled entries by settling time (FIFO from head),
		// so expired ones are dropped, and the oldest evicted, without a
		// scan or a goroutine. A record is current while its entry is
		// settled with the same stamp; others (the entry was deleted, or
		// taken over and settled again) are skipped when reached.
		expiry []expiring
		head   int
		// lastAt is the latest stamp given: stamps are unique and
		// increasing, so that expiry stays ordered and a record names one
		// settling of one entry.
		lastAt int64

		evicted        int64     // entries evicted by the cap, ever
		evictedLogged  int64     // evicted at the last warning
		lastEvictedLog time.Time // when it was given
	}
}

type expiring struct {
	key idemKey
	at  int64
}

func newIdemStore(t transport.Transport, window time.Duration, maxKeys int, now func() time.Time, logger *slog.Logger) *idemStore {
	s := &idemStore{t: t, window: window, maxKeys: maxKeys, now: now, logger: logger}
	s.mu.entries = make(map[idemKey]*entry)
	return s
}

// storedEntry is an entry's persisted form (the record value).
type storedEntry struct {
	At       int64      `json:"at"` // Unix milliseconds
	Complete bool       `json:"complete"`
	SHA256   string     `json:"sha256,omitempty"` // hex
	Offsets  [][2]int64 `json:"offsets"`          // [partition, offset]; offset -1: not written
	// Duplicates are the elements answered as duplicates of an event id
	// ingested before, by index.
	Duplicates []int `json:"duplicates,omitempty"`
}

// load reads the idempotency topic, if there is one, keeping the entries
// still inside the window — the newest maxKeys of them, the cap evicting
// older ones as they are read (the topic is in settling order). It reads
// through a consumer group of its own that never commits (as the catalog
// does).
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
	read := 0
	complete, err := transport.ReadToEnd(ctx, s.t, c, IdempotencyTopic, 30*time.Second, func(r *transport.Record) {
		if r.Value == nil {
			return
		}
		var se storedEntry
		if err := json.Unmarshal(r.Value, &se); err != nil {
			s.logger.Warn("ingest: skipping an unreadable idempotency entry", "offset", r.Offset, "err", err)
			return
		}
		sum, err := hex.DecodeString(se.SHA256)
		if err != nil {
			s.logger.Warn("ingest: skipping an unreadable idempotency entry", "offset", r.Offset, "err", err)
			return
		}
		at := time.UnixMilli(se.At)
		if now.Sub(at) >= s.window {
			return
		}
		e := &entry{done: closedChan, complete: se.Complete}
		if strings.HasPrefix(string(r.Key), eventKeyPrefix) {
			if len(se.Offsets) != 1 {
				s.logger.Warn("ingest: skipping an unreadable idempotency entry", "offset", r.Offset, "err", "an event id with other than one position")
				return
			}
			e.pos = position{partition: int32(se.Offsets[0][0]), offset: se.Offsets[0][1]}
		} else {
			e.req = &requestEntry{written: make([]position, len(se.Offsets))}
			copy(e.req.sum[:], sum)
			for i, po := range se.Offsets {
				e.req.written[i] = position{partition: int32(po[0]), offset: po[1]}
			}
			for _, i := range se.Duplicates {
				if i >= 0 && i < len(se.Offsets) {
					if e.req.dups == nil {
						e.req.dups = make([]bool, len(se.Offsets))
					}
					e.req.dups[i] = true
				}
			}
		}
		s.mu.Lock()
		s.settleLocked(hashKey(string(r.Key)), e, at, now)
		s.mu.Unlock()
		read++
	})
	if err != nil {
		return fmt.Errorf("ingest: load %s: %w", IdempotencyTopic, err)
	}
	if !complete {
		s.logger.Warn("ingest: nothing arrived for a while before the end of the idempotency topic; taking what was read (retention or compaction removed the rest)")
	}
	s.mu.Lock()
	kept, evicted := s.mu.settled, s.mu.evicted
	s.mu.evictedLogged = evicted // reported here
	s.mu.Unlock()
	s.logger.Info("ingest: idempotency keys loaded", "read", read, "entries", kept, "evicted_by_cap", evicted, "max_keys", s.maxKeys)
	return nil
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// putLocked makes e key's entry, in place of any other.
func (s *idemStore) putLocked(key idemKey, e *entry) {
	if old := s.mu.entries[key]; old != nil && old.settled {
		s.mu.settled--
	}
	s.mu.entries[key] = e
}

// deleteLocked forgets key's entry.
func (s *idemStore) deleteLocked(key idemKey, e *entry) {
	if e.settled {
		s.mu.settled--
	}
	delete(s.mu.entries, key)
}

// settleLocked records e, written (or loaded) at, as key's settled entry,
// then drops what left the window and evicts what is over the cap. A
// waiter on e.done must be woken by the caller.
func (s *idemStore) settleLocked(key idemKey, e *entry, at, now time.Time) {
	stamp := max(at.UnixNano(), s.mu.lastAt+1)
	s.mu.lastAt = stamp
	if s.mu.entries[key] != e {
		s.putLocked(key, e)
	}
	if !e.settled {
		e.settled = true
		s.mu.settled++
	}
	e.at = stamp
	s.mu.expiry = append(s.mu.expiry, expiring{key: key, at: stamp})
	s.expireLocked(now)
}

// liveLocked returns key's entry unless it has expired.
func (s *idemStore) liveLocked(key idemKey, now time.Time) *entry {
	e := s.mu.entries[key]
	if e == nil {
		return nil
	}
	if e.settled && now.UnixNano()-e.at >= int64(s.window) {
		s.deleteLocked(key, e)
		return nil
	}
	return e
}

// expireLocked drops entries that left the window, then, while more than
// maxKeys are settled, the oldest (evictions).
func (s *idemStore) expireLocked(now time.Time) {
	cutoff := now.UnixNano() - int64(s.window)
	for s.mu.head < len(s.mu.expiry) {
		x := s.mu.expiry[s.mu.head]
		expired := x.at <= cutoff
		if !expired && s.mu.settled <= s.maxKeys {
			break
		}
		if e := s.mu.entries[x.key]; e != nil && e.settled && e.at == x.at {
			s.deleteLocked(x.key, e)
			if !expired {
				s.mu.evicted++
			}
		}
		s.mu.expiry[s.mu.head] = expiring{}
		s.mu.head++
	}
	switch live := len(s.mu.expiry) - s.mu.head; {
	case live > 2*s.mu.settled+1024:
		// Mostly records of entries taken over or deleted: keep the
		// current ones only, so the list stays bounded by the cap too.
		kept := s.mu.expiry[:0]
		for _, x := range s.mu.expiry[s.mu.head:] {
			if e := s.mu.entries[x.key]; e != nil && e.settled && e.at == x.at {
				kept = append(kept, x)
			}
		}
		clear(s.mu.expiry[len(kept):])
		s.mu.expiry, s.mu.head = kept, 0
	case s.mu.head > 1024 && s.mu.head*2 > len(s.mu.expiry):
		n := copy(s.mu.expiry, s.mu.expiry[s.mu.head:])
		clear(s.mu.expiry[n:])
		s.mu.expiry, s.mu.head = s.mu.expiry[:n], 0
	}
}

// evictionsToLogLocked returns how many entries the cap evicted since the
// last warning, if one is due (at most one a minute), and notes it given.
func (s *idemStore) evictionsToLogLocked(now time.Time) int64 {
	n := s.mu.evicted - s.mu.evictedLogged
	if n == 0 || now.Sub(s.mu.lastEvictedLog) < evictionLogInterval {
		return 0
	}
	s.mu.evictedLogged, s.mu.lastEvictedLog = s.mu.evicted, now
	return n
}

// evictions returns how many entries the cap has evicted.
func (s *idemStore) evictions() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.evicted
}

// claimRequest returns, for a request key: a settled complete entry to
// replay (owned false), or an entry this request now owns (owned true;
// written holds what a partial earlier attempt wrote, or is nil). A
// pending entry of a concurrent duplicate is waited for first.
func (s *idemStore) claimRequest(ctx context.Context, key idemKey) (e *entry, owned bool, err error) {
	for {
		now := s.now()
		s.mu.Lock()
		e = s.liveLocked(key, now)
		switch {
		case e == nil:
			e = &entry{done: make(chan struct{}), req: &requestEntry{}}
			s.putLocked(key, e)
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
		// Partial: this request takes it over to write the rest (its
		// expiry record is skipped; settling it again adds a new one).
		e.settled, e.done = false, make(chan struct{})
		s.mu.settled--
		s.mu.Unlock()
		return e, true, nil
	}
}

// idClaim is the state of one element's event id: dupOf >= 0 names an
// earlier element of the same request with the same id; pos is where an
// earlier request wrote it (found); entry is the pending entry this
// request owns for it, under key (hash).
type idClaim struct {
	found bool
	pos   position
	dupOf int
	entry *entry
	key   string
	hash  idemKey
}

// claimIDs claims the event ids of a request's elements all at once (so
// two requests never hold part of each other's ids and wait on each
// other): ids pending in another request are waited for, then every id is
// either found (ingested before), a repeat within the request, or owned.
func (s *idemStore) claimIDs(ctx context.Context, topic string, els []element, claims []idClaim) error {
	for i := range els {
		k := eventKey(topic, els[i].id)
		claims[i] = idClaim{dupOf: -1, key: k, hash: hashKey(k)}
	}
	for {
		now := s.now()
		var wait chan struct{}
		s.mu.Lock()
		for i := range claims {
			if e := s.liveLocked(claims[i].hash, now); e != nil && !e.settled {
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
		first := make(map[idemKey]int, len(claims))
		for i := range claims {
			c := &claims[i]
			if j, ok := first[c.hash]; ok {
				c.dupOf = j
			} else if e := s.liveLocked(c.hash, now); e != nil && e.complete && e.req == nil {
				c.found, c.pos = true, e.pos
			} else {
				first[c.hash] = i
				c.entry = &entry{done: make(chan struct{}), pos: position{offset: -1}} // not written yet
				s.putLocked(c.hash, c.entry)
			}
		}
		s.mu.Unlock()
		return nil
	}
}

// claimed is a key a request owns: its text (the record key in
// IdempotencyTopic), its hash, and its pending entry.
type claimed struct {
	key   string
	hash  idemKey
	entry *entry
}

// settle ends the ownership of entries: each key whose entry has written
// positions is kept (complete or partial) and persisted; one with nothing
// written is forgotten. Waiters are woken either way. Persisting is best
// effort: a failure is logged and the entries stay in memory (the records
// are durable and the answer stands; only a restart would forget them).
func (s *idemStore) settle(ctx context.Context, owned []claimed) {
	now := s.now()
	var recs []*transport.Record
	s.mu.Lock()
	for _, c := range owned {
		e := c.entry
		written := []position{e.pos}
		if e.req != nil {
			written = e.req.written
		}
		anyWritten := false
		for _, p := range written {
			if p.offset >= 0 {
				anyWritten = true
				break
			}
		}
		if !anyWritten {
			if s.mu.entries[c.hash] == e {
				s.deleteLocked(c.hash, e)
			}
			close(e.done)
			e.done = closedChan
			continue
		}
		s.settleLocked(c.hash, e, now, now)
		se := storedEntry{At: now.UnixMilli(), Complete: e.complete, Offsets: make([][2]int64, len(written))}
		if e.req != nil && e.req.sum != ([sha256.Size]byte{}) {
			se.SHA256 = hex.EncodeToString(e.req.sum[:])
		}
		for j, p := range written {
			se.Offsets[j] = [2]int64{int64(p.partition), p.offset}
			if e.req != nil && j < len(e.req.dups) && e.req.dups[j] {
				se.Duplicates = append(se.Duplicates, j)
			}
		}
		value, _ := json.Marshal(se)
		recs = append(recs, &transport.Record{Topic: IdempotencyTopic, Partition: -1, Key: []byte(c.key), Value: value})
		close(e.done)
		e.done = closedChan
	}
	evicted := s.evictionsToLogLocked(now)
	s.mu.Unlock()
	if evicted > 0 {
		s.logger.Warn("ingest: idempotency store full: oldest keys evicted before their window passed; a repeat of one is written again (raise idempotency_max_keys, or shorten idempotency_window)",
			"evicted", evicted, "max_keys", s.maxKeys, "window", s.window)
	}
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
