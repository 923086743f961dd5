package group

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// The conformance scenarios run against the coordinator and, when
// TIDE_TEST_KAFKA_BOOTSTRAP names one (scripts/peers/up.sh starts one),
// against a real Apache Kafka broker, so that the error codes they expect
// are Kafka's and not this package's idea of them. They avoid what the
// two targets cannot share: timeouts below Kafka's 6s minimum session,
// pinned request versions (kgo picks the highest both sides speak, capped
// at the versions Handle serves), restarts.
var conformance = []struct {
	name string
	fn   func(t *testing.T, h *harness)
}{
	{"JoinSyncHeartbeat", scenarioJoinSyncHeartbeat},
	{"JoinErrors", scenarioJoinErrors},
	{"CommitCodes", scenarioCommitCodes},
	{"FetchShapes", scenarioFetchShapes},
	{"LeaveGroup", scenarioLeaveGroup},
	{"AdminCodes", scenarioAdminCodes},
	{"StaticMember", scenarioStaticMember},
	{"RebalanceCorners", scenarioRebalanceCorners},
	{"MoreAdminCodes", scenarioMoreAdminCodes},
}

const envKafkaBootstrap = "TIDE_TEST_KAFKA_BOOTSTRAP"

func TestConformance(t *testing.T) {
	bootstrap := os.Getenv(envKafkaBootstrap)
	for _, sc := range conformance {
		t.Run(sc.name, func(t *testing.T) {
			t.Run("tide", func(t *testing.T) { sc.fn(t, newHarness(t, testOptions())) })
			t.Run("kafka", func(t *testing.T) {
				if bootstrap == "" {
					msg := "!!! no Kafka broker to compare with: set " + envKafkaBootstrap + " (eval \"$(scripts/peers/up.sh)\")"
					if os.Getenv("CI") == "true" {
						t.Fatal(msg)
					}
					t.Skip(msg)
				}
				sc.fn(t, kafkaHarness(t, bootstrap))
			})
		})
	}
}

// kafkaHarness is a harness whose requests go to a Kafka broker, with two
// fresh topics named like the harness's orders and payments.
func kafkaHarness(t *testing.T, bootstrap string) *harness {
	t.Helper()
	vs := kversion.V4_4_0()
	for key, v := range maxVersions {
		vs.SetMaxKeyVersion(key, v)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(bootstrap), kgo.MaxVersions(vs), kgo.ClientID("test-client")}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf("-%d", time.Now().UnixNano())
	h := &harness{t: t, remote: cl, remoteOpts: opts, client: ClientInfo{ID: "test-client", Host: "/127.0.0.1"},
		orders: "tide-group-orders" + suffix, payments: "tide-group-payments" + suffix, suffix: suffix}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	create := kmsg.NewPtrCreateTopicsRequest()
	create.TimeoutMillis = 10000
	for name, n := range map[string]int32{h.orders: 3, h.payments: 2} {
		ct := kmsg.NewCreateTopicsRequestTopic()
		ct.Topic, ct.NumPartitions, ct.ReplicationFactor = name, n, 1
		create.Topics = append(create.Topics, ct)
	}
	resp, err := cl.Request(ctx, create)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range resp.(*kmsg.CreateTopicsResponse).Topics {
		if ct.ErrorCode != 0 {
			t.Fatalf("create %s: %v", ct.Topic, kerr.ErrorForCode(ct.ErrorCode))
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		del := kmsg.NewPtrDeleteTopicsRequest()
		del.TimeoutMillis = 10000
		del.TopicNames = []string{h.orders, h.payments}
		for _, name := range del.TopicNames {
			del.Topics = append(del.Topics, kmsg.DeleteTopicsRequestTopic{Topic: kmsg.StringPtr(name)})
		}
		_, _ = cl.Request(ctx, del)
		cl.Close()
	})
	// Wait until the broker's metadata has both topics with leaders.
	eventually(t, "topics have leaders", func() bool {
		md := kmsg.NewPtrMetadataRequest()
		md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(h.orders)}, {Topic: kmsg.StringPtr(h.payments)}}
		r, err := cl.Request(ctx, md)
		if err != nil {
			return false
		}
		for _, mt := range r.(*kmsg.MetadataResponse).Topics {
			if mt.ErrorCode != 0 || len(mt.Partitions) == 0 {
				return false
			}
			for _, p := range mt.Partitions {
				if p.Leader < 0 {
					return false
				}
			}
		}
		return true
	})
	return h
}

