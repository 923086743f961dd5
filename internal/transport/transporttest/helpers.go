package transporttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// waitLimit bounds every wait of the suite: a hang fails the test instead
// of running into the binary's timeout. Kafka rebalances take seconds.
const waitLimit = 30 * time.Second

// env is one subtest's transport and context.
type env struct {
	t   *testing.T
	tr  transport.Transport
	ctx context.Context
}

func newEnv(t *testing.T, newTransport func(t *testing.T) transport.Transport) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
	t.Cleanup(cancel)
	return &env{t: t, tr: newTransport(t), ctx: ctx}
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9-]+`)

// name returns a Kafka-legal name unique to this run: the kind, the
// subtest's name and random hex. Only letters, digits and '-' are used
// ('.' and '_' collide in Kafka's metric names).
func (e *env) name(kind string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := e.t.Name()
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	base = strings.Trim(unsafeName.ReplaceAllString(base, "-"), "-")
	if len(base) > 60 {
		base = base[:60]
	}
	return fmt.Sprintf("tt-%s-%s-%s", kind, base, hex.EncodeToString(b[:]))
}

// topic creates a fresh topic with n partitions, deleted when the test
// ends (the Kafka broker is shared).
func (e *env) topic(n int32) string {
	e.t.Helper()
	name := e.name("t")
	if err := e.tr.CreateTopic(e.ctx, transport.TopicSpec{Name: name, Partitions: n}); err != nil {
		e.t.Fatalf("create topic %s: %v", name, err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.tr.DeleteTopic(ctx, name); err != nil && !errors.Is(err, transport.ErrTopicNotFound) && !errors.Is(err, transport.ErrClosed) {
			e.t.Logf("cleanup: delete topic %s: %v", name, err)
		}
	})
	return name
}

// produce writes recs and fails the test on error.
func (e *env) produce(recs ...*transport.Record) {
	e.t.Helper()
	if err := e.tr.Produce(e.ctx, recs); err != nil {
		e.t.Fatalf("produce %d records: %v", len(recs), err)
	}
}

// keyed returns n records for topic with keys and values "<prefix>-<i>".
func keyed(topic, prefix string, n int) []*transport.Record {
	recs := make([]*transport.Record, n)
	for i := range recs {
		s := fmt.Sprintf("%s-%d", prefix, i)
		recs[i] = &transport.Record{Topic: topic, Partition: -1, Key: []byte(s), Value: []byte(s)}
	}
	return recs
}

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitLimit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// member is a consumer polled by its own goroutine, recording what its
// callbacks and Poll deliver and checking the ordering contracts as it
// goes.
type member struct {
	t    *testing.T
	name string
	c    transport.Consumer

	cancel context.CancelFunc
	done   chan struct{}

	mu struct {
		sync.Mutex
		assigned    map[transport.TopicPartition]bool // current assignment
		assignCalls int
		revokeCalls int
		revoked     [][]transport.TopicPartition
		records     []*transport.Record
		last        map[transport.TopicPartition]int64 // last offset per partition since assigned
		violations  []string
		pollErr     error
		inCallback  bool
	}
	// onRevoked, if set, runs inside OnRevoked (for commits).
	onRevoked func(ctx context.Context, c transport.Consumer, parts []transport.TopicPartition)
}

// startMember creates a consumer with opts (callbacks are the member's)
// and polls it until stop.
func (e *env) startMember(name string, opts transport.ConsumerOptions, onRevoked func(context.Context, transport.Consumer, []transport.TopicPartition)) *member {
	e.t.Helper()
	m := &member{t: e.t, name: name, done: make(chan struct{}), onRevoked: onRevoked}
	m.mu.assigned = map[transport.TopicPartition]bool{}
	m.mu.last = map[transport.TopicPartition]int64{}
	opts.OnAssigned = m.assignedCB
	opts.OnRevoked = m.revokedCB
	c, err := e.tr.NewConsumer(e.ctx, opts)
	if err != nil {
		e.t.Fatalf("%s: new consumer: %v", name, err)
	}
	m.c = c
	ctx, cancel := context.WithCancel(e.ctx)
	m.cancel = cancel
	go m.poll(ctx)
	e.t.Cleanup(func() { m.close(context.Background()) })
	return m
}

func (m *member) assignedCB(_ context.Context, parts []transport.TopicPartition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.assignCalls++
	for _, tp := range parts {
		if m.mu.assigned[tp] {
			m.violatef("OnAssigned(%v) while already holding it", tp)
		}
		m.mu.assigned[tp] = true
		delete(m.mu.last, tp)
	}
}

func (m *member) revokedCB(ctx context.Context, parts []transport.TopicPartition) {
	m.mu.Lock()
	m.mu.revokeCalls++
	m.mu.revoked = append(m.mu.revoked, slices.Clone(parts))
	for _, tp := range parts {
		if !m.mu.assigned[tp] {
			m.violatef("OnRevoked(%v) without holding it", tp)
		}
		delete(m.mu.assigned, tp)
	}
	m.mu.inCallback = true
	m.mu.Unlock()
	if m.onRevoked != nil {
		m.onRevoked(ctx, m.c, parts)
	}
	m.mu.Lock()
	m.mu.inCallback = false
	m.mu.Unlock()
}

func (m *member) violatef(format string, args ...any) {
	m.mu.violations = append(m.mu.violations, fmt.Sprintf(m.name+": "+format, args...))
}

func (m *member) poll(ctx context.Context) {
	defer close(m.done)
	for {
		recs, err := m.c.Poll(ctx)
		if err != nil {
			if ctx.Err() == nil {
				m.mu.Lock()
				m.mu.pollErr = err
				m.mu.Unlock()
			}
			return
		}
		m.mu.Lock()
		for _, r := range recs {
			tp := transport.TopicPartition{Topic: r.Topic, Partition: r.Partition}
			if !m.mu.assigned[tp] {
				m.violatef("record %s[%d]@%d returned while not assigned", r.Topic, r.Partition, r.Offset)
			}
			if last, ok := m.mu.last[tp]; ok && r.Offset <= last {
				m.violatef("record %s[%d]@%d after @%d", r.Topic, r.Partition, r.Offset, last)
			}
			m.mu.last[tp] = r.Offset
		}
		m.mu.records = append(m.mu.records, recs...)
		m.mu.Unlock()
	}
}

// stopPolling ends the poll goroutine, so that the test may call the
// consumer's Poll and Close itself.
func (m *member) stopPolling() {
	m.cancel()
	<-m.done
}

// close stops polling and closes the consumer (once).
func (m *member) close(ctx context.Context) {
	m.stopPolling()
	if m.c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if err := m.c.Close(ctx); err != nil {
		m.t.Errorf("%s: close: %v", m.name, err)
	}
	m.c = nil
	m.check()
}

// check fails the test with the contract violations seen so far.
func (m *member) check() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.mu.violations {
		m.t.Error(v)
	}
	m.mu.violations = nil
	if m.mu.pollErr != nil {
		m.t.Errorf("%s: poll: %v", m.name, m.mu.pollErr)
		m.mu.pollErr = nil
	}
}

// assignment returns the partitions the member holds now, sorted.
func (m *member) assignment() []transport.TopicPartition {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]transport.TopicPartition, 0, len(m.mu.assigned))
	for tp := range m.mu.assigned {
		out = append(out, tp)
	}
	sortTPs(out)
	return out
}

// received returns a copy of the records polled so far.
func (m *member) received() []*transport.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.mu.records)
}

func (m *member) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.mu.records)
}

func sortTPs(tps []transport.TopicPartition) {
	slices.SortFunc(tps, func(a, b transport.TopicPartition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
}

// allPartitions lists topic's partitions 0..n-1.
func allPartitions(topic string, n int32) []transport.TopicPartition {
	out := make([]transport.TopicPartition, n)
	for i := range out {
		out[i] = transport.TopicPartition{Topic: topic, Partition: int32(i)}
	}
	return out
}

// byValue indexes records by value, failing on a duplicate.
func byValue(t *testing.T, recs []*transport.Record) map[string]*transport.Record {
	t.Helper()
	out := make(map[string]*transport.Record, len(recs))
	for _, r := range recs {
		if prev, ok := out[string(r.Value)]; ok {
			t.Errorf("value %q delivered twice: %s[%d]@%d and %s[%d]@%d", r.Value, prev.Topic, prev.Partition, prev.Offset, r.Topic, r.Partition, r.Offset)
		}
		out[string(r.Value)] = r
	}
	return out
}
