package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The file sink writes NDJSON files in a directory: each output's value on
// a line of its own.
//
// Files. The file being written is <prefix>-<UTC time>-<seq>.ndjson.inprogress;
// when it is rotated — its size would pass 'rotation.bytes' (128 MiB),
// it is 'rotation.interval' (1h) old, or the sink closes — it is fsync'd,
// renamed without the .inprogress suffix (Flink's convention) and the
// directory fsync'd. Readers should take only files without the suffix;
// those never change again. A file exceeds 'rotation.bytes' only when one
// Write alone does: a Write's lines stay in one file. 'prefix' defaults
// to the sink's name, so several sinks may share a directory.
//
// One file per sink: concurrent Writes (one per input partition) are
// serialised on it, and each Write's lines are contiguous; the lines of
// one input partition are in order across files (by file name), those of
// different partitions interleave by batch. (A file per partition would
// let fsyncs run in parallel, but multiply small files by the partition
// count; a batch per fsync is what the topic sink pays too.)
//
// Durability. Write appends all its lines with one write and returns
// after the file's fsync (and the directory's, when it created the
// file), so a line is acknowledged only once it is on disk. After a
// write or fsync error the file is cut back to its last acknowledged
// size, finished (renamed) and the next Write starts a new file; the
// failed Write returns the error and the runtime retries the batch.
//
// Crashes. A crash leaves the current file as .inprogress: it holds every
// acknowledged line, whole, and possibly some lines of the batch that
// was being written, the last of which may be torn. When the sink next
// opens (its first Write), it finishes every .inprogress file of its
// prefix: cuts it after its last newline (a torn line was never
// acknowledged), fsyncs and renames it; it never appends to one. Lines of
// that last batch that made it whole are written again when the pipeline
// replays the batch: at-least-once, as for every sink. A value holding a
// newline would break the format, so such an output is rejected (code
// "file_newline") and dead-lettered.
type fileSink struct {
	dir      string
	prefix   string
	maxBytes int64
	interval time.Duration
	logger   *slog.Logger

	mu struct {
		sync.Mutex
		recovered bool
		cur       *openFile
		seq       int
		buf       []byte
		closed    bool
	}
}

// openFile is the file being written.
type openFile struct {
	f      *os.File
	name   string // final name, without the suffix
	size   int64  // bytes acknowledged
	opened time.Time
	timer  *time.Timer // rotates it when it is old enough
}

const inProgressSuffix = ".inprogress"

var _ Sink = (*fileSink)(nil)

