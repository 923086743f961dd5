package group

import (
	"bytes"
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// state is a classic group's state, named as Kafka names them.
type state int8

const (
	// stateEmpty: no members; the group may hold committed offsets.
	stateEmpty state = iota
	// statePreparingRebalance: waiting for members to (re)join.
	statePreparingRebalance
	// stateCompletingRebalance: joined; waiting for the leader's assignment.
	stateCompletingRebalance
	// stateStable: every member has its assignment.
	stateStable
	// stateDead: deleted or forgotten; the goroutine is gone.
	stateDead
)

func (s state) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	}
	return "Dead"
}

// consumerProtocolType is the protocol type of Kafka consumers, whose
// member metadata and assignments the coordinator can read.
const consumerProtocolType = "consumer"

// group is one consumer group. Everything below ops and done is owned by
// the goroutine running run: requests, timers and admin calls reach the
// state only as functions sent on ops.
type group struct {
	c    *Coordinator
	name string
	// ops is unbuffered: a sender knows its function was taken, or sees
	// done closed and looks the group up again.
	ops  chan func()
	done chan struct{}

	state        state
	generation   int32
	protocolType string // set by the first member of an empty group
	protocol     string // chosen at each generation; "" when Empty
	leader       string
	members      map[string]*member
	seq          uint64 // join order, for stable listings and leader election
	// pending holds member ids handed out with MEMBER_ID_REQUIRED that
	// have not rejoined yet; each expires after the session timeout.
	pending map[string]*timer
	// static maps group.instance.id to the current member id.
	static map[string]string
	// pendingSync holds members that got a JoinGroup response of the
	// current generation but have not sent SyncGroup.
	pendingSync map[string]struct{}
	// subscribed holds the topics the members' consumer-protocol metadata
	// names, computed at each generation; nil when unknown.
	subscribed map[string]struct{}
	offsets    map[string]map[int32]committedOffset
	// txnOffsets holds the offsets open transactions committed
	// (TxnOffsetCommit), by producer id, until the transaction ends.
	txnOffsets txnOffsets

	// initialDelay is set while the first rebalance of an empty group
	// waits out Options.InitialRebalanceDelay; newMemberAdded extends it.
	initialDelay   bool
	newMemberAdded bool
	joinTimer      *timer // ends the join phase (rebalance timeout)
	syncTimer      *timer // removes members that do not SyncGroup in time
	reapTimer      *timer // forgets a group left with nothing
	// deleted is set by DeleteGroups; the goroutine ends after the op.
	deleted bool
}

type member struct {
	id               string
	instanceID       *string // static membership (KIP-345)
	clientID         string
	clientHost       string
	seq              uint64
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []kmsg.JoinGroupRequestProtocol
	assignment       []byte
	isNew            bool        // has not yet had a JoinGroup response
	join             *parkedJoin // a JoinGroup waiting for the join phase to end
	sync             *parkedSync // a SyncGroup waiting for the leader
	heartbeat        *timer
}

type parkedJoin struct {
	version int16
	reply   replyFunc
}

type parkedSync struct {
	version int16
	reply   replyFunc
}

func newGroup(c *Coordinator, name string) *group {
	return &group{
		c:       c,
		name:    name,
		ops:     make(chan func()),
		done:    make(chan struct{}),
		members: make(map[string]*member),
		pending: make(map[string]*timer),
		static:  make(map[string]string),
		offsets: make(map[string]map[int32]committedOffset),
	}
}

// run is the group's goroutine.
func (g *group) run() {
	defer g.c.wg.Done()
	for {
		select {
		case op := <-g.ops:
			op()
			if g.retire() {
				return
			}
		case <-g.c.stop:
			g.shutdown()
			return
		}
	}
}

// post runs fn on the group's goroutine unless the group has ended.
// Timers use it; it must not be called from the group's goroutine.
func (g *group) post(fn func()) {
	select {
	case g.ops <- fn:
	case <-g.done:
	}
}

// timer runs a function on the group's goroutine after a delay unless
// stopped first. stop and the check happen on the group's goroutine, so
// a timer that fired but whose function is still queued does not run.
type timer struct {
	t       *time.Timer
	stopped bool
}

