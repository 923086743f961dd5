package group

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

// commitRequest commits one offset per (topic, partition, metadata).
type commitPart struct {
	topic     string
	partition int32
	offset    int64
	metadata  string
}

func commitRequest(version int16, group string, generation int32, member string, parts ...commitPart) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = version
	req.Group = group
	req.Generation = generation
	req.MemberID = member
	for _, p := range parts {
		if len(req.Topics) == 0 || req.Topics[len(req.Topics)-1].Topic != p.topic {
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = p.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition = p.partition
		rp.Offset = p.offset
		rp.Metadata = kmsg.StringPtr(p.metadata)
		rp.LeaderEpoch = 7
		rt := &req.Topics[len(req.Topics)-1]
		rt.Partitions = append(rt.Partitions, rp)
	}
	return req
}

func commitCodes(t *testing.T, resp kmsg.Response) []int16 {
	t.Helper()
	var codes []int16
	for _, rt := range resp.(*kmsg.OffsetCommitResponse).Topics {
		for _, rp := range rt.Partitions {
			codes = append(codes, rp.ErrorCode)
		}
	}
	return codes
}

func TestOffsetCommitAndFetch(t *testing.T) {
	h := newHarness(t, testOptions())
	a := h.member("g")
	a.join()
	syncAll(t, a)

	// One request: good partitions, an unknown topic, an unknown
	// partition and metadata over the limit, each answered on its own.
	req := commitRequest(9, "g", a.generation, a.id,
		commitPart{"orders", 0, 10, "first"},
		commitPart{"orders", 1, 20, ""},
		commitPart{"orders", 9, 5, ""},
		commitPart{"orders", 2, 30, strings.Repeat("x", maxMetadataBytes+1)},
		commitPart{"nosuch", 0, 1, ""},
		commitPart{"payments", 1, 40, "p"},
	)
	codes := commitCodes(t, h.do(req))
	want := []*kerr.Error{nil, nil, kerr.UnknownTopicOrPartition, kerr.OffsetMetadataTooLarge, kerr.UnknownTopicOrPartition, nil}
	for i, w := range want {
		wantCode(t, "partition result", codes[i], w)
	}

	// v8: every committed offset of the group.
	got := h.fetch("g")
	if got["orders"][0] != 10 || got["orders"][1] != 20 || got["payments"][1] != 40 || len(got["orders"]) != 2 || len(got) != 2 {
		t.Fatalf("fetched %v", got)
	}
	// v7: named partitions, with metadata and leader epoch; -1 for none.
	fr := kmsg.NewPtrOffsetFetchRequest()
	fr.Version = 7
	fr.Group = "g"
	fr.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "orders", Partitions: []int32{0, 2}}, {Topic: "nosuch", Partitions: []int32{0}}}
	resp := h.do(fr).(*kmsg.OffsetFetchResponse)
	wantCode(t, "fetch", resp.ErrorCode, nil)
	p0, p2, other := resp.Topics[0].Partitions[0], resp.Topics[0].Partitions[1], resp.Topics[1].Partitions[0]
	if p0.Offset != 10 || *p0.Metadata != "first" || p0.LeaderEpoch != 7 {
		t.Fatalf("orders-0: %+v", p0)
	}
	if p2.Offset != -1 || p2.LeaderEpoch != -1 || *p2.Metadata != "" || other.Offset != -1 {
		t.Fatalf("uncommitted partitions: %+v %+v", p2, other)
	}
	// v1 cannot send null topics: an empty list asks for nothing.
	fr.Version = 1
	fr.Topics = nil
	if resp := h.do(fr).(*kmsg.OffsetFetchResponse); len(resp.Topics) != 0 {
		t.Fatalf("v1 with no topics returned %d topics", len(resp.Topics))
	}
	// v2+: null topics means all.
	fr.Version = 3
	if resp := h.do(fr).(*kmsg.OffsetFetchResponse); len(resp.Topics) != 2 {
		t.Fatalf("v3 with null topics returned %d topics", len(resp.Topics))
	}
	// A group that does not exist has no offsets, and no error.
	if got := h.fetch("nosuch"); len(got) != 0 {
		t.Fatalf("unknown group: %v", got)
	}
	if got := h.c.CommittedOffsets("g"); got["orders"][1] != 20 || got["payments"][1] != 40 {
		t.Fatalf("CommittedOffsets: %v", got)
	}
}

