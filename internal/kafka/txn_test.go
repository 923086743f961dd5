package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/tide-data/tide/internal/record"
)

// Transactions against real clients: franz-go's transactional producer,
// GroupTransactSession and read_committed consumer, and raw requests for
// the error codes each version gets.

const txnWait = 15 * time.Second

func (ts *testServer) createTopic(name string, partitions int32) {
	ts.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), txnWait)
	defer cancel()
	adm := kadm.NewClient(ts.client())
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		ts.t.Fatalf("create %s: %v", name, err)
	}
}

// txnClient is a transactional producer writing to topic by partition.
func (ts *testServer) txnClient(id string, opts ...kgo.Opt) *kgo.Client {
	return ts.client(append([]kgo.Opt{kgo.TransactionalID(id), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(10 * time.Second)}, opts...)...)
}

// committedReader is a read_committed consumer of topic from the start.
func (ts *testServer) committedReader(topic string) *kgo.Client {
	return ts.client(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
}

func rec(topic string, partition int32, value string) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: partition, Value: []byte(value)}
}

func produceSync(t *testing.T, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), txnWait)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func begin(t *testing.T, cl *kgo.Client) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
}

func end(t *testing.T, cl *kgo.Client, commit kgo.TransactionEndTry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), txnWait)
	defer cancel()
	if err := cl.EndTransaction(ctx, commit); err != nil {
		t.Fatalf("end transaction (commit %v): %v", commit, err)
	}
}

