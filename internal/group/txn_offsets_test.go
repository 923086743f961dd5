package group

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnCommit sends a TxnOffsetCommit of producerID for orders' partitions
// and returns the code per partition.
func (h *harness) txnCommit(version int16, group string, producerID int64, generation int32, memberID string, offsets map[int32]int64) map[int32]int16 {
	h.t.Helper()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version = version
	req.TransactionalID, req.Group, req.ProducerID = "tx", group, producerID
	req.Generation, req.MemberID = generation, memberID
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = h.orders
	for p, o := range offsets {
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, o, 1
		rp.Metadata = kmsg.StringPtr(fmt.Sprint("txn-", o))
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := h.do(req).(*kmsg.TxnOffsetCommitResponse)
	out := map[int32]int16{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = p.ErrorCode
		}
	}
	return out
}

// stableFetch is OffsetFetch of orders 0 and 1 with require_stable, at
// version v (7 or 8): offset and code per partition.
func (h *harness) stableFetch(v int16, group string) map[int32][2]int64 {
	h.t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version, req.RequireStable = v, true
	out := map[int32][2]int64{}
	if v >= 8 {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = group
		rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: h.orders, Partitions: []int32{0, 1}}}
		req.Groups = append(req.Groups, rg)
		for _, t := range h.do(req).(*kmsg.OffsetFetchResponse).Groups[0].Topics {
			for _, p := range t.Partitions {
				out[p.Partition] = [2]int64{p.Offset, int64(p.ErrorCode)}
			}
		}
		return out
	}
	req.Group = group
	req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: h.orders, Partitions: []int32{0, 1}}}
	for _, t := range h.do(req).(*kmsg.OffsetFetchResponse).Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = [2]int64{p.Offset, int64(p.ErrorCode)}
		}
	}
	return out
}