func (g *group) after(d time.Duration, fn func()) *timer {
	tm := &timer{}
	tm.t = time.AfterFunc(d, func() {
		g.post(func() {
			if tm.stopped {
				return
			}
			tm.stopped = true
			fn()
		})
	})
	return tm
}

func (tm *timer) stop() {
	if tm != nil {
		tm.stopped = true
		tm.t.Stop()
	}
}

// retire ends a deleted group, and one left with nothing (no members, no
// pending joins, no offsets): at once if it never formed a generation (a
// failed first join), else after emptyGroupRetention, during which it is
// listed as Empty as in Kafka. It reports whether the goroutine ends.
func (g *group) retire() bool {
	if !g.deleted {
		if !g.removable() {
			g.reapTimer.stop()
			g.reapTimer = nil
			return false
		}
		if g.generation > 0 {
			if g.reapTimer == nil {
				g.reapTimer = g.after(g.c.emptyGroupRetention, func() {
					g.reapTimer = nil
					g.deleted = g.removable()
				})
			}
			return false
		}
	}
	g.state = stateDead
	g.stopTimers()
	g.c.forget(g)
	close(g.done)
	return true
}

func (g *group) removable() bool {
	return g.state == stateEmpty && len(g.members) == 0 && len(g.pending) == 0 && len(g.offsets) == 0 && len(g.txnOffsets) == 0
}

// shutdown ends the group for Coordinator.Close: parked requests get
// NOT_COORDINATOR, as Kafka answers when it unloads a group.
func (g *group) shutdown() {
	for _, m := range g.sortedMembers() {
		g.answerParked(m, kerr.NotCoordinator.Code)
	}
	g.state = stateDead
	g.stopTimers()
	close(g.done)
}

func (g *group) stopTimers() {
	for _, m := range g.members {
		m.heartbeat.stop()
	}
	for _, t := range g.pending {
		t.stop()
	}
	g.joinTimer.stop()
	g.syncTimer.stop()
	g.reapTimer.stop()
}

// sortedMembers returns the members in join order.
func (g *group) sortedMembers() []*member {
	ms := slices.Collect(maps.Values(g.members))
	slices.SortFunc(ms, func(a, b *member) int { return cmp.Compare(a.seq, b.seq) })
	return ms
}

// answerParked answers m's waiting JoinGroup and SyncGroup with code.
func (g *group) answerParked(m *member, code int16) {
	if m.join != nil {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = m.join.version
		resp.ErrorCode = code
		m.join.reply(resp)
		m.join = nil
	}
	if m.sync != nil {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.Version = m.sync.version
		resp.ErrorCode = code
		m.sync.reply(resp)
		m.sync = nil
	}
}

