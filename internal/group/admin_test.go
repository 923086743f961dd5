package group

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func listGroups(t *testing.T, h *harness, version int16, states, types []string) map[string]kmsg.ListGroupsResponseGroup {
	t.Helper()
	req := kmsg.NewPtrListGroupsRequest()
	req.Version = version
	req.StatesFilter = states
	req.TypesFilter = types
	resp := h.do(req).(*kmsg.ListGroupsResponse)
	wantCode(t, "list groups", resp.ErrorCode, nil)
	out := make(map[string]kmsg.ListGroupsResponseGroup)
	for _, g := range resp.Groups {
		out[g.Group] = g
	}
	return out
}

func TestDescribeListDeleteGroups(t *testing.T) {
	h := newHarness(t, testOptions())
	a := h.member("stable")
	a.join()
	syncAll(t, a)
	if err := h.c.ResetOffsets(context.Background(), "offsets-only", map[string]map[int32]int64{"orders": {0: 3}}); err != nil {
		t.Fatal(err)
	}

	// DescribeGroups: a stable group shows its members' metadata and
	// assignments; a group Kafka does not know is Dead, without error.
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Version = 5
	req.Groups = []string{"stable", "offsets-only", "nosuch"}
	req.IncludeAuthorizedOperations = true
	resp := h.do(req).(*kmsg.DescribeGroupsResponse)
	st, oo, dead := resp.Groups[0], resp.Groups[1], resp.Groups[2]
	if st.State != "Stable" || st.ProtocolType != consumerProtocolType || st.Protocol != "range" || len(st.Members) != 1 {
		t.Fatalf("stable group: %+v", st)
	}
	sm := st.Members[0]
	if sm.MemberID != a.id || sm.ClientID != "test-client" || sm.ClientHost != "/127.0.0.1" || len(sm.ProtocolMetadata) == 0 || len(sm.MemberAssignment) == 0 {
		t.Fatalf("stable member: %+v", sm)
	}
	if !strings.HasPrefix(a.id, "test-client-") {
		t.Fatalf("member id %q is not the client id and a UUID", a.id)
	}
	if st.AuthorizedOperations != groupOperations {
		t.Fatalf("authorized operations %d", st.AuthorizedOperations)
	}
	if oo.State != "Empty" || len(oo.Members) != 0 || oo.ErrorCode != 0 {
		t.Fatalf("offsets-only group: %+v", oo)
	}
	if dead.State != "Dead" || dead.ErrorCode != 0 {
		t.Fatalf("unknown group: %+v", dead)
	}

	// ListGroups, with state (v4+, any case) and type (v5+) filters.
	all := listGroups(t, h, 0, nil, nil)
	if len(all) != 2 || all["stable"].ProtocolType != consumerProtocolType {
		t.Fatalf("list v0: %v", all)
	}
	if got := listGroups(t, h, 4, []string{"stable"}, nil); len(got) != 1 || got["stable"].GroupState != "Stable" {
		t.Fatalf("list stable: %v", got)
	}
	if got := listGroups(t, h, 4, []string{"Empty", "Dead"}, nil); len(got) != 1 || got["offsets-only"].GroupState != "Empty" {
		t.Fatalf("list empty: %v", got)
	}
	if got := listGroups(t, h, 5, nil, []string{"classic"}); len(got) != 2 || got["stable"].GroupType != "classic" {
		t.Fatalf("list classic: %v", got)
	}
	if got := listGroups(t, h, 5, nil, []string{"consumer"}); len(got) != 0 {
		t.Fatalf("list consumer (KIP-848) groups: %v", got)
	}

	// DeleteGroups: only empty groups; tombstones for their offsets.
	dreq := kmsg.NewPtrDeleteGroupsRequest()
	dreq.Version = 2
	dreq.Groups = []string{"stable", "offsets-only", "nosuch"}
	dresp := h.do(dreq).(*kmsg.DeleteGroupsResponse)
	wantCode(t, "delete a stable group", dresp.Groups[0].ErrorCode, kerr.NonEmptyGroup)
	wantCode(t, "delete an empty group", dresp.Groups[1].ErrorCode, nil)
	wantCode(t, "delete an unknown group", dresp.Groups[2].ErrorCode, kerr.GroupIDNotFound)
	if d := h.describe("offsets-only"); d.State != "Dead" {
		t.Fatalf("deleted group is %s", d.State)
	}
	if got := h.fetch("offsets-only"); len(got) != 0 {
		t.Fatalf("deleted group's offsets: %v", got)
	}
	raw := rawOffsetRecords(t, h.log, DefaultOffsetsTopic)
	k := kmsg.OffsetCommitKey{Version: 1, Group: "offsets-only", Topic: "orders", Partition: 0}
	if v, ok := raw[k]; !ok || v != nil {
		t.Fatalf("no tombstone for %+v (found %v, value %x)", k, ok, v)
	}
	h.reopen()
	if got := h.c.CommittedOffsets("offsets-only"); got != nil {
		t.Fatalf("deleted group's offsets after restart: %v", got)
	}
	if got := listGroups(t, h, 3, nil, nil); len(got) != 0 {
		t.Fatalf("groups after restart: %v", got)
	}
}

