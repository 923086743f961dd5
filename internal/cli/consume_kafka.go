package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/record"
)

const (
	// pollInterval is how often a consume that must end checks whether it
	// has reached its end offsets while no records arrive.
	pollInterval = 100 * time.Millisecond
	// fetchMaxWait is how long the server may hold a fetch while there is
	// nothing new: the Java client's default (franz-go's is 5s), so that
	// the long poll a consume leaves behind when it stops ends soon.
	fetchMaxWait = 500 * time.Millisecond
	// groupSessionTimeout is the session timeout of consume --group's
	// member: Kafka's old default, shorter than franz-go's 45s, so that a
	// killed tide consume does not hold its partitions long.
	groupSessionTimeout = 10 * time.Second
)

// consumePlan is where a consume over Kafka starts and, without --follow,
// ends, as learned from the server before reading.
type consumePlan struct {
	topic      string
	partitions []int32         // the partitions to read, in order (with --group: every partition)
	logStarts  map[int32]int64 // each partition's first offset
	starts     map[int32]int64 // where to start; with --group, where to start without a committed offset
	ends       map[int32]int64 // each partition's end offset when the plan was made
	startAt    kgo.Offset      // with --group: the start without a committed offset, for the client
}

// consumeOverKafka prints the records of topic on the server that opts
// select, as consume does for a data directory. With a group it reads as
// a member of that group and commits the offsets of what it printed.
func consumeOverKafka(ctx context.Context, s *serverFlags, topic, group string, opts consumeOptions, e *env) error {
	plan, err := planConsume(ctx, s, topic, group != "", opts)
	if err != nil {
		return err
	}
	pr := &printer{w: bufio.NewWriterSize(e.stdout, 64<<10), opts: opts}
	switch {
	case group != "":
		err = consumeGroup(ctx, s, plan, group, pr, e.stderr)
	case opts.follow:
		err = consumeDirect(ctx, s, plan, [][]int32{plan.partitions}, pr, e.stderr)
	default:
		// One partition after the other, in order, as on a data directory.
		var sets [][]int32
		for _, p := range plan.partitions {
			if plan.starts[p] < plan.ends[p] {
				sets = append(sets, []int32{p})
			}
		}
		err = consumeDirect(ctx, s, plan, sets, pr, e.stderr)
	}
	if errors.Is(err, errMaxReached) || errors.Is(err, context.Canceled) {
		err = nil
	}
	if ferr := pr.flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "consumed %d records\n", pr.count())
	return nil
}

