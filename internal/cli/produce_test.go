package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

// jsonLine is one line of consume --format json.
type jsonLine struct {
	Partition   int32   `json:"partition"`
	Offset      int64   `json:"offset"`
	Key         *string `json:"key"`
	KeyBase64   []byte  `json:"key_base64"`
	Value       *string `json:"value"`
	ValueBase64 []byte  `json:"value_base64"`
	Timestamp   *string `json:"timestamp"`
	Headers     []struct {
		Key         string  `json:"key"`
		Value       *string `json:"value"`
		ValueBase64 []byte  `json:"value_base64"`
	} `json:"headers"`
}

func decodeJSONLines(t *testing.T, out string) []jsonLine {
	t.Helper()
	var recs []jsonLine
	for i, line := range lines(out) {
		var r jsonLine
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %d %q: %v", i+1, line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestProduceConsumeKeyed(t *testing.T) {
	const partitions = 4
	dir := newDataDir(t, map[string]int32{"events": partitions})
	var in strings.Builder
	const n = 500
	for i := range n {
		fmt.Fprintf(&in, "user-%d:event %d\n", i%37, i)
	}
	r := tide(t, in.String(), "produce", "events", "--key-sep", ":", "--data-dir", dir).ok(t)
	if r.stderr != fmt.Sprintf("produced %d records\n", n) {
		t.Errorf("produce stderr %q", r.stderr)
	}

	r = tide(t, "", "consume", "events", "--format", "json", "--data-dir", dir).ok(t)
	if r.stderr != fmt.Sprintf("consumed %d records\n", n) {
		t.Errorf("consume stderr %q", r.stderr)
	}
	recs := decodeJSONLines(t, r.stdout)
	if len(recs) != n {
		t.Fatalf("consumed %d records, want %d", len(recs), n)
	}
	lastPartition := int32(-1)
	next := map[int32]int64{}
	lastEvent := map[string]int{} // per key: events in input order
	for _, rec := range recs {
		if rec.Key == nil || rec.Value == nil || rec.Timestamp == nil {
			t.Fatalf("record %+v lacks key, value or timestamp", rec)
		}
		if want := record.PartitionForKey([]byte(*rec.Key), partitions); rec.Partition != want {
			t.Errorf("key %q on partition %d, PartitionForKey says %d", *rec.Key, rec.Partition, want)
		}
		if rec.Partition < lastPartition {
			t.Errorf("partition %d printed after %d: want partition by partition", rec.Partition, lastPartition)
		}
		lastPartition = rec.Partition
		if rec.Offset != next[rec.Partition] {
			t.Errorf("partition %d: offset %d, want %d", rec.Partition, rec.Offset, next[rec.Partition])
		}
		next[rec.Partition] = rec.Offset + 1
		event, err := strconv.Atoi(strings.TrimPrefix(*rec.Value, "event "))
		if err != nil {
			t.Fatalf("value %q", *rec.Value)
		}
		if prev, ok := lastEvent[*rec.Key]; ok && event <= prev {
			t.Errorf("key %s: event %d after %d: order within a key lost", *rec.Key, event, prev)
		}
		lastEvent[*rec.Key] = event
		if ts, err := time.Parse(time.RFC3339Nano, *rec.Timestamp); err != nil || time.Since(ts) > time.Minute || time.Since(ts) < 0 {
			t.Errorf("timestamp %q: want the recent past (%v)", *rec.Timestamp, err)
		}
		if len(rec.Headers) != 0 {
			t.Errorf("headers %v, want none", rec.Headers)
		}
	}

	// Raw output holds the same values; with --key-sep, the same lines.
	raw := tide(t, "", "consume", "events", "--data-dir", dir).ok(t).stdout
	var values []string
	for _, rec := range recs {
		values = append(values, *rec.Value)
	}
	if got := lines(raw); !slices.Equal(got, values) {
		t.Errorf("raw output differs from json values")
	}
	keyed := lines(tide(t, "", "consume", "events", "--key-sep", ":", "--data-dir", dir).ok(t).stdout)
	slices.Sort(keyed)
	want := lines(in.String())
	slices.Sort(want)
	if !slices.Equal(keyed, want) {
		t.Errorf("raw output with --key-sep does not reproduce the input")
	}
}

func TestProduceLineRules(t *testing.T) {
	dir := newDataDir(t, map[string]int32{"t": 1})
	// CRLF, an empty line, a line without the separator, an empty key, a
	// separator of more than one byte, and a last line without '\n'.
	in := "a=>1\r\n\r\nno separator\n=>empty key\nb=>x=>y\nlast=>line"
	tide(t, in, "produce", "t", "--key-sep", "=>", "--data-dir", dir).ok(t)
	recs := decodeJSONLines(t, tide(t, "", "consume", "t", "--format", "json", "--data-dir", dir).ok(t).stdout)
	type kv struct{ key, value string }
	str := func(p *string) string {
		if p == nil {
			return "<null>"
		}
		return *p
	}
	var got []kv
	for _, r := range recs {
		got = append(got, kv{str(r.Key), str(r.Value)})
	}
	want := []kv{
		{"a", "1"},
		{"<null>", ""},
		{"<null>", "no separator"},
		{"", "empty key"},
		{"b", "x=>y"},
		{"last", "line"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("records\n got %v\nwant %v", got, want)
	}
}

func TestProduceUnkeyedSpreads(t *testing.T) {
	dir := newDataDir(t, map[string]int32{"t": 3})
	var in strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&in, "value %d\n", i)
	}
	tide(t, in.String(), "produce", "t", "--batch-bytes", "4096", "--data-dir", dir).ok(t)
	hw := offsets(t, dir, "t")
	var total int64
	for p, n := range hw {
		if n == 0 {
			t.Errorf("partition %d got no records: %v", p, hw)
		}
		total += n
	}
	if total != 20000 {
		t.Errorf("%d records stored, want 20000", total)
	}
	// The sticky partitioner keeps runs of input together: each partition
	// holds whole batches of consecutive lines.
	r := tide(t, "", "consume", "t", "--partition", "0", "--max", "2", "--data-dir", dir).ok(t)
	vals := lines(r.stdout)
	a, _ := strconv.Atoi(strings.TrimPrefix(vals[0], "value "))
	b, _ := strconv.Atoi(strings.TrimPrefix(vals[1], "value "))
	if b != a+1 {
		t.Errorf("first records of partition 0 are %q: want consecutive lines", vals)
	}
}

