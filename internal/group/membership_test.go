package group

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestJoinMemberIDRequired(t *testing.T) {
	h := newHarness(t, testOptions())
	m := h.member("g")
	req := m.joinRequest()
	resp := h.do(req).(*kmsg.JoinGroupResponse)
	wantCode(t, "first join", resp.ErrorCode, kerr.MemberIDRequired)
	if resp.MemberID == "" || resp.Generation != -1 {
		t.Fatalf("MEMBER_ID_REQUIRED response: member %q generation %d", resp.MemberID, resp.Generation)
	}
	// The group exists (the id is pending) but has no member yet.
	if d := h.describe("g"); d.State != "Empty" || len(d.Members) != 0 {
		t.Fatalf("after MEMBER_ID_REQUIRED: %s with %d members", d.State, len(d.Members))
	}
	m.id = resp.MemberID
	joined := m.join()
	if joined.Generation != 1 || joined.LeaderID != m.id || joined.MemberID != m.id {
		t.Fatalf("join: generation %d leader %q member %q, want 1 and %q", joined.Generation, joined.LeaderID, joined.MemberID, m.id)
	}
	if len(joined.Members) != 1 || joined.Members[0].MemberID != m.id ||
		!bytes.Equal(joined.Members[0].ProtocolMetadata, req.Protocols[0].Metadata) {
		t.Fatalf("leader's member list: %+v", joined.Members)
	}
	if *joined.Protocol != "range" || *joined.ProtocolType != consumerProtocolType {
		t.Fatalf("protocol %q type %q", *joined.Protocol, *joined.ProtocolType)
	}
	sync := m.finishSync(m.startSync(m.assignAll()))
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(sync.MemberAssignment); err != nil || len(a.Topics) != 1 || len(a.Topics[0].Partitions) != 3 {
		t.Fatalf("assignment %+v (%v)", a, err)
	}
	if d := h.describe("g"); d.State != "Stable" || d.Protocol != "range" {
		t.Fatalf("after sync: %s, protocol %q", d.State, d.Protocol)
	}

	// Before v4 a join without an id is a member at once.
	old := h.member("g3")
	old.v.join = 3
	if r := old.join(); r.MemberID == "" || r.Generation != 1 {
		t.Fatalf("v3 join: member %q generation %d", r.MemberID, r.Generation)
	}
}

func TestPendingMemberMustRejoinInTime(t *testing.T) {
	h := newHarness(t, testOptions())
	a := h.member("g")
	a.join()
	syncAll(t, a)

	// b gets its id but never comes back: the rebalance the leader starts
	// waits for b's pending id until b's session timeout passes.
	b := h.member("g")
	b.session = 300 * time.Millisecond
	resp := h.do(b.joinRequest()).(*kmsg.JoinGroupResponse)
	wantCode(t, "b's first join", resp.ErrorCode, kerr.MemberIDRequired)
	start := time.Now()
	ch := a.startJoin() // the leader rejoining starts a rebalance
	pendingFor(t, ch, 100*time.Millisecond)
	r := a.finishJoin(ch)
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("join phase ended after %v, before the pending member's session timeout", waited)
	}
	if r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("generation %d with %d members, want 2 with 1", r.Generation, len(r.Members))
	}
	// b's id is gone: rejoining with it is refused.
	b.id = resp.MemberID
	late := h.do(b.joinRequest()).(*kmsg.JoinGroupResponse)
	wantCode(t, "late rejoin", late.ErrorCode, kerr.UnknownMemberID)
}

