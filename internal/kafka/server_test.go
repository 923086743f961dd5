package kafka

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

// testServer is a Server on a loopback port over a log in a temp dir.
type testServer struct {
	t      *testing.T
	dir    string
	log    *log.Log
	groups *group.Coordinator
	srv    *Server
	addr   string
	done   chan error
}

func startServer(t *testing.T, dir string, configure ...func(*Config)) *testServer {
	t.Helper()
	l, err := log.Open(dir, log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	g, err := group.NewCoordinator(l, group.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.AdvertisedPort = int32(ln.Addr().(*net.TCPAddr).Port)
	cfg.DefaultPartitions = 3
	for _, c := range configure {
		c(&cfg)
	}
	srv, err := New(l, g, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, dir: dir, log: l, groups: g, srv: srv, addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(ln) }()
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) stop() {
	if ts.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		ts.t.Errorf("shutdown: %v", err)
	}
	if err := <-ts.done; !errors.Is(err, ErrServerClosed) {
		ts.t.Errorf("serve returned %v", err)
	}
	_ = ts.groups.Close()
	if err := ts.log.Close(); err != nil {
		ts.t.Errorf("log close: %v", err)
	}
	ts.srv = nil
}

func (ts *testServer) client(opts ...kgo.Opt) *kgo.Client {
	ts.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(ts.addr), kgo.RetryTimeout(10 * time.Second), kgo.AllowAutoTopicCreation()}, opts...)...)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(cl.Close)
	return cl
}

func TestProduceConsumeEveryCodecAndAcks(t *testing.T) {
	ts := startServer(t, t.TempDir())
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		for _, acks := range []kgo.Acks{kgo.AllISRAcks(), kgo.LeaderAck(), kgo.NoAck()} {
			t.Run(fmt.Sprintf("%s/acks%v", name, acks), func(t *testing.T) {
				topic := fmt.Sprintf("t-%s-%d", name, time.Now().UnixNano())
				opts := []kgo.Opt{kgo.ProducerBatchCompression(codec), kgo.RequiredAcks(acks), kgo.DefaultProduceTopic(topic)}
				if acks != kgo.AllISRAcks() {
					opts = append(opts, kgo.DisableIdempotentWrite())
				}
				cl := ts.client(opts...)
				const n = 500
				ctx := context.Background()
				for i := range n {
					cl.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i % 17)), Value: fmt.Appendf(nil, "value-%d", i)}, func(_ *kgo.Record, err error) {
						if err != nil {
							t.Errorf("produce: %v", err)
						}
					})
				}
				if err := cl.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				got := consumeAll(t, ts, topic, n)
				// Per key, values arrive in the order produced.
				last := map[string]int{}
				for _, r := range got {
					var i int
					fmt.Sscanf(string(r.Value), "value-%d", &i)
					if prev, ok := last[string(r.Key)]; ok && i <= prev {
						t.Fatalf("key %s: %d after %d", r.Key, i, prev)
					}
					last[string(r.Key)] = i
				}
			})
		}
	}
}

// consumeAll reads n records of topic from the beginning of every partition.
func consumeAll(t *testing.T, ts *testServer, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := ts.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", len(out), n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	if len(out) != n {
		t.Fatalf("consumed %d records, want %d", len(out), n)
	}
	return out
}

