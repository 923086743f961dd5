package log

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tide-data/tide/internal/vfs"
)

const (
	lockFile         = "LOCK"
	cleanMarkerFile  = "CLEAN_SHUTDOWN"
	topicsDir        = "topics"
	creatingPrefix   = "~creating-" // '~' never appears in a topic name
	deletingPrefix   = "~deleting-"
	maxPartitions    = 100000
	defaultOpenFiles = 1024
)

// Log is the storage engine: a data directory of topics, each a set of
// partitions, each a sequence of segment files. One process owns a data
// directory at a time. All methods are safe for concurrent use.
type Log struct {
	dir     string
	fs      vfs.FS
	logger  *slog.Logger
	now     func() time.Time
	opts    options
	lock    io.Closer
	handles *handleCache
	flusher *flusher
	// recovered says whether the last shutdown was clean.
	cleanStart bool

	mu struct {
		sync.RWMutex
		topics map[string]*Topic
		closed bool
	}
	// cleanMu serialises retention and compaction passes.
	cleanMu sync.Mutex
	stop    chan struct{}
	wg      sync.WaitGroup
}

type options struct {
	fs              vfs.FS
	defaults        TopicConfig
	maxOpenFiles    int
	cleanerInterval time.Duration
	now             func() time.Time
	logger          *slog.Logger
	fsyncObserver   func(time.Duration)
}

// Option configures Open.
type Option func(*options)

// WithFS replaces the filesystem, for fault injection in tests.
func WithFS(fsys vfs.FS) Option { return func(o *options) { o.fs = fsys } }

// WithDefaultTopicConfig sets the configuration topics start from.
func WithDefaultTopicConfig(c TopicConfig) Option { return func(o *options) { o.defaults = c } }

// WithMaxOpenFiles bounds the segment files held open at once.
func WithMaxOpenFiles(n int) Option { return func(o *options) { o.maxOpenFiles = n } }

// WithCleanerInterval sets how often retention and compaction run in the
// background; zero or negative disables the background cleaner (Clean can
// still be called).
func WithCleanerInterval(d time.Duration) Option { return func(o *options) { o.cleanerInterval = d } }

// WithClock replaces time.Now, for retention tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger sets the logger for recovery and failure reports.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithFsyncObserver has observe called with the duration of every fsync
// of a segment file: the group commits of fsync=always, the interval
// flusher's, segment rolls and the flush at close. It is called on the
// appending goroutines, at times with a partition's mutex held, so it must
// be quick, safe for concurrent use, and must not call into the log (a
// histogram's Observe is the intended use).
func WithFsyncObserver(observe func(time.Duration)) Option {
	return func(o *options) { o.fsyncObserver = observe }
}

// Open opens or creates the log in dir, recovering from an unclean
// shutdown if needed. It fails with ErrDataDirInUse if another process has
// the directory open.
func Open(dir string, opts ...Option) (*Log, error) {
	o := options{
		fs:              vfs.Default,
		defaults:        DefaultTopicConfig(),
		maxOpenFiles:    defaultOpenFiles,
		cleanerInterval: 30 * time.Second,
		now:             time.Now,
		logger:          slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(&o)
	}
	l := &Log{dir: dir, fs: o.fs, logger: o.logger, now: o.now, opts: o, stop: make(chan struct{})}
	l.mu.topics = make(map[string]*Topic)
	l.handles = newHandleCache(o.fs, o.maxOpenFiles)

	if err := l.fs.MkdirAll(filepath.Join(dir, topicsDir), 0o755); err != nil {
		return nil, fmt.Errorf("log: create data directory: %w", err)
	}
	lock, err := l.fs.Lock(filepath.Join(dir, lockFile))
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return nil, fmt.Errorf("%w: %s: %w", ErrDataDirInUse, dir, err)
		}
		return nil, fmt.Errorf("log: lock data directory: %w", err)
	}
	l.lock = lock
	if err := l.recover(); err != nil {
		_ = lock.Close()
		return nil, err
	}
	l.flusher = newFlusher(l)
	l.start(l.flusher.run)
	if o.cleanerInterval > 0 {
		l.start(l.runCleaner)
	}
	return l, nil
}

func (l *Log) start(f func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f()
	}()
}

