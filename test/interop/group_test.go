package interop

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupMember is one consumer of a group test: it polls, records what it
// saw, commits after every poll (at-least-once), and on stop commits and
// leaves the group.
type groupMember struct {
	id   int
	cl   *kgo.Client
	stop chan struct{}
	done chan struct{}
	err  error // set before done is closed

	mu       sync.Mutex
	assigned map[int32]bool
	consumed int
}

// groupTally is what all members of a group test saw. Safe for concurrent use.
type groupTally struct {
	mu   sync.Mutex
	seen map[string]int // key -> times consumed
}

func (g *groupTally) add(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seen[key]++
}

func (g *groupTally) distinct() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}

func startMember(t *testing.T, c *cluster, id int, group, topic string, tally *groupTally) *groupMember {
	t.Helper()
	m := &groupMember{id: id, stop: make(chan struct{}), done: make(chan struct{}), assigned: map[int32]bool{}}
	m.cl = newClient(t, c,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.SessionTimeout(10*time.Second),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range a[topic] {
				m.assigned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range r[topic] {
				delete(m.assigned, p)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range l[topic] {
				delete(m.assigned, p)
			}
		}),
	)
	go m.run(t.Context(), tally)
	return m
}

func (m *groupMember) run(ctx context.Context, tally *groupTally) {
	defer close(m.done)
	for {
		select {
		case <-m.stop:
			m.cl.AllowRebalance()
			m.cl.Close() // leaves the group
			return
		default:
		}
		pollCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fs := m.cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			m.err = ctx.Err()
			return
		}
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) && !errors.Is(e.Err, context.Canceled) {
				m.err = fmt.Errorf("member %d: fetch %s/%d: %w", m.id, e.Topic, e.Partition, e.Err)
				m.cl.Close()
				return
			}
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			tally.add(string(r.Key))
			n++
		})
		if n > 0 {
			m.mu.Lock()
			m.consumed += n
			m.mu.Unlock()
			commitCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := m.cl.CommitUncommittedOffsets(commitCtx)
			cancel()
			if err != nil {
				m.err = fmt.Errorf("member %d: commit: %w", m.id, err)
				m.cl.Close()
				return
			}
		}
		m.cl.AllowRebalance()
	}
}

func (m *groupMember) assignment() map[int32]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[int32]bool{}
	for p := range m.assigned {
		out[p] = true
	}
	return out
}

func (m *groupMember) consumedCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.consumed
}

// close stops the member (commit, leave) and waits for it.
func (m *groupMember) close(t *testing.T) {
	t.Helper()
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("member %d did not stop within 30s", m.id)
	}
	if m.err != nil {
		t.Error(m.err)
	}
}

// TestConsumerGroupMemberLeaves: three members of one group share a
// 6-partition topic; while records stream in, one member leaves. Every
// record is consumed at least once, and in the end the group's committed
// offsets equal the high watermarks of all partitions.
func TestConsumerGroupMemberLeaves(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		const partitions, total, perBatch = 6, 3000, 100
		adm := newAdmin(t, c)
		topic := createTopic(t, adm, partitions, nil)
		group := uniqueName(t, "g")
		ctx := testContext(t, 90*time.Second)

		tally := &groupTally{seen: map[string]int{}}
		members := make([]*groupMember, 3)
		for i := range members {
			members[i] = startMember(t, c, i, group, topic, tally)
		}
		t.Cleanup(func() {
			for _, m := range members {
				select {
				case <-m.stop:
				default:
					close(m.stop)
				}
			}
		})

		// A stable group: 6 partitions split over 3 members, 2 each.
		waitFor(t, 30*time.Second, "3 members sharing 6 partitions", func(context.Context) (bool, string) {
			all := map[int32]bool{}
			var sizes []int
			for _, m := range members {
				a := m.assignment()
				sizes = append(sizes, len(a))
				for p := range a {
					all[p] = true
				}
			}
			for _, n := range sizes {
				if n == 0 {
					return false, fmt.Sprintf("assignment sizes %v", sizes)
				}
			}
			return len(all) == partitions, fmt.Sprintf("assignment sizes %v, %d partitions covered", sizes, len(all))
		})

		// Stream records in; close member 1 once a third are consumed.
		prod := newClient(t, c, kgo.DefaultProduceTopic(topic))
		produced := make(chan error, 1)
		go func() {
			for i := 0; i < total; i += perBatch {
				var batch []*kgo.Record
				for j := i; j < i+perBatch; j++ {
					batch = append(batch, &kgo.Record{Key: []byte(fmt.Sprintf("k%05d", j)), Value: []byte(fmt.Sprintf("v%05d", j))})
				}
				if err := prod.ProduceSync(ctx, batch...).FirstErr(); err != nil {
					produced <- err
					return
				}
				time.Sleep(30 * time.Millisecond)
			}
			produced <- nil
		}()

		// Member 1 must have consumed some of its partitions' records by
		// then: on a broker whose group settles again after the wait
		// above, its first fetch can come after a third of the records.
		waitFor(t, 45*time.Second, "a third of the records consumed, some by member 1", func(context.Context) (bool, string) {
			n, own := tally.distinct(), members[1].consumedCount()
			return n >= total/3 && own > 0, fmt.Sprintf("%d consumed, %d by member 1", n, own)
		})
		leaving := members[1]
		leaving.close(t)
		before := leaving.consumedCount()
		t.Logf("member 1 left after consuming %d records; %d of %d distinct consumed so far", before, tally.distinct(), total)
		if before == 0 {
			t.Errorf("member 1 consumed nothing before leaving")
		}

		if err := <-produced; err != nil {
			t.Fatalf("produce: %v", err)
		}
		waitFor(t, 45*time.Second, "every record consumed", func(context.Context) (bool, string) {
			for _, m := range members {
				select {
				case <-m.done:
					if m.err != nil {
						t.Fatal(m.err)
					}
				default:
				}
			}
			n := tally.distinct()
			return n == total, fmt.Sprintf("%d of %d distinct records consumed", n, total)
		})
		members[0].close(t)
		members[2].close(t)

		dups := 0
		for _, n := range tally.seen {
			dups += n - 1
		}
		t.Logf("consumed: member 0 %d, member 1 %d, member 2 %d; %d redeliveries",
			members[0].consumedCount(), members[1].consumedCount(), members[2].consumedCount(), dups)

		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		ends.Each(func(e kadm.ListedOffset) {
			sum += e.Offset
			o, ok := committed.Lookup(topic, e.Partition)
			switch {
			case !ok:
				t.Errorf("partition %d: nothing committed, high watermark %d", e.Partition, e.Offset)
			case o.Err != nil:
				t.Errorf("partition %d: committed offset error %v", e.Partition, o.Err)
			case o.At != e.Offset:
				t.Errorf("partition %d: committed %d, high watermark %d", e.Partition, o.At, e.Offset)
			}
		})
		if sum != total {
			t.Errorf("high watermarks add up to %d, want %d", sum, total)
		}
	})
}

