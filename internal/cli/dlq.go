package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/engine"
	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
	"github.com/tide-data/tide/internal/transport/kafkatransport"
)

// Dead-letter topics: tide dlq list and tide dlq replay. Both read through
// a transport.Transport — the embedded one over a data directory, the
// franz-go one against a server — so one code path serves both modes.
// Replay's progress is an ordinary consumer group, committed after each
// produce is acknowledged.

// dlqHeaders are the headers the runtime adds to a dead letter; replay
// strips them, and leaves every other header as the record had it.
var dlqHeaders = []string{
	engine.HeaderError, engine.HeaderErrorCode, engine.HeaderStage, engine.HeaderPipeline,
	engine.HeaderTopic, engine.HeaderPartition, engine.HeaderOffset, engine.HeaderAttempts, engine.HeaderValueDropped,
}

// replayGroup is the consumer group that records replay's progress.
func replayGroup(topic string) string { return "tide-dlq-replay-" + topic }

func newDLQCommand(g *globals, e *env) *cobra.Command {
	cmd := groupCommand("dlq", "Inspect dead-letter topics and replay their records")
	cmd.Long = `Inspect a dead-letter topic (a sink's <sink>.dlq, or its dlq.topic) and
replay its records once the cause is fixed, on a data directory or with
--server on a running server.`
	s := &serverFlags{}
	g.addDataDirFlag(cmd, e)
	s.addFlags(cmd, e)
	cmd.AddCommand(newDLQListCommand(g, s), newDLQReplayCommand(g, s))
	return cmd
}

func newDLQListCommand(g *globals, s *serverFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list DLQ-TOPIC",
		Short: "Count a dead-letter topic's records by error code, stage and error",
		Long: `Read a dead-letter topic from its start to its current end and print one row
per distinct (tide.error.code, tide.stage, tide.error): CODE, STAGE, COUNT and
ERROR, most frequent first ("-" where a header is missing). On stderr: the
total, and how many records "tide dlq replay" has not replayed yet.`,
		Example: `  tide dlq list orders_clean.dlq
  tide dlq list orders_clean.dlq --server 127.0.0.1:9092`,
		Args: cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return withDLQ(cmd, g, s, func(b *dlqBackend) error { return dlqList(cmd, b, args[0]) })
		}),
	}
}

type replayOptions struct {
	to            string
	fromOffset    int64 // -1: not given
	fromBeginning bool
	dryRun        bool
	max           int64 // 0: no limit
}