// joinInTurn makes a stable group of ms the way clients get there: each
// joins in turn, the members before it rejoin, the leader assigns.
func joinInTurn(t *testing.T, h *harness, ms ...*testMember) {
	t.Helper()
	for i, m := range ms {
		ch := m.startJoin()
		chans := []<-chan kmsg.Response{ch}
		if i > 0 {
			h.waitState(m.group, "PreparingRebalance")
			for _, prev := range ms[:i] {
				chans = append(chans, prev.startJoin())
			}
		}
		m.finishJoin(ch)
		for j, prev := range ms[:i] {
			prev.finishJoin(chans[j+1])
		}
		syncAll(t, ms[:i+1]...)
	}
}

func scenarioJoinSyncHeartbeat(t *testing.T, h *harness) {
	g := h.group("join")
	a := h.member(g)
	resp := h.do(a.joinRequest()).(*kmsg.JoinGroupResponse)
	wantCode(t, "first join", resp.ErrorCode, kerr.MemberIDRequired)
	if !strings.HasPrefix(resp.MemberID, "test-client-") {
		t.Fatalf("member id %q is not the client id and a UUID", resp.MemberID)
	}
	a.id = resp.MemberID
	if r := a.join(); r.Generation != 1 || r.LeaderID != a.id || len(r.Members) != 1 {
		t.Fatalf("first generation: %d, leader %q, %d members", r.Generation, r.LeaderID, len(r.Members))
	}
	syncAll(t, a)
	wantCode(t, "heartbeat", a.heartbeat(), nil)

	b := h.member(g)
	bJoin := b.startJoin()
	h.waitState(g, "PreparingRebalance")
	wantCode(t, "leader's heartbeat in a rebalance", a.heartbeat(), kerr.RebalanceInProgress)
	ar := a.join()
	br := b.finishJoin(bJoin)
	if ar.Generation != 2 || br.Generation != 2 || ar.LeaderID != a.id || br.LeaderID != a.id {
		t.Fatalf("second generation: %d/%d, leaders %q/%q", ar.Generation, br.Generation, ar.LeaderID, br.LeaderID)
	}
	if len(ar.Members) != 2 || len(br.Members) != 0 {
		t.Fatalf("leader sees %d members, follower %d", len(ar.Members), len(br.Members))
	}
	wantCode(t, "heartbeat after the join phase", b.heartbeat(), nil)
	bSync := b.startSync(nil)
	pendingFor(t, bSync, 100*time.Millisecond)
	a.finishSync(a.startSync(a.assignAll()))
	if s := b.finishSync(bSync); len(s.MemberAssignment) == 0 {
		t.Fatal("follower got no assignment")
	}
	// A SyncGroup in Stable returns the assignment again.
	if s := b.finishSync(b.startSync(nil)); len(s.MemberAssignment) == 0 {
		t.Fatal("no assignment from a SyncGroup in Stable")
	}

	stale := *a
	stale.generation = 1
	wantCode(t, "stale heartbeat", stale.heartbeat(), kerr.IllegalGeneration)
	staleSync := await[*kmsg.SyncGroupResponse](t, stale.startSync(nil))
	wantCode(t, "stale sync", staleSync.ErrorCode, kerr.IllegalGeneration)
	stranger := *a
	stranger.id = "stranger"
	wantCode(t, "unknown member's heartbeat", stranger.heartbeat(), kerr.UnknownMemberID)
	nosuch := h.member(h.group("nosuch"))
	nosuch.id, nosuch.generation = "m", 1
	wantCode(t, "heartbeat to an unknown group", nosuch.heartbeat(), kerr.UnknownMemberID)
	unknownSync := await[*kmsg.SyncGroupResponse](t, nosuch.startSync(nil))
	wantCode(t, "sync to an unknown group", unknownSync.ErrorCode, kerr.UnknownMemberID)
}