// addMember adds a member whose first JoinGroup is parked in m.join and
// starts a rebalance or, if one is under way, counts it in.
func (g *group) addMember(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if g.state == statePreparingRebalance && g.generation == 0 {
		g.newMemberAdded = true
	}
	g.seq++
	m.seq = g.seq
	m.isNew = true
	g.members[m.id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
	// A new member cannot heartbeat before its JoinGroup response, and a
	// client that gave up on a long rebalance retries with a new join: a
	// join that waits too long is dropped (Kafka's new member timeout).
	g.scheduleHeartbeat(m, newMemberJoinTimeout)
	g.c.logger.Info("member joined group", "group", g.name, "member", m.id, "client", m.clientID, "state", g.state.String())
	g.rebalanceOrCompleteJoin("member " + m.id + " joined")
}

// rebalanceOrCompleteJoin starts a rebalance, or, during one, completes
// the join phase if everyone is in.
func (g *group) rebalanceOrCompleteJoin(reason string) {
	switch g.state {
	case stateEmpty, stateStable, stateCompletingRebalance:
		g.prepareRebalance(reason)
	case statePreparingRebalance:
		g.maybeCompleteJoin()
	}
}

// prepareRebalance enters PreparingRebalance: members waiting in SyncGroup
// are told REBALANCE_IN_PROGRESS so that they rejoin, and the join phase
// ends when everyone has rejoined or the rebalance timeout passes.
func (g *group) prepareRebalance(reason string) {
	if g.state == stateCompletingRebalance {
		for _, m := range g.sortedMembers() {
			m.assignment = nil
			if m.sync != nil {
				resp := kmsg.NewPtrSyncGroupResponse()
				resp.Version = m.sync.version
				resp.ErrorCode = kerr.RebalanceInProgress.Code
				m.sync.reply(resp)
				m.sync = nil
			}
		}
	}
	g.syncTimer.stop()
	g.syncTimer = nil
	g.pendingSync = nil
	g.joinTimer.stop()
	initial := g.state == stateEmpty
	g.state = statePreparingRebalance
	g.c.logger.Info("preparing to rebalance group", "group", g.name, "generation", g.generation, "members", len(g.members), "reason", reason)
	if initial {
		// A new group: give other members time to join (KIP-134).
		g.initialDelay = true
		delay := g.c.opts.InitialRebalanceDelay
		remaining := max(g.rebalanceTimeout()-delay, 0)
		g.joinTimer = g.after(delay, func() { g.completeInitialJoin(delay, remaining) })
		return
	}
	g.joinTimer = g.after(g.rebalanceTimeout(), g.completeJoin)
	g.maybeCompleteJoin()
}

// completeInitialJoin ends the initial delay, extending it while new
// members keep arriving, up to the rebalance timeout.
func (g *group) completeInitialJoin(delay, remaining time.Duration) {
	g.joinTimer = nil
	if g.newMemberAdded && remaining > 0 {
		g.newMemberAdded = false
		next := min(g.c.opts.InitialRebalanceDelay, remaining)
		left := max(remaining-delay, 0)
		g.joinTimer = g.after(next, func() { g.completeInitialJoin(next, left) })
		return
	}
	g.completeJoin()
}

// maybeCompleteJoin ends the join phase once every member has rejoined and
// no member id handed out with MEMBER_ID_REQUIRED is still outstanding.
func (g *group) maybeCompleteJoin() {
	if g.state != statePreparingRebalance || g.initialDelay || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.join == nil {
			return
		}
	}
	g.completeJoin()
}

// completeJoin ends the join phase: dynamic members that did not rejoin
// are removed, a new generation starts, and every waiting JoinGroup is
// answered, the leader's with the members and their metadata.
func (g *group) completeJoin() {
	g.joinTimer.stop()
	g.joinTimer = nil
	if g.state != statePreparingRebalance {
		return
	}
	g.initialDelay = false
	g.newMemberAdded = false
	joined := 0
	for _, m := range g.sortedMembers() {
		switch {
		case m.join != nil:
			joined++
		case m.instanceID == nil:
			// Static members keep their place: they are expected back.
			g.c.logger.Info("removing member that did not rejoin in time", "group", g.name, "member", m.id)
			g.dropMember(m, kerr.UnknownMemberID.Code)
		}
	}
	if len(g.members) > 0 && joined == 0 {
		// Only static members that have not rejoined are left: wait for
		// them, or for their sessions to expire, as Kafka does.
		g.joinTimer = g.after(g.rebalanceTimeout(), g.completeJoin)
		return
	}
	if l := g.members[g.leader]; l == nil || l.join == nil {
		g.leader = g.electLeader()
	}
	g.generation++
	if g.generation < 0 {
		g.generation = 1
	}
	if len(g.members) == 0 {
		g.state = stateEmpty
		g.protocol = ""
		g.subscribed = nil
		g.c.logger.Info("group is empty", "group", g.name, "generation", g.generation)
		return
	}
	g.protocol = g.selectProtocol()
	g.subscribed = g.subscribedTopics()
	g.state = stateCompletingRebalance
	g.pendingSync = make(map[string]struct{}, len(g.members))
	for _, m := range g.sortedMembers() {
		g.pendingSync[m.id] = struct{}{}
		if m.join != nil {
			m.join.reply(g.joinResponse(m, m.join.version))
			m.join = nil
			m.isNew = false
		}
		g.scheduleHeartbeat(m, m.sessionTimeout)
	}
	g.syncTimer = g.after(g.rebalanceTimeout(), g.expirePendingSync)
	g.c.logger.Info("group formed a generation", "group", g.name, "generation", g.generation,
		"protocol", g.protocol, "leader", g.leader, "members", len(g.members))
}