func TestAdmin(t *testing.T) {
	ts := startServer(t, t.TempDir())
	adm := kadm.NewClient(ts.client())
	ctx := context.Background()

	res, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": kadm.StringPtr("60000")}, "admin-t")
	if err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	if res, _ := adm.CreateTopic(ctx, 2, 1, nil, "admin-t"); !errors.Is(res.Err, kerr.TopicAlreadyExists) {
		t.Fatalf("create again: %v", res.Err)
	}
	if res, _ := adm.CreateTopic(ctx, 2, 3, nil, "rf3"); !errors.Is(res.Err, kerr.InvalidReplicationFactor) {
		t.Fatalf("rf 3: %v", res.Err)
	}
	if res, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": kadm.StringPtr("soon")}, "badcfg"); !errors.Is(res.Err, kerr.InvalidConfig) {
		t.Fatalf("bad config: %v", res.Err)
	}
	if _, err := adm.CreatePartitions(ctx, 2, "admin-t"); err != nil {
		t.Fatal(err)
	}
	td, err := adm.ListTopics(ctx, "admin-t")
	if err != nil || len(td["admin-t"].Partitions) != 4 {
		t.Fatalf("after create partitions: %+v %v", td, err)
	}
	// Internal topics keep their partitions (groups and the catalog are
	// placed by partition).
	if res, _ := adm.CreateTopic(ctx, 1, 1, nil, "__internal_t"); res.Err != nil {
		t.Fatal(res.Err)
	}
	if resp, _ := adm.CreatePartitions(ctx, 1, "__internal_t"); !errors.Is(resp["__internal_t"].Err, kerr.InvalidRequest) {
		t.Errorf("create partitions of an internal topic: %+v", resp["__internal_t"])
	}
	rc, err := adm.DescribeTopicConfigs(ctx, "admin-t")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := rc.On("admin-t", nil); !hasConfig(v.Configs, "retention.ms", "60000") {
		t.Fatalf("describe configs: %+v", v.Configs)
	}
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("120000")}}, "admin-t"); err != nil {
		t.Fatal(err)
	}
	topic, _ := ts.log.Topic("admin-t")
	if topic.Config().RetentionMs != 120000 {
		t.Fatalf("retention.ms %d after incremental alter", topic.Config().RetentionMs)
	}

	// Records, offsets by time, delete records.
	cl := ts.client(kgo.DefaultProduceTopic("admin-t"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	base := time.Now().Add(-time.Hour)
	for i := range 10 {
		r := &kgo.Record{Partition: 0, Value: []byte("x"), Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	end, err := adm.ListEndOffsets(ctx, "admin-t")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := end.Lookup("admin-t", 0); o.Offset != 10 {
		t.Fatalf("end offset %d", o.Offset)
	}
	byTime, err := adm.ListOffsetsAfterMilli(ctx, base.Add(150*time.Second).UnixMilli(), "admin-t")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := byTime.Lookup("admin-t", 0); o.Offset != 3 {
		t.Fatalf("offset after time %d, want 3", o.Offset)
	}
	del, err := adm.DeleteRecords(ctx, kadm.Offsets{"admin-t": {0: {At: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := del.Lookup("admin-t", 0); d.Err != nil || d.LowWatermark != 4 {
		t.Fatalf("delete records: %+v", d)
	}
	start, _ := adm.ListStartOffsets(ctx, "admin-t")
	if o, _ := start.Lookup("admin-t", 0); o.Offset != 4 {
		t.Fatalf("start offset %d", o.Offset)
	}

	meta, err := adm.BrokerMetadata(ctx)
	if err != nil || len(meta.Brokers) != 1 || meta.Controller != 1 {
		t.Fatalf("cluster: %+v %v", meta, err)
	}
	if _, err := adm.DeleteTopics(ctx, "admin-t"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.log.Topic("admin-t"); !errors.Is(err, log.ErrUnknownTopic) {
		t.Fatalf("topic survived delete: %v", err)
	}
}

func hasConfig(cs []kadm.Config, name, value string) bool {
	for _, c := range cs {
		if c.Key == name && c.Value != nil && *c.Value == value {
			return true
		}
	}
	return false
}

// rawRequest sends one request frame and returns the response frame body
// (after the correlation id), or an error if the server closed the
// connection.
func rawRequest(conn net.Conn, frame []byte) ([]byte, error) {
	if _, err := conn.Write(frame); err != nil {
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		return nil, err
	}
	return body[4:], nil
}

func frameOf(key, version int16, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 7) // correlation id
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "test"...)
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func TestBadInputKeepsServing(t *testing.T) {
	ts := startServer(t, t.TempDir())
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	// ApiVersions of a version we do not know: a v0 body, UNSUPPORTED_VERSION,
	// and the key list so the client can retry lower.
	body, err := rawRequest(dial(), frameOf(18, 99, nil))
	if err != nil {
		t.Fatal(err)
	}
	var av kmsg.ApiVersionsResponse
	av.SetVersion(0)
	if err := av.ReadFrom(body); err != nil {
		t.Fatalf("v0 body: %v", err)
	}
	if av.ErrorCode != kerr.UnsupportedVersion.Code || len(av.ApiKeys) < 20 {
		t.Fatalf("unknown ApiVersions version: error %d, %d keys", av.ErrorCode, len(av.ApiKeys))
	}

	// Each of these closes its own connection and nothing else.
	bad := map[string][]byte{
		"unknown key":     frameOf(999, 0, nil),
		"unsupported ver": frameOf(3, 99, nil),
		"truncated body":  frameOf(3, 1, []byte{0, 0, 0, 5}),
		"oversize":        binary.BigEndian.AppendUint32(nil, 1<<30),
		"negative size":   binary.BigEndian.AppendUint32(nil, 0xffffffff),
	}
	for name, frame := range bad {
		if _, err := rawRequest(dial(), frame); err == nil {
			t.Errorf("%s: got a response, want the connection closed", name)
		}
	}
	// A normal client still works.
	cl := ts.client(kgo.DefaultProduceTopic("still-fine"))
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func TestOversizeBatchGetsMessageTooLarge(t *testing.T) {
	ts := startServer(t, t.TempDir())
	adm := kadm.NewClient(ts.client())
	if res, err := adm.CreateTopic(context.Background(), 1, 1, map[string]*string{"max.message.bytes": kadm.StringPtr("1000")}, "small"); err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	cl := ts.client(kgo.DefaultProduceTopic("small"), kgo.ProducerBatchMaxBytes(1<<20), kgo.RecordRetries(1))
	value := make([]byte, 5000)
	_, _ = crand.Read(value) // incompressible: the limit applies to the stored batch
	err := cl.ProduceSync(context.Background(), &kgo.Record{Value: value}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("oversize record: %v", err)
	}
}

func TestIdleConnectionsCostLittle(t *testing.T) {
	ts := startServer(t, t.TempDir())
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 1000
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ts.srv.ConnCount() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perConn := (int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)) / n
	t.Logf("%d idle connections: %d bytes each", n, perConn)
	if perConn > 64<<10 {
		t.Fatalf("an idle connection costs %d bytes", perConn)
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// TestShutdownAcknowledgesOrRefuses produces from several clients while the
// server shuts down: every acknowledged record is in the log after reopen.
func TestShutdownAcknowledgesOrRefuses(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for w := range 4 {
		// Not idempotent: an idempotent producer never gives up on a record
		// it sent and got no answer for, and the server is going away.
		cl := ts.client(kgo.DefaultProduceTopic("shut"), kgo.DisableIdempotentWrite(), kgo.RecordRetries(0),
			kgo.RecordDeliveryTimeout(3*time.Second), kgo.RetryTimeout(time.Second))
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				v := fmt.Sprintf("%d-%d", w, i)
				if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err == nil {
					mu.Lock()
					acked[v] = true
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	ts.stop()
	cancel()
	wg.Wait()

	l, err := log.Open(dir, log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !l.CleanStart() {
		t.Error("shutdown did not close the log cleanly")
	}
	stored := map[string]bool{}
	topic, err := l.Topic("shut")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range topic.Partitions() {
		for _, r := range readPartition(t, p) {
			stored[string(r)] = true
		}
	}
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged before shutdown")
	}
	for v := range acked {
		if !stored[v] {
			t.Fatalf("acknowledged %s is not in the log", v)
		}
	}
	t.Logf("%d acknowledged, %d stored", len(acked), len(stored))
}

// TestCorruptBatchRefused: a batch whose CRC does not match is refused
// with CORRUPT_MESSAGE and nothing is appended.
func TestCorruptBatchRefused(t *testing.T) {
	ts := startServer(t, t.TempDir())
	if _, err := ts.log.CreateTopic("crc", 1, nil); err != nil {
		t.Fatal(err)
	}
	batch, err := record.AppendBatch(nil, []record.Record{{Value: []byte("payload")}}, record.BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	batch[len(batch)-1] ^= 0xff // breaks the CRC
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "crc"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), ts.client())
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.CorruptMessage.Code {
		t.Fatalf("error code %d, want CORRUPT_MESSAGE", code)
	}
	topic, _ := ts.log.Topic("crc")
	if hw := topic.Partitions()[0].Offsets().HighWatermark; hw != 0 {
		t.Fatalf("corrupt batch appended: hw %d", hw)
	}
}