func scenarioJoinErrors(t *testing.T, h *harness) {
	g := h.group("joinerr")
	m := h.member(g)
	m.session = time.Millisecond
	wantCode(t, "1ms session", h.do(m.joinRequest()).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InvalidSessionTimeout)
	m.session = 10 * time.Second
	req := m.joinRequest()
	req.Protocols = nil
	wantCode(t, "no protocols", h.do(req).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InconsistentGroupProtocol)
	m.id = "made-up"
	wantCode(t, "member id for an unknown group", h.do(m.joinRequest()).(*kmsg.JoinGroupResponse).ErrorCode, kerr.UnknownMemberID)
	m.id = ""
	m.join()
	syncAll(t, m)
	other := h.member(g)
	other.protocols = []string{"roundrobin"}
	wantCode(t, "no common protocol", h.do(other.joinRequest()).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InconsistentGroupProtocol)
	req = h.member(g).joinRequest()
	req.ProtocolType = "connect"
	wantCode(t, "another protocol type", h.do(req).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InconsistentGroupProtocol)
	other.protocols, other.id = []string{"range"}, "made-up"
	wantCode(t, "made-up member id", h.do(other.joinRequest()).(*kmsg.JoinGroupResponse).ErrorCode, kerr.UnknownMemberID)
	if d := h.describe(g); d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("refused joins changed the group: %s with %d members", d.State, len(d.Members))
	}
}

func scenarioCommitCodes(t *testing.T, h *harness) {
	g := h.group("commit")
	a := h.member(g)
	a.join()
	syncAll(t, a)
	commit := func(group string, generation int32, member string) int16 {
		t.Helper()
		return commitCodes(t, h.do(commitRequest(9, group, generation, member, commitPart{h.orders, 0, 1, ""})))[0]
	}
	wantCode(t, "current generation", commit(g, a.generation, a.id), nil)
	wantCode(t, "stale generation", commit(g, a.generation-1, a.id), kerr.IllegalGeneration)
	wantCode(t, "unknown member", commit(g, a.generation, "stranger"), kerr.UnknownMemberID)
	wantCode(t, "simple commit to an active group", commit(g, -1, ""), kerr.UnknownMemberID)
	wantCode(t, "member commit to an unknown group", commit(h.group("nosuch"), 3, "m"), kerr.GroupIDNotFound)
	wantCode(t, "simple commit to a new group", commit(h.group("simple"), -1, ""), nil)
	if d := h.describe(h.group("simple")); d.State != "Empty" || d.ProtocolType != "" {
		t.Fatalf("simple group: %s, protocol type %q", d.State, d.ProtocolType)
	}

	// Kafka answers the partitions in its own order: match them by name.
	resp := h.do(commitRequest(9, g, a.generation, a.id,
		commitPart{h.orders, 1, 5, ""},
		commitPart{h.orders, 9, 5, ""},
		commitPart{h.orders, 2, 5, strings.Repeat("x", maxMetadataBytes+1)},
		commitPart{h.group("nosuch-topic"), 0, 5, ""},
	)).(*kmsg.OffsetCommitResponse)
	got := make(map[string]int16)
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			got[fmt.Sprintf("%s-%d", rt.Topic, rp.Partition)] = rp.ErrorCode
		}
	}
	for tp, want := range map[string]*kerr.Error{
		h.orders + "-1":                nil,
		h.orders + "-9":                kerr.UnknownTopicOrPartition,
		h.orders + "-2":                kerr.OffsetMetadataTooLarge,
		h.group("nosuch-topic") + "-0": kerr.UnknownTopicOrPartition,
	} {
		code, ok := got[tp]
		if !ok {
			t.Fatalf("no result for %s in %v", tp, got)
		}
		wantCode(t, tp, code, want)
	}

	b := h.member(g)
	bJoin := b.startJoin()
	h.waitState(g, "PreparingRebalance")
	wantCode(t, "commit while preparing", commit(g, a.generation, a.id), nil)
	a.join()
	b.finishJoin(bJoin)
	wantCode(t, "commit while completing", commit(g, a.generation, a.id), kerr.RebalanceInProgress)
	syncAll(t, a, b)
	wantCode(t, "commit when stable", commit(g, b.generation, b.id), nil)
}