func TestProducePartitionFlag(t *testing.T) {
	dir := newDataDir(t, map[string]int32{"t": 3})
	tide(t, "k1:a\nk2:b\nc\n", "produce", "t", "--partition", "2", "--key-sep", ":", "--data-dir", dir).ok(t)
	if got := offsets(t, dir, "t"); !slices.Equal(got, []int64{0, 0, 3}) {
		t.Errorf("offsets %v, want all 3 records on partition 2", got)
	}
}

// TestProduceManyLines produces 100k lines and consumes them back.
func TestProduceManyLines(t *testing.T) {
	const n = 100_000
	dir := newDataDir(t, map[string]int32{"big": 4})
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "%d:record number %d\n", i, i)
	}
	r := tide(t, in.String(), "produce", "big", "--key-sep", ":", "--data-dir", dir).ok(t)
	if r.stderr != "produced 100000 records\n" {
		t.Errorf("produce stderr %q", r.stderr)
	}
	r = tide(t, "", "consume", "big", "--data-dir", dir).ok(t)
	got := lines(r.stdout)
	if len(got) != n || r.stderr != "consumed 100000 records\n" {
		t.Fatalf("consumed %d lines, stderr %q", len(got), r.stderr)
	}
	seen := make([]bool, n)
	for _, v := range got {
		i, err := strconv.Atoi(strings.TrimPrefix(v, "record number "))
		if err != nil || seen[i] {
			t.Fatalf("value %q unexpected or repeated", v)
		}
		seen[i] = true
	}
}

