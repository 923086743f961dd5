package group

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
)

// waitLimit bounds every wait in these tests; a hang fails instead of
// running into the test binary's timeout.
const waitLimit = 10 * time.Second

// harness is a coordinator over a log in a temporary directory with two
// topics, orders (3 partitions) and payments (2).
//
// do and start pass every request through kmsg's wire encoding and decode
// it again, as the listener does, and the response too, so that every
// version's shape is exercised. The harness is transport-agnostic in
// spirit: a listener test can drive the same member type over a socket by
// replacing do with a kgo.Client's Request.
type harness struct {
	t    *testing.T
	dir  string
	opts Options
	log  *log.Log
	c    *Coordinator
	// client is the connection every request claims to come from.
	client ClientInfo
	// remote, when set, is a client of a real Kafka broker that serves
	// the requests instead of c (see conformance_test.go); orders and
	// payments are then unique topic names, and suffix makes group names
	// unique.
	remote           *kgo.Client
	remoteOpts       []kgo.Opt
	orders, payments string
	suffix           string
}

// testOptions are short timeouts for tests: sessions may be as short as
// 50ms.
func testOptions() Options {
	return Options{MinSessionTimeout: 50 * time.Millisecond, MaxSessionTimeout: time.Minute}
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), opts: opts, client: ClientInfo{ID: "test-client", Host: "/127.0.0.1"}, orders: "orders", payments: "payments"}
	h.open()
	for name, n := range map[string]int32{"orders": 3, "payments": 2} {
		if _, err := h.log.CreateTopic(name, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(h.close)
	return h
}

func (h *harness) open() {
	h.t.Helper()
	l, err := log.Open(h.dir, log.WithCleanerInterval(0))
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := NewCoordinator(l, h.opts)
	if err != nil {
		_ = l.Close()
		h.t.Fatal(err)
	}
	h.log, h.c = l, c
}

func (h *harness) close() {
	if h.c == nil {
		return
	}
	if err := h.c.Close(); err != nil {
		h.t.Errorf("coordinator close: %v", err)
	}
	if err := h.log.Close(); err != nil {
		h.t.Errorf("log close: %v", err)
	}
	h.c, h.log = nil, nil
}

// reopen closes the coordinator and the log and opens both again.
func (h *harness) reopen() {
	h.t.Helper()
	h.close()
	h.open()
}

// roundTrip encodes req and decodes it into a fresh request of its
// version, as a listener would receive it.
func roundTrip(t testing.TB, req kmsg.Request) kmsg.Request {
	t.Helper()
	fresh := kmsg.RequestForKey(req.Key())
	fresh.SetVersion(req.GetVersion())
	if err := fresh.ReadFrom(req.AppendTo(nil)); err != nil {
		t.Fatalf("%s v%d: decode request: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return fresh
}

// forMember returns the harness a new member sends its requests through:
// against Kafka its own client, as a consumer has, because Kafka serves
// one request at a time per connection and a parked JoinGroup would hold
// up the next member's.
func (h *harness) forMember() *harness {
	if h.remote == nil {
		return h
	}
	cl, err := kgo.NewClient(h.remoteOpts...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(cl.Close)
	mh := *h
	mh.remote = cl
	return &mh
}

// group names a group for this harness.
func (h *harness) group(name string) string { return name + h.suffix }

// handle serves req through the wire encoding both ways.
func (h *harness) handle(ctx context.Context, t testing.TB, c *Coordinator, req kmsg.Request) (kmsg.Response, error) {
	if h.remote != nil {
		return h.remote.Request(ctx, req) // kgo picks the version
	}
	wire := roundTrip(t, req)
	resp, err := c.Handle(WithClient(ctx, h.client.ID, h.client.Host), wire)
	if err != nil {
		return nil, err
	}
	if resp.GetVersion() != req.GetVersion() {
		return nil, fmt.Errorf("response version %d to request version %d", resp.GetVersion(), req.GetVersion())
	}
	decoded := wire.ResponseKind()
	decoded.SetVersion(req.GetVersion())
	if err := decoded.ReadFrom(resp.AppendTo(nil)); err != nil {
		return nil, fmt.Errorf("%s v%d: decode response: %w", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return decoded, nil
}

// do serves req and fails the test on an error.
func (h *harness) do(req kmsg.Request) kmsg.Response {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	resp, err := h.handle(ctx, h.t, h.c, req)
	if err != nil {
		h.t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp
}

// start serves req on its own goroutine, for requests that block.
func (h *harness) start(req kmsg.Request) <-chan kmsg.Response {
	ch := make(chan kmsg.Response, 1)
	t, c := h.t, h.c
	wire := req
	if h.remote == nil {
		wire = roundTrip(t, req) // copy now: the caller may change req
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		resp, err := h.handle(ctx, t, c, wire)
		if err != nil {
			t.Errorf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
		}
		ch <- resp
	}()
	return ch
}

func await[T kmsg.Response](t testing.TB, ch <-chan kmsg.Response) T {
	t.Helper()
	select {
	case resp := <-ch:
		if resp == nil {
			t.Fatal("request failed")
		}
		return resp.(T)
	case <-time.After(waitLimit):
		t.Fatal("no response")
	}
	panic("unreachable")
}

// pendingFor fails if ch delivers a response within d.
func pendingFor(t testing.TB, ch <-chan kmsg.Response, d time.Duration) {
	t.Helper()
	select {
	case resp := <-ch:
		t.Fatalf("answered early: %+v", resp)
	case <-time.After(d):
	}
}

func wantCode(t testing.TB, what string, got int16, want *kerr.Error) {
	t.Helper()
	var code int16
	if want != nil {
		code = want.Code
	}
	if got != code {
		t.Fatalf("%s: error %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

// versions are the request versions a test member speaks.
type versions struct{ join, sync, heartbeat, leave, commit, fetch int16 }

var latest = versions{join: 9, sync: 5, heartbeat: 4, leave: 5, commit: 9, fetch: 8}

// testMember is the client side of one group member.
type testMember struct {
	h          *harness
	group      string
	v          versions
	id         string
	instance   *string
	generation int32
	leader     string
	protocol   string
	members    []kmsg.JoinGroupResponseMember // the leader's view
	assignment []byte
	topics     []string
	protocols  []string
	session    time.Duration
	rebalance  time.Duration
}

func (h *harness) member(group string) *testMember {
	return &testMember{
		h:          h.forMember(),
		group:      group,
		v:          latest,
		generation: -1,
		topics:     []string{h.orders},
		protocols:  []string{"range"},
		session:    10 * time.Second,
		rebalance:  5 * time.Second,
	}
}

func (m *testMember) joinRequest() *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = m.v.join
	req.Group = m.group
	req.SessionTimeoutMillis = int32(m.session.Milliseconds())
	req.RebalanceTimeoutMillis = int32(m.rebalance.Milliseconds())
	req.MemberID = m.id
	req.InstanceID = m.instance
	req.ProtocolType = consumerProtocolType
	for _, name := range m.protocols {
		meta := kmsg.NewConsumerMemberMetadata()
		meta.Version = 1
		meta.Topics = m.topics
		req.Protocols = append(req.Protocols, kmsg.JoinGroupRequestProtocol{Name: name, Metadata: meta.AppendTo(nil)})
	}
	return req
}

// startJoin sends JoinGroup, first doing the MEMBER_ID_REQUIRED round
// trip that v4+ asks of a dynamic member without an id.
func (m *testMember) startJoin() <-chan kmsg.Response {
	m.h.t.Helper()
	if m.id == "" && m.v.join >= 4 && m.instance == nil {
		resp := m.h.do(m.joinRequest()).(*kmsg.JoinGroupResponse)
		wantCode(m.h.t, "first join", resp.ErrorCode, kerr.MemberIDRequired)
		if resp.MemberID == "" {
			m.h.t.Fatal("MEMBER_ID_REQUIRED without a member id")
		}
		m.id = resp.MemberID
	}
	return m.h.start(m.joinRequest())
}

// finishJoin takes the JoinGroup response, which must be a success.
func (m *testMember) finishJoin(ch <-chan kmsg.Response) *kmsg.JoinGroupResponse {
	m.h.t.Helper()
	resp := await[*kmsg.JoinGroupResponse](m.h.t, ch)
	wantCode(m.h.t, "join "+m.id, resp.ErrorCode, nil)
	m.id, m.generation, m.leader, m.members = resp.MemberID, resp.Generation, resp.LeaderID, resp.Members
	if resp.Protocol != nil {
		m.protocol = *resp.Protocol
	}
	return resp
}

func (m *testMember) join() *kmsg.JoinGroupResponse {
	m.h.t.Helper()
	return m.finishJoin(m.startJoin())
}

func (m *testMember) syncRequest(assignments map[string][]byte) *kmsg.SyncGroupRequest {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = m.v.sync
	req.Group = m.group
	req.Generation = m.generation
	req.MemberID = m.id
	req.InstanceID = m.instance
	req.ProtocolType = kmsg.StringPtr(consumerProtocolType)
	req.Protocol = kmsg.StringPtr(m.protocol)
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range assignments {
			if !yield(id) {
				return
			}
		}
	}) {
		req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: assignments[id]})
	}
	return req
}

func (m *testMember) startSync(assignments map[string][]byte) <-chan kmsg.Response {
	return m.h.start(m.syncRequest(assignments))
}

func (m *testMember) finishSync(ch <-chan kmsg.Response) *kmsg.SyncGroupResponse {
	m.h.t.Helper()
	resp := await[*kmsg.SyncGroupResponse](m.h.t, ch)
	wantCode(m.h.t, "sync "+m.id, resp.ErrorCode, nil)
	m.assignment = resp.MemberAssignment
	return resp
}

// assignAll is a leader's assignment: orders' partitions dealt out in
// member order.
func (m *testMember) assignAll() map[string][]byte {
	out := make(map[string][]byte)
	parts := make(map[string][]int32)
	for i := range int32(3) {
		id := m.members[int(i)%len(m.members)].MemberID
		parts[id] = append(parts[id], i)
	}
	for _, jm := range m.members {
		a := kmsg.NewConsumerMemberAssignment()
		if ps := parts[jm.MemberID]; len(ps) > 0 {
			a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: m.h.orders, Partitions: ps}}
		}
		out[jm.MemberID] = a.AppendTo(nil)
	}
	return out
}

func (m *testMember) heartbeat() int16 {
	m.h.t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = m.v.heartbeat
	req.Group = m.group
	req.Generation = m.generation
	req.MemberID = m.id
	req.InstanceID = m.instance
	return m.h.do(req).(*kmsg.HeartbeatResponse).ErrorCode
}

func (m *testMember) leave() int16 {
	m.h.t.Helper()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = m.v.leave
	req.Group = m.group
	req.MemberID = m.id
	req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: m.id, InstanceID: m.instance}}
	resp := m.h.do(req).(*kmsg.LeaveGroupResponse)
	if req.Version >= 3 {
		if len(resp.Members) != 1 {
			m.h.t.Fatalf("leave: %d member results", len(resp.Members))
		}
		return resp.Members[0].ErrorCode
	}
	return resp.ErrorCode
}

// commit commits offsets of orders' partitions as this member and returns
// the error code of each.
func (m *testMember) commit(offsets map[int32]int64) map[int32]int16 {
	m.h.t.Helper()
	return m.h.commit(m.v.commit, m.group, m.generation, m.id, m.instance, m.h.orders, offsets)
}

func (h *harness) commit(version int16, group string, generation int32, memberID string, instance *string, topic string, offsets map[int32]int64) map[int32]int16 {
	h.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = version
	req.Group = group
	req.Generation = generation
	req.MemberID = memberID
	req.InstanceID = instance
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for _, p := range slices.Sorted(func(yield func(int32) bool) {
		for p := range offsets {
			if !yield(p) {
				return
			}
		}
	}) {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition = p
		rp.Offset = offsets[p]
		rp.Metadata = kmsg.StringPtr(fmt.Sprintf("meta-%d", offsets[p]))
		rp.LeaderEpoch = 0
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := h.do(req).(*kmsg.OffsetCommitResponse)
	out := make(map[int32]int16)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = p.ErrorCode
		}
	}
	if len(out) != len(offsets) {
		h.t.Fatalf("commit: %d partition results for %d partitions", len(out), len(offsets))
	}
	return out
}