func scenarioFetchShapes(t *testing.T, h *harness) {
	g := h.group("fetch")
	codes := commitCodes(t, h.do(commitRequest(9, g, -1, "", commitPart{h.orders, 0, 10, "m0"}, commitPart{h.payments, 1, 20, ""})))
	wantCode(t, "commit", codes[0], nil)
	wantCode(t, "commit", codes[1], nil)
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = g
	rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: h.orders, Partitions: []int32{0, 1}}}
	req.Groups = []kmsg.OffsetFetchRequestGroup{rg}
	resp := h.do(req).(*kmsg.OffsetFetchResponse)
	ps := resp.Groups[0].Topics[0].Partitions
	if ps[0].Offset != 10 || *ps[0].Metadata != "m0" || ps[0].LeaderEpoch != 7 {
		t.Fatalf("committed partition: %+v", ps[0])
	}
	if ps[1].Offset != -1 || ps[1].LeaderEpoch != -1 || ps[1].Metadata == nil || *ps[1].Metadata != "" || ps[1].ErrorCode != 0 {
		t.Fatalf("uncommitted partition: %+v", ps[1])
	}
	all := h.fetch(g)
	if len(all) != 2 || all[h.orders][0] != 10 || all[h.payments][1] != 20 {
		t.Fatalf("all offsets: %v", all)
	}
	if got := h.fetch(h.group("nosuch")); len(got) != 0 {
		t.Fatalf("unknown group: %v", got)
	}
}

func scenarioLeaveGroup(t *testing.T, h *harness) {
	g := h.group("leave")
	a, b := h.member(g), h.member(g)
	joinInTurn(t, h, a, b)
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = 5
	req.Group = g
	req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: b.id}, {MemberID: "nobody"}}
	resp := h.do(req).(*kmsg.LeaveGroupResponse)
	wantCode(t, "batch leave", resp.ErrorCode, nil)
	wantCode(t, "leaving member", resp.Members[0].ErrorCode, nil)
	wantCode(t, "unknown member", resp.Members[1].ErrorCode, kerr.UnknownMemberID)
	wantCode(t, "remaining member's heartbeat", a.heartbeat(), kerr.RebalanceInProgress)
	if r := a.join(); r.Generation != 3 || len(r.Members) != 1 {
		t.Fatalf("after the leave: generation %d with %d members", r.Generation, len(r.Members))
	}
	wantCode(t, "left member's heartbeat", b.heartbeat(), kerr.UnknownMemberID)
	req.Group = h.group("nosuch")
	resp = h.do(req).(*kmsg.LeaveGroupResponse)
	wantCode(t, "unknown group", resp.ErrorCode, nil)
	wantCode(t, "unknown group's member", resp.Members[0].ErrorCode, kerr.UnknownMemberID)
}

