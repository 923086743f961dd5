package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/transport"
)

// TopicSource reads a topic through a transport consumer in the
// pipeline's group (Env.Group), and commits offsets only as batches are
// acknowledged.
//
// # Offsets
//
// Read returns one batch per partition chunk of a Poll: the Poll's
// records are split by partition, each batch keeps its partition's
// order, and the rest waits for the next Read. A batch's Ack marks its
// last offset + 1 as committable for its partition (a partition's acks
// arrive in order). A commit loop, the source's one goroutine, commits
// the marked offsets every commit interval; Close stops it and commits
// what was acknowledged.
//
// Before a partition is taken away (a rebalance, or Close), OnRevoked
// drops the partition's records not yet returned, waits until every batch
// returned for it is acknowledged (or its context ends; the unacknowledged
// records are then read again by the next owner: at-least-once), commits,
// and forgets the partition: a late Ack of a revoked partition is ignored,
// so an old owner never moves a new owner's offsets back.
//
// # Start
//
// Committed offsets always win, as Flink's 'group-offsets' mode: a
// restarted pipeline resumes where it stopped. The startup mode applies to
// partitions the group has never committed: 'earliest' (default) reads
// them from the start, 'latest' from the end; 'group-offsets' is the
// default behaviour spelled out ('earliest' for partitions without a
// commit). Unlike Flink, 'earliest' does not ignore committed offsets; to
// read a topic again, reset the group's offsets.
//
// # Bounded reading
//
// With 'scan.bounded.mode' = 'latest-offset' (Flink's name) the source
// reads each partition up to its end offset when the source is opened,
// then Read returns io.EOF: the pipeline finishes as over a bounded
// generator, its last windows closing. Records written after that are
// left for a later run. It reads every partition of the topic, so it is
// meant for one worker (a backfill, a benchmark).
type TopicSource struct {
	env            Env
	logger         *slog.Logger
	topic          string
	start          transport.StartOffset
	partitions     int32
	commitInterval time.Duration
	externalCommit bool
	bounded        bool

	// stopAt is, for a bounded source, each partition's end offset when
	// it was opened; next the offset after the last record returned (or
	// where reading started); done marks the partitions read up to stopAt.
	stopAt, next map[int32]int64
	done         map[int32]bool

	consumer transport.Consumer // opened by the first Read
	closed   bool

	// commitMu serializes commits, so offsets never go back because two
	// commits crossed, and makes a revoke's last commit final.
	commitMu sync.Mutex

	mu struct {
		sync.Mutex
		// pending holds records polled but not returned yet, in poll
		// order. Only Read and the rebalance callbacks use it, which never
		// run at once, but the lock costs nothing here.
		pending []*transport.Record
		parts   map[int32]*partitionState
		// lease is the memory of the poll pending's records came from,
		// when the consumer can reuse it.
		lease *pollLease
	}
	// freeMsgs holds acknowledged batches' message slabs for later ones.
	freeMsgs chan []Message
	// acked is signalled (with mu held) when an Ack arrives.
	acked *sync.Cond

	stopLoop chan struct{}
	loopDone chan struct{}
}

// pollLease is the memory of one poll's records, which the consumer
// reuses once done is called (transport.RecyclingConsumer): when every
// batch carved from the poll is acknowledged — after which the runtime
// holds nothing of them (see Batch) — and none is left pending. A batch
// released unacknowledged may still be read by a task that gave up on
// it: its poll's memory is left to the collector. Guarded by
// TopicSource.mu.
type pollLease struct {
	refs   int // batches not acknowledged yet, and one while records are pending
	failed bool
	done   func()
}

// drop takes one reference away and returns the function to call (outside
// the lock) if that was the last.
func (l *pollLease) drop() func() {
	if l == nil {
		return nil
	}
	l.refs--
	if l.refs > 0 || l.failed {
		return nil
	}
	return l.done
}

// freeMessageSlabs bounds the message slabs a topic source keeps: enough
// for the batches between Read and their acknowledgement.
const freeMessageSlabs = 16

// partitionState is one partition's offsets, guarded by TopicSource.mu.
type partitionState struct {
	owned bool
	// generation counts revocations: an Ack from a batch of an earlier
	// generation is ignored.
	generation  uint64
	outstanding int   // batches returned, not yet acknowledged or released
	released    bool  // a batch was released: acknowledgements stop counting
	ackedNext   int64 // offset after the last acknowledged record; -1: none
	committed   int64 // the last offset committed; -1: none
}