func newDLQReplayCommand(g *globals, s *serverFlags) *cobra.Command {
	opts := replayOptions{fromOffset: -1}
	cmd := &cobra.Command{
		Use:   "replay DLQ-TOPIC [--to TOPIC] [--from-beginning | --from-offset N] [--dry-run] [--max N]",
		Short: "Re-produce dead letters to their origin topic (or --to), once each",
		Long: `Re-produce each record of a dead-letter topic with its original key, value,
timestamp and headers — without the tide.* dead-letter headers — to the topic
it came from (its tide.origin.topic header) or to --to TOPIC. The default
partitioner places it, so a keyed record lands where its key lives. One line
per record on stdout: "replayed DLQ-TOPIC/PARTITION/OFFSET -> TOPIC (STAGE
CODE)"; a count on stderr.

Progress is the consumer group tide-dlq-replay-<DLQ-TOPIC>: the command
commits each batch's offsets after the server acknowledged the produce, so
running it again continues after the last record it replayed, and replays
nothing twice. (A crash between the acknowledgement and the commit replays
that one batch again: at-least-once.) The command stops at the end the topic
had when it started. --from-beginning replays from each partition's first
record, --from-offset N from offset N of every partition; both reset the
group's progress first (the group must have no running replay). A record
without tide.origin.topic and no --to stops the command (exit 2) before it is
replayed, as does one that lost its value (tide.value.dropped: the dead-letter
topic refused it; replayed, it would be a tombstone). --dry-run prints what would be replayed and changes nothing.`,
		Example: `  tide dlq replay orders_clean.dlq --dry-run
  tide dlq replay orders_clean.dlq
  tide dlq replay orders_clean.dlq --to orders_retry --from-beginning --server 127.0.0.1:9092`,
		Args: cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			flags := cmd.Flags()
			if flags.Changed("from-offset") && flags.Changed("from-beginning") {
				return usageErrorf("give one of --from-beginning and --from-offset")
			}
			if flags.Changed("from-offset") && opts.fromOffset < 0 {
				return usageErrorf("--from-offset %d: must not be negative", opts.fromOffset)
			}
			if !flags.Changed("from-offset") {
				opts.fromOffset = -1
			}
			if opts.max < 0 {
				return usageErrorf("--max %d: must not be negative", opts.max)
			}
			if flags.Changed("to") && opts.to == "" {
				return usageErrorf("--to must not be empty")
			}
			return withDLQ(cmd, g, s, func(b *dlqBackend) error { return dlqReplay(cmd, b, args[0], opts) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&opts.to, "to", "", "replay to `TOPIC` instead of each record's origin topic")
	f.Int64Var(&opts.fromOffset, "from-offset", 0, "start at offset `N` of every partition (resets the progress)")
	f.BoolVar(&opts.fromBeginning, "from-beginning", false, "start at each partition's first record (resets the progress)")
	f.BoolVar(&opts.dryRun, "dry-run", false, "print what would be replayed; produce and commit nothing")
	f.Int64Var(&opts.max, "max", 0, "stop after `N` records (0: no limit)")
	return cmd
}

// dlqBackend is a transport plus the two group operations a transport
// does not have: reading and setting a group's offsets as an
// administrator, and deleting a group.
type dlqBackend struct {
	tr        transport.Transport
	idle      time.Duration // how long a read may see nothing before it fails
	committed func(ctx context.Context, group, topic string) (map[int32]int64, error)
	reset     func(ctx context.Context, group, topic string, offsets map[int32]int64) error
	deleteGrp func(ctx context.Context, group string) error
}

// withDLQ opens the data directory, or connects to the server, runs f and
// closes what it opened.
func withDLQ(cmd *cobra.Command, g *globals, s *serverFlags, f func(*dlqBackend) error) error {
	server, err := s.useServer(cmd)
	if err != nil {
		return err
	}
	if s.timeout <= 0 {
		return usageErrorf("--timeout %s: must be positive", s.timeout)
	}
	if server {
		return kafkaExit(withDLQServer(cmd.Context(), s, f))
	}
	return withLog(g.dataDir, false, func(l *log.Log) error {
		coord, err := group.NewCoordinator(l, group.Options{})
		if err != nil {
			return err
		}
		tr := embedded.New(l, coord, embedded.WithClientID(kafkaClientID))
		b := &dlqBackend{
			tr:   tr,
			idle: s.timeout,
			committed: func(_ context.Context, grp, topic string) (map[int32]int64, error) {
				return coord.CommittedOffsets(grp)[topic], nil
			},
			reset: func(ctx context.Context, grp, topic string, offsets map[int32]int64) error {
				return coord.ResetOffsets(ctx, grp, map[string]map[int32]int64{topic: offsets})
			},
			deleteGrp: func(ctx context.Context, grp string) error {
				req := kmsg.NewPtrDeleteGroupsRequest()
				req.Groups = []string{grp}
				_, err := coord.Handle(ctx, req)
				return err
			},
		}
		err = f(b)
		return errors.Join(err, tr.Close(), coord.Close())
	})
}

func withDLQServer(ctx context.Context, s *serverFlags, f func(*dlqBackend) error) error {
	seeds, err := s.seeds()
	if err != nil {
		return err
	}
	adm, err := s.connectAdmin(ctx)
	if err != nil {
		return err
	}
	defer adm.Close()
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	tr, err := kafkatransport.New(cctx, kafkatransport.Config{
		Brokers: seeds, ClientID: kafkaClientID,
		SessionTimeout: groupSessionTimeout, HeartbeatInterval: time.Second,
		Opts: []kgo.Opt{kgo.DialTimeout(s.timeout), kgo.RequestTimeoutOverhead(s.timeout), kgo.FetchMaxWait(fetchMaxWait)},
	})
	if err != nil {
		return err
	}
	b := &dlqBackend{
		tr:   tr,
		idle: s.timeout + groupSessionTimeout, // joining a group takes a while on Kafka
		committed: func(ctx context.Context, grp, topic string) (map[int32]int64, error) {
			var res kadm.OffsetResponses
			err := adm.do(ctx, "fetch offsets of group "+grp, func(ctx context.Context) (err error) {
				res, err = adm.FetchOffsetsForTopics(ctx, grp, topic)
				return err
			})
			if err != nil {
				return nil, err
			}
			out := map[int32]int64{}
			for p, o := range res[topic] {
				if o.Err == nil && o.At >= 0 {
					out[p] = o.At
				}
			}
			return out, nil
		},
		reset: func(ctx context.Context, grp, topic string, offsets map[int32]int64) error {
			plan := kadm.Offsets{}
			for p, o := range offsets {
				plan.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
			}
			return adm.do(ctx, "commit offsets of group "+grp, func(ctx context.Context) error {
				res, err := adm.CommitOffsets(ctx, grp, plan)
				if err == nil {
					err = res.Error()
				}
				return err
			})
		},
		deleteGrp: func(ctx context.Context, grp string) error {
			return adm.do(ctx, "delete group "+grp, func(ctx context.Context) error {
				res, err := adm.DeleteGroup(ctx, grp)
				return answer(err, res.ErrMessage)
			})
		},
	}
	err = f(b)
	return errors.Join(err, tr.Close())
}

// dlqRead reads topic in group from the group's committed offsets (else
// the start) up to the end offsets it has when called, handing each
// polled batch to handle, which returns how many of them it consumed
// (fewer ends the read). It ends when nothing arrives for b.idle: a
// partition's end offset may lie past its last record — a transaction's
// commit marker (an exactly-once pipeline writes its dead letters in
// transactions) or records compaction or retention deleted — so a
// partition short of its end may have nothing left to deliver.
func dlqRead(ctx context.Context, b *dlqBackend, topic, grp string, handle func(c transport.Consumer, recs []*transport.Record) (int, error)) error {
	ends, err := b.tr.EndOffsets(ctx, topic)
	if errors.Is(err, transport.ErrTopicNotFound) {
		return usageErrorf("unknown topic: %s", topic)
	}
	if err != nil {
		return err
	}
	committed, err := b.committed(ctx, grp, topic)
	if err != nil {
		return err
	}
	pos := map[int32]int64{}
	pending := func() []int32 {
		var ps []int32
		for p, end := range ends {
			if pos[p] < end {
				ps = append(ps, p)
			}
		}
		slices.Sort(ps)
		return ps
	}
	maps.Copy(pos, committed)
	if len(pending()) == 0 {
		return nil
	}
	c, err := b.tr.NewConsumer(ctx, transport.ConsumerOptions{Group: grp, Topics: []string{topic}, Start: transport.StartEarliest})
	if err != nil {
		return err
	}
	defer func() { _ = c.Close(context.WithoutCancel(ctx)) }()
	for len(pending()) > 0 {
		pctx, cancel := context.WithTimeout(ctx, b.idle)
		recs, err := c.Poll(pctx)
		idle := pctx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case idle:
			return nil
		case err != nil:
			return err
		}
		// Keep what lies before the end offsets: what came later is left
		// for the next run.
		recs = slices.DeleteFunc(recs, func(r *transport.Record) bool { return r.Offset >= ends[r.Partition] })
		n, err := handle(c, recs)
		for _, r := range recs[:n] {
			pos[r.Partition] = r.Offset + 1
		}
		if err != nil || n < len(recs) {
			return err
		}
	}
	return nil
}

func header(r *transport.Record, key string) (string, bool) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == key {
			return string(r.Headers[i].Value), true
		}
	}
	return "", false
}