// planConsume checks the topic and partition and finds every start (and
// end) before anything is read, so that bad input fails before any output.
func planConsume(ctx context.Context, s *serverFlags, topic string, group bool, opts consumeOptions) (*consumePlan, error) {
	adm, err := s.connectAdmin(ctx)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	partitions, err := adm.topicPartitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	if opts.partition >= 0 {
		if !slices.Contains(partitions, opts.partition) {
			return nil, unknownPartition(topic, opts.partition)
		}
		partitions = []int32{opts.partition}
	}
	plan := &consumePlan{topic: topic, partitions: partitions, startAt: kgo.NewOffset().AtStart()}
	var logStarts, ends, byTime kadm.ListedOffsets
	err = adm.do(ctx, "list offsets of "+topic, func(ctx context.Context) (err error) {
		if logStarts, err = adm.ListStartOffsets(ctx, topic); err != nil {
			return err
		}
		if logStarts, err = listedOffsets("start offset", logStarts); err != nil {
			return err
		}
		if ends, err = adm.ListEndOffsets(ctx, topic); err != nil {
			return err
		}
		if ends, err = listedOffsets("end offset", ends); err != nil {
			return err
		}
		if !opts.fromTime.IsZero() {
			// The end offset where no record is that new.
			if byTime, err = adm.ListOffsetsAfterMilli(ctx, opts.fromTime.UnixMilli(), topic); err != nil {
				return err
			}
			byTime, err = listedOffsets("offset for time", byTime)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	plan.logStarts, plan.starts, plan.ends = map[int32]int64{}, map[int32]int64{}, map[int32]int64{}
	for _, p := range partitions {
		start, _ := logStarts.Lookup(topic, p)
		end, _ := ends.Lookup(topic, p)
		plan.logStarts[p], plan.ends[p] = start.Offset, end.Offset
		switch {
		case opts.offset >= 0 && group:
			// Kafka clients move an out-of-range start to the nearest end.
			plan.starts[p] = min(max(opts.offset, start.Offset), end.Offset)
			plan.startAt = kgo.NewOffset().At(opts.offset)
		case opts.offset >= 0:
			if opts.offset < start.Offset || opts.offset > end.Offset {
				return nil, &answerError{err: kerr.OffsetOutOfRange, message: fmt.Sprintf(
					"offset out of range: offset %d is not in [%d, %d] of partition %s-%d", opts.offset, start.Offset, end.Offset, topic, p)}
			}
			plan.starts[p] = opts.offset
		case !opts.fromTime.IsZero():
			at, _ := byTime.Lookup(topic, p)
			plan.starts[p] = at.Offset
			plan.startAt = kgo.NewOffset().AfterMilli(opts.fromTime.UnixMilli())
		default:
			plan.starts[p] = start.Offset
		}
	}
	return plan, nil
}

// consumeDirect reads partitions without a group, from their planned
// starts, one set of partitions after the other: to their planned ends,
// or with --follow until ctx ends.
func consumeDirect(ctx context.Context, s *serverFlags, plan *consumePlan, sets [][]int32, pr *printer, stderr io.Writer) error {
	if len(sets) == 0 {
		return nil
	}
	offsets := func(set []int32) map[string]map[int32]kgo.Offset {
		m := map[int32]kgo.Offset{}
		for _, p := range set {
			m[p] = kgo.NewOffset().At(plan.starts[p])
		}
		return map[string]map[int32]kgo.Offset{plan.topic: m}
	}
	cl, err := s.connect(ctx,
		kgo.ConsumePartitions(offsets(sets[0])),
		// Retention may delete a start before it is read: go on from the
		// first record still stored.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(fetchMaxWait),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	r := newKafkaReader(plan, pr, s.timeout, stderr)
	r.cl = cl
	for i, set := range sets {
		if i > 0 {
			// Drops what was fetched of the previous set beyond its end.
			cl.RemoveConsumePartitions(map[string][]int32{plan.topic: sets[i-1]})
			cl.AddConsumePartitions(offsets(set))
		}
		r.read(set)
		if err := r.run(ctx); err != nil {
			return err
		}
	}
	return nil
}

// consumeGroup reads as a member of group: the group assigns the
// partitions, and their committed offsets (else the plan's start) say
// where to start. It commits the offsets of what it printed: every few
// seconds, when partitions are taken away, and before it returns.
func consumeGroup(ctx context.Context, s *serverFlags, plan *consumePlan, group string, pr *printer, stderr io.Writer) error {
	r := newKafkaReader(plan, pr, s.timeout, stderr)
	r.group = group
	cl, err := s.connect(ctx,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(plan.topic),
		kgo.ConsumeStartOffset(plan.startAt),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(groupSessionTimeout),
		// Commits and the leave give up after --timeout, so that a member
		// whose server is gone still ends; joins keep franz-go's bound.
		kgo.RetryTimeoutFn(func(key int16) time.Duration {
			switch kmsg.Key(key) {
			case kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat:
				return groupSessionTimeout
			}
			return s.timeout
		}),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(fetchMaxWait),
		// Offsets move only for records printed (and flushed): marked
		// after printing, committed by the client every 5s and on
		// revocation, and by commit below before leaving.
		kgo.AutoCommitMarks(),
		// Rebalance callbacks run between polls, never while a poll's
		// records are printed and marked.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(r.assigned),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
		kgo.OnOffsetsFetched(r.offsetsFetched),
	)
	if err != nil {
		return err
	}
	r.cl = cl
	err = r.run(ctx)
	if errors.Is(err, errMaxReached) || errors.Is(err, context.Canceled) {
		err = nil // a clean stop, but the commit below must still succeed
	}

	// Commit what was printed and leave, even after a signal, bounded by
	// --timeout each.
	bg := context.WithoutCancel(ctx)
	cctx, cancel := context.WithTimeout(bg, s.timeout)
	defer cancel()
	cerr := cl.CommitMarkedOffsets(cctx)
	if cerr == nil {
		cerr = r.commitStarts(cctx)
	}
	if cerr == nil {
		// The client forgets the marks of partitions it lost (to a
		// rebalance, or to a server that went away) without committing
		// them: check that the group has what was printed.
		cerr = r.checkCommitted(cctx)
	}
	if cerr != nil {
		if cctx.Err() != nil {
			cerr = fmt.Errorf("no answer within --timeout %s", s.timeout)
		}
		err = errors.Join(err, fmt.Errorf("commit offsets of group %s (records printed will be read again): %w", group, cerr))
	}
	lctx, cancel := context.WithTimeout(bg, s.timeout)
	defer cancel()
	_ = cl.LeaveGroupContext(lctx) // the session timeout ends a member that could not leave
	cl.Close()
	return err
}

// commitStarts commits where the group starts in the partitions it has
// no committed offset for and printed nothing of, as Kafka clients commit
// their position: so that the next run goes on from there rather than
// apply --from-beginning, --offset or --from-time again. (The client
// commits only the offsets of records consumed.)
func (r *kafkaReader) commitStarts(ctx context.Context) error {
	r.mu.Lock()
	starts := map[int32]kgo.EpochOffset{}
	for p, c := range r.mu.owned {
		if _, printed := r.mu.printedTo[p]; !printed && c.next >= 0 && r.mu.fetched[p] < 0 {
			starts[p] = kgo.EpochOffset{Epoch: -1, Offset: c.next}
			r.mu.printedTo[p] = c.next
		}
	}
	r.mu.Unlock()
	if len(starts) == 0 {
		return nil
	}
	var cerr error
	r.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{r.plan.topic: starts},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if err := kerr.ErrorForCode(p.ErrorCode); err != nil && cerr == nil {
						cerr = fmt.Errorf("%s-%d: %w", t.Topic, p.Partition, err)
					}
				}
			}
		})
	return cerr
}