func TestOffsetCommitValidation(t *testing.T) {
	h := newHarness(t, testOptions())
	a := h.member("g")
	a.join()
	syncAll(t, a)
	commit := func(version int16, group string, generation int32, member string) int16 {
		t.Helper()
		return commitCodes(t, h.do(commitRequest(version, group, generation, member, commitPart{"orders", 0, 1, ""})))[0]
	}
	wantCode(t, "current generation", commit(9, "g", 1, a.id), nil)
	wantCode(t, "stale generation", commit(9, "g", 0, a.id), kerr.IllegalGeneration)
	wantCode(t, "unknown member", commit(9, "g", 1, "stranger"), kerr.UnknownMemberID)
	wantCode(t, "simple commit to an active group", commit(9, "g", -1, ""), kerr.UnknownMemberID)
	wantCode(t, "v0 commit to an active group", commit(0, "g", -1, ""), kerr.UnknownMemberID)
	wantCode(t, "member commit to an unknown group (v8)", commit(8, "nosuch", 3, "m"), kerr.IllegalGeneration)
	wantCode(t, "member commit to an unknown group (v9)", commit(9, "nosuch", 3, "m"), kerr.GroupIDNotFound)
	if d := h.describe("nosuch"); d.State != "Dead" {
		t.Fatalf("a refused commit created group nosuch: %s", d.State)
	}
	wantCode(t, "simple commit to a new group", commit(9, "simple", -1, ""), nil)
	wantCode(t, "v0 commit", commit(0, "simple0", -1, ""), nil)
	if d := h.describe("simple"); d.State != "Empty" || d.ProtocolType != "" {
		t.Fatalf("simple group: %s, protocol type %q", d.State, d.ProtocolType)
	}

	// During PreparingRebalance the current generation may still commit
	// (a consumer commits as it revokes); during CompletingRebalance not.
	b := h.member("g")
	bJoin := b.startJoin()
	h.waitState("g", "PreparingRebalance")
	wantCode(t, "commit while preparing", commit(9, "g", 1, a.id), nil)
	a.join()
	b.finishJoin(bJoin)
	wantCode(t, "commit while completing", commit(9, "g", 2, a.id), kerr.RebalanceInProgress)
	syncAll(t, a, b)
	wantCode(t, "commit when stable", commit(9, "g", 2, b.id), nil)
	// Static members are validated by instance id.
	req := commitRequest(9, "g", 2, a.id, commitPart{"orders", 0, 1, ""})
	req.InstanceID = kmsg.StringPtr("not-registered")
	wantCode(t, "unknown instance id", commitCodes(t, h.do(req))[0], kerr.UnknownMemberID)
}

// A commit is a sign of life: a member that commits but never heartbeats
// keeps its session.
func TestCommitKeepsSessionAlive(t *testing.T) {
	h := newHarness(t, testOptions())
	a := h.member("g")
	a.session = 300 * time.Millisecond
	a.join()
	syncAll(t, a)
	for range 8 {
		time.Sleep(100 * time.Millisecond)
		wantCode(t, "commit", a.commit(map[int32]int64{0: 1})[0], nil)
	}
	wantCode(t, "heartbeat after 800ms of commits", a.heartbeat(), nil)
}

func TestOffsetsSurviveRestart(t *testing.T) {
	h := newHarness(t, testOptions())
	a := h.member("g")
	a.join()
	syncAll(t, a)
	wantCode(t, "commit", a.commit(map[int32]int64{0: 100, 1: 200})[0], nil)
	wantCode(t, "recommit", a.commit(map[int32]int64{0: 150})[0], nil)
	codes := commitCodes(t, h.do(commitRequest(9, "simple", -1, "", commitPart{"payments", 1, 7, "meta"})))
	wantCode(t, "simple commit", codes[0], nil)

	h.reopen()
	got := h.fetch("g")
	if got["orders"][0] != 150 || got["orders"][1] != 200 {
		t.Fatalf("after restart: %v", got)
	}
	fr := kmsg.NewPtrOffsetFetchRequest()
	fr.Version = 6
	fr.Group = "simple"
	fr.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "payments", Partitions: []int32{1}}}
	p := h.do(fr).(*kmsg.OffsetFetchResponse).Topics[0].Partitions[0]
	if p.Offset != 7 || *p.Metadata != "meta" || p.LeaderEpoch != 7 {
		t.Fatalf("simple group after restart: %+v", p)
	}
	// Membership does not survive (see doc.go); the group is Empty with
	// its offsets, and the member must rejoin.
	wantCode(t, "heartbeat after restart", a.heartbeat(), kerr.UnknownMemberID)
	if d := h.describe("g"); d.State != "Empty" {
		t.Fatalf("group after restart: %s", d.State)
	}

	// Deletes survive too: DeleteTopicOffsets, OffsetDelete.
	if err := h.c.DeleteTopicOffsets("payments"); err != nil {
		t.Fatal(err)
	}
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "g"
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "orders", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 1}}}}
	wantCode(t, "offset delete", h.do(od).(*kmsg.OffsetDeleteResponse).ErrorCode, nil)
	h.reopen()
	if got := h.fetch("g"); len(got["orders"]) != 1 || got["orders"][0] != 150 {
		t.Fatalf("after deletes and restart: %v", got)
	}
	if got := h.fetch("simple"); len(got) != 0 {
		t.Fatalf("simple group after its topic's offsets were deleted: %v", got)
	}
}