// recover loads every topic. The clean-shutdown marker is consumed first,
// so a crash from here on is seen as unclean by the next open.
func (l *Log) recover() error {
	marker := filepath.Join(l.dir, cleanMarkerFile)
	if _, err := l.fs.Stat(marker); err == nil {
		l.cleanStart = true
		if err := l.fs.Remove(marker); err != nil {
			return err
		}
		if err := l.fs.SyncDir(l.dir); err != nil {
			return err
		}
	}
	root := filepath.Join(l.dir, topicsDir)
	entries, err := l.fs.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, creatingPrefix) || strings.HasPrefix(name, deletingPrefix) {
			// A create or delete that a crash interrupted: finish deleting.
			if err := l.fs.RemoveAll(filepath.Join(root, name)); err != nil {
				return err
			}
			continue
		}
		if !e.IsDir() {
			continue
		}
		t, err := l.openTopic(name)
		if err != nil {
			return err
		}
		l.mu.topics[name] = t
	}
	if !l.cleanStart && len(l.mu.topics) > 0 {
		l.logger.Info("recovered log after unclean shutdown", "dir", l.dir, "topics", len(l.mu.topics))
	}
	return nil
}

func (l *Log) openTopic(name string) (*Topic, error) {
	dir := filepath.Join(l.dir, topicsDir, name)
	b, err := l.fs.ReadFile(filepath.Join(dir, topicMetaFile))
	if err != nil {
		return nil, fmt.Errorf("log: topic %s: %w", name, err)
	}
	meta, err := decodeTopicMeta(b, dir)
	if err != nil {
		return nil, err
	}
	cfg, err := l.opts.defaults.With(meta.Config)
	if err != nil {
		return nil, fmt.Errorf("log: topic %s: %w", name, err)
	}
	if meta.ID == (TopicID{}) {
		// Topics never written without an id, but tolerate a hand-made file.
		meta.ID = newTopicID()
	}
	t := &Topic{name: name, id: meta.ID, dir: dir}
	t.mu.meta = meta
	t.config.Store(&cfg)
	parts := make([]*Partition, meta.Partitions)
	err = forEachParallel(len(parts), func(i int) error {
		p, err := l.openPartition(t, int32(i), l.cleanStart)
		parts[i] = p
		return err
	})
	if err != nil {
		return nil, err
	}
	t.partitions.Store(&parts)
	return t, nil
}

// CleanStart reports whether Open found a clean-shutdown marker, that is,
// whether recovery could trust the files without checking their tails.
func (l *Log) CleanStart() bool { return l.cleanStart }

// Dir returns the data directory.
func (l *Log) Dir() string { return l.dir }

// DefaultTopicConfig returns the configuration topics start from.
func (l *Log) DefaultTopicConfig() TopicConfig { return l.opts.defaults }

// CreateTopic creates a topic with the given partition count and
// configuration overrides. The topic exists on disk, durably, when it
// returns.
func (l *Log) CreateTopic(name string, partitions int32, config map[string]string) (*Topic, error) {
	if err := ValidateTopicName(name); err != nil {
		return nil, err
	}
	if partitions < 1 || partitions > maxPartitions {
		return nil, fmt.Errorf("%w: %d (allowed 1 to %d)", ErrInvalidPartitions, partitions, maxPartitions)
	}
	if _, err := l.opts.defaults.With(config); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return nil, ErrClosed
	}
	if _, ok := l.mu.topics[name]; ok {
		return nil, fmt.Errorf("%w: %s", ErrTopicExists, name)
	}

	root := filepath.Join(l.dir, topicsDir)
	staging := filepath.Join(root, creatingPrefix+name)
	if err := l.fs.RemoveAll(staging); err != nil {
		return nil, err
	}
	if err := l.fs.MkdirAll(staging, 0o755); err != nil {
		return nil, err
	}
	meta := topicMeta{Name: name, ID: newTopicID(), Partitions: partitions, Config: maps.Clone(config), CreatedAt: l.now().UTC()}
	if err := vfs.WriteFileAtomic(l.fs, filepath.Join(staging, topicMetaFile), encodeTopicMeta(meta)); err != nil {
		return nil, fmt.Errorf("log: create topic %s: %w", name, err)
	}
	// The rename publishes the topic whole: a crash before it leaves only a
	// staging directory, which the next open removes.
	if err := l.fs.Rename(staging, filepath.Join(root, name)); err != nil {
		return nil, fmt.Errorf("log: create topic %s: %w", name, err)
	}
	if err := l.fs.SyncDir(root); err != nil {
		return nil, fmt.Errorf("log: create topic %s: %w", name, err)
	}
	t, err := l.openTopic(name)
	if err != nil {
		return nil, fmt.Errorf("log: create topic %s: %w", name, err)
	}
	l.mu.topics[name] = t
	return t, nil
}