// TestRebalance: a second and a third member join a stable group; the
// others learn of it through heartbeats, rejoin, and a new generation
// forms with the leader's assignment delivered to followers.
func TestRebalance(t *testing.T) {
	h := newHarness(t, testOptions())
	a := h.member("g")
	a.join()
	syncAll(t, a)
	wantCode(t, "a's heartbeat", a.heartbeat(), nil)

	b := h.member("g")
	bJoin := b.startJoin()
	h.waitState("g", "PreparingRebalance")
	pendingFor(t, bJoin, 50*time.Millisecond) // waits for a to rejoin
	wantCode(t, "a's heartbeat during rebalance", a.heartbeat(), kerr.RebalanceInProgress)
	aResp := a.join()
	bResp := b.finishJoin(bJoin)
	if aResp.Generation != 2 || bResp.Generation != 2 {
		t.Fatalf("generations %d and %d, want 2", aResp.Generation, bResp.Generation)
	}
	if aResp.LeaderID != a.id || bResp.LeaderID != a.id {
		t.Fatalf("leader %q / %q, want a %q", aResp.LeaderID, bResp.LeaderID, a.id)
	}
	if len(aResp.Members) != 2 || len(bResp.Members) != 0 {
		t.Fatalf("leader got %d members, follower %d; want 2 and 0", len(aResp.Members), len(bResp.Members))
	}
	// The follower's SyncGroup waits for the leader's.
	bSync := b.startSync(nil)
	pendingFor(t, bSync, 50*time.Millisecond)
	wantCode(t, "b's heartbeat while syncing", b.heartbeat(), nil)
	aSync := a.startSync(a.assignAll())
	a.finishSync(aSync)
	b.finishSync(bSync)
	var got kmsg.ConsumerMemberAssignment
	if err := got.ReadFrom(b.assignment); err != nil || len(got.Topics) != 1 || !slices.Equal(got.Topics[0].Partitions, []int32{1}) {
		t.Fatalf("b's assignment %+v (%v), want orders [1]", got, err)
	}

	// A third member: both existing members must rejoin.
	c := h.member("g")
	cJoin := c.startJoin()
	h.waitState("g", "PreparingRebalance")
	wantCode(t, "a's heartbeat", a.heartbeat(), kerr.RebalanceInProgress)
	wantCode(t, "b's heartbeat", b.heartbeat(), kerr.RebalanceInProgress)
	// A SyncGroup of the old generation is refused during the rebalance.
	stale := await[*kmsg.SyncGroupResponse](t, b.startSync(nil))
	wantCode(t, "sync during rebalance", stale.ErrorCode, kerr.RebalanceInProgress)
	aJoin, bJoin2 := a.startJoin(), b.startJoin()
	for _, r := range []*kmsg.JoinGroupResponse{a.finishJoin(aJoin), b.finishJoin(bJoin2), c.finishJoin(cJoin)} {
		if r.Generation != 3 {
			t.Fatalf("generation %d, want 3", r.Generation)
		}
	}
	syncAll(t, a, b, c)
	if d := h.describe("g"); d.State != "Stable" || len(d.Members) != 3 {
		t.Fatalf("%s with %d members", d.State, len(d.Members))
	}
	// Heartbeats of the old generation are refused.
	a.generation = 2
	wantCode(t, "stale heartbeat", a.heartbeat(), kerr.IllegalGeneration)
}

func TestSessionExpiry(t *testing.T) {
	h := newHarness(t, Options{MinSessionTimeout: 50 * time.Millisecond, MaxSessionTimeout: time.Minute, InitialRebalanceDelay: 100 * time.Millisecond})
	a, b := h.member("g"), h.member("g")
	a.session, b.session = 300*time.Millisecond, 300*time.Millisecond
	formGroup(t, a, b)

	// a heartbeats, b does not: b is removed after its session timeout
	// and a is told to rejoin.
	start := time.Now()
	for {
		code := a.heartbeat()
		if code == kerr.RebalanceInProgress.Code {
			break
		}
		wantCode(t, "a's heartbeat", code, nil)
		if time.Since(start) > waitLimit {
			t.Fatal("b never expired")
		}
		time.Sleep(30 * time.Millisecond)
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Fatalf("b expired after %v, before its 300ms session timeout", took)
	}
	r := a.join()
	if len(r.Members) != 1 || r.Members[0].MemberID != a.id {
		t.Fatalf("after b expired: members %+v", r.Members)
	}
	syncAll(t, a)
	wantCode(t, "b's heartbeat", b.heartbeat(), kerr.UnknownMemberID)

	// Then a stops too: the group empties.
	eventually(t, "group empties", func() bool { return h.describe("g").State == "Empty" })
}

func TestRebalanceTimeoutRemovesMembersThatDoNotRejoin(t *testing.T) {
	h := newHarness(t, Options{MinSessionTimeout: 50 * time.Millisecond, MaxSessionTimeout: time.Minute, InitialRebalanceDelay: 100 * time.Millisecond})
	a, b := h.member("g"), h.member("g")
	a.rebalance, b.rebalance = 400*time.Millisecond, 400*time.Millisecond
	formGroup(t, a, b)

	c := h.member("g")
	c.rebalance = 400 * time.Millisecond
	start := time.Now()
	cJoin := c.startJoin()
	h.waitState("g", "PreparingRebalance")
	aJoin := a.startJoin() // b keeps heartbeating but never rejoins
	wantCode(t, "b's heartbeat", b.heartbeat(), kerr.RebalanceInProgress)
	ar, cr := a.finishJoin(aJoin), c.finishJoin(cJoin)
	if took := time.Since(start); took < 350*time.Millisecond {
		t.Fatalf("join phase ended after %v, before the rebalance timeout", took)
	}
	if ar.Generation != 2 || cr.Generation != 2 || len(ar.Members) != 2 {
		t.Fatalf("generation %d/%d with %d members", ar.Generation, cr.Generation, len(ar.Members))
	}
	for _, jm := range ar.Members {
		if jm.MemberID == b.id {
			t.Fatal("b is still a member")
		}
	}
	wantCode(t, "b's heartbeat", b.heartbeat(), kerr.UnknownMemberID)
	syncAll(t, a, c)
}