var _ PartitionedSource = (*TopicSource)(nil)

// TopicSourceOptions configures NewTopicSource.
type TopicSourceOptions struct {
	Topic string
	// Start applies to partitions without a committed offset.
	Start transport.StartOffset
	// CommitInterval is how often acknowledged offsets are committed;
	// <= 0 means 1s.
	CommitInterval time.Duration
	// Create creates the topic if it does not exist, with Partitions
	// partitions (<= 0: the transport's default).
	Create     bool
	Partitions int32
	// ExternalCommit leaves committing to the runtime, which commits a
	// batch's offsets in the transaction that writes its outputs: the
	// source only tracks what was acknowledged and never commits itself
	// (a late commit of its own could move the group's offsets back).
	ExternalCommit bool
	// Bounded stops at the partitions' end offsets when the source is
	// opened (scan.bounded.mode = 'latest-offset'): Read then returns
	// io.EOF.
	Bounded bool
}

// newTopicSourceFromOptions reads the WITH options:
//
//	topic              required
//	scan.startup.mode  'earliest' (default) | 'latest' | 'group-offsets'
//	topic.create       'true' (default): create the topic if it is missing
//	topic.partitions   its partitions then (default: the transport's)
//	commit.interval    how often acknowledged offsets are committed ('1s')
//	scan.bounded.mode  'unbounded' (default) | 'latest-offset': stop at the
//	                   end offsets of when the source is opened
func newTopicSourceFromOptions(_ []format.Column, opts map[string]string, env Env) (Source, error) {
	so, err := parseTopicSourceOptions(opts)
	if err != nil {
		return nil, err
	}
	so.ExternalCommit = env.ExternalCommit
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	return NewTopicSource(ctx, env, so)
}

func parseTopicSourceOptions(opts map[string]string) (TopicSourceOptions, error) {
	o := newOptions("topic", opts, "topic", "scan.startup.mode", "scan.bounded.mode", "commit.interval", "topic.create", "topic.partitions")
	so := TopicSourceOptions{Topic: o.required("topic")}
	if o.oneOf("scan.startup.mode", "earliest", "earliest", "latest", "group-offsets") == "latest" {
		so.Start = transport.StartLatest
	}
	so.Bounded = o.oneOf("scan.bounded.mode", "unbounded", "unbounded", "latest-offset") == "latest-offset"
	so.CommitInterval = o.duration("commit.interval", time.Second)
	so.Create = o.bool("topic.create", true)
	so.Partitions = int32(o.int("topic.partitions", 0, 1, math.MaxInt32))
	return so, o.check()
}