// Topic returns the named topic or an error wrapping ErrUnknownTopic.
func (l *Log) Topic(name string) (*Topic, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.mu.closed {
		return nil, ErrClosed
	}
	t, ok := l.mu.topics[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	return t, nil
}

// TopicByID returns the topic with the given id.
func (l *Log) TopicByID(id TopicID) (*Topic, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, t := range l.mu.topics {
		if t.id == id {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: id %x", ErrUnknownTopic, id[:])
}

// Topics returns every topic, sorted by name.
func (l *Log) Topics() []*Topic {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := slices.Collect(maps.Values(l.mu.topics))
	slices.SortFunc(out, func(a, b *Topic) int { return strings.Compare(a.name, b.name) })
	return out
}

// DeleteTopic removes a topic and its data. Appends and reads in flight on
// its partitions fail with ErrClosed.
func (l *Log) DeleteTopic(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return ErrClosed
	}
	t, ok := l.mu.topics[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	delete(l.mu.topics, name)
	for _, p := range t.Partitions() {
		p.retire()
	}
	root := filepath.Join(l.dir, topicsDir)
	doomed := filepath.Join(root, fmt.Sprintf("%s%s-%d", deletingPrefix, name, l.now().UnixNano()))
	if err := l.fs.Rename(t.dir, doomed); err != nil {
		return fmt.Errorf("log: delete topic %s: %w", name, err)
	}
	if err := l.fs.SyncDir(root); err != nil {
		return fmt.Errorf("log: delete topic %s: %w", name, err)
	}
	return l.fs.RemoveAll(doomed)
}

// Close stops background work, fsyncs every partition, writes the active
// segments' indexes and leaves the clean-shutdown marker, so the next Open
// skips tail checks. Appends waiting for an fsync complete first.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.mu.closed = true
	topics := slices.Collect(maps.Values(l.mu.topics))
	l.mu.Unlock()

	close(l.stop)
	l.wg.Wait()
	var parts []*Partition
	for _, t := range topics {
		parts = append(parts, t.Partitions()...)
	}
	var errs []error
	if err := forEachParallel(len(parts), func(i int) error { return parts[i].close() }); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		// Only a fully flushed log may claim a clean shutdown.
		marker := filepath.Join(l.dir, cleanMarkerFile)
		if err := vfs.WriteFileAtomic(l.fs, marker, []byte("clean\n")); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, l.lock.Close())
	return errors.Join(errs...)
}

// retire closes a partition of a topic being deleted, without flushing.
func (p *Partition) retire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.mu.syncing {
		p.mu.durable.Wait()
	}
	if !p.mu.closed {
		p.mu.closed = true
		close(p.mu.newData)
		p.mu.newData = make(chan struct{})
	}
	p.mu.durable.Broadcast()
	for _, s := range p.mu.segments {
		s.retired.Store(true)
		p.log.handles.forget(s)
	}
}

// flusher fsyncs partitions in fsync=interval mode when their interval is up.
type flusher struct {
	log  *Log
	wake chan struct{}
	mu   struct {
		sync.Mutex
		due []dueFlush
	}
}

type dueFlush struct {
	p  *Partition
	at time.Time
}

func newFlusher(l *Log) *flusher {
	return &flusher{log: l, wake: make(chan struct{}, 1)}
}

// markDirty schedules p for an fsync after interval. Called with p.mu held,
// at most once per dirty period.
func (f *flusher) markDirty(p *Partition, interval time.Duration) {
	f.mu.Lock()
	f.mu.due = append(f.mu.due, dueFlush{p: p, at: time.Now().Add(interval)})
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *flusher) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		f.mu.Lock()
		now := time.Now()
		var ready []*Partition
		next := time.Hour
		kept := f.mu.due[:0]
		for _, d := range f.mu.due {
			if !d.at.After(now) {
				ready = append(ready, d.p)
			} else {
				kept = append(kept, d)
				next = min(next, d.at.Sub(now))
			}
		}
		f.mu.due = kept
		f.mu.Unlock()
		for _, p := range ready {
			p.flush()
		}
		if len(ready) > 0 {
			continue
		}
		timer.Reset(next)
		select {
		case <-f.log.stop:
			return
		case <-f.wake:
		case <-timer.C:
		}
	}
}

// OpenFiles reports how many segment files are open, for tests and metrics.
func (l *Log) OpenFiles() int { return l.handles.openCount() }
