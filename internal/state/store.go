package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tide-data/tide/internal/transport"
)

var (
	// ErrClosed is the answer of every method after Close or Destroy.
	ErrClosed = errors.New("state: store closed")
	// ErrCorrupt marks a store whose own bookkeeping does not decode:
	// wipe it (Destroy, then Open and Restore).
	ErrCorrupt = errors.New("state: corrupt store")
)

// Key tags (see the package doc).
const (
	tagMeta byte = 0x00
	tagData byte = 0x01

	checkpointVersion byte = 1
)

var checkpointKey = []byte("\x00checkpoint")

// Store is one task's state in pebble, with the changelog offset it
// reflects. Not safe for concurrent use.
type Store struct {
	dir  string
	opts options
	db   *pebble.DB

	changelog transport.TopicPartition // whose offset is offset; zero when offset < 0
	offset    int64                    // the next changelog offset to replay; -1 when none
	// err is sticky: after a commit fails, the store no longer knows
	// what pebble holds, and every later commit returns it.
	err error
	// spare is committed checkpoints' memory, for the next ones.
	spare checkpointMemory
}

// Option configures Open.
type Option func(*options)

type options struct {
	cacheSize int64
	memTable  uint64
	logger    *slog.Logger
	fs        vfs.FS
	// Restore's read and commit sizes.
	readBytes, commitBytes int
}

// WithCacheSize sets the size of the store's block cache (default 4 MiB:
// a task's state is mostly in the operator's memory; the cache serves
// Scan at restore).
func WithCacheSize(bytes int64) Option { return func(o *options) { o.cacheSize = bytes } }

// WithMemTableSize sets the most the store's memtable grows to (default
// 4 MiB; pebble starts it at 256 KiB and doubles it at each flush up to
// this). A larger one pays for itself where state comes and goes: a
// change deleted before its memtable is flushed — a join's row set and
// single-deleted within the memtable's span — never reaches a table, so
// neither a flush nor a compaction writes it. Two memtables are in memory
// while one is being flushed; up to four (MemTableStopWritesThreshold)
// when flushes fall behind.
func WithMemTableSize(bytes uint64) Option { return func(o *options) { o.memTable = bytes } }

// WithLogger sends pebble's messages to l: informational ones (flushes,
// compactions) at debug level, errors at error level. By default they
// are dropped.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// withFS opens the store on another filesystem (tests: pebble's
// crashable MemFS).
func withFS(fs vfs.FS) Option { return func(o *options) { o.fs = fs } }

// withRestoreSizes sets how much Restore reads at a time and how much it
// applies between commits (tests: many small commits).
func withRestoreSizes(read, commit int) Option {
	return func(o *options) { o.readBytes, o.commitBytes = read, commit }
}

// Open opens the store in dir, creating it if needed. The caller closes
// it; its offset is -1 until a Commit or Restore.
func Open(dir string, opts ...Option) (*Store, error) {
	o := options{
		cacheSize:   4 << 20,
		memTable:    4 << 20,
		logger:      slog.New(slog.DiscardHandler),
		fs:          vfs.Default,
		readBytes:   1 << 20,
		commitBytes: 16 << 20,
	}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Store{dir: dir, opts: o}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// pebbleOptions fit state on a shared box: a modest cache and
// memtable, few files open, one compaction at a time, no disk-health
// goroutine (the FS is given, not defaulted) and no table statistics
// collected in the background.
func (s *Store) pebbleOptions() *pebble.Options {
	o := &pebble.Options{
		FS:                          s.opts.fs,
		CacheSize:                   s.opts.cacheSize,
		MemTableSize:                s.opts.memTable,
		MemTableStopWritesThreshold: 4,
		MaxOpenFiles:                64,
		DisableTableStats:           true,
		Logger:                      pebbleLogger{s.opts.logger},
	}
	// Bloom filters: an operator whose state spills looks up every
	// group it does not hold, most of them new, so most lookups miss.
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return o
}

func (s *Store) open() error {
	db, err := pebble.Open(s.dir, s.pebbleOptions())
	if err != nil {
		return fmt.Errorf("state: open %s: %w", s.dir, err)
	}
	s.db, s.offset, s.changelog = db, -1, transport.TopicPartition{}
	v, closer, err := db.Get(checkpointKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return nil
	case err != nil:
		_ = db.Close()
		return fmt.Errorf("state: open %s: %w", s.dir, err)
	}
	defer closer.Close()
	tp, offset, err := decodeCheckpoint(v)
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("state: open %s: %w", s.dir, err)
	}
	s.changelog, s.offset = tp, offset
	return nil
}