func TestSyncTimeoutRemovesMembersThatDoNotSync(t *testing.T) {
	h := newHarness(t, Options{MinSessionTimeout: 50 * time.Millisecond, MaxSessionTimeout: time.Minute, InitialRebalanceDelay: 100 * time.Millisecond})
	a, b := h.member("g"), h.member("g")
	a.rebalance, b.rebalance = 300*time.Millisecond, 300*time.Millisecond
	aJoin, bJoin := a.startJoin(), b.startJoin()
	a.finishJoin(aJoin)
	b.finishJoin(bJoin)
	leader, follower := a, b
	if b.id == b.leader {
		leader, follower = b, a
	}
	// Only the leader syncs; the follower never does and is removed.
	leader.finishSync(leader.startSync(leader.assignAll()))
	eventually(t, "the leader is told to rejoin", func() bool {
		return leader.heartbeat() == kerr.RebalanceInProgress.Code
	})
	r := leader.join()
	if len(r.Members) != 1 {
		t.Fatalf("%d members after the follower failed to sync", len(r.Members))
	}
	wantCode(t, "follower's heartbeat", follower.heartbeat(), kerr.UnknownMemberID)
}

func TestInitialRebalanceDelayGathersMembers(t *testing.T) {
	h := newHarness(t, Options{MinSessionTimeout: 50 * time.Millisecond, MaxSessionTimeout: time.Minute, InitialRebalanceDelay: 200 * time.Millisecond})
	ms := []*testMember{h.member("g"), h.member("g"), h.member("g")}
	formGroup(t, ms...)
	for _, m := range ms {
		if m.generation != 1 {
			t.Fatalf("generation %d, want all three in generation 1", m.generation)
		}
	}
}

func TestLeaveGroup(t *testing.T) {
	h := newHarness(t, Options{MinSessionTimeout: 50 * time.Millisecond, MaxSessionTimeout: time.Minute, InitialRebalanceDelay: 100 * time.Millisecond})
	a, b, c := h.member("g"), h.member("g"), h.member("g")
	b.v.leave = 2 // single-member shape
	formGroup(t, a, b, c)
	wantCode(t, "b leaves", b.leave(), nil)
	wantCode(t, "a's heartbeat", a.heartbeat(), kerr.RebalanceInProgress)
	aJoin, cJoin := a.startJoin(), c.startJoin()
	a.finishJoin(aJoin)
	c.finishJoin(cJoin)
	syncAll(t, a, c)
	wantCode(t, "b leaves again", b.leave(), kerr.UnknownMemberID)

	// v3+: a batch, with a per-member error for an unknown member.
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = 5
	req.Group = "g"
	req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: a.id, Reason: kmsg.StringPtr("shutting down")}, {MemberID: "nobody"}, {MemberID: c.id}}
	resp := h.do(req).(*kmsg.LeaveGroupResponse)
	wantCode(t, "batch leave", resp.ErrorCode, nil)
	if len(resp.Members) != 3 {
		t.Fatalf("%d member results", len(resp.Members))
	}
	for i, want := range []*kerr.Error{nil, kerr.UnknownMemberID, nil} {
		wantCode(t, "member "+resp.Members[i].MemberID, resp.Members[i].ErrorCode, want)
	}
	d := h.describe("g")
	if d.State != "Empty" || len(d.Members) != 0 {
		t.Fatalf("after everyone left: %s with %d members", d.State, len(d.Members))
	}
	// Leaving a group that does not exist.
	req.Group = "nosuch"
	resp = h.do(req).(*kmsg.LeaveGroupResponse)
	wantCode(t, "unknown group", resp.Members[0].ErrorCode, kerr.UnknownMemberID)
	req.Version = 1
	req.MemberID = "x"
	resp = h.do(req).(*kmsg.LeaveGroupResponse)
	wantCode(t, "unknown group v1", resp.ErrorCode, kerr.UnknownMemberID)
}