// TestCommittedOffsetsSurviveRestart: offsets committed by a group member
// are what a new member of the group resumes from, also after the broker
// restarts (Tide: a clean restart, then a SIGKILL and start). On Kafka the
// shared broker is not restarted; new clients re-read the offsets instead.
func TestCommittedOffsetsSurviveRestart(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		const perPartition = 50
		adm := newAdmin(t, c)
		topic := createTopic(t, adm, 2, nil)
		group := uniqueName(t, "g")
		ctx := testContext(t, 90*time.Second)

		prod := newClient(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		var recs []*kgo.Record
		for i := 0; i < perPartition; i++ {
			for p := int32(0); p < 2; p++ {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprintf("p%d-%03d", p, i))})
			}
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}

		// A member reads everything but commits only p0 < 30 and p1 < 20.
		first := newClient(t, c, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
		var upTo []*kgo.Record
		for _, r := range pollN(t, ctx, first, 2*perPartition) {
			if (r.Partition == 0 && r.Offset == 29) || (r.Partition == 1 && r.Offset == 19) {
				upTo = append(upTo, r)
			}
		}
		if len(upTo) != 2 {
			t.Fatalf("did not see p0@29 and p1@19")
		}
		if err := first.CommitRecords(ctx, upTo...); err != nil {
			t.Fatalf("commit: %v", err)
		}
		first.Close()

		checkCommitted := func(when string, want map[int32]int64) {
			t.Helper()
			// A new admin client each time: nothing cached from before a restart.
			fresh := newAdmin(t, c)
			got, err := fresh.FetchOffsets(ctx, group)
			if err != nil {
				t.Fatalf("%s: fetch offsets: %v", when, err)
			}
			for p, w := range want {
				o, ok := got.Lookup(topic, p)
				if !ok || o.Err != nil || o.At != w {
					t.Errorf("%s: partition %d committed %d (present %v, err %v), want %d", when, p, o.At, ok, o.Err, w)
				}
			}
		}
		checkCommitted("after commit", map[int32]int64{0: 30, 1: 20})

		if c.isTide() {
			c.tide.Restart()
			checkCommitted("after a clean restart", map[int32]int64{0: 30, 1: 20})
		}

		// A new member resumes at the committed offsets: exactly the 50 records after them.
		second := newClient(t, c, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
		firstOffset := map[int32]int64{}
		got := pollN(t, ctx, second, 50)
		for _, r := range got {
			if _, ok := firstOffset[r.Partition]; !ok {
				firstOffset[r.Partition] = r.Offset
			}
		}
		if len(got) != 50 || firstOffset[0] != 30 || firstOffset[1] != 20 {
			t.Errorf("resumed with %d records starting at %v, want 50 starting at map[0:30 1:20]", len(got), firstOffset)
		}
		if err := second.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
		second.Close()
		checkCommitted("after the second member", map[int32]int64{0: 50, 1: 50})

		if c.isTide() {
			c.tide.Kill()
			c.tide.Restart()
			checkCommitted("after SIGKILL and start", map[int32]int64{0: 50, 1: 50})
			ends, err := newAdmin(t, c).ListEndOffsets(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			ends.Each(func(e kadm.ListedOffset) {
				if e.Offset != perPartition {
					t.Errorf("after SIGKILL: partition %d end offset %d, want %d", e.Partition, e.Offset, perPartition)
				}
			})
		}
	})
}