// NewTopicSource looks the topic up (it must exist) and returns a source
// that joins env.Group on its first Read.
func NewTopicSource(ctx context.Context, env Env, o TopicSourceOptions) (*TopicSource, error) {
	if env.Transport == nil {
		return nil, errors.New("connector topic: no transport")
	}
	if env.Group == "" {
		return nil, errors.New("connector topic: no consumer group")
	}
	info, err := env.Transport.Topic(ctx, o.Topic)
	if errors.Is(err, transport.ErrTopicNotFound) && o.Create {
		// A source declared before its first producer: create the topic,
		// as Kafka's auto-creation would on the first write.
		err = env.Transport.CreateTopic(ctx, transport.TopicSpec{Name: o.Topic, Partitions: o.Partitions})
		if err == nil || errors.Is(err, transport.ErrTopicExists) {
			info, err = env.Transport.Topic(ctx, o.Topic)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("connector topic: source topic %q: %w", o.Topic, err)
	}
	if o.CommitInterval <= 0 {
		o.CommitInterval = time.Second
	}
	s := &TopicSource{
		env:            env,
		logger:         env.Logger,
		topic:          o.Topic,
		start:          o.Start,
		partitions:     info.Partitions,
		commitInterval: o.CommitInterval,
		externalCommit: o.ExternalCommit,
		bounded:        o.Bounded,
		freeMsgs:       make(chan []Message, freeMessageSlabs),
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.mu.parts = make(map[int32]*partitionState)
	s.acked = sync.NewCond(&s.mu)
	return s, nil
}

// Partitions returns the topic's partition count when the source was made.
func (s *TopicSource) Partitions() int32 { return s.partitions }

func (s *TopicSource) open(ctx context.Context) error {
	c, err := s.env.Transport.NewConsumer(ctx, transport.ConsumerOptions{
		Group:      s.env.Group,
		Topics:     []string{s.topic},
		Start:      s.start,
		OnAssigned: s.onAssigned,
		OnRevoked:  s.onRevoked,
	})
	if err != nil {
		return fmt.Errorf("connector topic: consuming %q: %w", s.topic, err)
	}
	if s.bounded {
		if err := s.findBounds(ctx); err != nil {
			return errors.Join(err, c.Close(ctx))
		}
	}
	s.consumer = c
	s.stopLoop, s.loopDone = make(chan struct{}), make(chan struct{})
	go s.commitLoop()
	return nil
}

// Read returns the next partition chunk; see the type's doc.
func (s *TopicSource) Read(ctx context.Context) (Batch, error) {
	if s.consumer == nil {
		if err := s.open(ctx); err != nil {
			return Batch{}, err
		}
	}
	for {
		if b, ok := s.nextBatch(); ok {
			if s.bounded {
				s.next[b.Partition] = b.Messages[len(b.Messages)-1].Origin.Offset + 1
				if s.next[b.Partition] >= s.stopAt[b.Partition] {
					s.done[b.Partition] = true
				}
			}
			return b, nil
		}
		s.endLease() // nothing pending is left of the last poll
		if s.bounded && len(s.done) == len(s.stopAt) {
			return Batch{}, io.EOF
		}
		recs, done, err := s.poll(ctx)
		if err != nil {
			return Batch{}, err
		}
		s.mu.Lock()
		s.mu.pending = append(s.mu.pending, recs...)
		if done != nil {
			s.mu.lease = &pollLease{refs: 1, done: done}
		}
		s.mu.Unlock()
	}
}

// findBounds reads where a bounded source stops: each partition's end
// offset now. A partition with nothing to read before it — empty, or
// committed up to it by an earlier run — is done already.
func (s *TopicSource) findBounds(ctx context.Context) error {
	tr := s.env.Transport
	ends, err := tr.EndOffsets(ctx, s.topic)
	if err != nil {
		return fmt.Errorf("connector topic: end offsets of %q: %w", s.topic, err)
	}
	starts, err := tr.StartOffsets(ctx, s.topic)
	if err != nil {
		return fmt.Errorf("connector topic: start offsets of %q: %w", s.topic, err)
	}
	groups, err := tr.Groups(ctx)
	if err != nil {
		return fmt.Errorf("connector topic: committed offsets of %q: %w", s.env.Group, err)
	}
	from := starts
	if s.start == transport.StartLatest {
		from = ends
	}
	s.stopAt, s.next, s.done = map[int32]int64{}, map[int32]int64{}, map[int32]bool{}
	for p, end := range ends {
		s.stopAt[p], s.next[p] = end, from[p]
		for _, g := range groups {
			if o, ok := g.Offsets[transport.TopicPartition{Topic: s.topic, Partition: p}]; ok && g.Group == s.env.Group {
				s.next[p] = max(o, starts[p]) // what retention deleted is not read
			}
		}
		if s.next[p] >= end {
			s.done[p] = true
		}
	}
	return nil
}

// boundedPollWait is how long a bounded source polls before it checks
// whether the partitions it still waits for have anything left before
// their bounds.
const boundedPollWait = 200 * time.Millisecond

// poll polls the consumer. A bounded source's poll that brings nothing
// checks the partitions not done: one whose next record is at or past
// its bound is done — the offsets before the bound were transaction
// markers or records deleted by retention or compaction, which no
// record returned will ever reach.
//
// done, when not nil, gives the records' memory back to the consumer.
func (s *TopicSource) poll(ctx context.Context) (_ []*transport.Record, done func(), _ error) {
	if !s.bounded {
		return s.pollConsumer(ctx)
	}
	pollCtx, cancel := context.WithTimeout(ctx, boundedPollWait)
	recs, done, err := s.pollConsumer(pollCtx)
	cancel()
	if err != nil && (ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded)) {
		return nil, nil, err
	}
	// A record at or past its partition's bound: the consumer delivers
	// in order, so nothing before the bound is left there.
	recs = slices.DeleteFunc(recs, func(r *transport.Record) bool {
		stop, ok := s.stopAt[r.Partition]
		if !ok { // a partition added since the source opened: not in this run
			return true
		}
		if r.Offset >= stop {
			s.done[r.Partition] = true
			return true
		}
		return false
	})
	if len(recs) > 0 {
		return recs, done, nil
	}
	if done != nil {
		done()
	}
	for p, stop := range s.stopAt {
		if s.done[p] {
			continue
		}
		tp := transport.TopicPartition{Topic: s.topic, Partition: p}
		left, err := s.env.Transport.ReadAt(ctx, tp, s.next[p], 1)
		if errors.Is(err, transport.ErrOffsetOutOfRange) {
			// Retention or DeleteRecords moved the start past where the
			// partition was to be read from: the consumer skips there too.
			starts, serr := s.env.Transport.StartOffsets(ctx, s.topic)
			if serr != nil {
				return nil, nil, serr
			}
			if starts[p] > s.next[p] {
				s.next[p] = starts[p]
				if s.next[p] >= stop {
					s.done[p] = true
				}
			}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if len(left) == 0 || left[0].Offset >= stop {
			s.done[p] = true
		}
	}
	return nil, nil, nil
}

// pollConsumer polls, with the records' memory's done when the consumer
// can reuse it.
func (s *TopicSource) pollConsumer(ctx context.Context) ([]*transport.Record, func(), error) {
	if rc, ok := s.consumer.(transport.RecyclingConsumer); ok {
		return rc.PollRecycle(ctx)
	}
	recs, err := s.consumer.Poll(ctx)
	return recs, nil, err
}

// endLease drops pending's reference to its poll's memory.
func (s *TopicSource) endLease() {
	s.mu.Lock()
	done := s.mu.lease.drop()
	s.mu.lease = nil
	s.mu.Unlock()
	if done != nil {
		done()
	}
}

// nextBatch takes the records of the first pending record's partition.
func (s *TopicSource) nextBatch() (Batch, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pending := s.mu.pending
	if len(pending) == 0 {
		return Batch{}, false
	}
	p := pending[0].Partition
	n := 0
	for _, r := range pending {
		if r.Partition == p {
			n++
		}
	}
	var msgs []Message
	select {
	case msgs = <-s.freeMsgs:
	default:
	}
	if cap(msgs) < n {
		msgs = make([]Message, 0, n)
	}
	rest := pending[:0]
	for _, r := range pending {
		if r.Partition != p {
			rest = append(rest, r)
			continue
		}
		msgs = append(msgs, Message{
			Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp,
			Origin: Origin{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset},
		})
	}
	clear(pending[len(rest):])
	s.mu.pending = rest

	st := s.stateLocked(p)
	st.outstanding++
	lease := s.mu.lease
	if lease != nil {
		lease.refs++
	}
	generation, next := st.generation, msgs[len(msgs)-1].Origin.Offset+1
	var once atomic.Bool
	return Batch{Partition: p, Messages: msgs, Ack: func() {
		if !once.Swap(true) {
			s.ack(p, generation, next, lease)
			// The runtime holds nothing of the batch now.
			clear(msgs)
			select {
			case s.freeMsgs <- msgs[:0]:
			default:
			}
		}
	}, Release: func() {
		if !once.Swap(true) {
			s.release(p, generation, lease)
		}
	}}, true
}

// stateLocked returns p's state, making it owned if the transport
// returned its records without OnAssigned first.
func (s *TopicSource) stateLocked(p int32) *partitionState {
	st := s.mu.parts[p]
	if st == nil {
		st = &partitionState{ackedNext: -1, committed: -1}
		s.mu.parts[p] = st
	}
	if !st.owned {
		st.owned, st.outstanding, st.ackedNext, st.committed, st.released = true, 0, -1, -1, false
	}
	return st
}

func (s *TopicSource) ack(p int32, generation uint64, next int64, lease *pollLease) {
	s.mu.Lock()
	done := lease.drop()
	s.ackLocked(p, generation, next)
	s.mu.Unlock()
	if done != nil {
		done()
	}
}

func (s *TopicSource) ackLocked(p int32, generation uint64, next int64) {
	st := s.mu.parts[p]
	if st == nil || !st.owned || st.generation != generation {
		return // revoked meanwhile: the next owner reads these again
	}
	st.outstanding--
	if !st.released { // after a gap, committing further would skip it
		st.ackedNext = max(st.ackedNext, next)
	}
	s.acked.Broadcast()
}

// release gives up a batch unacknowledged: nothing of the partition
// beyond what was acknowledged before is committed any more.
func (s *TopicSource) release(p int32, generation uint64, lease *pollLease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lease != nil {
		lease.failed = true
		lease.refs--
	}
	st := s.mu.parts[p]
	if st == nil || !st.owned || st.generation != generation {
		return
	}
	st.outstanding--
	st.released = true
	s.acked.Broadcast()
}

func (s *TopicSource) onAssigned(ctx context.Context, tps []transport.TopicPartition) {
	var parts []int32
	s.mu.Lock()
	for _, tp := range tps {
		if tp.Topic == s.topic {
			s.stateLocked(tp.Partition)
			parts = append(parts, tp.Partition)
		}
	}
	s.mu.Unlock()
	if s.env.OnAssigned != nil && len(parts) > 0 {
		s.env.OnAssigned(ctx, parts)
	}
}

// onRevoked waits for the revoked partitions' outstanding batches, commits
// them and forgets the partitions.
func (s *TopicSource) onRevoked(ctx context.Context, tps []transport.TopicPartition) {
	revoked := make(map[int32]bool, len(tps))
	for _, tp := range tps {
		if tp.Topic == s.topic {
			revoked[tp.Partition] = true
		}
	}
	if len(revoked) == 0 {
		return
	}
	s.mu.Lock()
	rest := s.mu.pending[:0]
	for _, r := range s.mu.pending {
		if !revoked[r.Partition] {
			rest = append(rest, r)
		}
	}
	clear(s.mu.pending[len(rest):])
	s.mu.pending = rest
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.acked.Broadcast()
		s.mu.Unlock()
	})
	for s.outstandingLocked(revoked) > 0 && ctx.Err() == nil {
		s.acked.Wait()
	}
	stop()
	if n := s.outstandingLocked(revoked); n > 0 {
		s.logger.Warn("partitions revoked with batches unacknowledged; their records will be read again",
			"topic", s.topic, "batches", n, "err", ctx.Err())
	}
	s.mu.Unlock()

	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if err := s.commitLocked(ctx, revoked); err != nil {
		s.logger.Warn("commit on revoke failed; records after the last commit will be read again",
			"topic", s.topic, "err", err)
	}
	s.mu.Lock()
	for p := range revoked {
		if st := s.mu.parts[p]; st != nil {
			st.owned = false
			st.generation++
		}
	}
	s.mu.Unlock()
}

