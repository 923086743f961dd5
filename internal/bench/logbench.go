package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

// Targets of the log benchmark (issue text: batched appends at >= 70% of
// the raw write+fsync ceiling for both record sizes; >= 50,000
// single-record appends/s from 64 writers; 1,000 partitions at no less
// than half the single-partition throughput).
const (
	TargetBatchedRatio   = 0.70
	TargetSingleAppends  = 50_000
	TargetManyPartitions = 0.50
)

// Scenario kinds, as Result.Kind.
const (
	KindCeiling         = "ceiling"
	KindCeilingParallel = "ceiling-parallel"
	KindAppendBatched   = "append-batched"
	KindAppendSingle    = "append-single"
	KindRead            = "read"
)

// LogOptions configures RunLog. DefaultLogOptions gives the issue's
// settings.
type LogOptions struct {
	// Dir is where the benchmark makes its scratch directory (removed
	// afterwards); it should be on the filesystem to measure.
	Dir string `json:"dir"`
	// Duration is how long each scenario runs.
	Duration time.Duration `json:"duration_ns"`
	// Writers is the number of concurrent appenders of batched appends,
	// and of files in the parallel ceiling.
	Writers int `json:"writers"`
	// BatchBytes is the size of a batch, and of a ceiling chunk.
	BatchBytes int `json:"batch_bytes"`
	// RecordSizes are the value sizes of batched appends.
	RecordSizes []int `json:"record_sizes"`
	// Partitions are the partition counts of batched appends.
	Partitions []int `json:"partitions"`
	// SingleWriters append one-record batches of SingleValueBytes each to
	// one partition.
	SingleWriters    int `json:"single_writers"`
	SingleValueBytes int `json:"single_value_bytes"`
	// ReadBytes is the size of each read of the read scenario.
	ReadBytes int `json:"read_bytes"`
	// Progress, if set, is called with each result as its scenario ends.
	Progress func(Result) `json:"-"`
}

// DefaultLogOptions returns the settings, in the current directory.
func DefaultLogOptions() LogOptions {
	return LogOptions{
		Dir:              ".",
		Duration:         3 * time.Second,
		Writers:          4,
		BatchBytes:       64 << 10,
		RecordSizes:      []int{100, 1024},
		Partitions:       []int{1, 16, 1000},
		SingleWriters:    64,
		SingleValueBytes: 100,
		ReadBytes:        1 << 20,
	}
}

// Validate reports options RunLog cannot run with.
func (o *LogOptions) Validate() error {
	switch {
	case o.Duration <= 0:
		return errors.New("bench: duration must be positive")
	case o.Writers < 1 || o.SingleWriters < 1:
		return errors.New("bench: writer counts must be positive")
	case o.BatchBytes < 1024:
		return errors.New("bench: batch size must be at least 1024 bytes")
	case o.SingleValueBytes < 0 || o.ReadBytes < 1:
		return errors.New("bench: value and read sizes must be positive")
	}
	if len(o.RecordSizes) == 0 || len(o.Partitions) == 0 {
		return errors.New("bench: record sizes and partition counts need at least one value each")
	}
	for _, s := range o.RecordSizes {
		if s < 0 || s > o.BatchBytes-100 {
			return fmt.Errorf("bench: record size %d does not fit a %d-byte batch", s, o.BatchBytes)
		}
	}
	for _, n := range o.Partitions {
		if n < 1 {
			return fmt.Errorf("bench: partition count %d must be positive", n)
		}
	}
	return nil
}

// Limit says when a scenario stops: after Duration or after Ops operations
// (appends, writes, reads) in total, whichever comes first. Zero fields
// are no limit; at least one must be set.
type Limit struct {
	Duration time.Duration
	Ops      int64
}

