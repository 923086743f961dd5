package transporttest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// readAtRecords produces n records with keys, values, two headers and
// timestamps of their own to partition 0 of topic one Produce call each
// (one batch each), and n to partition 1 in a single call (sharing a
// batch, or a few), and returns them by partition.
func (e *env) readAtRecords(topic string, n int) map[int32][]*transport.Record {
	base := time.Now().Add(-time.Hour).UnixMilli()
	sent := map[int32][]*transport.Record{}
	for p := range int32(2) {
		for i := range n {
			s := fmt.Sprintf("p%d-%d", p, i)
			sent[p] = append(sent[p], &transport.Record{
				Topic: topic, Partition: p, Key: []byte("key-" + s), Value: []byte("value-" + s),
				Headers: []transport.Header{
					{Key: "seq", Value: []byte(s)},
					{Key: "empty", Value: []byte{}},
				},
				Timestamp: time.UnixMilli(base + int64(i)),
			})
		}
	}
	for _, r := range sent[0] {
		e.produce(r)
	}
	e.produce(sent[1]...)
	return sent
}

// sameRecord says how got differs from want, or "" if it does not.
func sameRecord(got, want *transport.Record) string {
	var diffs []string
	if got.Topic != want.Topic || got.Partition != want.Partition || got.Offset != want.Offset {
		diffs = append(diffs, fmt.Sprintf("at %s[%d]@%d, want %s[%d]@%d", got.Topic, got.Partition, got.Offset, want.Topic, want.Partition, want.Offset))
	}
	if !bytes.Equal(got.Key, want.Key) || !bytes.Equal(got.Value, want.Value) {
		diffs = append(diffs, fmt.Sprintf("key %q value %q, want %q %q", got.Key, got.Value, want.Key, want.Value))
	}
	if !got.Timestamp.Equal(want.Timestamp) {
		diffs = append(diffs, fmt.Sprintf("timestamp %v, want %v", got.Timestamp, want.Timestamp))
	}
	same := len(got.Headers) == len(want.Headers)
	for i := 0; same && i < len(got.Headers); i++ {
		same = got.Headers[i].Key == want.Headers[i].Key && bytes.Equal(got.Headers[i].Value, want.Headers[i].Value)
	}
	if !same {
		diffs = append(diffs, fmt.Sprintf("headers %+v, want %+v", got.Headers, want.Headers))
	}
	return strings.Join(diffs, "; ")
}

// readAt calls ReadAt and fails the test on error.
func (e *env) readAt(tp transport.TopicPartition, offset int64, maxBytes int) []*transport.Record {
	e.t.Helper()
	recs, err := e.tr.ReadAt(e.ctx, tp, offset, maxBytes)
	if err != nil {
		e.t.Fatalf("ReadAt(%s[%d], %d, %d): %v", tp.Topic, tp.Partition, offset, maxBytes, err)
	}
	return recs
}

// checkRun checks that got are want[from:from+len(got)], at least one.
func (e *env) checkRun(what string, got, want []*transport.Record, from int) {
	e.t.Helper()
	if len(got) == 0 {
		e.t.Errorf("%s: no records, want from offset %d on", what, from)
		return
	}
	if len(got) > len(want)-from {
		e.t.Errorf("%s: %d records, only %d from offset %d on", what, len(got), len(want)-from, from)
		return
	}
	for i, r := range got {
		if d := sameRecord(r, want[from+i]); d != "" {
			e.t.Errorf("%s: record %d: %s", what, i, d)
		}
	}
}

