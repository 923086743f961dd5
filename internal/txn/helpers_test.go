package txn

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

// waitLimit bounds every wait in these tests.
const waitLimit = 10 * time.Second

// node is a log, its group coordinator and its transaction coordinator in
// a directory that outlives them, so a test can restart it.
type node struct {
	t      testing.TB
	dir    string
	opts   Options
	log    *log.Log
	groups *group.Coordinator
	c      *Coordinator
}

func newNode(t testing.TB, opts Options) *node {
	t.Helper()
	n := &node{t: t, dir: t.TempDir(), opts: opts}
	n.open()
	for name, parts := range map[string]int32{"out": 2, "in": 1} {
		if _, err := n.log.CreateTopic(name, parts, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(n.close)
	return n
}

func (n *node) open() {
	n.t.Helper()
	l, err := log.Open(n.dir, log.WithCleanerInterval(0))
	if err != nil {
		n.t.Fatal(err)
	}
	g, err := group.NewCoordinator(l, group.Options{})
	if err != nil {
		n.t.Fatal(err)
	}
	c, err := Open(l, g, n.opts)
	if err != nil {
		n.t.Fatal(err)
	}
	n.log, n.groups, n.c = l, g, c
}

func (n *node) close() {
	if n.c == nil {
		return
	}
	if err := errors.Join(n.c.Close(), n.groups.Close(), n.log.Close()); err != nil {
		n.t.Errorf("close: %v", err)
	}
	n.c = nil
}

func (n *node) restart() {
	n.t.Helper()
	n.close()
	n.open()
}

func (n *node) partition(topic string, id int32) *log.Partition {
	n.t.Helper()
	t, err := n.log.Topic(topic)
	if err != nil {
		n.t.Fatal(err)
	}
	p, err := t.Partition(id)
	if err != nil {
		n.t.Fatal(err)
	}
	return p
}

// producer is a transactional producer driven by hand, as a client drives
// the coordinator.
type producer struct {
	n   *node
	id  string
	pe  ProducerIDEpoch
	seq map[TopicPartition]int32
}

// initProducer runs InitProducerID for id until it is not refused with
// ErrConcurrentTransactions.
func (n *node) initProducer(id string, timeout time.Duration) *producer {
	n.t.Helper()
	ctx := context.Background()
	for range 100 {
		pe, err := n.c.InitProducerID(ctx, id, timeout, nil)
		if errors.Is(err, ErrConcurrentTransactions) {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err != nil {
			n.t.Fatalf("init %s: %v", id, err)
		}
		return &producer{n: n, id: id, pe: pe, seq: map[TopicPartition]int32{}}
	}
	n.t.Fatalf("init %s: concurrent transactions for too long", id)
	return nil
}

// produce adds tp to the transaction and appends values to it as one
// transactional batch; it returns the append's error.
func (p *producer) produce(tp TopicPartition, values ...string) error {
	ctx := context.Background()
	if err := p.n.c.AddPartitions(ctx, p.id, p.pe.ProducerID, p.pe.Epoch, []TopicPartition{tp}); err != nil {
		return err
	}
	return p.append(tp, values...)
}

// append appends values to tp as one transactional batch, checked by the
// coordinator as a Kafka produce is, without adding tp.
func (p *producer) append(tp TopicPartition, values ...string) error {
	a, err := p.n.c.BeginAppend(p.id, p.pe.ProducerID, p.pe.Epoch)
	if err != nil {
		return err
	}
	defer a.Release()
	if err := a.Check(tp.Topic, tp.Partition); err != nil {
		return err
	}
	recs := make([]record.Record, len(values))
	for i, v := range values {
		recs[i] = record.Record{Value: []byte(v), Timestamp: time.Now().UnixMilli()}
	}
	b, err := record.AppendBatch(nil, recs, record.BatchOptions{Idempotent: true, Transactional: true,
		ProducerID: p.pe.ProducerID, ProducerEpoch: p.pe.Epoch, BaseSequence: p.seq[tp]})
	if err != nil {
		return err
	}
	if _, err := p.n.partition(tp.Topic, tp.Partition).Append(b); err != nil {
		return err
	}
	p.seq[tp] += int32(len(values))
	return nil
}

// commitOffset adds group to the transaction and commits offset for
// in[0] in it.
func (p *producer) commitOffset(group string, offset int64) error {
	ctx := context.Background()
	if err := p.n.c.AddOffsets(ctx, p.id, p.pe.ProducerID, p.pe.Epoch, group); err != nil {
		return err
	}
	return p.offsetCommit(group, offset)
}

// offsetCommit commits offset for in[0] in the transaction, without
// adding the group first.
func (p *producer) offsetCommit(group string, offset int64) error {
	ctx := context.Background()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.SetVersion(3)
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = p.id, group, p.pe.ProducerID, p.pe.Epoch
	req.Generation = -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "in"
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = 0, offset, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := p.n.c.TxnOffsetCommit(ctx, req)
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode)
}

func (p *producer) end(commit bool) error {
	return p.n.c.EndTxn(context.Background(), p.id, p.pe.ProducerID, p.pe.Epoch, commit)
}

// committed returns the values read_committed readers see in tp now.
func (n *node) committed(tp TopicPartition) []string {
	n.t.Helper()
	p := n.partition(tp.Topic, tp.Partition)
	var out []string
	for offset := int64(0); ; {
		res, err := p.ReadCommitted(nil, offset, 1<<20)
		if err != nil {
			n.t.Fatal(err)
		}
		for b := res.Batches; len(b) > 0; {
			h, err := record.ParseHeader(b)
			if err != nil {
				n.t.Fatal(err)
			}
			_, recs, err := record.DecodeRecords(b[:h.Size()], 1<<20)
			if err != nil {
				n.t.Fatal(err)
			}
			for _, r := range recs {
				if r.Offset >= offset {
					out = append(out, string(r.Value))
				}
			}
			b = b[h.Size():]
		}
		if len(res.Batches) == 0 {
			return out
		}
		offset = res.NextOffset
	}
}

// plain appends a non-transactional record to tp.
func (n *node) plain(tp TopicPartition, value string) {
	n.t.Helper()
	b, err := record.AppendBatch(nil, []record.Record{{Value: []byte(value), Timestamp: time.Now().UnixMilli()}}, record.BatchOptions{})
	if err != nil {
		n.t.Fatal(err)
	}
	if _, err := n.partition(tp.Topic, tp.Partition).Append(b); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) offset(group string) int64 {
	if o, ok := n.groups.CommittedOffsets(group)["in"][0]; ok {
		return o
	}
	return -1
}

func (n *node) state(id string) Status {
	n.t.Helper()
	st, ok := n.c.Describe(id)
	if !ok {
		n.t.Fatalf("%s unknown to the coordinator", id)
	}
	return st
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLimit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

var (
	out0 = TopicPartition{Topic: "out", Partition: 0}
	out1 = TopicPartition{Topic: "out", Partition: 1}
)

func values(v ...string) string { return fmt.Sprint(v) }