func (s *TopicSource) outstandingLocked(parts map[int32]bool) int {
	n := 0
	for p := range parts {
		if st := s.mu.parts[p]; st != nil && st.owned {
			n += st.outstanding
		}
	}
	return n
}

// commit commits the acknowledged offsets of owned partitions.
func (s *TopicSource) commit(ctx context.Context) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	return s.commitLocked(ctx, nil)
}

// commitLocked commits the acknowledged, uncommitted offsets of the owned
// partitions in only (all if nil). commitMu is held.
func (s *TopicSource) commitLocked(ctx context.Context, only map[int32]bool) error {
	s.mu.Lock()
	var offsets []transport.PartitionOffset
	for p, st := range s.mu.parts {
		if st.owned && st.ackedNext > st.committed && (only == nil || only[p]) {
			offsets = append(offsets, transport.PartitionOffset{
				TopicPartition: transport.TopicPartition{Topic: s.topic, Partition: p},
				Offset:         st.ackedNext,
			})
		}
	}
	s.mu.Unlock()
	if len(offsets) == 0 {
		return nil
	}
	if !s.externalCommit {
		if err := s.consumer.Commit(ctx, offsets); err != nil {
			return err
		}
	}
	s.mu.Lock()
	for _, po := range offsets {
		if st := s.mu.parts[po.Partition]; st != nil {
			st.committed = max(st.committed, po.Offset)
		}
	}
	s.mu.Unlock()
	return nil
}

// commitLoop is the source's goroutine, started by open and stopped by
// Close.
func (s *TopicSource) commitLoop() {
	defer close(s.loopDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t := time.NewTicker(s.commitInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopLoop:
			return
		case <-t.C:
			if err := s.commit(ctx); err != nil {
				s.logger.Warn("offset commit failed; retrying", "topic", s.topic, "err", err)
			}
		}
	}
}

// Close stops the commit loop, commits what was acknowledged and leaves
// the group (whose revocation waits for outstanding batches until ctx
// ends, then commits them too).
func (s *TopicSource) Close(ctx context.Context) error {
	if s.consumer == nil || s.closed {
		return nil
	}
	s.closed = true
	close(s.stopLoop)
	<-s.loopDone
	err := s.commit(ctx)
	if err != nil {
		err = fmt.Errorf("connector topic: final commit of %q: %w", s.topic, err)
	}
	return errors.Join(err, s.consumer.Close(ctx))
}