func TestProduceLineTooLarge(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	tide(t, "", "topic", "create", "small", "--config", "max.message.bytes=200", "--data-dir", dir).ok(t)
	long := strings.Repeat("x", 300)
	in := "one\ntwo\n" + long + "\nfour\n"
	r := tide(t, in, "produce", "small", "--data-dir", dir)
	if r.code != ExitUsage || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q; want 2 and one line", r.code, r.stderr)
	}
	for _, want := range []string{"line 3", "max.message.bytes=200", "2 records durably appended"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
	}
	// Everything before the bad line is stored, nothing after it.
	if got := tide(t, "", "consume", "small", "--data-dir", dir).ok(t).stdout; got != "one\ntwo\n" {
		t.Errorf("stored %q", got)
	}
	// A line split across many reads is refused before it is buffered whole.
	r = tideReader(t, io.MultiReader(strings.NewReader("ok\n"), strings.NewReader(strings.Repeat("y", 1<<20))), "produce", "small", "--data-dir", dir)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "line 2") || !strings.Contains(r.stderr, "1 records durably appended") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestProduceAppendFailure checks that a failed append exits 1 and says how
// many records were stored.
func TestProduceAppendFailure(t *testing.T) {
	dir := newDataDir(t, map[string]int32{"t": 1})
	l, err := log.Open(dir, log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := l.Topic("t")
	if err != nil {
		t.Fatal(err)
	}
	p := newProducer(tp, produceOptions{partition: 0, batchBytes: 1 << 10})
	// Delete the topic under the producer: its partitions refuse appends
	// with ErrClosed, an I/O-class failure.
	if err := l.DeleteTopic("t"); err != nil {
		t.Fatal(err)
	}
	err = p.run(context.Background(), strings.NewReader(strings.Repeat("line\n", 1000)))
	if err == nil || p.appended() != 0 {
		t.Fatalf("run: %v, %d appended; want an error and 0", err, p.appended())
	}
	if exitCode(&commandError{err: err}) != ExitFailure {
		t.Errorf("exit code %d for %v, want 1", exitCode(&commandError{err: err}), err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestProduceInterrupted checks that a signal stops produce cleanly: what
// was read is appended, and the exit code is 130.
func TestProduceInterrupted(t *testing.T) {
	dir := newDataDir(t, map[string]int32{"t": 2})
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result)
	go func() {
		var stdout, stderr strings.Builder
		code := run(ctx, []string{"produce", "t", "--data-dir", dir}, &env{stdin: pr, stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }})
		done <- result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	}()
	if _, err := io.WriteString(pw, "a\nb\nc\n"); err != nil {
		t.Fatal(err)
	}
	// The pipe hands over the lines only when the producer reads them; give
	// it time to turn them into records, then interrupt.
	time.Sleep(50 * time.Millisecond)
	cancel()
	r := <-done
	if r.code != ExitInterrupted || !strings.Contains(r.stderr, "interrupted") || !strings.Contains(r.stderr, "3 records durably appended") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if got := offsets(t, dir, "t"); got[0]+got[1] != 3 {
		t.Errorf("offsets %v, want 3 records", got)
	}
}

// TestProduceLinger checks that records of slow input are appended
// without waiting for the end of input.
func TestProduceLinger(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := log.Open(dir, log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tp, err := l.CreateTopic("t", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	p := newProducer(tp, produceOptions{partition: -1, batchBytes: defaultProduceBatchBytes})
	errc := make(chan error)
	go func() { errc <- p.run(context.Background(), pr) }()
	if _, err := io.WriteString(pw, "first\n"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Partitions()[0].Wait(ctx, 0); err != nil {
		t.Fatalf("record not appended while input stays open: %v", err)
	}
	pw.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
