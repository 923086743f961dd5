package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/log"
)

// TestRunLog runs every scenario briefly, so that the harness itself is
// covered by go test.
func TestRunLog(t *testing.T) {
	dir := t.TempDir()
	opts := DefaultLogOptions()
	opts.Dir = dir
	opts.Duration = 200 * time.Millisecond
	opts.Writers = 2
	opts.Partitions = []int{1, 4}
	opts.SingleWriters = 8
	var progress []string
	opts.Progress = func(r Result) { progress = append(progress, r.Name) }

	report, err := RunLog(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for i, r := range report.Results {
		kinds[r.Kind]++
		// The run's deadline is set just before its clock starts, so
		// Elapsed may fall a hair short of the duration.
		if r.Ops == 0 || r.Bytes == 0 || r.Elapsed < opts.Duration*9/10 || r.MBPerSec <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("result %d implausible: %+v", i, r)
		}
		if r.Kind != KindCeiling && r.Kind != KindCeilingParallel && (r.Records == 0 || r.RecordsPerSec <= 0) {
			t.Errorf("result %d counted no records: %+v", i, r)
		}
		if r.RatioToCeiling <= 0 {
			t.Errorf("result %d has no ratio to the ceiling: %+v", i, r)
		}
	}
	want := map[string]int{KindCeiling: 2, KindCeilingParallel: 1, KindAppendBatched: 4, KindAppendSingle: 1, KindRead: 1}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("scenarios %v, want %v", kinds, want)
	}
	if len(progress) != len(report.Results) {
		t.Errorf("progress called %d times for %d results", len(progress), len(report.Results))
	}
	// 2 batched-vs-ceiling, 1 single-record, 2 many-vs-one partitions.
	if len(report.Targets) != 5 {
		t.Errorf("%d targets: %+v", len(report.Targets), report.Targets)
	}
	for _, r := range report.Results {
		if r.Kind == KindRead && r.RecordBytes != 1024 {
			t.Errorf("read scenario read %d-byte records, want the 1 KiB run", r.RecordBytes)
		}
	}

	// The scratch directory is gone.
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("left behind %v (%v)", entries, err)
	}

	var text bytes.Buffer
	if err := WriteHeader(&text, opts); err != nil {
		t.Fatal(err)
	}
	for _, r := range report.Results {
		if err := WriteRow(&text, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteSummary(&text, report); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"records/s", "ceiling: write+fsync 64 KiB chunks, 1 file", "append 1 KiB records, 4 partitions, 2 writers", "single-record appends", "read 1 KiB records, 1 MiB reads"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	if got := strings.Count(text.String(), "PASS ") + strings.Count(text.String(), "FAIL "); got != 5 {
		t.Errorf("%d PASS/FAIL lines:\n%s", got, text.String())
	}
	if _, err := json.Marshal(report); err != nil {
		t.Errorf("report does not marshal: %v", err)
	}
}

func TestRunLogWithoutOnePartition(t *testing.T) {
	opts := DefaultLogOptions()
	opts.Dir = t.TempDir()
	opts.Duration = 50 * time.Millisecond
	opts.Writers = 1
	opts.RecordSizes = []int{100}
	opts.Partitions = []int{2}
	opts.SingleWriters = 2
	report, err := RunLog(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Notes) != 1 || !strings.Contains(report.Notes[0], "read scenario skipped") {
		t.Errorf("notes %q", report.Notes)
	}
	if len(report.Targets) != 1 { // single-record appends only
		t.Errorf("targets %+v", report.Targets)
	}
}

func TestRunLogCancelled(t *testing.T) {
	dir := t.TempDir()
	opts := DefaultLogOptions()
	opts.Dir = dir
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunLog(ctx, opts); err == nil {
		t.Fatal("RunLog with a cancelled context succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind %v", entries)
	}
}

func TestLimitByOps(t *testing.T) {
	res, err := Ceiling(context.Background(), t.TempDir(), 3, 4096, Limit{Ops: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 10 || res.Bytes != 10*4096 {
		t.Errorf("ops %d bytes %d, want 10 and 40960", res.Ops, res.Bytes)
	}
	if _, err := Ceiling(context.Background(), t.TempDir(), 1, 4096, Limit{}); err == nil {
		t.Error("no limit accepted")
	}
}

func TestLatencies(t *testing.T) {
	l := newLatencies(100)
	for i := range 10_000 {
		l.add(time.Duration(i))
	}
	if len(l.samples) != 100 || l.seen != 10_000 {
		t.Fatalf("kept %d of %d", len(l.samples), l.seen)
	}
	m := mergeLatencies([]*latencies{l})
	// A uniform sample of 0..9999: the median is near 5000.
	if p50 := m.percentile(50); p50 < 3000 || p50 > 7000 {
		t.Errorf("p50 %d of a uniform sample of 0..9999", p50)
	}
	exact := newLatencies(1000)
	for i := range 100 {
		exact.add(time.Duration(100 - i))
	}
	exact = mergeLatencies([]*latencies{exact})
	if exact.percentile(50) != 51 || exact.percentile(99) != 100 || exact.percentile(0) != 1 {
		t.Errorf("percentiles 0/50/99: %d %d %d", exact.percentile(0), exact.percentile(50), exact.percentile(99))
	}
	if (&latencies{}).percentile(50) != 0 {
		t.Error("percentile of nothing")
	}
}

func TestBuildBatch(t *testing.T) {
	for _, size := range []int{0, 100, 1024, 60000} {
		b, n, err := buildBatch(size, 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 64<<10 || n < 1 {
			t.Errorf("size %d: %d records in %d bytes", size, n, len(b))
		}
		// Nearly full: one more record would not fit.
		if len(b)+size+12 <= 64<<10 && size > 0 {
			t.Errorf("size %d: batch of %d bytes has room for more", size, len(b))
		}
	}
}

func report(b *testing.B, r Result) {
	if r.Records > 0 { // the ceilings write bytes, not records
		b.ReportMetric(r.RecordsPerSec, "records/s")
	}
	b.ReportMetric(r.MBPerSec, "MB/s")
	b.ReportMetric(float64(r.P50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(r.P99.Microseconds()), "p99-µs")
}

func openLog(b *testing.B) *log.Log {
	l, err := log.Open(filepath.Join(b.TempDir(), "data"), log.WithCleanerInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close() })
	return l
}

// BenchmarkCeiling is one op per write+fsync of a 64 KiB chunk.
func BenchmarkCeiling(b *testing.B) {
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			res, err := Ceiling(b.Context(), b.TempDir(), writers, 64<<10, Limit{Ops: int64(b.N)})
			if err != nil {
				b.Fatal(err)
			}
			report(b, res)
		})
	}
}

// BenchmarkAppendBatched is one op per append of a 64 KiB batch, from 4
// writers.
func BenchmarkAppendBatched(b *testing.B) {
	for _, size := range []int{100, 1024} {
		for _, partitions := range []int{1, 16, 1000} {
			b.Run(fmt.Sprintf("record=%d/partitions=%d", size, partitions), func(b *testing.B) {
				l := openLog(b)
				t, err := l.CreateTopic("t", int32(partitions), nil)
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				res, err := AppendBatched(b.Context(), t, size, 64<<10, 4, Limit{Ops: int64(b.N)})
				if err != nil {
					b.Fatal(err)
				}
				report(b, res)
			})
		}
	}
}

// BenchmarkAppendSingle is one op per one-record append, from 64 writers.
func BenchmarkAppendSingle(b *testing.B) {
	l := openLog(b)
	t, err := l.CreateTopic("t", 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := AppendSingle(b.Context(), t.Partitions()[0], 64, 100, Limit{Ops: int64(b.N)})
	if err != nil {
		b.Fatal(err)
	}
	report(b, res)
}

// BenchmarkRead is one op per 1 MiB read of 1 KiB records.
func BenchmarkRead(b *testing.B) {
	l := openLog(b)
	t, err := l.CreateTopic("t", 1, map[string]string{log.ConfigFsync: string(log.FsyncNever)})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := AppendBatched(b.Context(), t, 1024, 64<<10, 1, Limit{Ops: 512}); err != nil { // 32 MiB
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := ReadSequential(b.Context(), t.Partitions()[0], 1<<20, Limit{Ops: int64(b.N)})
	if err != nil {
		b.Fatal(err)
	}
	report(b, res)
}
