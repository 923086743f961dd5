package schema

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// Topic is the registry's topic: compacted, one partition, so that every
// change has one place in one order.
const Topic = "__tide_schemas"

// loadIdle is how long loading waits for a record before taking what it
// read as the whole registry (see transport.ReadToEnd).
const loadIdle = 30 * time.Second

// Options configure Open.
type Options struct {
	// WorkerID names this worker; the reader's consumer group is derived
	// from it (it never commits). Default: random.
	WorkerID string
	Logger   *slog.Logger
}

// Registry is the schema registry of one worker: the state of the schemas
// topic, applied in offset order by one follower goroutine, and the writes
// that append to it. Several Registries over one Kafka cluster (Tide
// workers) share the topic and hold the same state. Safe for concurrent
// use; the values it returns are copies the caller owns.
type Registry struct {
	t        transport.Transport
	logger   *slog.Logger
	formats  map[Type]Format
	consumer transport.Consumer

	// writes is held (capacity 1) by one writing operation at a time,
	// from reading the state it decides on until its records are applied:
	// this worker's writers then never race each other, only other
	// workers, and cheaper than a retry. Context-aware, unlike a mutex.
	writes chan struct{}

	// enforce caches CheckValue's lookups.
	enforce enforcement

	mu struct {
		sync.RWMutex
		st *state
		// applied is the offset after the last record applied; advanced
		// is closed (and replaced) whenever it moves.
		applied  int64
		advanced chan struct{}
		// losers are the keys of claims that lost, to tombstone.
		losers [][]byte
		// failed is why the follower stopped, if it failed.
		failed error
	}
	parsed struct {
		sync.Mutex
		byID map[int]Parsed
	}

	cancel context.CancelFunc
	done   chan struct{} // closed when the follower has stopped

	// beforeClaim, set by tests, runs after a registration has decided
	// and before it writes its claims: the window another worker's
	// claims can slip into.
	beforeClaim func()
}

// Open creates the schemas topic if needed, reads it to its end, and starts
// following it. formats are the schema languages served; a type without
// one is refused (42201).
func Open(ctx context.Context, t transport.Transport, formats []Format, opts Options) (*Registry, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.WorkerID == "" {
		opts.WorkerID = newNonce()
	}
	r := &Registry{t: t, logger: opts.Logger, formats: map[Type]Format{}, writes: make(chan struct{}, 1), done: make(chan struct{})}
	for _, f := range formats {
		r.formats[f.Type()] = f
	}
	r.mu.st = newState()
	r.mu.advanced = make(chan struct{})
	r.parsed.byID = map[int]Parsed{}

	err := t.CreateTopic(ctx, transport.TopicSpec{Name: Topic, Partitions: 1, Configs: map[string]string{"cleanup.policy": "compact"}})
	if err != nil && !errors.Is(err, transport.ErrTopicExists) {
		return nil, fmt.Errorf("schema: create %s: %w", Topic, err)
	}
	// The group never commits; the random suffix keeps two workers that
	// share a name from splitting the partition.
	group := "__tide-schemas-reader-" + opts.WorkerID + "-" + newNonce()[:8]
	r.consumer, err = t.NewConsumer(ctx, transport.ConsumerOptions{Group: group, Topics: []string{Topic}, Start: transport.StartEarliest})
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	complete, err := transport.ReadToEnd(ctx, t, r.consumer, Topic, loadIdle, func(rec *transport.Record) {
		r.applyRecords([]*transport.Record{rec})
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("schema: load: %w", err), r.consumer.Close(context.WithoutCancel(ctx)))
	}
	if !complete {
		r.logger.Warn("schema: nothing arrived for a while before the end offset; taking what was read as the registry", "idle", loadIdle)
	}
	followCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.follow(followCtx)
	return r, nil
}

// Close stops following the topic. Operations waiting for their records
// fail with a 50001.
func (r *Registry) Close(ctx context.Context) error {
	r.cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return r.consumer.Close(ctx)
}