// NewFile returns a file sink. Options: 'path' (required: the directory,
// created if missing), 'rotation.bytes' (134217728), 'rotation.interval'
// ('1h'), 'prefix' (the sink's name, else "part"; a part's, Env.Part,
// after a dot). It touches no file
// until the first Write.
func NewFile(opts map[string]string, env Env) (Sink, error) {
	o := newOptions("file", opts, "path", "rotation.bytes", "rotation.interval", "prefix")
	def := env.Pipeline
	if def == "" {
		def = "part"
	}
	s := &fileSink{
		dir:      o.required("path"),
		maxBytes: o.int("rotation.bytes", 128<<20, 1, math.MaxInt64),
		interval: o.duration("rotation.interval", time.Hour),
		prefix:   o.str("prefix", def),
		logger:   env.Logger,
	}
	if s.prefix == "" || strings.ContainsAny(s.prefix, `/\`) || s.prefix == "." || s.prefix == ".." {
		o.fail("option 'prefix' must be a file name, not '%s'", s.prefix)
	}
	if env.Part != "" {
		// Each part's files apart: a part takes another's file in
		// progress for one a crash left behind.
		s.prefix += "." + env.Part
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Write appends one line per output and returns once they are on disk.
func (s *fileSink) Write(_ context.Context, outputs []Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return errors.New("connector file: sink closed")
	}
	if !s.mu.recovered {
		if err := s.recoverLocked(); err != nil {
			return err
		}
		s.mu.recovered = true
	}
	buf := s.mu.buf[:0]
	var rejected []Rejection
	for i := range outputs {
		v := outputs[i].Value
		if bytes.IndexByte(v, '\n') >= 0 {
			rejected = append(rejected, Rejection{Index: i, Code: "file_newline", Attempts: 1,
				Err: errors.New("connector file: the value holds a newline, which NDJSON cannot")})
			continue
		}
		buf = append(buf, v...)
		buf = append(buf, '\n')
	}
	s.mu.buf = buf
	if len(buf) > 0 {
		if err := s.appendLocked(buf); err != nil {
			return err
		}
	}
	if len(rejected) > 0 {
		return &RejectedError{Rejected: rejected}
	}
	return nil
}

// appendLocked writes buf to the current file, rotating first if needed.
func (s *fileSink) appendLocked(buf []byte) error {
	cur := s.mu.cur
	if cur != nil && cur.size > 0 && (cur.size+int64(len(buf)) > s.maxBytes || time.Since(cur.opened) >= s.interval) {
		s.mu.cur = nil
		if err := s.finish(cur); err != nil {
			return err
		}
		cur = nil
	}
	if cur == nil {
		var err error
		if cur, err = s.createLocked(); err != nil {
			return err
		}
		s.mu.cur = cur
	}
	_, err := cur.f.Write(buf)
	if err == nil {
		err = cur.f.Sync()
	}
	if err != nil {
		// Cut what this write left, and never write to the file again: after
		// a failed fsync the kernel may have dropped pages it still reports
		// as written.
		s.mu.cur = nil
		err = fmt.Errorf("connector file: writing %s: %w", cur.name+inProgressSuffix, err)
		return errors.Join(err, cur.f.Truncate(cur.size), s.finish(cur))
	}
	cur.size += int64(len(buf))
	return nil
}

// createLocked creates a new .inprogress file and fsyncs the directory.
func (s *fileSink) createLocked() (*openFile, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("connector file: %w", err)
	}
	now := time.Now()
	for {
		s.mu.seq++
		name := filepath.Join(s.dir, fmt.Sprintf("%s-%s-%06d.ndjson", s.prefix, now.UTC().Format("20060102T150405.000Z"), s.mu.seq))
		if _, err := os.Lstat(name); err == nil {
			continue
		}
		f, err := os.OpenFile(name+inProgressSuffix, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("connector file: %w", err)
		}
		if err := syncDir(s.dir); err != nil {
			_ = f.Close()
			return nil, err
		}
		of := &openFile{f: f, name: name, opened: now}
		of.timer = time.AfterFunc(s.interval, func() { s.rotateIfOld(of) })
		return of, nil
	}
}

// rotateIfOld finishes of if it is still the current file (a Write may
// have rotated it already): a file is not left .inprogress for longer
// than the interval while no Writes come.
func (s *fileSink) rotateIfOld(of *openFile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.cur != of {
		return
	}
	s.mu.cur = nil
	if err := s.finish(of); err != nil {
		s.logger.Warn("file sink: rotating an idle file failed; the next write starts a new one", "file", of.name, "err", err)
	}
}

// finish fsyncs and closes f, renames it to its final name and fsyncs the
// directory. An empty file is removed instead.
func (s *fileSink) finish(of *openFile) error {
	of.timer.Stop()
	err := of.f.Sync()
	if cerr := of.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("connector file: closing %s: %w", of.name+inProgressSuffix, err)
	}
	if of.size == 0 {
		err = os.Remove(of.name + inProgressSuffix)
	} else {
		err = os.Rename(of.name+inProgressSuffix, of.name)
	}
	if err != nil {
		return fmt.Errorf("connector file: %w", err)
	}
	return syncDir(s.dir)
}

// recoverLocked finishes the .inprogress files a crash left behind: each
// is cut after its last newline and renamed.
func (s *fileSink) recoverLocked() error {
	matches, err := filepath.Glob(filepath.Join(globEscape(s.dir), globEscape(s.prefix)+"-*.ndjson"+inProgressSuffix))
	if err != nil {
		return fmt.Errorf("connector file: %w", err)
	}
	// The glob for prefix "events" matches "events-eu-…" too: another
	// sink's file, maybe being written. Only this sink's names count.
	own := regexp.MustCompile(`^` + regexp.QuoteMeta(s.prefix) + `-\d{8}T\d{6}\.\d{3}Z-\d{6,}\.ndjson` + regexp.QuoteMeta(inProgressSuffix) + `$`)
	matches = slices.DeleteFunc(matches, func(path string) bool { return !own.MatchString(filepath.Base(path)) })
	for _, path := range matches {
		if err := recoverFile(path); err != nil {
			return err
		}
	}
	if len(matches) > 0 {
		s.logger.Info("file sink: finished files left in progress by an earlier run", "files", len(matches))
		return syncDir(s.dir)
	}
	return nil
}

func recoverFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("connector file: recovering: %w", err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("connector file: recovering %s: %w", path, err)
	}
	// Find the last newline, reading backwards.
	keep := int64(0)
	chunk := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(end-int64(len(chunk)), 0)
		n, err := f.ReadAt(chunk[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("connector file: recovering %s: %w", path, err)
		}
		if i := bytes.LastIndexByte(chunk[:n], '\n'); i >= 0 {
			keep = start + int64(i) + 1
			break
		}
		end = start
	}
	if keep < size {
		if err := f.Truncate(keep); err != nil {
			return fmt.Errorf("connector file: recovering %s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("connector file: recovering %s: %w", path, err)
	}
	final := strings.TrimSuffix(path, inProgressSuffix)
	if keep == 0 {
		err = os.Remove(path)
	} else {
		err = os.Rename(path, final)
	}
	if err != nil {
		return fmt.Errorf("connector file: recovering: %w", err)
	}
	return nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

// syncDir fsyncs a directory, so that a file created or renamed in it
// survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("connector file: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("connector file: fsync of directory %s: %w", dir, err)
	}
	return nil
}

// Close finishes the current file. Writes after Close fail.
func (s *fileSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.closed = true
	if cur := s.mu.cur; cur != nil {
		s.mu.cur = nil
		return s.finish(cur)
	}
	return nil
}