// Offset returns the changelog offset the store reflects: the next one
// to replay, -1 when the store has none (new, or wiped).
func (s *Store) Offset() int64 { return s.offset }

// Changelog returns the changelog partition Offset is in (zero when
// Offset is -1).
func (s *Store) Changelog() transport.TopicPartition { return s.changelog }

// Get returns key's committed value, a copy the caller owns, or found
// false when it has none. Its signature fits aggregate.Spill.
func (s *Store) Get(key []byte) (value []byte, found bool, err error) {
	if s.db == nil {
		return nil, false, ErrClosed
	}
	v, closer, err := s.db.Get(dataKey(nil, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: get: %w", err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// Scan calls fn with every committed entry in key order, until fn
// returns an error, which Scan returns. key and value are valid only
// until fn returns. Its callback fits aggregate.Operator.Load.
func (s *Store) Scan(fn func(key, value []byte) error) error {
	return s.ScanPrefix(nil, fn)
}

// ScanPrefix is Scan over the entries whose keys start with prefix.
func (s *Store) ScanPrefix(prefix []byte, fn func(key, value []byte) error) error {
	if s.db == nil {
		return ErrClosed
	}
	lower := dataKey(nil, prefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return fmt.Errorf("state: scan: %w", err)
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("state: scan: %w", err)
		}
		if err := fn(it.Key()[1:], v); err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("state: scan: %w", err)
	}
	return nil
}

// prefixEnd is the smallest key after every key that starts with
// prefix (prefix is never all 0xff: it starts with a tag).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// empty reports whether the store holds no entry.
func (s *Store) empty() (bool, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagData}, UpperBound: []byte{tagData + 1}})
	if err != nil {
		return false, err
	}
	valid := it.First()
	return !valid, it.Close()
}

// apply commits a batch with the checkpoint offset next of changelog.
func (s *Store) apply(b *pebble.Batch, changelog transport.TopicPartition, next int64, sync bool) error {
	if s.err != nil {
		return s.err
	}
	if err := b.Set(checkpointKey, encodeCheckpoint(changelog, next), nil); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	if err := b.Commit(opts); err != nil {
		s.err = fmt.Errorf("state: commit at changelog offset %d: %w", next, err)
		return s.err
	}
	s.changelog, s.offset = changelog, next
	return nil
}

// Close closes the store; it stays on disk. Later calls return ErrClosed.
func (s *Store) Close() error {
	if s.db == nil {
		return ErrClosed
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("state: close %s: %w", s.dir, err)
	}
	return nil
}

// Destroy closes the store if it is open and deletes its directory (its
// pipeline was dropped, or its state is to be rebuilt from the changelog).
func (s *Store) Destroy() error {
	var err error
	if s.db != nil {
		err = s.Close()
	}
	if rmErr := s.opts.fs.RemoveAll(s.dir); rmErr != nil {
		return errors.Join(err, fmt.Errorf("state: destroy %s: %w", s.dir, rmErr))
	}
	return err
}

// wipe empties the store: a new database in place of the old.
func (s *Store) wipe() error {
	if err := s.db.Close(); err != nil {
		s.db = nil
		return fmt.Errorf("state: wipe %s: %w", s.dir, err)
	}
	s.db = nil
	if err := s.opts.fs.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("state: wipe %s: %w", s.dir, err)
	}
	s.err = nil
	return s.open()
}

func dataKey(dst, key []byte) []byte { return append(append(dst, tagData), key...) }

func encodeCheckpoint(tp transport.TopicPartition, next int64) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(tp.Topic))
	b = append(b, checkpointVersion)
	b = binary.AppendVarint(b, next)
	b = binary.AppendVarint(b, int64(tp.Partition))
	return append(b, tp.Topic...)
}

func decodeCheckpoint(b []byte) (transport.TopicPartition, int64, error) {
	bad := fmt.Errorf("%w: checkpoint record %x", ErrCorrupt, b)
	if len(b) == 0 || b[0] != checkpointVersion {
		return transport.TopicPartition{}, 0, bad
	}
	rest := b[1:]
	next, n := binary.Varint(rest)
	if n <= 0 || next < 0 {
		return transport.TopicPartition{}, 0, bad
	}
	rest = rest[n:]
	p, n := binary.Varint(rest)
	if n <= 0 || p < 0 || p > 1<<31-1 {
		return transport.TopicPartition{}, 0, bad
	}
	return transport.TopicPartition{Topic: string(rest[n:]), Partition: int32(p)}, next, nil
}

// pebbleLogger sends pebble's messages to a slog.Logger.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf is pebble's answer to what it cannot survive (a failed WAL
// sync): it must not return.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble")
	panic("state: pebble: " + msg)
}