// rawOffsetRecords reads the offsets topic directly, decoding with kmsg:
// the last value seen for each key, nil for a tombstone.
func rawOffsetRecords(t *testing.T, l *log.Log, topic string) map[kmsg.OffsetCommitKey][]byte {
	t.Helper()
	tp, err := l.Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[kmsg.OffsetCommitKey][]byte)
	for _, p := range tp.Partitions() {
		for next := p.Offsets().LogStart; ; {
			res, err := p.Read(next, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Batches) == 0 {
				break
			}
			for b := res.Batches; len(b) > 0; {
				hdr, err := record.ParseHeader(b)
				if err != nil {
					t.Fatal(err)
				}
				_, recs, err := record.DecodeRecords(b[:hdr.Size()], 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range recs {
					var k kmsg.OffsetCommitKey
					if err := k.ReadFrom(r.Key); err != nil {
						t.Fatal(err)
					}
					out[k] = r.Value
				}
				b = b[hdr.Size():]
				next = hdr.LastOffset() + 1
			}
		}
	}
	return out
}

func TestResetOffsets(t *testing.T) {
	h := newHarness(t, testOptions())
	ctx := context.Background()
	a := h.member("g")
	a.join()
	syncAll(t, a)
	if err := h.c.ResetOffsets(ctx, "g", map[string]map[int32]int64{"orders": {0: 5}}); !errors.Is(err, ErrGroupNotEmpty) {
		t.Fatalf("reset of an active group: %v", err)
	}
	if err := h.c.ResetOffsets(ctx, "r", map[string]map[int32]int64{"nosuch": {0: 5}}); !errors.Is(err, log.ErrUnknownTopic) {
		t.Fatalf("reset of an unknown topic: %v", err)
	}
	if err := h.c.ResetOffsets(ctx, "r", map[string]map[int32]int64{"orders": {3: 5}}); !errors.Is(err, log.ErrUnknownPartition) {
		t.Fatalf("reset of an unknown partition: %v", err)
	}
	if err := h.c.ResetOffsets(ctx, "r", map[string]map[int32]int64{"orders": {0: -2}}); !errors.Is(err, ErrInvalidOffset) {
		t.Fatalf("reset to a negative offset: %v", err)
	}
	if got := h.c.CommittedOffsets("r"); got != nil {
		t.Fatalf("failed resets stored %v", got)
	}
	if err := h.c.ResetOffsets(ctx, "r", map[string]map[int32]int64{"orders": {0: 5, 2: 9}, "payments": {1: 3}}); err != nil {
		t.Fatal(err)
	}
	got := h.c.CommittedOffsets("r")
	if got["orders"][0] != 5 || got["orders"][2] != 9 || got["payments"][1] != 3 {
		t.Fatalf("after reset: %v", got)
	}
	wantCode(t, "a leaves", a.leave(), nil)
	if err := h.c.ResetOffsets(ctx, "g", map[string]map[int32]int64{"orders": {0: 1}}); err != nil {
		t.Fatalf("reset after the group emptied: %v", err)
	}
}

