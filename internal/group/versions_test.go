package group

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestEveryVersion runs a group's life once per JoinGroup version, each
// other request at the same version or its highest, so that every version
// of every request is served (through the wire encoding both ways).
func TestEveryVersion(t *testing.T) {
	h := newHarness(t, testOptions())
	parent := h.t
	defer func() { h.t = parent }()
	for v := range int16(10) {
		clamp := func(max int16) int16 { return min(v, max) }
		vs := versions{join: v, sync: clamp(5), heartbeat: clamp(4), leave: clamp(5), commit: v, fetch: clamp(8)}
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			h.t = t
			group := fmt.Sprintf("g%d", v)
			m := h.member(group)
			m.v = vs
			m.join()
			if m.generation != 1 || m.leader != m.id {
				t.Fatalf("generation %d, leader %q", m.generation, m.leader)
			}
			syncAll(t, m)
			wantCode(t, "heartbeat", m.heartbeat(), nil)

			// v0 commits carry no member: they are simple commits, which
			// an active group refuses.
			want := (*kerr.Error)(nil)
			if vs.commit == 0 {
				want = kerr.UnknownMemberID
			}
			wantCode(t, "commit", m.commit(map[int32]int64{0: 42, 2: 44})[0], want)
			if vs.commit == 0 {
				codes := h.commit(0, group+"-simple", -1, "", nil, "orders", map[int32]int64{0: 42, 2: 44})
				wantCode(t, "simple commit", codes[0], nil)
			}
			fetchGroup := group
			if vs.commit == 0 {
				fetchGroup += "-simple"
			}
			checkFetch(t, h, vs.fetch, fetchGroup)

			d := kmsg.NewPtrDescribeGroupsRequest()
			d.Version = clamp(5)
			d.Groups = []string{group}
			dg := h.do(d).(*kmsg.DescribeGroupsResponse).Groups[0]
			if dg.State != "Stable" || len(dg.Members) != 1 || dg.Members[0].MemberID != m.id {
				t.Fatalf("describe: %+v", dg)
			}
			if got := listGroups(t, h, clamp(5), nil, nil); got[group].Group != group {
				t.Fatalf("list: %v", got)
			}
			wantCode(t, "leave", m.leave(), nil)

			od := kmsg.NewPtrOffsetDeleteRequest()
			od.Group = fetchGroup
			od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "orders", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 2}}}}
			odr := h.do(od).(*kmsg.OffsetDeleteResponse)
			wantCode(t, "offset delete", odr.ErrorCode, nil)
			wantCode(t, "offset delete partition", odr.Topics[0].Partitions[0].ErrorCode, nil)

			dl := kmsg.NewPtrDeleteGroupsRequest()
			dl.Version = clamp(2)
			dl.Groups = []string{fetchGroup}
			wantCode(t, "delete group", h.do(dl).(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode, nil)
		})
	}
}

// checkFetch checks group's offsets of orders 0 and 2 (42 and 44) through
// OffsetFetch of the given version, asking for named partitions and, from
// v2, for all.
func checkFetch(t *testing.T, h *harness, version int16, group string) {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = version
	topics := []kmsg.OffsetFetchRequestTopic{{Topic: "orders", Partitions: []int32{0, 1, 2}}}
	var asks [][]kmsg.OffsetFetchRequestTopic
	asks = append(asks, topics)
	if version >= 2 {
		asks = append(asks, nil)
	}
	for _, ask := range asks {
		got := make(map[int32]int64)
		if version >= 8 {
			g := kmsg.NewOffsetFetchRequestGroup()
			g.Group = group
			for _, t := range ask {
				g.Topics = append(g.Topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t.Topic, Partitions: t.Partitions})
			}
			req.Groups = []kmsg.OffsetFetchRequestGroup{g}
			resp := h.do(req).(*kmsg.OffsetFetchResponse)
			wantCode(t, "fetch group", resp.Groups[0].ErrorCode, nil)
			for _, rt := range resp.Groups[0].Topics {
				for _, p := range rt.Partitions {
					got[p.Partition] = p.Offset
				}
			}
		} else {
			req.Group = group
			req.Topics = ask
			resp := h.do(req).(*kmsg.OffsetFetchResponse)
			wantCode(t, "fetch", resp.ErrorCode, nil)
			for _, rt := range resp.Topics {
				for _, p := range rt.Partitions {
					got[p.Partition] = p.Offset
				}
			}
		}
		want := map[int32]int64{0: 42, 1: -1, 2: 44}
		if ask == nil {
			delete(want, 1) // "all" lists committed offsets only
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("fetch v%d (all=%v): %v, want %v", version, ask == nil, got, want)
		}
	}
}

func TestUnsupportedRequests(t *testing.T) {
	h := newHarness(t, testOptions())
	ctx := context.Background()
	if _, err := h.c.Handle(ctx, kmsg.NewPtrMetadataRequest()); !errors.Is(err, ErrUnsupportedRequest) {
		t.Fatalf("metadata request: %v", err)
	}
	for _, req := range []kmsg.Request{kmsg.NewPtrOffsetFetchRequest(), kmsg.NewPtrOffsetCommitRequest(), kmsg.NewPtrDescribeGroupsRequest()} {
		req.SetVersion(req.MaxVersion())
		if req.MaxVersion() <= maxVersions[req.Key()] {
			continue // kmsg knows no newer version to refuse
		}
		if _, err := h.c.Handle(ctx, req); !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
		}
	}
}
