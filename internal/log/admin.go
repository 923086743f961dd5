package log

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tide-data/tide/internal/vfs"
)

// CreatePartitions grows topic name to total partitions. Existing
// partitions keep their data; keys hash to new places afterwards, as in
// Kafka.
func (l *Log) CreatePartitions(name string, total int32) error {
	t, err := l.Topic(name)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	have := int32(len(t.Partitions()))
	if total <= have || total > maxPartitions {
		return fmt.Errorf("%w: %s has %d partitions; the new count must be larger and at most %d, not %d", ErrInvalidPartitions, name, have, maxPartitions, total)
	}
	meta := t.mu.meta
	meta.Partitions = total
	if err := vfs.WriteFileAtomic(l.fs, filepath.Join(t.dir, topicMetaFile), encodeTopicMeta(meta)); err != nil {
		return fmt.Errorf("log: create partitions of %s: %w", name, err)
	}
	t.mu.meta = meta
	parts := slices.Clone(t.Partitions())
	for id := have; id < total; id++ {
		p, err := l.openPartition(t, id, true)
		if err != nil {
			return fmt.Errorf("log: create partitions of %s: %w", name, err)
		}
		parts = append(parts, p)
	}
	t.partitions.Store(&parts)
	return nil
}

// SetTopicConfig replaces topic name's configuration overrides (Kafka's
// AlterConfigs semantics: keys not given return to the defaults). Callers
// implementing incremental changes start from Topic.Overrides.
func (l *Log) SetTopicConfig(name string, overrides map[string]string) error {
	t, err := l.Topic(name)
	if err != nil {
		return err
	}
	cfg, err := l.opts.defaults.With(overrides)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	meta := t.mu.meta
	meta.Config = maps.Clone(overrides)
	if err := vfs.WriteFileAtomic(l.fs, filepath.Join(t.dir, topicMetaFile), encodeTopicMeta(meta)); err != nil {
		return fmt.Errorf("log: alter config of %s: %w", name, err)
	}
	t.mu.meta = meta
	t.config.Store(&cfg)
	return nil
}

// logStartFile persists a log start offset moved by DeleteRecordsBefore
// past the first segment's base.
const logStartFile = "log-start-offset"

// DeleteRecordsBefore makes offset the partition's first readable offset
// (Kafka's DeleteRecords). Offset -1 means the high watermark. Segments
// wholly below the new start are deleted at once; the rest of the space is
// freed as retention deletes the segment that holds the start.
func (p *Partition) DeleteRecordsBefore(offset int64) (int64, error) {
	p.mu.Lock()
	if err := p.writableLocked(); err != nil {
		p.mu.Unlock()
		return 0, err
	}
	if offset == -1 {
		offset = p.mu.highWatermark
	}
	if offset < 0 || offset > p.mu.highWatermark {
		hw := p.mu.highWatermark
		p.mu.Unlock()
		return 0, fmt.Errorf("%w: %d is past the high watermark %d of %s", ErrOffsetOutOfRange, offset, hw, p)
	}
	if offset <= p.mu.logStart {
		start := p.mu.logStart
		p.mu.Unlock()
		return start, nil
	}
	if err := vfs.WriteFileAtomic(p.log.fs, filepath.Join(p.dir, logStartFile), []byte(strconv.FormatInt(offset, 10)+"\n")); err != nil {
		p.mu.Unlock()
		return 0, err
	}
	p.mu.logStart = offset
	p.notifyLocked() // the LSO may have moved with it
	p.mu.Unlock()
	return offset, p.dropBelowStart()
}

// dropBelowStart deletes sealed segments that lie wholly below the log start.
func (p *Partition) dropBelowStart() error {
	p.mu.Lock()
	segs := p.mu.segments
	n := 0
	for n < len(segs)-1 && segs[n].nextOffset <= p.mu.logStart {
		n++
	}
	if n == 0 {
		p.mu.Unlock()
		return nil
	}
	victims := segs[:n]
	p.mu.segments = slices.Clone(segs[n:])
	for _, s := range victims {
		s.retired.Store(true)
	}
	p.mu.Unlock()
	return p.removeSegments(victims)
}

// removeSegments deletes retired segments' files. Readers holding one open
// keep reading it: an unlinked file stays readable while open.
func (p *Partition) removeSegments(victims []*segment) error {
	var errs []error
	for _, s := range victims {
		p.log.handles.forget(s)
		for _, path := range []string{s.logPath, s.indexPath, s.txnIndexPath} {
			if err := p.log.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, p.log.fs.SyncDir(p.dir))
	return errors.Join(errs...)
}

// loadLogStart applies a persisted log start offset.
func (p *Partition) loadLogStart() error {
	b, err := p.log.fs.ReadFile(filepath.Join(p.dir, logStartFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return fmt.Errorf("log: %s: %w", filepath.Join(p.dir, logStartFile), err)
	}
	p.mu.logStart = min(max(p.mu.logStart, v), p.active().nextOffset)
	return nil
}
