package interop

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type codec struct {
	name  string
	codec kgo.CompressionCodec
	id    uint8 // the RecordBatch attributes' codec bits
}

var codecs = []codec{
	{"none", kgo.NoCompression(), 0},
	{"gzip", kgo.GzipCompression(), 1},
	{"snappy", kgo.SnappyCompression(), 2},
	{"lz4", kgo.Lz4Compression(), 3},
	{"zstd", kgo.ZstdCompression(), 4},
}

// batchCodecs is a kgo hook counting the codecs of the batches a client
// writes and reads. Safe for concurrent use.
type batchCodecs struct {
	mu       sync.Mutex
	produced map[uint8]int
	fetched  map[uint8]int
}

func (b *batchCodecs) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.produced == nil {
		b.produced = map[uint8]int{}
	}
	b.produced[m.CompressionType]++
}

func (b *batchCodecs) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fetched == nil {
		b.fetched = map[uint8]int{}
	}
	b.fetched[m.CompressionType]++
}

func (b *batchCodecs) snapshot() (produced, fetched map[uint8]int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps(b.produced), maps(b.fetched)
}

func maps(m map[uint8]int) map[uint8]int {
	out := make(map[uint8]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// testRecord is record i of a produce test: compressible values of varied
// size, a header, an explicit timestamp, and the edge cases clients rely on
// (a null value, an empty value, a null key).
func testRecord(topic string, i int, base time.Time) *kgo.Record {
	r := &kgo.Record{
		Topic:     topic,
		Key:       []byte(fmt.Sprintf("key-%04d", i)),
		Value:     []byte(strings.Repeat(fmt.Sprintf("value %d; ", i), 1+i%60)),
		Headers:   []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}},
		Timestamp: base.Add(time.Duration(i) * time.Millisecond),
	}
	switch {
	case i%41 == 7:
		r.Value = nil // tombstone: null, not empty
	case i%43 == 9:
		r.Value = []byte{}
	case i%47 == 11:
		r.Key = nil
	}
	return r
}

// sameRecord reports how got differs from want, or "" if it does not.
func sameRecord(got, want *kgo.Record) string {
	var diffs []string
	if !bytes.Equal(got.Key, want.Key) || (got.Key == nil) != (want.Key == nil) {
		diffs = append(diffs, fmt.Sprintf("key %q (nil %v), want %q (nil %v)", got.Key, got.Key == nil, want.Key, want.Key == nil))
	}
	if !bytes.Equal(got.Value, want.Value) || (got.Value == nil) != (want.Value == nil) {
		diffs = append(diffs, fmt.Sprintf("value of %d bytes (nil %v), want %d bytes (nil %v)", len(got.Value), got.Value == nil, len(want.Value), want.Value == nil))
	}
	if got.Timestamp.UnixMilli() != want.Timestamp.UnixMilli() {
		diffs = append(diffs, fmt.Sprintf("timestamp %d, want %d", got.Timestamp.UnixMilli(), want.Timestamp.UnixMilli()))
	}
	if len(got.Headers) != len(want.Headers) {
		diffs = append(diffs, fmt.Sprintf("%d headers, want %d", len(got.Headers), len(want.Headers)))
	} else {
		for i := range got.Headers {
			if got.Headers[i].Key != want.Headers[i].Key || !bytes.Equal(got.Headers[i].Value, want.Headers[i].Value) {
				diffs = append(diffs, fmt.Sprintf("header %d %s=%q, want %s=%q", i, got.Headers[i].Key, got.Headers[i].Value, want.Headers[i].Key, want.Headers[i].Value))
			}
		}
	}
	return strings.Join(diffs, "; ")
}