// checkCommitted fetches the group's committed offsets and checks that
// they cover every record printed.
func (r *kafkaReader) checkCommitted(ctx context.Context) error {
	r.mu.Lock()
	printed := maps.Clone(r.mu.printedTo)
	r.mu.Unlock()
	if len(printed) == 0 {
		return nil
	}
	committed, err := kadm.NewClient(r.cl).FetchOffsetsForTopics(ctx, r.group, r.plan.topic)
	if err != nil {
		return err
	}
	for _, p := range slices.Sorted(maps.Keys(printed)) {
		o, ok := committed.Lookup(r.plan.topic, p)
		switch {
		case ok && o.Err != nil:
			return fmt.Errorf("%s-%d: %w", r.plan.topic, p, o.Err)
		case !ok || o.At < printed[p]:
			at := "no offset"
			if ok && o.At >= 0 {
				at = fmt.Sprintf("offset %d", o.At)
			}
			return fmt.Errorf("partition %s-%d has %s committed, but was printed up to offset %d", r.plan.topic, p, at, printed[p])
		}
	}
	return nil
}

// kafkaReader polls a client and prints what it fetches. Without
// --follow it stops once every partition it reads has reached the end
// offset of the plan; with --follow when ctx ends. With a group, the
// partitions it reads change with the group's assignment, which the
// client's callbacks report.
type kafkaReader struct {
	cl      *kgo.Client
	plan    *consumePlan
	pr      *printer
	follow  bool
	group   string // "" when reading partitions directly
	timeout time.Duration
	stderr  io.Writer

	mu struct {
		sync.Mutex
		owned map[int32]*cursor // the partitions read now
		// fetched holds a group's committed offsets (-1: none) of
		// partitions assigned or being assigned.
		fetched map[int32]int64
		// printedTo is, with a group, the offset after the last record
		// printed (or skipped as a control record) of each partition:
		// what must be committed.
		printedTo map[int32]int64
		// sessionWarned is set once a lost group session was reported,
		// until the next assignment.
		sessionWarned bool
		joined        bool // the partitions read are known (with a group: assigned once)
		events        int  // changes of owned, which count as progress
	}
}

// cursor is where reading one partition has got to.
type cursor struct {
	next int64 // the next offset to read; -1 until known (a group member's committed offsets are being fetched)
}