// pollValues polls cl until it has want records, then for quiet more, and
// returns every value as "value@partition/offset", sorted.
func pollValues(t *testing.T, cl *kgo.Client, want int, quiet time.Duration) []string {
	t.Helper()
	var got []string
	deadline := time.Now().Add(txnWait)
	var quietUntil time.Time
	for {
		now := time.Now()
		if len(got) >= want && quietUntil.IsZero() {
			quietUntil = now.Add(quiet)
		}
		if !quietUntil.IsZero() && now.After(quietUntil) {
			break
		}
		if now.After(deadline) {
			t.Fatalf("polled %d records in %v, want %d: %v", len(got), txnWait, want, got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("fetch %s[%d]: %v", topic, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			got = append(got, fmt.Sprintf("%s@%d/%d", r.Value, r.Partition, r.Offset))
		})
	}
	slices.Sort(got)
	return got
}

func valuesOf(got []string) string {
	vs := make([]string, len(got))
	for i, g := range got {
		vs[i] = g[:strings.IndexByte(g, '@')]
	}
	slices.Sort(vs)
	return strings.Join(vs, " ")
}

// Committed transactions are seen by read_committed consumers, aborted
// ones never; read_uncommitted consumers see both, and neither sees the
// markers.
func TestTxnCommitAbortReadCommitted(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ts.createTopic("t", 2)
	p := ts.txnClient("tx")

	begin(t, p)
	produceSync(t, p, rec("t", 0, "a0"), rec("t", 0, "a1"), rec("t", 1, "a2"))
	end(t, p, kgo.TryCommit)
	begin(t, p)
	produceSync(t, p, rec("t", 0, "b0"), rec("t", 1, "b1"))
	end(t, p, kgo.TryAbort)
	begin(t, p)
	produceSync(t, p, rec("t", 1, "c0"))
	end(t, p, kgo.TryCommit)

	if got := valuesOf(pollValues(t, ts.committedReader("t"), 4, 300*time.Millisecond)); got != "a0 a1 a2 c0" {
		t.Fatalf("read_committed: %q", got)
	}
	uncommitted := ts.client(kgo.ConsumeTopics("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if got := valuesOf(pollValues(t, uncommitted, 6, 300*time.Millisecond)); got != "a0 a1 a2 b0 b1 c0" {
		t.Fatalf("read_uncommitted: %q", got)
	}
}

// An open transaction stalls read_committed consumers at its first record,
// records after it included, until it commits; ListOffsets at
// read_committed answers the last stable offset.
func TestTxnReadCommittedStallsAtOpenTransaction(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ts.createTopic("s", 1)
	plain := ts.client(kgo.DefaultProduceTopic("s"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceSync(t, plain, rec("s", 0, "before"))
	p := ts.txnClient("tx")
	begin(t, p)
	produceSync(t, p, rec("s", 0, "open"))
	produceSync(t, plain, rec("s", 0, "after"))

	ctx, cancel := context.WithTimeout(context.Background(), txnWait)
	defer cancel()
	adm := kadm.NewClient(ts.client())
	ends, err := adm.ListEndOffsets(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	stable, err := adm.ListCommittedOffsets(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := ends.Lookup("s", 0); e.Offset != 3 {
		t.Fatalf("end offset %d, want 3", e.Offset)
	}
	if s, _ := stable.Lookup("s", 0); s.Offset != 1 {
		t.Fatalf("read_committed end offset %d, want the LSO 1", s.Offset)
	}

	reader := ts.committedReader("s")
	if got := valuesOf(pollValues(t, reader, 1, 500*time.Millisecond)); got != "before" {
		t.Fatalf("read_committed with a transaction open: %q", got)
	}
	end(t, p, kgo.TryCommit)
	if got := valuesOf(pollValues(t, reader, 2, 200*time.Millisecond)); got != "after open" {
		t.Fatalf("read_committed after the commit: %q", got)
	}
	stable, err = adm.ListCommittedOffsets(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := stable.Lookup("s", 0); s.Offset != 4 { // the marker took offset 2... and 3 is "after"
		t.Fatalf("read_committed end offset after the commit %d, want 4", s.Offset)
	}
}

// A consume-transform-produce loop with GroupTransactSession moves the
// group's offsets and the output together: after two sessions (the second
// resuming where the first committed) the output holds each input record
// exactly once.
func TestTxnGroupTransactSession(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ts.createTopic("in", 2)
	ts.createTopic("out", 1)
	plain := ts.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var in []*kgo.Record
	for i := range 20 {
		in = append(in, rec("in", int32(i%2), fmt.Sprintf("r%02d", i)))
	}
	produceSync(t, plain, in[:12]...)

	run := func(limit int, abortFirst bool) int {
		t.Helper()
		sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(ts.addr), kgo.TransactionalID("ctp"),
			kgo.ConsumerGroup("g"), kgo.ConsumeTopics("in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DefaultProduceTopic("out"),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(10*time.Second),
			kgo.FetchMaxWait(100*time.Millisecond)) // franz-go fetches offsets with require_stable
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		done, aborted := 0, !abortFirst
		deadline := time.Now().Add(txnWait)
		for done < limit && time.Now().Before(deadline) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			fs := sess.PollFetches(ctx)
			cancel()
			if fs.NumRecords() == 0 {
				continue
			}
			if err := sess.Client().BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			n := 0
			try := kgo.TryCommit
			if !aborted {
				try, aborted = kgo.TryAbort, true
			}
			fs.EachRecord(func(r *kgo.Record) {
				n++
				sess.Client().Produce(context.Background(), rec("out", 0, strings.ToUpper(string(r.Value))), func(_ *kgo.Record, err error) {
					if err != nil && try == kgo.TryCommit {
						t.Errorf("produce: %v", err)
					}
				})
			})
			ctx, cancel = context.WithTimeout(context.Background(), txnWait)
			committed, err := sess.End(ctx, try)
			cancel()
			if err != nil {
				t.Fatalf("end: %v", err)
			}
			if committed {
				done += n
			}
		}
		return done
	}
	if got := run(12, true); got != 12 {
		t.Fatalf("first session committed %d records, want 12", got)
	}
	produceSync(t, plain, in[12:]...)
	if got := run(8, false); got != 8 {
		t.Fatalf("second session committed %d records, want 8", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), txnWait)
	defer cancel()
	offsets, err := kadm.NewClient(ts.client()).FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if o, _ := offsets.Lookup("in", p); o.At != 10 {
			t.Errorf("group offset of in[%d]: %d, want 10", p, o.At)
		}
	}
	got := valuesOf(pollValues(t, ts.committedReader("out"), 20, 300*time.Millisecond))
	var want []string
	for _, r := range in {
		want = append(want, strings.ToUpper(string(r.Value)))
	}
	slices.Sort(want)
	if got != strings.Join(want, " ") {
		t.Fatalf("output %q, want each input once: %q", got, strings.Join(want, " "))
	}
}

// A second producer with the same transactional id fences the first: its
// open transaction is aborted and its produce and commit fail.
func TestTxnZombieFenced(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ts.createTopic("z", 1)
	zombie := ts.txnClient("z", kgo.RetryTimeout(2*time.Second))
	begin(t, zombie)
	produceSync(t, zombie, rec("z", 0, "zombie"))

	cur := ts.txnClient("z")
	begin(t, cur)
	produceSync(t, cur, rec("z", 0, "current"))

	ctx, cancel := context.WithTimeout(context.Background(), txnWait)
	defer cancel()
	err := zombie.ProduceSync(ctx, rec("z", 0, "late")).FirstErr()
	if !errors.Is(err, kerr.InvalidProducerEpoch) && !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("zombie produce: %v, want fenced", err)
	}
	if err := zombie.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("zombie commit succeeded")
	}
	end(t, cur, kgo.TryCommit)
	if got := valuesOf(pollValues(t, ts.committedReader("z"), 1, 300*time.Millisecond)); got != "current" {
		t.Fatalf("read_committed: %q", got)
	}
}

// rawTxn drives the transaction requests by hand, at versions the client
// is capped to, to check each version's error codes.
type rawTxn struct {
	t   *testing.T
	cl  *kgo.Client
	id  string
	pid int64
	ep  int16
	seq map[int32]int32
}

func (ts *testServer) rawTxn(id string, caps map[kmsg.Key]int16) *rawTxn {
	vs := kversion.V4_0_0()
	for k, v := range caps {
		vs.SetMaxKeyVersion(int16(k), v)
	}
	return &rawTxn{t: ts.t, cl: ts.client(kgo.MaxVersions(vs)), id: id, seq: map[int32]int32{}}
}

func (r *rawTxn) do(req kmsg.Request) kmsg.Response {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), txnWait)
	defer cancel()
	resp, err := r.cl.Request(ctx, req)
	if err != nil {
		r.t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

func (r *rawTxn) init(timeout time.Duration) int16 {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &r.id
	req.TransactionTimeoutMillis = int32(timeout.Milliseconds())
	resp := r.do(req).(*kmsg.InitProducerIDResponse)
	if resp.ErrorCode == 0 {
		r.pid, r.ep = resp.ProducerID, resp.ProducerEpoch
		clear(r.seq)
	}
	return resp.ErrorCode
}

func (r *rawTxn) addPartitions(topic string, partitions ...int32) map[int32]int16 {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = r.id, r.pid, r.ep
	req.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: topic, Partitions: partitions}}
	out := map[int32]int16{}
	for _, t := range r.do(req).(*kmsg.AddPartitionsToTxnResponse).Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = p.ErrorCode
		}
	}
	return out
}