func TestDeleteTopicOffsets(t *testing.T) {
	h := newHarness(t, testOptions())
	ctx := context.Background()
	for _, g := range []string{"g1", "g2"} {
		if err := h.c.ResetOffsets(ctx, g, map[string]map[int32]int64{"orders": {0: 1}, "payments": {0: 2, 1: 3}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.c.DeleteTopicOffsets("payments"); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"g1", "g2"} {
		if got := h.c.CommittedOffsets(g); len(got) != 1 || got["orders"][0] != 1 {
			t.Fatalf("%s after DeleteTopicOffsets: %v", g, got)
		}
	}
	raw := rawOffsetRecords(t, h.log, DefaultOffsetsTopic)
	for k, v := range raw {
		if (k.Topic == "payments") != (v == nil) {
			t.Fatalf("record %+v: value %x", k, v)
		}
	}
	if err := h.c.DeleteTopicOffsets("nosuch"); err != nil {
		t.Fatal(err)
	}
}

func TestOffsetDelete(t *testing.T) {
	h := newHarness(t, testOptions())
	a := h.member("g") // subscribes to orders
	a.join()
	syncAll(t, a)
	codes := commitCodes(t, h.do(commitRequest(9, "g", a.generation, a.id,
		commitPart{"orders", 0, 1, ""}, commitPart{"payments", 0, 2, ""}, commitPart{"payments", 1, 3, ""})))
	for _, c := range codes {
		wantCode(t, "commit", c, nil)
	}
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = "g"
	req.Topics = []kmsg.OffsetDeleteRequestTopic{
		{Topic: "orders", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
		{Topic: "payments", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}, {Partition: 5}}},
		{Topic: "nosuch", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
	}
	resp := h.do(req).(*kmsg.OffsetDeleteResponse)
	wantCode(t, "offset delete", resp.ErrorCode, nil)
	wantCode(t, "subscribed topic", resp.Topics[0].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic)
	wantCode(t, "unsubscribed topic", resp.Topics[1].Partitions[0].ErrorCode, nil)
	wantCode(t, "unknown partition", resp.Topics[1].Partitions[1].ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "unknown topic", resp.Topics[2].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
	if got := h.fetch("g"); got["orders"][0] != 1 || len(got["payments"]) != 1 || got["payments"][1] != 3 {
		t.Fatalf("after offset delete: %v", got)
	}
	// Once the group is empty everything may go.
	wantCode(t, "leave", a.leave(), nil)
	req.Topics = req.Topics[:1]
	resp = h.do(req).(*kmsg.OffsetDeleteResponse)
	wantCode(t, "offset delete in an empty group", resp.Topics[0].Partitions[0].ErrorCode, nil)
	if got := h.fetch("g"); len(got["orders"]) != 0 {
		t.Fatalf("orders offsets left: %v", got)
	}
	req.Group = "nosuch"
	wantCode(t, "unknown group", h.do(req).(*kmsg.OffsetDeleteResponse).ErrorCode, kerr.GroupIDNotFound)

	// A non-consumer group with members refuses.
	m := h.member("connect")
	jr := m.joinRequest()
	jr.ProtocolType = "connect"
	resp1 := h.do(jr).(*kmsg.JoinGroupResponse)
	jr.MemberID = resp1.MemberID
	if r := await[*kmsg.JoinGroupResponse](t, h.start(jr)); r.ErrorCode != 0 {
		t.Fatalf("connect join: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	req.Group = "connect"
	wantCode(t, "non-consumer group", h.do(req).(*kmsg.OffsetDeleteResponse).ErrorCode, kerr.NonEmptyGroup)
}

func TestCompactionKeepsLatestOffsets(t *testing.T) {
	dir := t.TempDir()
	l, err := log.Open(dir, log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.CreateTopic("orders", 3, nil); err != nil {
		t.Fatal(err)
	}
	const offsetsTopic = "offsets.small"
	if _, err := l.CreateTopic(offsetsTopic, 1, map[string]string{log.ConfigCleanupPolicy: log.CleanupCompact, log.ConfigSegmentBytes: "1024"}); err != nil {
		t.Fatal(err)
	}
	opts := testOptions()
	opts.OffsetsTopic = offsetsTopic
	c, err := NewCoordinator(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range int64(200) {
		if err := c.ResetOffsets(ctx, "g", map[string]map[int32]int64{"orders": {int32(i % 3): i}}); err != nil {
			t.Fatal(err)
		}
	}
	tp, _ := l.Topic(offsetsTopic)
	before := tp.Partitions()[0].Offsets()
	if err := l.Clean(ctx); err != nil {
		t.Fatal(err)
	}
	if after := tp.Partitions()[0].Offsets(); after.Size >= before.Size {
		t.Fatalf("compaction did not shrink the offsets topic: %d -> %d bytes", before.Size, after.Size)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = log.Open(dir, log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err = NewCoordinator(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.CommittedOffsets("g")["orders"]; got[0] != 198 || got[1] != 199 || got[2] != 197 {
		t.Fatalf("after compaction and restart: %v", got)
	}
}

func TestOffsetsTopicMustBeCompacted(t *testing.T) {
	l, err := log.Open(t.TempDir(), log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.CreateTopic("plain", 1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCoordinator(l, Options{OffsetsTopic: "plain"}); !errors.Is(err, ErrOffsetsTopic) {
		t.Fatalf("NewCoordinator over a delete-policy topic: %v", err)
	}
	c, err := NewCoordinator(l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tp, err := l.Topic(DefaultOffsetsTopic)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := tp.Config(); !cfg.Compact || cfg.Delete || tp.NumPartitions() != 1 {
		t.Fatalf("created offsets topic: policy %s, %d partitions", cfg.CleanupPolicy(), tp.NumPartitions())
	}
}