func newKafkaReader(plan *consumePlan, pr *printer, timeout time.Duration, stderr io.Writer) *kafkaReader {
	r := &kafkaReader{plan: plan, pr: pr, follow: pr.opts.follow, timeout: timeout, stderr: stderr}
	r.mu.owned = map[int32]*cursor{}
	r.mu.fetched = map[int32]int64{}
	r.mu.printedTo = map[int32]int64{}
	return r
}

// read sets the partitions a direct reader reads, from their planned
// starts.
func (r *kafkaReader) read(partitions []int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.mu.owned)
	for _, p := range partitions {
		r.mu.owned[p] = &cursor{next: r.plan.starts[p]}
	}
	r.mu.joined = true
	r.mu.events++
}

// run polls until the end (see kafkaReader), --max, or a failure. Without
// --follow a reader that makes no progress for --timeout fails rather
// than wait for ever: the records it waits for exist.
func (r *kafkaReader) run(ctx context.Context) error {
	lastProgress, lastEvents := time.Now(), 0
	for {
		events, done := r.status()
		if done {
			return nil
		}
		if events != lastEvents {
			lastProgress, lastEvents = time.Now(), events
		}
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if !r.follow {
			pctx, cancel = context.WithTimeout(ctx, pollInterval)
		}
		fetches := r.cl.PollFetches(pctx)
		cancel()
		progressed, err := r.handle(fetches)
		// Marks and output are settled: rebalances may run.
		r.cl.AllowRebalance()
		switch {
		case err != nil:
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		case progressed:
			lastProgress = time.Now()
		case !r.follow && time.Since(lastProgress) > r.timeout:
			return r.stalled()
		}
	}
}

// status reports the count of assignment changes and whether every
// partition read has reached its end.
func (r *kafkaReader) status() (events int, done bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.follow || !r.mu.joined {
		return r.mu.events, false
	}
	for p, c := range r.mu.owned {
		if end, ok := r.plan.ends[p]; ok && (c.next < 0 || c.next < end) {
			return r.mu.events, false
		}
		// A partition created after the plan has no records to read.
	}
	return r.mu.events, true
}

func (r *kafkaReader) stalled() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.mu.joined {
		return fmt.Errorf("group %s assigned no partitions within --timeout %s (a rebalance may be waiting for other members; try a longer --timeout)", r.group, r.timeout)
	}
	for _, p := range slices.Sorted(maps.Keys(r.mu.owned)) {
		c := r.mu.owned[p]
		if end, ok := r.plan.ends[p]; ok && c.next < end {
			at := "an unknown offset"
			if c.next >= 0 {
				at = fmt.Sprintf("offset %d", c.next)
			}
			return fmt.Errorf("no records from the server within --timeout %s: partition %s-%d is at %s of %d", r.timeout, r.plan.topic, p, at, end)
		}
	}
	return fmt.Errorf("no records from the server within --timeout %s", r.timeout)
}

// handle prints the records of one poll and, with a group, marks them for
// committing once they are flushed. It reports whether any record came.
func (r *kafkaReader) handle(fetches kgo.Fetches) (progressed bool, err error) {
	for _, fe := range fetches.Errors() {
		if err := r.fetchError(fe); err != nil {
			return false, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var printed []*kgo.Record
	var recs [1]record.Record
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		c := r.mu.owned[fp.Partition]
		if err != nil || c == nil || fp.Topic != r.plan.topic {
			return // after --max, or no longer this reader's
		}
		end, bounded := r.plan.ends[fp.Partition]
		for _, kr := range fp.Records {
			progressed = true
			if !r.follow && (!bounded || kr.Offset >= end) {
				break // past the end reported at start
			}
			c.next = kr.Offset + 1
			if kr.Attrs.IsControl() { // a transaction marker, not data
				printed = append(printed, kr)
				continue
			}
			recs[0] = kafkaRecord(kr)
			err = r.pr.print(fp.Partition, recs[:], 0)
			if err != nil && !errors.Is(err, errMaxReached) {
				return // the record was not printed
			}
			printed = append(printed, kr)
			if err != nil {
				return
			}
		}
	})
	if r.group != "" || r.follow {
		if ferr := r.pr.flush(); ferr != nil {
			return progressed, ferr
		}
	}
	if r.group != "" {
		r.cl.MarkCommitRecords(printed...)
		for _, kr := range printed {
			r.mu.printedTo[kr.Partition] = kr.Offset + 1
		}
	}
	return progressed, err
}