func TestGroupsSummary(t *testing.T) {
	h := newHarness(t, Options{MinSessionTimeout: 50 * time.Millisecond, MaxSessionTimeout: time.Minute, InitialRebalanceDelay: 100 * time.Millisecond})
	a, b := h.member("g"), h.member("g")
	a.instance = kmsg.StringPtr("static-a")
	formGroup(t, a, b)
	if err := h.c.ResetOffsets(context.Background(), "idle", map[string]map[int32]int64{"orders": {0: 1}}); err != nil {
		t.Fatal(err)
	}
	got := h.c.Groups()
	if len(got) != 2 || got[0].Group != "g" || got[1].Group != "idle" {
		t.Fatalf("groups: %+v", got)
	}
	g := got[0]
	if g.State != "Stable" || g.Protocol != "range" || g.ProtocolType != consumerProtocolType || g.Generation != 1 || len(g.Members) != 2 {
		t.Fatalf("summary: %+v", g)
	}
	var parts []int32
	for _, m := range g.Members {
		parts = append(parts, m.Assigned["orders"]...)
		if (m.MemberID == a.id) != (m.InstanceID == "static-a") {
			t.Fatalf("member %+v", m)
		}
	}
	slices.Sort(parts)
	if !slices.Equal(parts, []int32{0, 1, 2}) {
		t.Fatalf("assigned partitions %v", parts)
	}
	if got[1].State != "Empty" || len(got[1].Members) != 0 {
		t.Fatalf("idle group: %+v", got[1])
	}
}

func TestEmptyGroupIsForgotten(t *testing.T) {
	h := newHarness(t, testOptions())
	h.c.emptyGroupRetention = 100 * time.Millisecond // no group goroutine runs yet
	a, b := h.member("gone"), h.member("kept")
	for _, m := range []*testMember{a, b} {
		m.join()
		syncAll(t, m)
	}
	wantCode(t, "commit", b.commit(map[int32]int64{0: 1})[0], nil)
	wantCode(t, "a leaves", a.leave(), nil)
	wantCode(t, "b leaves", b.leave(), nil)
	// Both are Empty at first, as in Kafka; the one without offsets goes.
	if d := h.describe("gone"); d.State != "Empty" {
		t.Fatalf("group just emptied is %s", d.State)
	}
	eventually(t, "the empty group is forgotten", func() bool { return h.describe("gone").State == "Dead" })
	time.Sleep(150 * time.Millisecond)
	if d := h.describe("kept"); d.State != "Empty" {
		t.Fatalf("group with offsets is %s", d.State)
	}
	// A forgotten group can be created again.
	a.id = ""
	if r := a.join(); r.Generation != 1 {
		t.Fatalf("recreated group in generation %d", r.Generation)
	}
}