// fetch returns a group's committed offsets through OffsetFetch v8 (all
// topics) as topic -> partition -> offset.
func (h *harness) fetch(group string) map[string]map[int32]int64 {
	h.t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: group}}
	resp := h.do(req).(*kmsg.OffsetFetchResponse)
	if len(resp.Groups) != 1 {
		h.t.Fatalf("fetch: %d groups", len(resp.Groups))
	}
	wantCode(h.t, "fetch", resp.Groups[0].ErrorCode, nil)
	out := make(map[string]map[int32]int64)
	for _, t := range resp.Groups[0].Topics {
		out[t.Topic] = make(map[int32]int64)
		for _, p := range t.Partitions {
			wantCode(h.t, "fetch partition", p.ErrorCode, nil)
			out[t.Topic][p.Partition] = p.Offset
		}
	}
	return out
}

func (h *harness) describe(group string) kmsg.DescribeGroupsResponseGroup {
	h.t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Version = 5
	req.Groups = []string{group}
	resp := h.do(req).(*kmsg.DescribeGroupsResponse)
	if len(resp.Groups) != 1 {
		h.t.Fatalf("describe: %d groups", len(resp.Groups))
	}
	return resp.Groups[0]
}

// formGroup makes a stable group of ms: all join (within the initial
// rebalance delay, which the harness must set), the leader assigns.
func formGroup(t *testing.T, ms ...*testMember) {
	t.Helper()
	chans := make([]<-chan kmsg.Response, len(ms))
	for i, m := range ms {
		chans[i] = m.startJoin()
	}
	for i, m := range ms {
		m.finishJoin(chans[i])
	}
	syncAll(t, ms...)
}

// syncAll has every member sync, the leader with assignAll, and checks
// that all are in one generation.
func syncAll(t *testing.T, ms ...*testMember) {
	t.Helper()
	var leader *testMember
	for _, m := range ms {
		if m.generation != ms[0].generation {
			t.Fatalf("members in generations %d and %d", ms[0].generation, m.generation)
		}
		if m.id == m.leader {
			leader = m
		}
	}
	if leader == nil {
		t.Fatal("no leader among the members")
	}
	chans := make([]<-chan kmsg.Response, len(ms))
	for i, m := range ms {
		if m != leader {
			chans[i] = m.startSync(nil)
		}
	}
	for i, m := range ms {
		if m == leader {
			chans[i] = m.startSync(leader.assignAll())
		}
	}
	for i, m := range ms {
		m.finishSync(chans[i])
	}
}

// waitState waits until the group is in state, for tests that started a
// request on another goroutine and need it to have arrived.
func (h *harness) waitState(group, state string) {
	h.t.Helper()
	eventually(h.t, group+" reaches "+state, func() bool { return h.describe(group).State == state })
}

// eventually polls cond until it holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