// fetchError returns the errors of a poll that end reading.
func (r *kafkaReader) fetchError(fe kgo.FetchError) error {
	if _, ok := errors.AsType[*kgo.ErrDataLoss](fe.Err); ok {
		// The client resumed where it could; say so, and go on.
		fmt.Fprintf(r.stderr, "tide: warning: %v\n", fe.Err)
		return nil
	}
	if _, ok := errors.AsType[*kgo.ErrGroupSession](fe.Err); ok {
		// The client rejoins; without --follow --timeout bounds it.
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.mu.sessionWarned {
			r.mu.sessionWarned = true
			fmt.Fprintf(r.stderr, "tide: warning: %v (rejoining)\n", fe.Err)
		}
		return nil
	}
	switch {
	case errors.Is(fe.Err, context.Canceled), errors.Is(fe.Err, context.DeadlineExceeded):
		return nil // a poll interval ended, or a signal: run decides
	case fe.Topic == "" || fe.Partition < 0:
		return fmt.Errorf("consume: %w", fe.Err)
	case errors.Is(fe.Err, kerr.UnknownTopicOrPartition):
		return answer(fe.Err, fmt.Sprintf("partition %s-%d went away while reading", fe.Topic, fe.Partition))
	}
	return fmt.Errorf("read %s-%d: %w", fe.Topic, fe.Partition, fe.Err)
}

// kafkaRecord is the printer's form of a fetched record; it shares the
// record's bytes.
func kafkaRecord(kr *kgo.Record) record.Record {
	rec := record.Record{Offset: kr.Offset, Timestamp: kr.Timestamp.UnixMilli(), Key: kr.Key, Value: kr.Value}
	if len(kr.Headers) > 0 {
		rec.Headers = make([]record.Header, len(kr.Headers))
		for i, h := range kr.Headers {
			rec.Headers[i] = record.Header{Key: h.Key, Value: h.Value}
		}
	}
	return rec
}

// The group callbacks keep owned in step with the assignment. With
// BlockRebalanceOnPoll the client runs them between polls.

func (r *kafkaReader) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range assigned[r.plan.topic] {
		if r.mu.owned[p] == nil {
			r.mu.owned[p] = &cursor{next: -1}
		}
	}
	r.resolveLocked()
	r.mu.joined = true // called after every join, even with nothing new
	r.mu.sessionWarned = false
	r.mu.events++
}

// offsetsFetched learns the committed offsets of newly assigned
// partitions. The client calls it after assigned; resolveLocked does not
// depend on the order.
func (r *kafkaReader) offsetsFetched(_ context.Context, _ *kgo.Client, resp *kmsg.OffsetFetchResponse) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range resp.Groups { // v8+
		for _, t := range g.Topics {
			if t.Topic == r.plan.topic {
				for _, p := range t.Partitions {
					r.mu.fetched[p.Partition] = p.Offset
				}
			}
		}
	}
	for _, t := range resp.Topics { // up to v7
		if t.Topic == r.plan.topic {
			for _, p := range t.Partitions {
				r.mu.fetched[p.Partition] = p.Offset
			}
		}
	}
	r.resolveLocked()
	r.mu.events++
	return nil
}

// resolveLocked sets where each assigned partition starts once its
// committed offset is known: there, else at the plan's start, as the
// client does.
func (r *kafkaReader) resolveLocked() {
	for p, c := range r.mu.owned {
		offset, ok := r.mu.fetched[p]
		if c.next >= 0 || !ok {
			continue
		}
		if offset >= 0 {
			// Below the log start, the client resumes at the log start.
			c.next = max(offset, r.plan.logStarts[p])
		} else {
			c.next = r.plan.starts[p] // 0 for a partition created since
		}
	}
}

func (r *kafkaReader) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	// What was printed of these partitions is committed before another
	// member takes them over.
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := cl.CommitMarkedOffsets(cctx); err != nil {
		fmt.Fprintf(r.stderr, "tide: warning: commit offsets of group %s on rebalance: %v\n", r.group, err)
	}
	r.lost(ctx, cl, revoked)
}

func (r *kafkaReader) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range lost[r.plan.topic] {
		delete(r.mu.owned, p)
		delete(r.mu.fetched, p)
	}
	r.mu.events++
}