// joinResponse is m's JoinGroup answer for the current generation; the
// leader's lists every member with its metadata for the chosen protocol.
func (g *group) joinResponse(m *member, version int16) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = version
	resp.Generation = g.generation
	resp.ProtocolType = kmsg.StringPtr(g.protocolType)
	resp.Protocol = kmsg.StringPtr(g.protocol)
	resp.LeaderID = g.leader
	resp.MemberID = m.id
	if m.id == g.leader {
		for _, o := range g.sortedMembers() {
			jm := kmsg.NewJoinGroupResponseMember()
			jm.MemberID = o.id
			jm.InstanceID = o.instanceID
			jm.ProtocolMetadata = o.metadataFor(g.protocol)
			resp.Members = append(resp.Members, jm)
		}
	}
	return resp
}

// electLeader picks the first member waiting in JoinGroup, else the first
// member, else none.
func (g *group) electLeader() string {
	ms := g.sortedMembers()
	for _, m := range ms {
		if m.join != nil {
			return m.id
		}
	}
	if len(ms) > 0 {
		return ms[0].id
	}
	return ""
}

// rebalanceTimeout is the longest rebalance timeout of the members.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// supportsProtocols is Kafka's check for a (re)joining member: an empty
// group takes any non-empty protocol type and list; otherwise the type
// must match and one of the protocols must be supported by every current
// member.
func (g *group) supportsProtocols(protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
	if protocolType == "" || len(protocols) == 0 {
		return false
	}
	if g.state == stateEmpty {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		if g.supportedByAll(p.Name) {
			return true
		}
	}
	return false
}

func (g *group) supportedByAll(name string) bool {
	for _, m := range g.members {
		if !m.supports(name) {
			return false
		}
	}
	return true
}

// selectProtocol chooses the generation's protocol by vote, as Kafka does:
// among the protocols every member supports, each member votes for the
// first in its own preference order, and the most votes win. Ties go to
// the leader's preference.
func (g *group) selectProtocol() string {
	ms := g.sortedMembers()
	if len(ms) == 0 {
		return ""
	}
	ref := ms[0]
	if l := g.members[g.leader]; l != nil {
		ref = l
	}
	var candidates []string
	for _, p := range ref.protocols {
		if g.supportedByAll(p.Name) && !slices.Contains(candidates, p.Name) {
			candidates = append(candidates, p.Name)
		}
	}
	votes := make(map[string]int, len(candidates))
	for _, m := range ms {
		for _, p := range m.protocols {
			if slices.Contains(candidates, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best, most := "", -1
	for _, name := range candidates {
		if votes[name] > most {
			best, most = name, votes[name]
		}
	}
	return best
}

// subscribedTopics returns the topics the members' consumer-protocol
// subscriptions name, or nil when they cannot be known (another protocol
// type, metadata that does not parse): OffsetDelete then treats every
// topic as subscribed, as Kafka does.
func (g *group) subscribedTopics() map[string]struct{} {
	if g.protocolType != consumerProtocolType || len(g.members) == 0 {
		return nil
	}
	topics := make(map[string]struct{})
	for _, m := range g.members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return nil
		}
		for _, t := range meta.Topics {
			topics[t] = struct{}{}
		}
	}
	return topics
}

func (g *group) isSubscribed(topic string) bool {
	if g.subscribed == nil {
		return true
	}
	_, ok := g.subscribed[topic]
	return ok
}

// scheduleHeartbeat (re)starts m's session timer.
func (g *group) scheduleHeartbeat(m *member, d time.Duration) {
	m.heartbeat.stop()
	m.heartbeat = g.after(d, func() { g.expireHeartbeat(m) })
}

// expireHeartbeat removes m when its session timer fires, unless it is
// waiting in a rebalance (JoinGroup or SyncGroup parked), which counts as
// alive, as in Kafka; a new member's first join does not.
func (g *group) expireHeartbeat(m *member) {
	if g.members[m.id] != m {
		return
	}
	if !m.isNew && (m.join != nil || m.sync != nil) {
		return
	}
	g.c.logger.Info("member session expired", "group", g.name, "member", m.id, "state", g.state.String())
	g.removeMember(m, "member "+m.id+" session expired")
}

// removeMember removes m and rebalances the rest.
func (g *group) removeMember(m *member, reason string) {
	g.dropMember(m, kerr.UnknownMemberID.Code)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		g.prepareRebalance(reason)
	case statePreparingRebalance:
		g.maybeCompleteJoin()
	}
}