func TestLeaderLeavesDuringSync(t *testing.T) {
	h := newHarness(t, Options{MinSessionTimeout: 50 * time.Millisecond, MaxSessionTimeout: time.Minute, InitialRebalanceDelay: 100 * time.Millisecond})
	a, b := h.member("g"), h.member("g")
	aJoin, bJoin := a.startJoin(), b.startJoin()
	a.finishJoin(aJoin)
	b.finishJoin(bJoin)
	leader, follower := a, b
	if b.id == b.leader {
		leader, follower = b, a
	}
	fSync := follower.startSync(nil)
	pendingFor(t, fSync, 50*time.Millisecond)
	wantCode(t, "leader leaves", leader.leave(), nil)
	r := await[*kmsg.SyncGroupResponse](t, fSync)
	wantCode(t, "follower's sync", r.ErrorCode, kerr.RebalanceInProgress)
	j := follower.join()
	if j.LeaderID != follower.id || len(j.Members) != 1 {
		t.Fatalf("new leader %q with %d members", j.LeaderID, len(j.Members))
	}
}

func TestJoinValidation(t *testing.T) {
	h := newHarness(t, testOptions())
	m := h.member("g")
	m.session = 10 * time.Millisecond
	r := h.do(m.joinRequest()).(*kmsg.JoinGroupResponse)
	wantCode(t, "short session", r.ErrorCode, kerr.InvalidSessionTimeout)
	m.session = 2 * time.Minute
	r = h.do(m.joinRequest()).(*kmsg.JoinGroupResponse)
	wantCode(t, "long session", r.ErrorCode, kerr.InvalidSessionTimeout)
	m.session = time.Second
	m.group = ""
	r = h.do(m.joinRequest()).(*kmsg.JoinGroupResponse)
	wantCode(t, "empty group id", r.ErrorCode, kerr.InvalidGroupID)
	m.group = "g"
	req := m.joinRequest()
	req.Protocols = nil
	r = h.do(req).(*kmsg.JoinGroupResponse)
	wantCode(t, "no protocols", r.ErrorCode, kerr.InconsistentGroupProtocol)
	// A failed first join leaves no group behind.
	if d := h.describe("g"); d.State != "Dead" {
		t.Fatalf("group after failed join: %s", d.State)
	}
	m.id = "unknown-member"
	r = h.do(m.joinRequest()).(*kmsg.JoinGroupResponse)
	wantCode(t, "unknown member, unknown group", r.ErrorCode, kerr.UnknownMemberID)

	m.id = ""
	m.join()
	syncAll(t, m)
	other := h.member("g")
	other.protocols = []string{"roundrobin"}
	r = h.do(other.joinRequest()).(*kmsg.JoinGroupResponse)
	wantCode(t, "no common protocol", r.ErrorCode, kerr.InconsistentGroupProtocol)
	req = other.joinRequest()
	req.ProtocolType = "connect"
	req.Protocols[0].Name = "range"
	r = h.do(req).(*kmsg.JoinGroupResponse)
	wantCode(t, "other protocol type", r.ErrorCode, kerr.InconsistentGroupProtocol)
	// Rejoining with an unknown member id.
	other.protocols = []string{"range"}
	other.id = "made-up"
	r = h.do(other.joinRequest()).(*kmsg.JoinGroupResponse)
	wantCode(t, "made-up member id", r.ErrorCode, kerr.UnknownMemberID)
}

func TestProtocolChosenByVote(t *testing.T) {
	h := newHarness(t, Options{MinSessionTimeout: 50 * time.Millisecond, MaxSessionTimeout: time.Minute, InitialRebalanceDelay: 200 * time.Millisecond})
	a, b, c := h.member("g"), h.member("g"), h.member("g")
	a.protocols = []string{"range", "roundrobin", "sticky"}
	b.protocols = []string{"roundrobin", "range"}
	c.protocols = []string{"roundrobin", "sticky", "range"}
	formGroup(t, a, b, c)
	if a.protocol != "roundrobin" || b.protocol != "roundrobin" {
		t.Fatalf("chose %q, want roundrobin (two votes to one)", a.protocol)
	}
}

