package engine

import (
	"context"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/transport"
)

// TestTopNMalformedEventTime: a final top-N's repartition record with an
// event time no watermark passes (the end of int64), or one that is not
// its partition key's time, is dead-lettered, not kept for ever.
func TestTopNMalformedEventTime(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE pay (user_id int, amount bigint, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
		WITH (connector = 'topic', topic = 'pay', topic.partitions = '1')`)
	mustExec(t, e, `CREATE SINK top WITH (connector = 'topic', topic = 'top') AS
		SELECT * FROM (SELECT user_id, amount, ts, RANK() OVER (PARTITION BY ts ORDER BY amount DESC) AS r FROM pay) WHERE r <= 1`)
	p := e.mu.pipelines["top"]
	repartition := p.stateful.repartition
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	rec := func(ts int64, keyTS int64) *transport.Record {
		key := types.AppendGroupKey(nil, types.NewTimestamp(keyTS))
		b := binary.AppendVarint(nil, ts)
		b = binary.AppendVarint(b, 0)
		b = binary.AppendVarint(b, 99)
		b = types.AppendBinary(b, types.NewInt8(5))          // ORDER BY amount
		b = types.AppendBinary(b, types.NewInt4(1))          // user_id
		b = types.AppendBinary(b, types.NewInt8(5))          // amount
		b = types.AppendBinary(b, types.NewTimestamp(keyTS)) // ts
		return &transport.Record{Topic: repartition, Partition: 0, Key: key, Value: b}
	}
	bad := []*transport.Record{rec(math.MaxInt64, base), rec(math.MinInt64+1, base+5_000_000)}
	if err := n.tr.Produce(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	if err := n.tr.Produce(context.Background(), []*transport.Record{
		{Topic: "pay", Partition: 0, Value: []byte(`{"user_id":1,"amount":2,"ts":"2026-01-01 00:00:01"}`)},
		{Topic: "pay", Partition: 0, Value: []byte(`{"user_id":1,"amount":0,"ts":"2026-01-01 00:01:00"}`)},
	}); err != nil {
		t.Fatal(err)
	}
	if recs := readExactly(t, n.tr, "top", 1); string(recs[0].Value) != `{"user_id":1,"amount":2,"ts":"2026-01-01T00:00:01","r":1}` {
		t.Errorf("row %s, want the one valid row's", recs[0].Value)
	}
	if d := p.stats.dead.Load(); d != int64(len(bad)) {
		t.Errorf("%d of %d records with an impossible event time dead-lettered", d, len(bad))
	}
}