func (r *rawTxn) produce(topic string, partition int32, value string) int16 {
	b, err := record.AppendBatch(nil, []record.Record{{Value: []byte(value), Timestamp: time.Now().UnixMilli()}},
		record.BatchOptions{Idempotent: true, Transactional: true, ProducerID: r.pid, ProducerEpoch: r.ep, BaseSequence: r.seq[partition]})
	if err != nil {
		r.t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID, req.Acks, req.TimeoutMillis = &r.id, -1, 5000
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: partition, Records: b}}}}
	code := r.do(req).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
	if code == 0 {
		r.seq[partition]++
	}
	return code
}

func (r *rawTxn) addOffsets(group string) int16 {
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = r.id, r.pid, r.ep, group
	return r.do(req).(*kmsg.AddOffsetsToTxnResponse).ErrorCode
}

func (r *rawTxn) commitOffset(group, topic string, partition int32, offset int64) int16 {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = r.id, r.pid, r.ep, group
	req.Generation = -1
	req.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: topic, Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: partition, Offset: offset, LeaderEpoch: -1}}}}
	return r.do(req).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
}

func (r *rawTxn) end(commit bool) int16 {
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = r.id, r.pid, r.ep, commit
	return r.do(req).(*kmsg.EndTxnResponse).ErrorCode
}