func headerOrDash(r *transport.Record, key string) string {
	v, _ := header(r, key)
	return orDash(v)
}

type dlqCount struct {
	code, stage, err string
	n                int64
}

func dlqList(cmd *cobra.Command, b *dlqBackend, topic string) error {
	ctx := cmd.Context()
	// A group of its own that commits nothing: it is deleted at the end.
	grp := fmt.Sprintf("tide-dlq-list-%s-%d", topic, time.Now().UnixNano())
	counts := map[[3]string]*dlqCount{}
	var total int64
	err := dlqRead(ctx, b, topic, grp, func(_ transport.Consumer, recs []*transport.Record) (int, error) {
		for _, r := range recs {
			k := [3]string{headerOrDash(r, engine.HeaderErrorCode), headerOrDash(r, engine.HeaderStage), headerOrDash(r, engine.HeaderError)}
			if counts[k] == nil {
				counts[k] = &dlqCount{code: k[0], stage: k[1], err: k[2]}
			}
			counts[k].n++
			total++
		}
		return len(recs), nil
	})
	_ = b.deleteGrp(context.WithoutCancel(ctx), grp) // best effort: it holds no offsets
	if err != nil {
		return err
	}
	rows := slices.SortedFunc(maps.Values(counts), func(a, b *dlqCount) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.code, b.code), cmp.Compare(a.stage, b.stage), cmp.Compare(a.err, b.err))
	})
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CODE\tSTAGE\tCOUNT\tERROR")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", r.code, r.stage, r.n, truncate(oneLine(r.err), 120))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	pending, err := dlqPending(ctx, b, topic)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%d dead letters in %s; %d not replayed yet (group %s)\n", total, topic, pending, replayGroup(topic))
	return nil
}

