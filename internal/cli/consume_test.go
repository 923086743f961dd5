package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

// produceLines appends each line as one record, one batch per call, to a
// partition of a topic in dir; it returns when they are stored.
func produceLines(t *testing.T, dir, topic string, partition int, values ...string) {
	t.Helper()
	tide(t, strings.Join(values, "\n")+"\n", "produce", topic, "--partition", fmt.Sprint(partition), "--data-dir", dir).ok(t)
}

func TestConsumeStartAndMax(t *testing.T) {
	dir := newDataDir(t, map[string]int32{"t": 2})
	produceLines(t, dir, "t", 0, "a0", "a1", "a2", "a3")
	produceLines(t, dir, "t", 1, "b0", "b1", "b2")

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"everything, partition by partition", nil, "a0 a1 a2 a3 b0 b1 b2"},
		{"explicit from-beginning", []string{"--from-beginning"}, "a0 a1 a2 a3 b0 b1 b2"},
		{"one partition", []string{"--partition", "1"}, "b0 b1 b2"},
		{"offset in every partition", []string{"--offset", "2"}, "a2 a3 b2"},
		{"offset at the end", []string{"--offset", "3", "--partition", "1"}, ""},
		{"offset in one partition", []string{"--offset", "3", "--partition", "0"}, "a3"},
		{"max", []string{"--max", "5"}, "a0 a1 a2 a3 b0"},
		{"max with offset", []string{"--offset", "1", "--max", "2"}, "a1 a2"},
		{"max of one partition", []string{"--partition", "1", "--max", "1"}, "b0"},
		{"max over the total", []string{"--max", "100"}, "a0 a1 a2 a3 b0 b1 b2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"consume", "t", "--data-dir", dir}, tc.args...)
			r := tide(t, "", args...).ok(t)
			if got := strings.Join(lines(r.stdout), " "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if want := fmt.Sprintf("consumed %d records\n", len(strings.Fields(tc.want))); r.stderr != want {
				t.Errorf("stderr %q, want %q", r.stderr, want)
			}
		})
	}
}

func TestConsumeFromTime(t *testing.T) {
	dir := newDataDir(t, map[string]int32{"t": 2})
	produceLines(t, dir, "t", 0, "old0", "old1")
	produceLines(t, dir, "t", 1, "old2")
	time.Sleep(5 * time.Millisecond)
	mark := time.Now()
	time.Sleep(5 * time.Millisecond)
	produceLines(t, dir, "t", 1, "new0", "new1")

	from := mark.UTC().Format(time.RFC3339Nano)
	r := tide(t, "", "consume", "t", "--from-time", from, "--data-dir", dir).ok(t)
	if got := strings.Join(lines(r.stdout), " "); got != "new0 new1" {
		t.Errorf("from %s: got %q, want the new records", from, got)
	}
	// Before everything: all of it; after everything: nothing.
	r = tide(t, "", "consume", "t", "--from-time", "2000-01-01T00:00:00Z", "--data-dir", dir).ok(t)
	if got := len(lines(r.stdout)); got != 5 {
		t.Errorf("from 2000: %d records, want 5", got)
	}
	future := time.Now().Add(time.Hour).Format(time.RFC3339)
	r = tide(t, "", "consume", "t", "--from-time", future, "--data-dir", dir).ok(t)
	if r.stdout != "" {
		t.Errorf("from the future: %q", r.stdout)
	}
	// A zone offset is honoured.
	local := mark.In(time.FixedZone("x", 5*3600)).Format(time.RFC3339Nano)
	r = tide(t, "", "consume", "t", "--from-time", local, "--partition", "1", "--data-dir", dir).ok(t)
	if got := strings.Join(lines(r.stdout), " "); got != "new0 new1" {
		t.Errorf("from %s: got %q", local, got)
	}
}