// Transactional offsets stay pending (not fetched, unstable for
// require_stable) until CompleteTransaction commits or drops them, also
// across a restart.
func TestTxnOffsetsPendingUntilSettled(t *testing.T) {
	h := newHarness(t, testOptions())
	ctx := context.Background()
	wantCode(t, "plain commit", h.commit(2, "g", -1, "", nil, "orders", map[int32]int64{0: 1, 1: 1})[0], nil)
	for v := range int16(5) {
		for p, code := range h.txnCommit(v, "g", 40+int64(v), -1, "", map[int32]int64{0: 10 + int64(v)}) {
			wantCode(t, fmt.Sprintf("txn commit v%d partition %d", v, p), code, nil)
		}
	}
	if got := h.fetch("g")["orders"]; got[0] != 1 || got[1] != 1 {
		t.Fatalf("pending offsets fetched: %v", got)
	}
	for _, v := range []int16{7, 8} {
		got := h.stableFetch(v, "g")
		if got[0] != [2]int64{-1, int64(kerr.UnstableOffsetCommit.Code)} || got[1] != [2]int64{1, 0} {
			t.Fatalf("require_stable v%d: %v", v, got)
		}
	}
	if got := h.c.PendingTransactions(); fmt.Sprint(got) != "[40 41 42 43 44]" {
		t.Fatalf("pending transactions %v", got)
	}

	// Settling is per producer: 41 aborts, 42 commits.
	if err := h.c.CompleteTransaction(ctx, 41, false); err != nil {
		t.Fatal(err)
	}
	if err := h.c.CompleteTransaction(ctx, 42, true); err != nil {
		t.Fatal(err)
	}
	if err := h.c.CompleteTransaction(ctx, 42, true); err != nil { // again: nothing left
		t.Fatal(err)
	}
	if got := h.fetch("g")["orders"]; got[0] != 12 || got[1] != 1 {
		t.Fatalf("after settling 42: %v", got)
	}

	h.reopen()
	if got := h.c.PendingTransactions(); fmt.Sprint(got) != "[40 43 44]" {
		t.Fatalf("pending transactions after a restart %v", got)
	}
	if got := h.fetch("g")["orders"]; got[0] != 12 {
		t.Fatalf("after a restart: %v", got)
	}
	for _, id := range []int64{40, 44} {
		if err := h.c.CompleteTransaction(ctx, id, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.c.CompleteTransaction(ctx, 43, true); err != nil {
		t.Fatal(err)
	}
	if got := h.stableFetch(8, "g"); got[0] != [2]int64{13, 0} {
		t.Fatalf("after settling everything: %v", got)
	}
	h.reopen()
	if got := h.fetch("g")["orders"]; got[0] != 13 || got[1] != 1 {
		t.Fatalf("settled offsets after a restart: %v", got)
	}
	if got := h.c.PendingTransactions(); len(got) != 0 {
		t.Fatalf("pending after settling: %v", got)
	}
}

// TxnOffsetCommit is validated as Kafka's classic group validates it: a
// member's generation must match, a commit without one is accepted in any
// state, a missing group is created only without a generation.
func TestTxnOffsetCommitValidation(t *testing.T) {
	h := newHarness(t, testOptions())
	m := h.member("g")
	m.join()
	syncAll(t, m)
	wantCode(t, "without a member, active group", h.txnCommit(3, "g", 1, -1, "", map[int32]int64{0: 5})[0], nil)
	wantCode(t, "member's generation", h.txnCommit(3, "g", 1, m.generation, m.id, map[int32]int64{0: 6})[0], nil)
	wantCode(t, "stale generation", h.txnCommit(3, "g", 1, m.generation+1, m.id, map[int32]int64{0: 7})[0], kerr.IllegalGeneration)
	wantCode(t, "unknown member", h.txnCommit(3, "g", 1, m.generation, "nobody", map[int32]int64{0: 7})[0], kerr.UnknownMemberID)
	wantCode(t, "missing group with a generation", h.txnCommit(3, "nogroup", 1, 3, "x", map[int32]int64{0: 7})[0], kerr.IllegalGeneration)
	wantCode(t, "missing partition", h.txnCommit(3, "g", 1, -1, "", map[int32]int64{9: 7})[9], kerr.UnknownTopicOrPartition)

	// A group whose offsets a transaction holds is not deleted.
	wantCode(t, "leave", m.leave(), nil)
	h.waitState("g", "Empty")
	dl := kmsg.NewPtrDeleteGroupsRequest()
	dl.Groups = []string{"g"}
	wantCode(t, "delete with pending offsets", h.do(dl).(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode, kerr.NonEmptyGroup)
	if err := h.c.CompleteTransaction(context.Background(), 1, true); err != nil {
		t.Fatal(err)
	}
	if got := h.fetch("g")["orders"][0]; got != 6 {
		t.Fatalf("committed %d, want the last pending offset 6", got)
	}
	wantCode(t, "delete once settled", h.do(dl).(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode, nil)
}

// A group that exists only through a transaction's pending offsets
// survives a restart and is forgotten once they are aborted.
func TestTxnOffsetsOnlyGroup(t *testing.T) {
	h := newHarness(t, testOptions())
	wantCode(t, "txn commit", h.txnCommit(1, "fresh", 9, -1, "", map[int32]int64{1: 3})[1], nil)
	h.reopen()
	if got := h.stableFetch(8, "fresh"); got[1] != [2]int64{-1, int64(kerr.UnstableOffsetCommit.Code)} {
		t.Fatalf("after a restart: %v", got)
	}
	if err := h.c.CompleteTransaction(context.Background(), 9, false); err != nil {
		t.Fatal(err)
	}
	if got := h.stableFetch(8, "fresh"); got[1] != [2]int64{-1, 0} {
		t.Fatalf("after the abort: %v", got)
	}
	if topic, p := h.c.OffsetsPartition("fresh"); topic != DefaultOffsetsTopic || p != 0 {
		t.Fatalf("offsets partition %s/%d", topic, p)
	}
}