// dlqPending counts the records of topic the replay group has not passed
// (records deleted by retention included, so it may overcount).
func dlqPending(ctx context.Context, b *dlqBackend, topic string) (int64, error) {
	ends, err := b.tr.EndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	committed, err := b.committed(ctx, replayGroup(topic), topic)
	if err != nil {
		return 0, err
	}
	var n int64
	for p, end := range ends {
		n += max(end-committed[p], 0)
	}
	return n, nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// errNoOrigin stops a replay at a record that says not where it came from.
var errNoOrigin = errors.New("no " + engine.HeaderTopic + " header")

// errValueDropped stops a replay at a dead letter whose value the
// dead-letter topic refused (too large): replayed, its null value would
// be a tombstone, deleting its key from a compacted topic.
var errValueDropped = errors.New("the dead letter lost its value (" + engine.HeaderValueDropped + ")")

func dlqReplay(cmd *cobra.Command, b *dlqBackend, topic string, opts replayOptions) error {
	ctx := cmd.Context()
	grp := replayGroup(topic)
	if opts.dryRun {
		// Read in a group of our own, started where the real one would
		// start, so that nothing of the real one changes.
		start, err := replayStart(ctx, b, topic, grp, opts)
		if err != nil {
			return err
		}
		grp = fmt.Sprintf("tide-dlq-dryrun-%s-%d", topic, time.Now().UnixNano())
		if len(start) > 0 {
			if err := b.reset(ctx, grp, topic, start); err != nil {
				return err
			}
		}
		defer func() { _ = b.deleteGrp(context.WithoutCancel(ctx), grp) }()
	} else if opts.fromBeginning || opts.fromOffset >= 0 {
		start, err := replayStart(ctx, b, topic, grp, opts)
		if err != nil {
			return err
		}
		if err := b.reset(ctx, grp, topic, start); err != nil {
			return err
		}
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var replayed int64
	byTopic := map[string]int64{}
	verb := "replayed"
	if opts.dryRun {
		verb = "would replay"
	}
	err := dlqRead(ctx, b, topic, grp, func(c transport.Consumer, recs []*transport.Record) (int, error) {
		if opts.max > 0 && int64(len(recs)) > opts.max-replayed {
			recs = recs[:opts.max-replayed]
		}
		out := make([]*transport.Record, 0, len(recs))
		var failed error
		for _, r := range recs {
			to := opts.to
			if to == "" {
				to, _ = header(r, engine.HeaderTopic)
			}
			if to == "" {
				failed = usageError(fmt.Errorf("%s/%d/%d: %w: give --to TOPIC", topic, r.Partition, r.Offset, errNoOrigin))
				break
			}
			if why, dropped := header(r, engine.HeaderValueDropped); dropped {
				failed = usageError(fmt.Errorf("%s/%d/%d: %w: %s; it cannot be replayed: resend the event from its source, and skip the letter with --from-offset %d",
					topic, r.Partition, r.Offset, errValueDropped, why, r.Offset+1))
				break
			}
			out = append(out, &transport.Record{
				Topic: to, Partition: -1, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp,
				Headers: slices.DeleteFunc(slices.Clone(r.Headers), func(h transport.Header) bool { return slices.Contains(dlqHeaders, h.Key) }),
			})
		}
		n := len(out)
		if n > 0 && !opts.dryRun {
			if err := b.tr.Produce(ctx, out); err != nil {
				if errors.Is(err, transport.ErrTopicNotFound) {
					err = usageError(err)
				}
				return 0, fmt.Errorf("replaying to %s: %w", out[0].Topic, err)
			}
			next := map[int32]int64{}
			for _, r := range recs[:n] {
				next[r.Partition] = r.Offset + 1
			}
			commit := make([]transport.PartitionOffset, 0, len(next))
			for p, o := range next {
				commit = append(commit, transport.PartitionOffset{TopicPartition: transport.TopicPartition{Topic: topic, Partition: p}, Offset: o})
			}
			if err := c.Commit(ctx, commit); err != nil {
				return 0, fmt.Errorf("replayed %d records but could not record the progress (they would be replayed again): %w", n, err)
			}
		}
		for i, r := range recs[:n] {
			fmt.Fprintf(stdout, "%s %s/%d/%d -> %s (%s %s)\n", verb, topic, r.Partition, r.Offset, out[i].Topic,
				headerOrDash(r, engine.HeaderStage), headerOrDash(r, engine.HeaderErrorCode))
			byTopic[out[i].Topic]++
		}
		replayed += int64(n)
		if failed == nil && opts.max > 0 && replayed >= opts.max {
			return n, errMaxReached
		}
		return n, failed
	})
	if errors.Is(err, errMaxReached) {
		err = nil
	}
	if err != nil {
		return err
	}
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(byTopic)) {
		parts = append(parts, t+": "+strconv.FormatInt(byTopic[t], 10))
	}
	summary := ""
	if len(parts) > 0 {
		summary = " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintf(stderr, "%s %d records%s\n", verb, replayed, summary)
	return nil
}

// replayStart is where a replay starts per partition: --from-offset,
// else --from-beginning (offset 0: the consumer moves on to the first
// stored record), else the replay group's progress.
func replayStart(ctx context.Context, b *dlqBackend, topic, grp string, opts replayOptions) (map[int32]int64, error) {
	ends, err := b.tr.EndOffsets(ctx, topic)
	if errors.Is(err, transport.ErrTopicNotFound) {
		return nil, usageErrorf("unknown topic: %s", topic)
	}
	if err != nil {
		return nil, err
	}
	if !opts.fromBeginning && opts.fromOffset < 0 {
		return b.committed(ctx, grp, topic)
	}
	start := map[int32]int64{}
	for p, end := range ends {
		start[p] = 0
		if opts.fromOffset >= 0 {
			start[p] = min(opts.fromOffset, end)
		}
	}
	return start, nil
}