// Result is one scenario's measurement.
type Result struct {
	Name        string `json:"scenario"`
	Kind        string `json:"kind"`
	RecordBytes int    `json:"record_bytes,omitempty"`
	Partitions  int    `json:"partitions,omitempty"`
	Writers     int    `json:"writers,omitempty"`
	// Records is zero for the ceilings, which write raw bytes.
	Records int64 `json:"records"`
	// Bytes counts whole batches (or chunks), headers included: what
	// reached the disk.
	Bytes   int64         `json:"bytes"`
	Ops     int64         `json:"ops"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// P50 and P99 are per operation (one append, write+fsync or read).
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	// RecordsPerSec and MBPerSec (MB = 10^6 bytes) are over Elapsed.
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	// RatioToCeiling is MBPerSec over the reference ceiling (one file,
	// all writers' batches written per fsync).
	RatioToCeiling float64 `json:"ratio_to_ceiling,omitempty"`
}

func (r *Result) finish(elapsed time.Duration, lat *latencies) {
	r.Elapsed = elapsed
	if s := elapsed.Seconds(); s > 0 {
		r.RecordsPerSec = float64(r.Records) / s
		r.MBPerSec = float64(r.Bytes) / s / 1e6
	}
	r.P50, r.P99 = lat.percentile(50), lat.percentile(99)
}

// Target is one checked goal.
type Target struct {
	Name   string  `json:"name"`
	Pass   bool    `json:"pass"`
	Value  float64 `json:"value"`
	Want   float64 `json:"want"` // Value must be at least Want
	Detail string  `json:"detail"`
}

// LogReport is everything RunLog measured.
type LogReport struct {
	Options LogOptions `json:"options"`
	Results []Result   `json:"results"`
	Targets []Target   `json:"targets"`
	// Notes explain scenarios that were skipped.
	Notes []string `json:"notes,omitempty"`
}

// Passed reports whether every target was met.
func (r *LogReport) Passed() bool { return allPassed(r.Targets) }

// RunLog runs every scenario of the log benchmark in a scratch directory
// under opts.Dir and removes it afterwards. The ceilings run first, right
// before the log scenarios, on the same filesystem. Each log scenario
// appends to a fresh topic with the default configuration (fsync=always),
// deleted when the scenario ends.
func RunLog(ctx context.Context, opts LogOptions) (_ *LogReport, err error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	report := &LogReport{Options: opts}
	add := func(r Result) {
		report.Results = append(report.Results, r)
		if opts.Progress != nil {
			opts.Progress(r)
		}
	}
	limit := Limit{Duration: opts.Duration}

	root, err := os.MkdirTemp(opts.Dir, ".tide-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(root)) }()

	// The reference ceiling writes, per fsync, as many bytes as the
	// writers' batches together: the best a perfect group commit of every
	// concurrent batch into one fsync could do on this disk. The
	// one-batch-per-fsync and parallel-files ceilings are shown for context.
	ceiling, err := Ceiling(ctx, root, 1, opts.BatchBytes*opts.Writers, limit)
	if err != nil {
		return nil, err
	}
	ceiling.RatioToCeiling = 1
	add(ceiling)
	perBatch, err := Ceiling(ctx, root, 1, opts.BatchBytes, limit)
	if err != nil {
		return nil, err
	}
	perBatch.RatioToCeiling = ratio(perBatch.MBPerSec, ceiling.MBPerSec)
	add(perBatch)
	if opts.Writers > 1 {
		parallel, err := Ceiling(ctx, root, opts.Writers, opts.BatchBytes, limit)
		if err != nil {
			return nil, err
		}
		parallel.RatioToCeiling = ratio(parallel.MBPerSec, ceiling.MBPerSec)
		add(parallel)
	}

	l, err := log.Open(filepath.Join(root, "data"), log.WithCleanerInterval(0))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer func() { err = errors.Join(err, l.Close()) }()

	// The read scenario reads back the 1-partition data of 1 KiB records
	// (or of the largest records run on 1 partition), kept until then.
	var readTopic *log.Topic
	readSize := -1
	scenario := 0
	for _, size := range opts.RecordSizes {
		for _, n := range opts.Partitions {
			scenario++
			t, err := l.CreateTopic(fmt.Sprintf("append-%d", scenario), int32(n), nil)
			if err != nil {
				return nil, fmt.Errorf("bench: %w", err)
			}
			res, err := AppendBatched(ctx, t, size, opts.BatchBytes, opts.Writers, limit)
			if err != nil {
				return nil, err
			}
			res.RatioToCeiling = ratio(res.MBPerSec, ceiling.MBPerSec)
			add(res)
			keep := n == 1 && readSize != 1024 && (size == 1024 || size > readSize)
			doomed := t
			if keep {
				doomed, readTopic, readSize = readTopic, t, size
			}
			if doomed != nil {
				if err := l.DeleteTopic(doomed.Name()); err != nil {
					return nil, fmt.Errorf("bench: %w", err)
				}
			}
		}
	}

	t, err := l.CreateTopic("append-single", 1, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	res, err := AppendSingle(ctx, t.Partitions()[0], opts.SingleWriters, opts.SingleValueBytes, limit)
	if err != nil {
		return nil, err
	}
	res.RatioToCeiling = ratio(res.MBPerSec, ceiling.MBPerSec)
	add(res)
	if err := l.DeleteTopic(t.Name()); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}

	if readTopic != nil {
		res, err := ReadSequential(ctx, readTopic.Partitions()[0], opts.ReadBytes, limit)
		if err != nil {
			return nil, err
		}
		res.RecordBytes = readSize
		res.Name = fmt.Sprintf("read %s records, %s reads", sizeName(readSize), sizeName(opts.ReadBytes))
		res.RatioToCeiling = ratio(res.MBPerSec, ceiling.MBPerSec)
		add(res)
		if err := l.DeleteTopic(readTopic.Name()); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	} else {
		report.Notes = append(report.Notes, "read scenario skipped: it reads back a 1-partition batched run, and none ran")
	}

	report.Targets = checkTargets(report.Results, opts)
	return report, nil
}

// allPassed reports whether every target was met.
func allPassed(targets []Target) bool {
	for _, t := range targets {
		if !t.Pass {
			return false
		}
	}
	return true
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// checkTargets compares the results with the targets. Batched
// appends are compared with the ceiling on one partition, the setting the
// ceiling reproduces (one file, sequential writes); many partitions are
// compared with one, per record size, for the largest partition count run.
func checkTargets(results []Result, opts LogOptions) []Target {
	var targets []Target
	batched := make(map[[2]int]Result) // by record size, partitions
	for _, r := range results {
		if r.Kind == KindAppendBatched {
			batched[[2]int{r.RecordBytes, r.Partitions}] = r
		}
	}
	for _, size := range opts.RecordSizes {
		if r, ok := batched[[2]int{size, 1}]; ok {
			targets = append(targets, Target{
				Name:   fmt.Sprintf("batched appends, %s records, 1 partition, vs write+fsync ceiling", sizeName(size)),
				Value:  r.RatioToCeiling,
				Want:   TargetBatchedRatio,
				Detail: fmt.Sprintf("%.0f%% of ceiling (target >= %.0f%%)", 100*r.RatioToCeiling, 100*TargetBatchedRatio),
			})
		}
	}
	for _, r := range results {
		if r.Kind == KindAppendSingle {
			targets = append(targets, Target{
				Name:   fmt.Sprintf("single-record appends, %d writers", r.Writers),
				Value:  r.RecordsPerSec,
				Want:   TargetSingleAppends,
				Detail: fmt.Sprintf("%.0f appends/s (target >= %d)", r.RecordsPerSec, TargetSingleAppends),
			})
		}
	}
	most := slices.Max(append([]int{1}, opts.Partitions...))
	for _, size := range opts.RecordSizes {
		one, ok1 := batched[[2]int{size, 1}]
		many, ok2 := batched[[2]int{size, most}]
		if most > 1 && ok1 && ok2 {
			v := ratio(many.MBPerSec, one.MBPerSec)
			targets = append(targets, Target{
				Name:   fmt.Sprintf("%d partitions vs 1, %s records", most, sizeName(size)),
				Value:  v,
				Want:   TargetManyPartitions,
				Detail: fmt.Sprintf("%.0f%% of 1-partition throughput (target >= %.0f%%)", 100*v, 100*TargetManyPartitions),
			})
		}
	}
	for i := range targets {
		targets[i].Pass = targets[i].Value >= targets[i].Want
	}
	return targets
}

// Ceiling measures what the disk gives to the log's write pattern without
// the log: each of writers goroutines writes chunks of chunkBytes
// sequentially to its own new file in dir, with an fsync after each chunk
// (one fsync per batch, as an append with fsync=always costs when nothing
// shares it). The files are removed afterwards.
func Ceiling(ctx context.Context, dir string, writers, chunkBytes int, limit Limit) (Result, error) {
	res := Result{Kind: KindCeiling, Writers: writers}
	res.Name = fmt.Sprintf("ceiling: write+fsync %s chunks, 1 file", sizeName(chunkBytes))
	if writers > 1 {
		res.Kind = KindCeilingParallel
		res.Name = fmt.Sprintf("ceiling: write+fsync %s chunks, %d files", sizeName(chunkBytes), writers)
	}
	files := make([]*os.File, writers)
	defer func() {
		for _, f := range files {
			if f != nil {
				_ = f.Close() // scratch file, removed next
				_ = os.Remove(f.Name())
			}
		}
	}()
	for i := range files {
		f, err := os.CreateTemp(dir, "ceiling-*")
		if err != nil {
			return res, fmt.Errorf("bench: ceiling: %w", err)
		}
		files[i] = f
	}
	// The directory entries exist durably before timing starts, as a
	// segment file's does before its first append.
	if err := syncDir(dir); err != nil {
		return res, fmt.Errorf("bench: ceiling: %w", err)
	}
	chunk := randomBytes(chunkBytes)
	stats, err := runWorkers(ctx, writers, limit, func(w int, lat *latencies) (int64, int64, error) {
		t0 := time.Now()
		if _, err := files[w].Write(chunk); err != nil {
			return 0, 0, err
		}
		if err := files[w].Sync(); err != nil {
			return 0, 0, err
		}
		lat.add(time.Since(t0))
		return 0, int64(chunkBytes), nil
	})
	if err != nil {
		return res, fmt.Errorf("bench: ceiling: %w", err)
	}
	stats.into(&res)
	return res, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// AppendBatched has each of writers goroutines append one pre-built batch
// of records with recordBytes-byte values, as large as fits in batchBytes,
// over and over: to t's partitions round-robin, writer w starting at
// partition w*n/writers. Append rewrites the batch's offsets in place,
// which lets the batch be reused.
func AppendBatched(ctx context.Context, t *log.Topic, recordBytes, batchBytes, writers int, limit Limit) (Result, error) {
	parts := t.Partitions()
	res := Result{
		Kind:        KindAppendBatched,
		Name:        fmt.Sprintf("append %s records, %d partitions, %d writers", sizeName(recordBytes), len(parts), writers),
		RecordBytes: recordBytes,
		Partitions:  len(parts),
		Writers:     writers,
	}
	if len(parts) == 1 {
		res.Name = fmt.Sprintf("append %s records, 1 partition, %d writers", sizeName(recordBytes), writers)
	}
	batches := make([][]byte, writers)
	var perBatch int64
	for w := range batches {
		b, n, err := buildBatch(recordBytes, batchBytes)
		if err != nil {
			return res, err
		}
		batches[w], perBatch = b, int64(n)
	}
	next := make([]int, writers)
	for w := range next {
		next[w] = w * len(parts) / writers
	}
	stats, err := runWorkers(ctx, writers, limit, func(w int, lat *latencies) (int64, int64, error) {
		p := parts[next[w]]
		next[w] = (next[w] + 1) % len(parts)
		t0 := time.Now()
		if _, err := p.Append(batches[w]); err != nil {
			return 0, 0, err
		}
		lat.add(time.Since(t0))
		return perBatch, int64(len(batches[w])), nil
	})
	if err != nil {
		return res, fmt.Errorf("bench: %s: %w", res.Name, err)
	}
	stats.into(&res)
	return res, nil
}

// AppendSingle has writers goroutines append one-record batches with
// valueBytes-byte values to p, over and over: the case group commit is
// for, many small acknowledged writes sharing each fsync.
func AppendSingle(ctx context.Context, p *log.Partition, writers, valueBytes int, limit Limit) (Result, error) {
	res := Result{
		Kind:        KindAppendSingle,
		Name:        fmt.Sprintf("single-record appends, %s, 1 partition, %d writers", sizeName(valueBytes), writers),
		RecordBytes: valueBytes,
		Partitions:  1,
		Writers:     writers,
	}
	batches := make([][]byte, writers)
	for w := range batches {
		b, err := record.AppendBatch(nil, []record.Record{{Timestamp: time.Now().UnixMilli(), Value: randomBytes(valueBytes)}}, record.BatchOptions{})
		if err != nil {
			return res, err
		}
		batches[w] = b
	}
	stats, err := runWorkers(ctx, writers, limit, func(w int, lat *latencies) (int64, int64, error) {
		t0 := time.Now()
		if _, err := p.Append(batches[w]); err != nil {
			return 0, 0, err
		}
		lat.add(time.Since(t0))
		return 1, int64(len(batches[w])), nil
	})
	if err != nil {
		return res, fmt.Errorf("bench: %s: %w", res.Name, err)
	}
	stats.into(&res)
	return res, nil
}

// ReadSequential reads p from its start to its end in reads of readBytes,
// parsing batch headers only, and starts over at the end until the limit;
// it always finishes at least one read. The data was just written, so it
// is mostly in the page cache: this measures the read path, not the disk.
func ReadSequential(ctx context.Context, p *log.Partition, readBytes int, limit Limit) (Result, error) {
	res := Result{Kind: KindRead, Name: fmt.Sprintf("read, %s reads", sizeName(readBytes)), Partitions: 1, Writers: 1}
	start := p.Offsets().LogStart
	if p.Offsets().HighWatermark == start {
		return res, fmt.Errorf("bench: read: %s is empty", p)
	}
	offset := start
	stats, err := runWorkers(ctx, 1, limit, func(_ int, lat *latencies) (int64, int64, error) {
		t0 := time.Now()
		rr, err := p.Read(offset, readBytes)
		if err != nil {
			return 0, 0, err
		}
		var records int64
		b := rr.Batches
		for len(b) > 0 {
			h, err := record.ParseHeader(b)
			if err != nil {
				return 0, 0, err
			}
			records += int64(h.NumRecords)
			offset = h.LastOffset() + 1
			b = b[h.Size():]
		}
		lat.add(time.Since(t0))
		if offset >= rr.HighWatermark {
			offset = start
		}
		return records, int64(len(rr.Batches)), nil
	})
	if err != nil {
		return res, fmt.Errorf("bench: read %s: %w", p, err)
	}
	stats.into(&res)
	return res, nil
}

// buildBatch returns an uncompressed batch of as many records with
// recordBytes-byte values as fit in batchBytes, and the record count.
func buildBatch(recordBytes, batchBytes int) ([]byte, int, error) {
	value := randomBytes(recordBytes)
	now := time.Now().UnixMilli()
	build := func(n int) ([]byte, error) {
		recs := make([]record.Record, n)
		for i := range recs {
			recs[i] = record.Record{Timestamp: now, Value: value}
		}
		b, err := record.AppendBatch(nil, recs, record.BatchOptions{})
		if err != nil {
			return nil, fmt.Errorf("bench: build batch: %w", err)
		}
		return b, nil
	}
	// Estimate the count twice from the size of a trial batch (records
	// grow by a byte as offset deltas need longer varints), then correct
	// it one record at a time.
	n := 1
	for range 2 {
		b, err := build(n)
		if err != nil {
			return nil, 0, err
		}
		n = max(1, n*(batchBytes-record.BatchHeaderSize)/(len(b)-record.BatchHeaderSize))
	}
	for {
		b, err := build(n)
		switch {
		case err != nil:
			return nil, 0, err
		case len(b) > batchBytes && n > 1:
			n--
		default:
			if next, err := build(n + 1); err == nil && len(next) <= batchBytes {
				n++
				continue
			}
			return b, n, nil
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{'t', 'i', 'd', 'e'})
	_, _ = r.Read(b) // never fails
	return b
}

// workerStats sums what runWorkers' workers did.
type workerStats struct {
	records, bytes, ops int64
	elapsed             time.Duration
	lat                 *latencies
}

func (s workerStats) into(r *Result) {
	r.Records, r.Bytes, r.Ops = s.records, s.bytes, s.ops
	r.finish(s.elapsed, s.lat)
}

// runWorkers runs op in workers goroutines until the limit or ctx ends or
// an op fails, and sums the records and bytes the ops report. It owns the
// goroutines: they have all returned when it does.
func runWorkers(ctx context.Context, workers int, limit Limit, op func(w int, lat *latencies) (records, bytes int64, err error)) (workerStats, error) {
	if limit.Duration <= 0 && limit.Ops <= 0 {
		return workerStats{}, errors.New("bench: a limit needs a duration or an operation count")
	}
	var deadline time.Time
	if limit.Duration > 0 {
		deadline = time.Now().Add(limit.Duration)
	}
	var (
		opsLeft  atomic.Int64
		stop     atomic.Bool
		mu       sync.Mutex
		total    workerStats
		firstErr error
		wg       sync.WaitGroup
	)
	opsLeft.Store(limit.Ops)
	lats := make([]*latencies, workers)
	start := time.Now()
	for w := range workers {
		lats[w] = newLatencies(maxLatencySamples / workers)
		wg.Go(func() {
			var records, bytes, ops int64
			for !stop.Load() {
				if limit.Ops > 0 && opsLeft.Add(-1) < 0 {
					break
				}
				if (!deadline.IsZero() && !time.Now().Before(deadline)) || ctx.Err() != nil {
					break
				}
				r, b, err := op(w, lats[w])
				if err != nil {
					stop.Store(true)
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
					break
				}
				records, bytes, ops = records+r, bytes+b, ops+1
			}
			mu.Lock()
			total.records += records
			total.bytes += bytes
			total.ops += ops
			mu.Unlock()
		})
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	total.lat = mergeLatencies(lats)
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return total, firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// maxLatencySamples bounds the latency samples a scenario keeps.
const maxLatencySamples = 1_000_000

// latencies keeps a uniform sample (reservoir sampling) of at most max
// durations. It belongs to one goroutine.
type latencies struct {
	samples []time.Duration
	seen    int64
	max     int
}

func newLatencies(capacity int) *latencies { return &latencies{max: max(capacity, 1)} }

func (l *latencies) add(d time.Duration) {
	l.seen++
	if len(l.samples) < l.max {
		l.samples = append(l.samples, d)
		return
	}
	if i := rand.Int64N(l.seen); i < int64(l.max) {
		l.samples[i] = d
	}
}

// mergeLatencies pools the workers' samples, sorted. Workers that did
// more operations are not weighted up; with equal per-worker limits and
// similar rates the error is small.
func mergeLatencies(ls []*latencies) *latencies {
	out := &latencies{}
	for _, l := range ls {
		out.samples = append(out.samples, l.samples...)
		out.seen += l.seen
	}
	slices.Sort(out.samples)
	return out
}

// percentile returns the p-th percentile of sorted samples, 0 if none.
func (l *latencies) percentile(p int) time.Duration {
	if l == nil || len(l.samples) == 0 {
		return 0
	}
	i := min(len(l.samples)-1, len(l.samples)*p/100)
	return l.samples[i]
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// WriteHeader writes the heading of the text report and the table's
// column names.
func WriteHeader(w io.Writer, opts LogOptions) error {
	_, err := fmt.Fprintf(w, "tide bench log: %s per scenario, %d writers, %s batches, fsync=always, in %s (MB = 10^6 bytes)\n\n%-56s %11s %9s %9s %9s %8s\n",
		opts.Duration, opts.Writers, sizeName(opts.BatchBytes), opts.Dir,
		"scenario", "records/s", "MB/s", "p50", "p99", "ceiling")
	return err
}

// WriteRow writes one result as a table row.
func WriteRow(w io.Writer, r Result) error {
	records := "-"
	if r.Kind != KindCeiling && r.Kind != KindCeilingParallel {
		records = fmt.Sprintf("%.0f", r.RecordsPerSec)
	}
	_, err := fmt.Fprintf(w, "%-56s %11s %9.1f %9s %9s %8.2f\n", r.Name, records, r.MBPerSec, formatLatency(r.P50), formatLatency(r.P99), r.RatioToCeiling)
	return err
}

// WriteSummary writes the target checks and notes.
func WriteSummary(w io.Writer, report *LogReport) error {
	var b strings.Builder
	b.WriteString("\n")
	for _, n := range report.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, t := range report.Targets {
		verdict := "PASS"
		if !t.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, "%s  %s: %s\n", verdict, t.Name, t.Detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func formatLatency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