// dropMember removes m's bookkeeping without a state change; its parked
// requests are answered with code.
func (g *group) dropMember(m *member, code int16) {
	m.heartbeat.stop()
	g.answerParked(m, code)
	delete(g.members, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	delete(g.pendingSync, m.id)
	if g.leader == m.id {
		g.leader = g.electLeader()
	}
}

// expirePendingSync removes the members that got their JoinGroup response
// but did not send SyncGroup within the rebalance timeout, and rebalances.
func (g *group) expirePendingSync() {
	g.syncTimer = nil
	if (g.state != stateCompletingRebalance && g.state != stateStable) || len(g.pendingSync) == 0 {
		return
	}
	for _, id := range slices.Sorted(maps.Keys(g.pendingSync)) {
		if m := g.members[id]; m != nil {
			g.c.logger.Info("removing member that did not sync in time", "group", g.name, "member", id)
			g.dropMember(m, kerr.UnknownMemberID.Code)
		}
	}
	g.pendingSync = nil
	g.prepareRebalance("members did not send SyncGroup in time")
}

// addPending records a member id handed out with MEMBER_ID_REQUIRED; if
// the member does not rejoin with it within timeout, it is forgotten.
func (g *group) addPending(id string, timeout time.Duration) {
	g.pending[id] = g.after(timeout, func() {
		if _, ok := g.pending[id]; !ok {
			return
		}
		delete(g.pending, id)
		g.c.logger.Info("pending member did not rejoin in time", "group", g.name, "member", id)
		g.maybeCompleteJoin()
	})
}

func (g *group) removePending(id string) {
	g.pending[id].stop()
	delete(g.pending, id)
}

// validateMember is Kafka's check that a request comes from a current
// member: by instance id for static members (FENCED_INSTANCE_ID when the
// instance now has another member id), else by member id.
func (g *group) validateMember(memberID string, instanceID *string) int16 {
	if instanceID != nil {
		current, ok := g.static[*instanceID]
		switch {
		case !ok:
			return kerr.UnknownMemberID.Code
		case current != memberID:
			return kerr.FencedInstanceID.Code
		}
		return 0
	}
	if _, ok := g.members[memberID]; !ok {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

func (m *member) supports(name string) bool {
	for _, p := range m.protocols {
		if p.Name == name {
			return true
		}
	}
	return false
}

// metadataFor returns m's metadata for protocol name.
func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.Name == name {
			return p.Metadata
		}
	}
	return nil
}

// sameProtocols reports whether ps is exactly m's protocol list, names and
// metadata, in order.
func (m *member) sameProtocols(ps []kmsg.JoinGroupRequestProtocol) bool {
	return slices.EqualFunc(m.protocols, ps, func(a, b kmsg.JoinGroupRequestProtocol) bool {
		return a.Name == b.Name && bytes.Equal(a.Metadata, b.Metadata)
	})
}

// summary describes the group for Coordinator.Groups.
func (g *group) summary() Summary {
	s := Summary{
		Group:        g.name,
		State:        g.state.String(),
		ProtocolType: g.protocolType,
		Protocol:     g.protocol,
		Generation:   g.generation,
	}
	for _, m := range g.sortedMembers() {
		ms := MemberSummary{MemberID: m.id, ClientID: m.clientID, ClientHost: m.clientHost}
		if m.instanceID != nil {
			ms.InstanceID = *m.instanceID
		}
		if g.protocolType == consumerProtocolType && len(m.assignment) > 0 {
			var a kmsg.ConsumerMemberAssignment
			if err := a.ReadFrom(m.assignment); err == nil {
				ms.Assigned = make(map[string][]int32, len(a.Topics))
				for _, t := range a.Topics {
					ms.Assigned[t.Topic] = append(ms.Assigned[t.Topic], t.Partitions...)
				}
			}
		}
		s.Members = append(s.Members, ms)
	}
	return s
}