// TestProduceConsumeAcksCodecs produces with every acks setting and codec
// and reads the records back: offsets 0..n-1 in produce order, every field
// intact, and every fetched batch carrying the codec the producer chose
// (Kafka's default compression.type=producer stores batches as they came).
func TestProduceConsumeAcksCodecs(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		adm := newAdmin(t, c)
		for _, acks := range []struct {
			name string
			acks kgo.Acks
		}{{"acks=0", kgo.NoAck()}, {"acks=1", kgo.LeaderAck()}, {"acks=all", kgo.AllISRAcks()}} {
			for _, cd := range codecs {
				t.Run(acks.name+"/"+cd.name, func(t *testing.T) {
					const n, perCall = 200, 50
					topic := createTopic(t, adm, 1, nil)
					hook := &batchCodecs{}
					prod := newClient(t, c,
						kgo.RequiredAcks(acks.acks),
						kgo.DisableIdempotentWrite(),
						kgo.ProducerBatchCompression(cd.codec),
						kgo.WithHooks(hook))
					ctx := testContext(t, 45*time.Second)

					base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
					var want []*kgo.Record
					for i := 0; i < n; i += perCall {
						var batch []*kgo.Record
						for j := i; j < i+perCall; j++ {
							batch = append(batch, testRecord(topic, j, base))
						}
						res := prod.ProduceSync(ctx, batch...)
						if err := res.FirstErr(); err != nil {
							t.Fatalf("produce records %d..%d: %v", i, i+perCall-1, err)
						}
						if acks.acks != kgo.NoAck() {
							for j, r := range batch {
								if r.Offset != int64(i+j) {
									t.Fatalf("record %d acknowledged at offset %d, want %d", i+j, r.Offset, i+j)
								}
							}
						}
						want = append(want, batch...)
					}
					produced, _ := hook.snapshot()
					for id := range produced {
						if id != cd.id {
							t.Errorf("producer wrote batches with codec %d, want %d: %v", id, cd.id, produced)
						}
					}

					cons := newClient(t, c,
						kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
						kgo.FetchMaxWait(250*time.Millisecond),
						kgo.WithHooks(hook))
					got := pollN(t, ctx, cons, n)
					if len(got) != n {
						t.Fatalf("consumed %d records, want %d", len(got), n)
					}
					for i, r := range got {
						if r.Offset != int64(i) {
							t.Fatalf("record %d consumed at offset %d", i, r.Offset)
						}
						if d := sameRecord(r, want[i]); d != "" {
							t.Errorf("record %d: %s", i, d)
						}
						if r.ProducerID != -1 {
							t.Errorf("record %d: producer id %d, want -1 (not idempotent)", i, r.ProducerID)
						}
					}
					_, fetched := hook.snapshot()
					if len(fetched) != 1 || fetched[cd.id] == 0 {
						t.Errorf("fetched batches by codec %v, want only codec %d (%s)", fetched, cd.id, cd.name)
					}
				})
			}
		}
	})
}

// TestIdempotentProduce: franz-go's default producer (idempotent, acks=all,
// up to 5 requests in flight) over 3 partitions. Every record gets an
// offset, per partition offsets are exactly 0..n-1 in produce order, and the
// stored batches carry the producer id.
func TestIdempotentProduce(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		const n = 3000
		adm := newAdmin(t, c)
		topic := createTopic(t, adm, 3, nil)
		prod := newClient(t, c,
			kgo.DefaultProduceTopic(topic),
			kgo.ProducerLinger(2*time.Millisecond),
			kgo.ProducerBatchMaxBytes(8<<10),
			kgo.ProducerBatchCompression(kgo.Lz4Compression(), kgo.NoCompression()))
		ctx := testContext(t, 60*time.Second)

		base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
		recs := make([]*kgo.Record, n)
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range recs {
			recs[i] = testRecord(topic, i, base)
			recs[i].Key = []byte(fmt.Sprintf("key-%04d", i)) // every record keyed
			wg.Add(1)
			prod.Produce(ctx, recs[i], func(r *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					errs <- fmt.Errorf("record %s: %w", r.Key, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		pid := recs[0].ProducerID
		next := map[int32]int64{}
		for i, r := range recs {
			if r.ProducerID < 0 || r.ProducerID != pid || r.ProducerEpoch < 0 {
				t.Fatalf("record %d: producer id %d epoch %d (first record: id %d)", i, r.ProducerID, r.ProducerEpoch, pid)
			}
			if r.Offset != next[r.Partition] {
				t.Fatalf("record %d: offset %d in partition %d, want %d (gap, duplicate or reordering)", i, r.Offset, r.Partition, next[r.Partition])
			}
			next[r.Partition]++
		}
		if len(next) != 3 {
			t.Errorf("records went to partitions %v, want 3 partitions", next)
		}

		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err != nil || o.Offset != next[o.Partition] {
				t.Errorf("partition %d: end offset %d (err %v), want %d", o.Partition, o.Offset, o.Err, next[o.Partition])
			}
		})

		cons := newClient(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(250*time.Millisecond))
		got := pollN(t, ctx, cons, n)
		keys := map[string]bool{}
		for _, r := range got {
			keys[string(r.Key)] = true
			if r.ProducerID != pid {
				t.Fatalf("consumed %s with producer id %d, want %d", r.Key, r.ProducerID, pid)
			}
		}
		if len(got) != n || len(keys) != n {
			t.Errorf("consumed %d records with %d distinct keys, want %d", len(got), len(keys), n)
		}
	})
}