// appendRecords appends recs as one batch to partition 0 of tp.
func appendRecords(t *testing.T, tp *log.Topic, recs ...record.Record) {
	t.Helper()
	b, err := record.AppendBatch(nil, recs, record.BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Partitions()[0].Append(b); err != nil {
		t.Fatal(err)
	}
}

func TestConsumeJSONEncoding(t *testing.T) {
	l, err := log.Open(filepath.Join(t.TempDir(), "data"), log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tp, err := l.CreateTopic("t", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.UTC).UnixMilli()
	appendRecords(t, tp,
		record.Record{Timestamp: ts, Key: []byte("k"), Value: []byte(`quote " backslash \ tab 	 newline` + "\n" + `<html> é ☃`)},
		record.Record{Timestamp: ts, Key: nil, Value: nil},
		record.Record{Timestamp: ts, Key: []byte{0xff, 0x00}, Value: []byte{0xc3, 0x28}},
		record.Record{Timestamp: ts, Key: []byte{}, Value: []byte{}, Headers: []record.Header{
			{Key: "trace", Value: []byte("abc")},
			{Key: "trace", Value: nil},
			{Key: "bin", Value: []byte{0x80}},
		}},
		record.Record{Timestamp: -1, Value: []byte("no time")},
	)

	var out bytes.Buffer
	n, err := consume(context.Background(), tp, consumeOptions{partition: -1, offset: -1, json: true}, &out)
	if err != nil || n != 5 {
		t.Fatalf("consume: %d, %v", n, err)
	}
	want := []string{
		`{"partition":0,"offset":0,"key":"k","value":"quote \" backslash \\ tab \t newline\n<html> é ☃","timestamp":"2024-05-01T12:00:00.123Z","headers":[]}`,
		`{"partition":0,"offset":1,"key":null,"value":null,"timestamp":"2024-05-01T12:00:00.123Z","headers":[]}`,
		`{"partition":0,"offset":2,"key_base64":"/wA=","value_base64":"wyg=","timestamp":"2024-05-01T12:00:00.123Z","headers":[]}`,
		`{"partition":0,"offset":3,"key":"","value":"","timestamp":"2024-05-01T12:00:00.123Z","headers":[{"key":"trace","value":"abc"},{"key":"trace","value":null},{"key":"bin","value_base64":"gA=="}]}`,
		`{"partition":0,"offset":4,"key":null,"value":"no time","timestamp":null,"headers":[]}`,
	}
	got := lines(out.String())
	if !slices.Equal(got, want) {
		t.Fatalf("json lines\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	for _, line := range got {
		if !json.Valid([]byte(line)) {
			t.Errorf("invalid JSON: %s", line)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestConsumeFollow follows every partition while records are appended in
// the same process, and stops on cancellation as on SIGINT.
func TestConsumeFollow(t *testing.T) {
	l, err := log.Open(filepath.Join(t.TempDir(), "data"), log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tp, err := l.CreateTopic("t", 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendTo := func(partition int, values ...string) {
		var recs []record.Record
		for _, v := range values {
			recs = append(recs, record.Record{Timestamp: time.Now().UnixMilli(), Value: []byte(v)})
		}
		b, err := record.AppendBatch(nil, recs, record.BatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tp.Partitions()[partition].Append(b); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(0, "before0", "before1")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	type outcome struct {
		n   int64
		err error
	}
	done := make(chan outcome)
	go func() {
		n, err := consume(ctx, tp, consumeOptions{partition: -1, offset: -1, follow: true}, &out)
		done <- outcome{n, err}
	}()
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for len(lines(out.String())) < want {
			if time.Now().After(deadline) {
				t.Fatalf("timed out with output %q, want %d lines", out.String(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(2)
	appendTo(2, "p2-a", "p2-b")
	appendTo(1, "p1-a")
	waitFor(5)
	appendTo(0, "p0-a")
	waitFor(6)
	cancel()
	res := <-done
	if res.err != nil || res.n != 6 {
		t.Fatalf("consume: %d records, %v", res.n, res.err)
	}
	got := lines(out.String())
	slices.Sort(got)
	if want := []string{"before0", "before1", "p0-a", "p1-a", "p2-a", "p2-b"}; !slices.Equal(got, want) {
		t.Errorf("followed %q, want %q", got, want)
	}
	// Per partition, order is kept even though partitions interleave.
	all := out.String()
	if strings.Index(all, "p2-a") > strings.Index(all, "p2-b") {
		t.Errorf("p2-b printed before p2-a: %q", all)
	}
}

func TestConsumeFollowMax(t *testing.T) {
	l, err := log.Open(filepath.Join(t.TempDir(), "data"), log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tp, err := l.CreateTopic("t", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	var out syncBuffer
	go func() {
		_, err := consume(context.Background(), tp, consumeOptions{partition: -1, offset: -1, max: 3, follow: true}, &out)
		done <- err
	}()
	for i := range 3 {
		b, err := record.AppendBatch(nil, []record.Record{{Value: fmt.Appendf(nil, "v%d", i)}}, record.BatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tp.Partitions()[i%2].Append(b); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("--follow --max 3 did not stop after 3 records")
	}
	if got := len(lines(out.String())); got != 3 {
		t.Errorf("%d records printed, want 3", got)
	}
}

// TestConsumeAcrossBatchesAndSegments reads batches of every codec spread
// over many segments, starting in the middle of a batch.
func TestConsumeAcrossBatchesAndSegments(t *testing.T) {
	l, err := log.Open(filepath.Join(t.TempDir(), "data"), log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tp, err := l.CreateTopic("t", 1, map[string]string{log.ConfigSegmentBytes: "1024"})
	if err != nil {
		t.Fatal(err)
	}
	codecs := []record.Codec{record.CodecNone, record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd}
	var all []string
	for i := range 40 {
		var recs []record.Record
		for j := range 3 {
			v := fmt.Sprintf("batch %d record %d %s", i, j, strings.Repeat("x", 50))
			all = append(all, v)
			recs = append(recs, record.Record{Timestamp: int64(i), Value: []byte(v)})
		}
		b, err := record.AppendBatch(nil, recs, record.BatchOptions{Codec: codecs[i%len(codecs)]})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tp.Partitions()[0].Append(b); err != nil {
			t.Fatal(err)
		}
	}
	if segs := tp.Partitions()[0].Offsets().Segments; segs < 5 {
		t.Fatalf("%d segments, want several", segs)
	}
	for _, from := range []int64{0, 1, 7, 59, 119, 120} {
		var out bytes.Buffer
		n, err := consume(context.Background(), tp, consumeOptions{partition: 0, offset: from}, &out)
		if err != nil {
			t.Fatalf("from %d: %v", from, err)
		}
		if got, want := lines(out.String()), all[from:]; !slices.Equal(got, want) || n != int64(len(want)) {
			t.Errorf("from %d: %d records, first %q; want %d", from, len(got), first(got), len(want))
		}
	}
	// --from-time finds the first batch stamped at or after the time.
	var out bytes.Buffer
	if _, err := consume(context.Background(), tp, consumeOptions{partition: -1, offset: -1, fromTime: time.UnixMilli(25)}, &out); err != nil {
		t.Fatal(err)
	}
	if got := lines(out.String()); !slices.Equal(got, all[75:]) {
		t.Errorf("from time 25: %d records, first %q", len(got), first(got))
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