func scenarioAdminCodes(t *testing.T, h *harness) {
	active, idle := h.group("active"), h.group("idle")
	a := h.member(active) // subscribes to orders only
	a.join()
	syncAll(t, a)
	codes := commitCodes(t, h.do(commitRequest(9, active, a.generation, a.id, commitPart{h.orders, 0, 1, ""}, commitPart{h.payments, 0, 2, ""})))
	wantCode(t, "commit", codes[0], nil)
	wantCode(t, "commit", codes[1], nil)
	codes = commitCodes(t, h.do(commitRequest(9, idle, -1, "", commitPart{h.orders, 0, 1, ""})))
	wantCode(t, "idle commit", codes[0], nil)

	d := kmsg.NewPtrDescribeGroupsRequest()
	d.Version = 5
	d.Groups = []string{active, idle, h.group("nosuch")}
	dr := h.do(d).(*kmsg.DescribeGroupsResponse)
	byName := make(map[string]kmsg.DescribeGroupsResponseGroup)
	for _, dg := range dr.Groups {
		byName[dg.Group] = dg
	}
	if dg := byName[active]; dg.ErrorCode != 0 || dg.State != "Stable" || dg.Protocol != "range" || dg.ProtocolType != consumerProtocolType ||
		len(dg.Members) != 1 || dg.Members[0].ClientID != "test-client" || len(dg.Members[0].MemberAssignment) == 0 {
		t.Fatalf("active group: %+v", dg)
	}
	if dg := byName[idle]; dg.ErrorCode != 0 || dg.State != "Empty" || len(dg.Members) != 0 {
		t.Fatalf("idle group: %+v", dg)
	}
	if dg := byName[h.group("nosuch")]; dg.ErrorCode != 0 || dg.State != "Dead" {
		t.Fatalf("unknown group: %+v", dg)
	}

	l := kmsg.NewPtrListGroupsRequest()
	l.Version = 5
	l.StatesFilter = []string{"Empty"}
	found := false
	for _, lg := range h.do(l).(*kmsg.ListGroupsResponse).Groups {
		if lg.Group == active {
			t.Fatalf("stable group listed as Empty: %+v", lg)
		}
		if lg.Group == idle {
			found = lg.GroupState == "Empty" && lg.GroupType == "classic"
		}
	}
	if !found {
		t.Fatal("idle group not listed as an Empty classic group")
	}

	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = active
	od.Topics = []kmsg.OffsetDeleteRequestTopic{
		{Topic: h.orders, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
		{Topic: h.payments, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
	}
	odr := h.do(od).(*kmsg.OffsetDeleteResponse)
	wantCode(t, "offset delete", odr.ErrorCode, nil)
	wantCode(t, "subscribed topic", odr.Topics[0].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic)
	wantCode(t, "unsubscribed topic", odr.Topics[1].Partitions[0].ErrorCode, nil)
	if got := h.fetch(active); len(got[h.payments]) != 0 || got[h.orders][0] != 1 {
		t.Fatalf("after offset delete: %v", got)
	}
	od.Group = h.group("nosuch")
	wantCode(t, "offset delete in an unknown group", h.do(od).(*kmsg.OffsetDeleteResponse).ErrorCode, kerr.GroupIDNotFound)

	dg := kmsg.NewPtrDeleteGroupsRequest()
	dg.Version = 2
	dg.Groups = []string{active, idle, h.group("nosuch")}
	dgr := h.do(dg).(*kmsg.DeleteGroupsResponse)
	results := make(map[string]int16)
	for _, r := range dgr.Groups {
		results[r.Group] = r.ErrorCode
	}
	wantCode(t, "delete an active group", results[active], kerr.NonEmptyGroup)
	wantCode(t, "delete an idle group", results[idle], nil)
	wantCode(t, "delete an unknown group", results[h.group("nosuch")], kerr.GroupIDNotFound)
	if got := h.fetch(idle); len(got) != 0 {
		t.Fatalf("deleted group's offsets: %v", got)
	}
	if d := h.describe(idle); d.State != "Dead" {
		t.Fatalf("deleted group is %s", d.State)
	}
}

func scenarioStaticMember(t *testing.T, h *harness) {
	g := h.group("static")
	a, b := h.member(g), h.member(g)
	a.instance, b.instance = kmsg.StringPtr("a"+h.suffix), kmsg.StringPtr("b"+h.suffix)
	joinInTurn(t, h, a, b)
	follower := b
	if b.id == b.leader {
		follower = a
	}
	oldID, oldAssignment, generation := follower.id, follower.assignment, follower.generation
	follower.id = ""
	r := follower.join()
	if r.MemberID == oldID || r.Generation != generation {
		t.Fatalf("restarted static member: id %q generation %d (was %q, %d)", r.MemberID, r.Generation, oldID, generation)
	}
	if s := follower.finishSync(follower.startSync(nil)); string(s.MemberAssignment) != string(oldAssignment) {
		t.Fatal("restarted static member lost its assignment")
	}
	if d := h.describe(g); d.State != "Stable" {
		t.Fatalf("a static member's restart rebalanced the group: %s", d.State)
	}
	stale := *follower
	stale.id = oldID
	wantCode(t, "old member id", stale.heartbeat(), kerr.FencedInstanceID)
	wantCode(t, "new member id", follower.heartbeat(), nil)
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = 5
	req.Group = g
	req.Members = []kmsg.LeaveGroupRequestMember{{InstanceID: follower.instance}, {InstanceID: kmsg.StringPtr("nobody" + h.suffix)}}
	resp := h.do(req).(*kmsg.LeaveGroupResponse)
	wantCode(t, "leave by instance id", resp.Members[0].ErrorCode, nil)
	wantCode(t, "leave by unknown instance id", resp.Members[1].ErrorCode, kerr.UnknownMemberID)
}

func scenarioRebalanceCorners(t *testing.T, h *harness) {
	g := h.group("corners")
	a, b := h.member(g), h.member(g)
	joinInTurn(t, h, a, b)
	leader, follower := a, b
	if b.id == b.leader {
		leader, follower = b, a
	}
	// A follower rejoining with nothing new keeps the generation.
	if r := follower.join(); r.Generation != 2 || len(r.Members) != 0 {
		t.Fatalf("follower rejoin: generation %d, %d members", r.Generation, len(r.Members))
	}
	if d := h.describe(g); d.State != "Stable" {
		t.Fatalf("follower rejoin changed the group to %s", d.State)
	}
	// SyncGroup v5 naming another protocol.
	wrong := follower.syncRequest(nil)
	wrong.Protocol = kmsg.StringPtr("roundrobin")
	wantCode(t, "sync with another protocol", await[*kmsg.SyncGroupResponse](t, follower.h.start(wrong)).ErrorCode, kerr.InconsistentGroupProtocol)
	// The leader rejoining starts a rebalance even with the same metadata.
	lJoin := leader.startJoin()
	h.waitState(g, "PreparingRebalance")
	fJoin := follower.startJoin()
	leader.finishJoin(lJoin)
	follower.finishJoin(fJoin)
	if leader.generation != 3 {
		t.Fatalf("leader rejoin: generation %d", leader.generation)
	}
	// During CompletingRebalance a member that lost its JoinGroup
	// response asks again and gets the same generation.
	if r := follower.join(); r.Generation != 3 || r.LeaderID != leader.id {
		t.Fatalf("repeated join: generation %d leader %q", r.Generation, r.LeaderID)
	}
	wantCode(t, "heartbeat while completing", follower.heartbeat(), nil)
	// The leader leaves before assigning: the waiting follower must rejoin.
	fSync := follower.startSync(nil)
	pendingFor(t, fSync, 100*time.Millisecond)
	wantCode(t, "leader leaves", leader.leave(), nil)
	wantCode(t, "follower's sync", await[*kmsg.SyncGroupResponse](t, fSync).ErrorCode, kerr.RebalanceInProgress)
	if r := follower.join(); r.LeaderID != follower.id || len(r.Members) != 1 || r.Generation != 4 {
		t.Fatalf("after the leader left: leader %q, %d members, generation %d", r.LeaderID, len(r.Members), r.Generation)
	}
}

func scenarioMoreAdminCodes(t *testing.T, h *harness) {
	g := h.group("more")
	a := h.member(g)
	a.join()
	syncAll(t, a)
	// State filters ignore case.
	l := kmsg.NewPtrListGroupsRequest()
	l.Version = 5
	l.StatesFilter = []string{"stable"}
	found := false
	for _, lg := range h.do(l).(*kmsg.ListGroupsResponse).Groups {
		found = found || lg.Group == g
	}
	if !found {
		t.Fatal("a lower-case state filter did not match")
	}
	// A commit naming an instance id the group does not know.
	req := commitRequest(9, g, a.generation, a.id, commitPart{h.orders, 0, 1, ""})
	req.InstanceID = kmsg.StringPtr("not-registered" + h.suffix)
	wantCode(t, "unknown instance id", commitCodes(t, h.do(req))[0], kerr.UnknownMemberID)
	// OffsetDelete of an unknown topic in an active group.
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = g
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: h.group("nosuch-topic"), Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	odr := h.do(od).(*kmsg.OffsetDeleteResponse)
	wantCode(t, "offset delete", odr.ErrorCode, nil)
	wantCode(t, "unknown topic", odr.Topics[0].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
	// An active group of another protocol type refuses OffsetDelete.
	c := h.member(h.group("connect"))
	jr := c.joinRequest()
	jr.ProtocolType = "connect"
	first := h.do(jr).(*kmsg.JoinGroupResponse)
	jr.MemberID = first.MemberID
	wantCode(t, "connect join", await[*kmsg.JoinGroupResponse](t, c.h.start(jr)).ErrorCode, nil)
	od.Group = h.group("connect")
	od.Topics[0].Topic = h.orders
	wantCode(t, "non-consumer group", h.do(od).(*kmsg.OffsetDeleteResponse).ErrorCode, kerr.NonEmptyGroup)
	// A group with only a pending member id can be deleted.
	p := h.member(h.group("pending"))
	wantCode(t, "pending join", h.do(p.joinRequest()).(*kmsg.JoinGroupResponse).ErrorCode, kerr.MemberIDRequired)
	dg := kmsg.NewPtrDeleteGroupsRequest()
	dg.Version = 2
	dg.Groups = []string{h.group("pending")}
	wantCode(t, "delete a group with a pending member", h.do(dg).(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode, nil)
}