// TestIdempotentDeduplication drives the broker's idempotence with raw
// Produce requests of hand-built batches: a retried batch (same producer id,
// epoch and sequence) is acknowledged with its first offset and not written
// twice; a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
func TestIdempotentDeduplication(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		adm := newAdmin(t, c)
		topic := createTopic(t, adm, 1, nil)
		cl := newClient(t, c)
		ctx := testContext(t, 30*time.Second)

		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		topicID := md.Topics[topic].ID

		init := kmsg.NewPtrInitProducerIDRequest()
		init.TransactionalID = nil
		init.TransactionTimeoutMillis = 60000
		init.ProducerID, init.ProducerEpoch = -1, -1
		ir := request[*kmsg.InitProducerIDResponse](t, ctx, cl, init)
		wantErrCode(t, "InitProducerID", ir.ErrorCode, nil)
		if ir.ProducerID < 0 || ir.ProducerEpoch < 0 {
			t.Fatalf("InitProducerID: id %d epoch %d", ir.ProducerID, ir.ProducerEpoch)
		}
		t.Logf("producer id %d epoch %d", ir.ProducerID, ir.ProducerEpoch)

		produce := func(what string, seq int32, keys ...string) (int16, int64) {
			t.Helper()
			req := kmsg.NewPtrProduceRequest()
			req.Acks = -1
			req.TimeoutMillis = 10000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic, rt.TopicID = topic, topicID
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition = 0
			rp.Records = idempotentBatch(ir.ProducerID, ir.ProducerEpoch, seq, keys)
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := request[*kmsg.ProduceResponse](t, ctx, cl, req)
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("%s: produce response %+v", what, resp)
			}
			p := resp.Topics[0].Partitions[0]
			t.Logf("%s: seq %d, %d records: error %v, base offset %d", what, seq, len(keys), kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
			return p.ErrorCode, p.BaseOffset
		}
		expect := func(what string, code int16, off int64, wantCode error, wantOff int64) {
			t.Helper()
			wantErrCode(t, what, code, wantCode)
			if wantCode == nil && off != wantOff {
				t.Errorf("%s: base offset %d, want %d", what, off, wantOff)
			}
		}

		code, off := produce("batch A", 0, "a0", "a1", "a2", "a3", "a4")
		expect("batch A", code, off, nil, 0)
		code, off = produce("batch A again", 0, "a0", "a1", "a2", "a3", "a4")
		expect("batch A retried", code, off, nil, 0)
		code, off = produce("batch B", 5, "b0", "b1", "b2")
		expect("batch B", code, off, nil, 5)
		code, off = produce("batch A a third time", 0, "a0", "a1", "a2", "a3", "a4")
		expect("batch A retried after B", code, off, nil, 0)
		code, off = produce("batch with a sequence gap", 20, "gap")
		expect("sequence gap", code, off, kerr.OutOfOrderSequenceNumber, 0)
		code, off = produce("batch C", 8, "c0", "c1")
		expect("batch C", code, off, nil, 8)

		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := ends.Lookup(topic, 0); o.Offset != 10 {
			t.Errorf("end offset %d, want 10 (duplicates written?)", o.Offset)
		}
		cons := newClient(t, c, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
			kgo.FetchMaxWait(250*time.Millisecond))
		var keys []string
		for _, r := range pollN(t, ctx, cons, 10) {
			keys = append(keys, string(r.Key))
		}
		want := []string{"a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "c0", "c1"}
		if !slices.Equal(keys, want) {
			t.Errorf("log holds %v, want %v", keys, want)
		}
	})
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// idempotentBatch builds an uncompressed RecordBatch v2 of one record per
// key, stamped with the producer id, epoch and base sequence.
func idempotentBatch(pid int64, epoch int16, seq int32, keys []string) []byte {
	now := time.Now().UnixMilli()
	var records []byte
	for i, k := range keys {
		rec := kmsg.Record{OffsetDelta: int32(i), Key: []byte(k), Value: []byte("v-" + k)}
		body := rec.AppendTo(nil)[1:] // encoded with Length 0, a one-byte varint
		rec.Length = int32(len(body))
		records = rec.AppendTo(records)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(keys) - 1),
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           int32(len(keys)),
		Records:              records,
	}
	raw := b.AppendTo(nil)
	// baseOffset(8) length(4) leaderEpoch(4) magic(1) crc(4) attributes...
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], castagnoli))
	return raw
}