func TestFollowerRejoinWithSameMetadata(t *testing.T) {
	h := newHarness(t, Options{MinSessionTimeout: 50 * time.Millisecond, MaxSessionTimeout: time.Minute, InitialRebalanceDelay: 100 * time.Millisecond})
	a, b := h.member("g"), h.member("g")
	formGroup(t, a, b)
	follower := a
	if a.id == a.leader {
		follower = b
	}
	// A follower rejoining with nothing new gets the current generation
	// back without a rebalance.
	r := follower.join()
	if r.Generation != 1 || len(r.Members) != 0 {
		t.Fatalf("generation %d, %d members", r.Generation, len(r.Members))
	}
	if s := follower.finishSync(follower.startSync(nil)); len(s.MemberAssignment) == 0 {
		t.Fatal("no assignment returned by SyncGroup in Stable")
	}
	if d := h.describe("g"); d.State != "Stable" {
		t.Fatalf("state %s", d.State)
	}
	// With new metadata it triggers a rebalance.
	follower.topics = []string{"orders", "payments"}
	ch := follower.startJoin()
	h.waitState("g", "PreparingRebalance")
	other := a
	if other == follower {
		other = b
	}
	wantCode(t, "other's heartbeat", other.heartbeat(), kerr.RebalanceInProgress)
	oj := other.startJoin()
	follower.finishJoin(ch)
	other.finishJoin(oj)
	syncAll(t, a, b)
}

func TestStaticMembership(t *testing.T) {
	h := newHarness(t, Options{MinSessionTimeout: 50 * time.Millisecond, MaxSessionTimeout: time.Minute, InitialRebalanceDelay: 100 * time.Millisecond})
	a, b := h.member("g"), h.member("g")
	a.instance, b.instance = kmsg.StringPtr("instance-a"), kmsg.StringPtr("instance-b")
	// Static members need no MEMBER_ID_REQUIRED round trip.
	formGroup(t, a, b)
	if !strings.HasPrefix(a.id, "instance-a-") {
		t.Fatalf("static member id %q", a.id)
	}
	d := h.describe("g")
	for _, m := range d.Members {
		if m.InstanceID == nil {
			t.Fatalf("member %s without its instance id", m.MemberID)
		}
	}
	follower := a
	if a.id == a.leader {
		follower = b
	}
	// The follower restarts: it rejoins without a member id and takes its
	// place back with a new one, with no rebalance.
	oldID, oldAssignment := follower.id, follower.assignment
	follower.id = ""
	r := follower.join()
	if r.MemberID == oldID || r.Generation != 1 {
		t.Fatalf("rejoined as %q in generation %d", r.MemberID, r.Generation)
	}
	s := follower.finishSync(follower.startSync(nil))
	if !bytes.Equal(s.MemberAssignment, oldAssignment) {
		t.Fatal("assignment lost across the static member's restart")
	}
	if d := h.describe("g"); d.State != "Stable" || len(d.Members) != 2 {
		t.Fatalf("%s with %d members", d.State, len(d.Members))
	}
	// The old member id is fenced.
	stale := *follower
	stale.id = oldID
	wantCode(t, "old member id", stale.heartbeat(), kerr.FencedInstanceID)
	wantCode(t, "new member id", follower.heartbeat(), nil)
	// An admin removes the static member by instance id alone.
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = 4
	req.Group = "g"
	req.Members = []kmsg.LeaveGroupRequestMember{{InstanceID: follower.instance}}
	resp := h.do(req).(*kmsg.LeaveGroupResponse)
	wantCode(t, "leave by instance id", resp.Members[0].ErrorCode, nil)
	if resp.Members[0].MemberID != follower.id {
		t.Fatalf("left as %q, want %q", resp.Members[0].MemberID, follower.id)
	}
}

func TestCloseAnswersWaitingRequests(t *testing.T) {
	h := newHarness(t, Options{MinSessionTimeout: 50 * time.Millisecond, MaxSessionTimeout: time.Minute, InitialRebalanceDelay: time.Minute})
	m := h.member("g")
	ch := m.startJoin() // waits out the initial delay
	h.waitState("g", "PreparingRebalance")
	if err := h.c.Close(); err != nil {
		t.Fatal(err)
	}
	r := await[*kmsg.JoinGroupResponse](t, ch)
	wantCode(t, "parked join at close", r.ErrorCode, kerr.NotCoordinator)
	// Requests after Close.
	hbReq := kmsg.NewPtrHeartbeatRequest()
	hbReq.Group = "g"
	hb := h.do(hbReq).(*kmsg.HeartbeatResponse)
	wantCode(t, "heartbeat after close", hb.ErrorCode, kerr.CoordinatorNotAvailable)
	codes := h.commit(9, "g", -1, "", nil, "orders", map[int32]int64{0: 1})
	wantCode(t, "commit after close", codes[0], kerr.CoordinatorNotAvailable)
	if err := h.c.Close(); err == nil {
		t.Fatal("second Close succeeded")
	}
	if err := h.log.Close(); err != nil {
		t.Fatal(err)
	}
	h.c = nil
}