// Each API answers as Kafka 4 does, per version: PRODUCER_FENCED from the
// version that introduced it (INVALID_PRODUCER_EPOCH before, and always on
// Produce), TRANSACTION_ABORTABLE for a write outside the transaction from
// Produce v11 and TxnOffsetCommit v4 (INVALID_TXN_STATE before).
func TestTxnErrorCodesPerVersion(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ts.createTopic("e", 2)
	for _, old := range []bool{true, false} {
		t.Run(fmt.Sprintf("old=%v", old), func(t *testing.T) {
			caps := map[kmsg.Key]int16{}
			if old {
				caps = map[kmsg.Key]int16{kmsg.Produce: 10, kmsg.AddPartitionsToTxn: 1, kmsg.AddOffsetsToTxn: 1, kmsg.EndTxn: 1, kmsg.TxnOffsetCommit: 3, kmsg.InitProducerID: 3}
			}
			id := fmt.Sprintf("codes-%v", old)
			r := ts.rawTxn(id, caps)
			r.t = t
			wantCode := func(what string, got int16, want *kerr.Error) {
				t.Helper()
				var code int16
				if want != nil {
					code = want.Code
				}
				if got != code {
					t.Fatalf("%s: %v, want %v", what, kerr.ErrorForCode(got), want)
				}
			}
			wantCode("init", r.init(10*time.Second), nil)
			wantCode("end before begin", r.end(true), kerr.InvalidTxnState)
			codes := r.addPartitions("e", 0, 7)
			wantCode("add a missing partition", codes[7], kerr.UnknownTopicOrPartition)
			wantCode("add beside a missing partition", codes[0], kerr.OperationNotAttempted)
			wantCode("add", r.addPartitions("e", 0)[0], nil)
			wantCode("produce", r.produce("e", 0, "v"), nil)
			notAdded := kerr.TransactionAbortable
			if old {
				notAdded = kerr.InvalidTxnState
			}
			wantCode("produce to a partition not added", r.produce("e", 1, "v"), notAdded)
			wantCode("offsets of a group not added", r.commitOffset("grp", "e", 0, 1), notAdded)
			wantCode("add offsets", r.addOffsets("grp"), nil)
			wantCode("offsets", r.commitOffset("grp", "e", 0, 1), nil)

			// Another producer of the id fences this one.
			other := ts.rawTxn(id, nil)
			wantCode("fencing init", other.init(10*time.Second), kerr.ConcurrentTransactions)
			wantCode("fencing init, retried", other.init(10*time.Second), nil)
			fenced := kerr.ProducerFenced
			if old {
				fenced = kerr.InvalidProducerEpoch
			}
			wantCode("fenced: produce", r.produce("e", 0, "w"), kerr.InvalidProducerEpoch)
			wantCode("fenced: add partitions", r.addPartitions("e", 1)[1], fenced)
			wantCode("fenced: add offsets", r.addOffsets("grp"), fenced)
			wantCode("fenced: offsets", r.commitOffset("grp", "e", 0, 2), kerr.InvalidProducerEpoch)
			wantCode("fenced: end", r.end(true), fenced)
			stale := *r
			stale.ep = other.ep
			stale.pid = other.pid + 1000
			wantCode("unknown producer id", stale.end(true), kerr.InvalidProducerIDMapping)
			bad := ts.rawTxn(id, caps)
			bad.pid, bad.ep = other.pid, other.ep
			wantCode("timeout above the maximum", func() int16 {
				req := kmsg.NewPtrInitProducerIDRequest()
				req.TransactionalID, req.TransactionTimeoutMillis = &bad.id, int32((time.Hour).Milliseconds())
				return bad.do(req).(*kmsg.InitProducerIDResponse).ErrorCode
			}(), kerr.InvalidTransactionTimeout)
		})
	}
}

// Fetch at read_committed returns the last stable offset and lists the
// aborted transactions among the batches it returns (v4+), so a client
// drops their records.
func TestTxnFetchAbortedTransactions(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ts.createTopic("f", 1)
	r := ts.rawTxn("fetcher", nil)
	if code := r.init(10 * time.Second); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	r.addPartitions("f", 0)
	r.produce("f", 0, "aborted")
	if code := r.end(false); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	r.addPartitions("f", 0)
	r.produce("f", 0, "open")

	fetch := func(isolation int8) kmsg.FetchResponseTopicPartition {
		req := kmsg.NewPtrFetchRequest()
		req.MaxBytes, req.MinBytes, req.IsolationLevel, req.ReplicaID = 1<<20, 1, isolation, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "f"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = 1<<20, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return r.do(req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	}
	committed := fetch(1)
	if committed.ErrorCode != 0 || committed.HighWatermark != 3 || committed.LastStableOffset != 2 {
		t.Fatalf("read_committed: error %d, high watermark %d, LSO %d; want 0, 3, 2", committed.ErrorCode, committed.HighWatermark, committed.LastStableOffset)
	}
	if len(committed.AbortedTransactions) != 1 || committed.AbortedTransactions[0].ProducerID != r.pid || committed.AbortedTransactions[0].FirstOffset != 0 {
		t.Fatalf("aborted transactions %+v, want producer %d from 0", committed.AbortedTransactions, r.pid)
	}
	var bases []int64
	for b := committed.RecordBatches; len(b) > 0; {
		h, err := record.ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, h.BaseOffset)
		b = b[h.Size():]
	}
	if fmt.Sprint(bases) != "[0 1]" { // the aborted batch and its marker; not the open one
		t.Fatalf("read_committed batches at %v, want [0 1]", bases)
	}
	if uncommitted := fetch(0); uncommitted.LastStableOffset != 2 || len(uncommitted.AbortedTransactions) != 0 {
		t.Fatalf("read_uncommitted: LSO %d, aborted %v", uncommitted.LastStableOffset, uncommitted.AbortedTransactions)
	}
}