// Types returns the schema types served, sorted.
func (r *Registry) Types() []Type {
	out := make([]Type, 0, len(r.formats))
	for t := range r.formats {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// follow applies the topic's records as they arrive, and tombstones the
// claims that lost, until ctx ends.
func (r *Registry) follow(ctx context.Context) {
	defer close(r.done)
	for {
		r.sweep(ctx)
		recs, err := r.consumer.Poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !errors.Is(err, transport.ErrClosed) {
				// A fetch failed (a broker restarting): poll again.
				r.logger.Warn("schema: following the registry topic; retrying", "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				continue
			}
			r.logger.Error("schema: following the registry topic failed; writes will fail", "err", err)
			r.mu.Lock()
			r.mu.failed = err
			r.mu.Unlock()
			return
		}
		r.applyRecords(recs)
	}
}

// applyRecords folds records into the state, in order, and wakes the
// operations waiting for them.
func (r *Registry) applyRecords(recs []*transport.Record) {
	if len(recs) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range recs {
		// Records applied already come again if the follower's group hands
		// it the partition anew (it commits nothing): apply each once.
		if rec.Partition != 0 || rec.Topic != Topic || rec.Offset < r.mu.applied {
			continue
		}
		switch r.mu.st.apply(rec.Key, rec.Value) {
		case ignored:
			if rec.Value != nil {
				r.mu.losers = append(r.mu.losers, rec.Key)
			}
		case invalid:
			r.logger.Error("schema: skipping an unreadable record", "offset", rec.Offset, "key", string(rec.Key))
		}
		r.mu.applied = max(r.mu.applied, rec.Offset+1)
	}
	close(r.mu.advanced)
	r.mu.advanced = make(chan struct{})
}

// sweep tombstones the claims that lost, so that compaction, which keeps
// only the latest record of each key, can never leave a loser standing
// where the claim that beat it was removed (doc.go). Every worker sweeps
// what it sees; repeated tombstones are harmless.
func (r *Registry) sweep(ctx context.Context) {
	r.mu.Lock()
	keys := r.mu.losers
	r.mu.losers = nil
	r.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	recs := make([]*transport.Record, len(keys))
	for i, k := range keys {
		recs[i] = &transport.Record{Topic: Topic, Partition: 0, Key: k}
	}
	if err := r.t.Produce(ctx, recs); err != nil {
		// Kept for the next sweep: a loser left standing could come back
		// once compaction removes the claim that beat it.
		r.mu.Lock()
		r.mu.losers = append(keys, r.mu.losers...)
		r.mu.Unlock()
		if ctx.Err() == nil {
			r.logger.Warn("schema: tombstoning claims that lost; will retry", "records", len(recs), "err", err)
		}
	}
}

// lockWrites takes the write token and catches up with the topic's end,
// so that what the operation decides on includes every record written
// before it began, on any worker (Confluent's reader catches up the same
// way before a write).
func (r *Registry) lockWrites(ctx context.Context) error {
	select {
	case r.writes <- struct{}{}:
	case <-ctx.Done():
		return errTimeout(ctx.Err())
	}
	ends, err := r.t.EndOffsets(ctx, Topic)
	if err == nil {
		err = r.waitApplied(ctx, ends[0])
	} else {
		err = errStore("reading the registry's end", err)
	}
	if err != nil {
		<-r.writes
	}
	return err
}

func (r *Registry) unlockWrites() { <-r.writes }

// produce writes records and waits until this worker has applied them,
// so that the caller reads its own writes.
func (r *Registry) produce(ctx context.Context, op string, recs ...*transport.Record) error {
	if err := r.t.Produce(ctx, recs); err != nil {
		if ctx.Err() != nil {
			return errTimeout(ctx.Err())
		}
		return errStore(op, err)
	}
	return r.waitApplied(ctx, recs[len(recs)-1].Offset+1)
}

// waitApplied waits until the records before offset are applied.
func (r *Registry) waitApplied(ctx context.Context, offset int64) error {
	for {
		r.mu.RLock()
		applied, advanced, failed := r.mu.applied, r.mu.advanced, r.mu.failed
		r.mu.RUnlock()
		if applied >= offset {
			return nil
		}
		if failed != nil {
			return errStore("following the registry topic", failed)
		}
		select {
		case <-advanced:
		case <-ctx.Done():
			return errTimeout(ctx.Err())
		case <-r.done:
			r.mu.RLock()
			applied, failed = r.mu.applied, r.mu.failed
			r.mu.RUnlock()
			if applied >= offset {
				return nil
			}
			if failed == nil {
				failed = errors.New("registry closed")
			}
			return errStore("following the registry topic", failed)
		}
	}
}

func errTimeout(err error) *Error {
	return &Error{Code: CodeOperationTimeout, Message: "Operation timed out", Err: err}
}

// newNonce returns a random 16-hex-digit identifier.
func newNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
