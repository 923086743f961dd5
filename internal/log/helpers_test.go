package log

import (
	"fmt"
	"testing"

	"github.com/tide-data/tide/internal/record"
)

// kv is a record as tests write and check it.
type kv struct {
	key, value string
	ts         int64
	nullValue  bool
}

func batchOf(t testing.TB, recs ...kv) []byte {
	t.Helper()
	rs := make([]record.Record, len(recs))
	for i, r := range recs {
		rs[i] = record.Record{Timestamp: r.ts, Value: []byte(r.value)}
		if r.key != "" {
			rs[i].Key = []byte(r.key)
		}
		if r.nullValue {
			rs[i].Value = nil
		}
	}
	b, err := record.AppendBatch(nil, rs, record.BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustAppend(t testing.TB, p *Partition, recs ...kv) AppendResult {
	t.Helper()
	res, err := p.Append(batchOf(t, recs...))
	if err != nil {
		t.Fatalf("append to %s: %v", p, err)
	}
	return res
}

// readAll decodes every record of p from offset to the high watermark.
func readAll(t testing.TB, p *Partition, from int64) []record.Record {
	t.Helper()
	var out []record.Record
	for {
		res, err := p.Read(from, 64<<10)
		if err != nil {
			t.Fatalf("read %s at %d: %v", p, from, err)
		}
		if len(res.Batches) == 0 {
			return out
		}
		for b := res.Batches; len(b) > 0; {
			h, err := record.ParseHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			_, recs, err := record.DecodeRecords(b[:h.Size()], 1<<26)
			if err != nil {
				t.Fatalf("decode batch at %d: %v", h.BaseOffset, err)
			}
			for _, r := range recs {
				if r.Offset >= from {
					out = append(out, r)
				}
			}
			from = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
}

func mustOpen(t testing.TB, dir string, opts ...Option) *Log {
	t.Helper()
	l, err := Open(dir, append([]Option{WithCleanerInterval(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustTopic(t testing.TB, l *Log, name string, partitions int32, config map[string]string) *Topic {
	t.Helper()
	tp, err := l.CreateTopic(name, partitions, config)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func partitionOf(t testing.TB, l *Log, topic string, id int32) *Partition {
	t.Helper()
	tp, err := l.Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tp.Partition(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func values(recs []record.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

func seqValues(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("v%d", i))
	}
	return out
}
