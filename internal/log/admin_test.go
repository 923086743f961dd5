package log

import (
	"errors"
	"slices"
	"testing"
)

func TestCreatePartitionsAndConfig(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir)
	tp := mustTopic(t, l, "t", 2, map[string]string{ConfigRetentionMs: "1000"})
	if err := l.CreatePartitions("t", 2); !errors.Is(err, ErrInvalidPartitions) {
		t.Fatalf("same count: %v", err)
	}
	if err := l.CreatePartitions("t", 5); err != nil {
		t.Fatal(err)
	}
	p4, err := tp.Partition(4)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, p4, kv{value: "x"})
	if err := l.SetTopicConfig("t", map[string]string{ConfigSegmentBytes: "4096"}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetTopicConfig("t", map[string]string{"bogus": "1"}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad config: %v", err)
	}
	_ = l.Close()
	l = mustOpen(t, dir)
	defer l.Close()
	tp, _ = l.Topic("t")
	cfg := tp.Config()
	if tp.NumPartitions() != 5 || cfg.SegmentBytes != 4096 || cfg.RetentionMs != DefaultTopicConfig().RetentionMs {
		t.Fatalf("after reopen: %d partitions, %+v", tp.NumPartitions(), cfg)
	}
	if got := values(readAll(t, partitionOf(t, l, "t", 4), 0)); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("new partition holds %v", got)
	}
}

func TestDeleteRecords(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir)
	p, _ := mustTopic(t, l, "t", 1, map[string]string{ConfigSegmentBytes: "1024"}).Partition(0)
	for i := range 100 {
		mustAppend(t, p, kv{value: seqValues(i, i+1)[0], ts: int64(i)})
	}
	segsBefore := p.Offsets().Segments
	if _, err := p.DeleteRecordsBefore(101); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("past hw: %v", err)
	}
	start, err := p.DeleteRecordsBefore(42)
	if err != nil || start != 42 {
		t.Fatalf("delete: %d %v", start, err)
	}
	if _, err := p.Read(41, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below start: %v", err)
	}
	if got := values(readAll(t, p, 42)); !slices.Equal(got, seqValues(42, 100)) {
		t.Fatalf("read from 42: %d records", len(got))
	}
	if off, _, _ := p.OffsetForTime(0); off != 42 {
		t.Fatalf("timestamp search below start found %d", off)
	}
	if o := p.Offsets(); o.Segments >= segsBefore {
		t.Fatalf("no segment freed: %d -> %d", segsBefore, o.Segments)
	}
	_ = l.Close()
	l = mustOpen(t, dir)
	defer l.Close()
	if o := partitionOf(t, l, "t", 0).Offsets(); o.LogStart != 42 {
		t.Fatalf("log start after reopen %d", o.LogStart)
	}
}