// A restart mid-transaction: a transaction that was open stays open until
// its timeout aborts it; one whose commit was decided (PrepareCommit) but
// not completed (its offsets could not be settled) is completed.
func TestTxnRestartMidTransaction(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	ts.createTopic("o", 1)
	ts.createTopic("src", 1)

	open := ts.rawTxn("open", nil)
	if code := open.init(1500 * time.Millisecond); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	open.addPartitions("o", 0)
	if code := open.produce("o", 0, "never"); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}

	prepared := ts.rawTxn("prepared", nil)
	if code := prepared.init(10 * time.Second); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	prepared.addOffsets("g")
	if code := prepared.commitOffset("g", "src", 0, 42); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	// The group coordinator goes away: the commit is decided, but its
	// offsets cannot be settled before the restart.
	_ = ts.groups.Close()
	if code := prepared.end(true); code != 0 {
		t.Fatalf("end with the group coordinator gone: %v", kerr.ErrorForCode(code))
	}
	open.cl.Close()
	prepared.cl.Close()
	ts.stop()

	ts = startServer(t, dir)
	plain := ts.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceSync(t, plain, rec("o", 0, "after"))
	reader := ts.committedReader("o")
	if got := valuesOf(pollValues(t, reader, 1, 200*time.Millisecond)); got != "after" {
		t.Fatalf("read_committed after the restart: %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), txnWait)
	defer cancel()
	adm := kadm.NewClient(ts.client())
	var at int64
	deadline := time.Now().Add(txnWait)
	for at != 42 && time.Now().Before(deadline) {
		offsets, err := adm.FetchOffsets(ctx, "g")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := offsets.Lookup("src", 0)
		at = o.At
		time.Sleep(20 * time.Millisecond)
	}
	if at != 42 {
		t.Fatalf("offset of the prepared commit after the restart: %d, want 42", at)
	}
	// The open one's producer was fenced by the timeout's abort.
	open2 := ts.rawTxn("open", nil)
	open2.pid, open2.ep = open.pid, open.ep
	if code := open2.end(true); code != kerr.ProducerFenced.Code {
		t.Fatalf("commit of the timed-out transaction: %v, want PRODUCER_FENCED", kerr.ErrorForCode(code))
	}
}

// FindCoordinator names this node for transactional ids; ApiVersions
// advertises exactly the transaction versions served.
func TestTxnCoordinatorAndVersions(t *testing.T) {
	ts := startServer(t, t.TempDir())
	cl := ts.client()
	ctx, cancel := context.WithTimeout(context.Background(), txnWait)
	defer cancel()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType, req.CoordinatorKeys = 1, []string{"tx"}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Coordinators[0]; c.ErrorCode != 0 || c.NodeID != ts.srv.cfg.NodeID {
		t.Fatalf("transaction coordinator: %+v", c)
	}
	want := map[int16][2]int16{22: {0, 5}, 24: {0, 3}, 25: {0, 4}, 26: {0, 4}, 28: {0, 4}}
	for _, k := range apiVersionKeys() {
		if w, ok := want[k.ApiKey]; ok {
			if k.MinVersion != w[0] || k.MaxVersion != w[1] {
				t.Errorf("%s advertised v%d-%d, want v%d-%d", kmsg.NameForKey(k.ApiKey), k.MinVersion, k.MaxVersion, w[0], w[1])
			}
			delete(want, k.ApiKey)
		}
	}
	if len(want) > 0 {
		t.Errorf("not advertised: %v", want)
	}
}