func testReadAt(e *env) {
	t := e.t
	const n = 8
	topic := e.topic(2)
	tp := func(p int32) transport.TopicPartition { return transport.TopicPartition{Topic: topic, Partition: p} }
	if got := e.readAt(tp(0), 0, 1<<20); len(got) != 0 {
		t.Errorf("ReadAt(0) of an empty partition: %d records", len(got))
	}
	sent := e.readAtRecords(topic, n)
	ends, err := e.tr.EndOffsets(e.ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int32]int64{0: n, 1: n}; !mapsEqual(ends, want) {
		t.Fatalf("end offsets %v, want %v", ends, want)
	}

	for p := range int32(2) {
		end := ends[p]
		// The capture's use: the last record, to read its headers.
		last := e.readAt(tp(p), end-1, 1<<20)
		if len(last) != 1 {
			t.Errorf("partition %d: ReadAt(end-1) returned %d records, want the last one", p, len(last))
		}
		e.checkRun(fmt.Sprintf("partition %d: ReadAt(end-1)", p), last, sent[p], n-1)

		e.checkRun(fmt.Sprintf("partition %d: ReadAt(0)", p), e.readAt(tp(p), 0, 1<<20), sent[p], 0)
		// Partition 1's records share batches: each read starts inside
		// one, and the earlier records of the batch are dropped.
		for off := 1; off < n-1; off++ {
			e.checkRun(fmt.Sprintf("partition %d: ReadAt(%d)", p, off), e.readAt(tp(p), int64(off), 1<<20), sent[p], off)
		}

		start := time.Now()
		if got := e.readAt(tp(p), end, 1<<20); len(got) != 0 {
			t.Errorf("partition %d: ReadAt(end) returned %d records", p, len(got))
		}
		if got := e.readAt(tp(p), end+10, 1<<20); len(got) != 0 {
			t.Errorf("partition %d: ReadAt(end+10) returned %d records", p, len(got))
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("partition %d: ReadAt at and past the end took %v: it must not wait for records", p, d)
		}
	}

	// At least one whole batch, and no more than one here: partition 0
	// has a record per batch.
	one := e.readAt(tp(0), 0, 1)
	if len(one) != 1 {
		t.Errorf("ReadAt(0) with maxBytes 1 of single-record batches: %d records, want 1", len(one))
	}
	e.checkRun("ReadAt(0) with maxBytes 1", one, sent[0], 0)
	e.checkRun("ReadAt(3) with maxBytes 1", e.readAt(tp(1), 3, 1), sent[1], 3)

	// The caller owns what it gets.
	got := e.readAt(tp(1), 0, 1<<20)
	for _, r := range got {
		clear(r.Key)
		clear(r.Value)
		for _, h := range r.Headers {
			clear(h.Value)
		}
	}
	e.checkRun("ReadAt(0) after the previous result was overwritten", e.readAt(tp(1), 0, 1<<20), sent[1], 0)

	if _, err := e.tr.ReadAt(e.ctx, transport.TopicPartition{Topic: e.name("missing"), Partition: 0}, 0, 1<<20); !errors.Is(err, transport.ErrTopicNotFound) {
		t.Errorf("ReadAt of a missing topic: %v, want ErrTopicNotFound", err)
	}
	if _, err := e.tr.ReadAt(e.ctx, tp(2), 0, 1<<20); !errors.Is(err, transport.ErrTopicNotFound) {
		t.Errorf("ReadAt of partition 2 of 2: %v, want ErrTopicNotFound", err)
	}
}

func testReadAtLogStart(e *env) {
	t := e.t
	const n = 8
	topic := e.topic(2)
	sent := e.readAtRecords(topic, n)
	for p := range int32(2) {
		tp := transport.TopicPartition{Topic: topic, Partition: p}
		// Inside partition 1's shared batch: the batch stays, records
		// before the start must not be returned.
		const logStart = 3
		for _, before := range []int64{logStart, 1, logStart} { // again, and below the start: nothing changes
			if err := e.tr.DeleteRecords(e.ctx, []transport.PartitionOffset{{TopicPartition: tp, Offset: before}}); err != nil {
				t.Fatalf("delete records of %s[%d] before %d: %v", topic, p, before, err)
			}
		}
		starts, err := e.tr.StartOffsets(e.ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if starts[p] != logStart {
			t.Errorf("partition %d: start offset %d after DeleteRecords(%d)", p, starts[p], logStart)
		}
		for _, off := range []int64{0, logStart - 1} {
			recs, err := e.tr.ReadAt(e.ctx, tp, off, 1<<20)
			if !errors.Is(err, transport.ErrOffsetOutOfRange) {
				t.Errorf("partition %d: ReadAt(%d) below the log start %d: %d records, %v; want ErrOffsetOutOfRange", p, off, logStart, len(recs), err)
			}
		}
		e.checkRun(fmt.Sprintf("partition %d: ReadAt(log start)", p), e.readAt(tp, logStart, 1<<20), sent[p], logStart)
		e.checkRun(fmt.Sprintf("partition %d: ReadAt(end-1)", p), e.readAt(tp, n-1, 1<<20), sent[p], n-1)
	}
	past := []transport.PartitionOffset{{TopicPartition: transport.TopicPartition{Topic: topic, Partition: 0}, Offset: n + 5}}
	if err := e.tr.DeleteRecords(e.ctx, past); !errors.Is(err, transport.ErrOffsetOutOfRange) {
		t.Errorf("DeleteRecords past the end: %v, want ErrOffsetOutOfRange", err)
	}
	missing := []transport.PartitionOffset{{TopicPartition: transport.TopicPartition{Topic: e.name("missing"), Partition: 0}, Offset: 1}}
	if err := e.tr.DeleteRecords(e.ctx, missing); !errors.Is(err, transport.ErrTopicNotFound) {
		t.Errorf("DeleteRecords of a missing topic: %v, want ErrTopicNotFound", err)
	}
}
