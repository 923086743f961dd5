package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Consumer groups live on a server: every group command talks Kafka.

func newGroupCommand(e *env) *cobra.Command {
	cmd := groupCommand("group", "List, describe, reset and delete consumer groups on a server")
	cmd.Long = `List, describe, reset and delete the consumer groups of a server, over the
Kafka protocol. Every group command needs --server (or $` + EnvServer + `).`
	s := &serverFlags{}
	s.addFlags(cmd, e)
	cmd.AddCommand(newGroupListCommand(s), newGroupDescribeCommand(s), newGroupResetOffsetsCommand(s), newGroupDeleteCommand(s))
	return cmd
}

func newGroupListCommand(s *serverFlags) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List consumer groups, one name per line",
		Long: `List consumer groups, one name per line, sorted. Tide's internal groups
(names starting with "__", such as each worker's catalog reader) are left
out unless --all is given, as internal topics are.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if err := s.requireServer(); err != nil {
				return err
			}
			return kafkaExit(listGroups(cmd, s, all))
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "include internal groups")
	return cmd
}

func listGroups(cmd *cobra.Command, s *serverFlags, all bool) error {
	ctx := cmd.Context()
	adm, err := s.connectAdmin(ctx)
	if err != nil {
		return err
	}
	defer adm.Close()
	var groups kadm.ListedGroups
	err = adm.do(ctx, "list groups", func(ctx context.Context) (err error) {
		groups, err = adm.ListGroups(ctx)
		return err
	})
	if err != nil {
		return err
	}
	names := groups.Groups() // sorted
	if !all {
		names = slices.DeleteFunc(names, func(name string) bool { return strings.HasPrefix(name, "__") })
	}
	return printLines(cmd.OutOrStdout(), names)
}

func newGroupDescribeCommand(s *serverFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe GROUP",
		Short: "Show a group's state, members and, per partition, committed offset and lag",
		Long: `Show a consumer group: its state (Empty, PreparingRebalance,
CompletingRebalance, Stable), its type and partition assignment protocol, its
members (member id, client id, host, assigned partitions), and for every
partition the group has committed an offset for or is assigned: COMMITTED,
the group's committed offset (the next record it will read); END, the
partition's end offset; LAG, how many records lie between the two; MEMBER,
the member the partition is assigned to. "-" marks what there is not (no
commit, no member).`,
		Args: cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if err := s.requireServer(); err != nil {
				return err
			}
			return kafkaExit(describeGroup(cmd, s, args[0]))
		}),
	}
}

// describedGroup fetches group's description; a group that does not exist
// is an error wrapping kerr.GroupIDNotFound.
func (a *admin) describedGroup(ctx context.Context, group string) (kadm.DescribedGroup, error) {
	var described kadm.DescribedGroups
	err := a.do(ctx, "describe group "+group, func(ctx context.Context) (err error) {
		described, err = a.DescribeGroups(ctx, group)
		return err
	})
	if err != nil {
		return kadm.DescribedGroup{}, err
	}
	d, ok := described[group]
	switch {
	case ok && d.Err != nil:
		return d, fmt.Errorf("describe group %s: %w", group, answer(d.Err, d.ErrMessage))
	case !ok || d.State == "Dead": // Kafka's answer for an unknown group before DescribeGroups v6
		return d, &answerError{err: kerr.GroupIDNotFound, message: "unknown group: " + group}
	}
	return d, nil
}

func describeGroup(cmd *cobra.Command, s *serverFlags, group string) error {
	ctx := cmd.Context()
	adm, err := s.connectAdmin(ctx)
	if err != nil {
		return err
	}
	defer adm.Close()
	d, err := adm.describedGroup(ctx, group)
	if err != nil {
		return err
	}
	var committed kadm.OffsetResponses
	err = adm.do(ctx, "fetch offsets of group "+group, func(ctx context.Context) (err error) {
		committed, err = adm.FetchOffsets(ctx, group)
		return err
	})
	if err != nil {
		return err
	}

	// Every partition committed or assigned, and who has it.
	owner := map[string]map[int32]string{}
	rows := kadm.TopicsSet{}
	for _, m := range d.Members {
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				for _, p := range t.Partitions {
					if owner[t.Topic] == nil {
						owner[t.Topic] = map[int32]string{}
					}
					owner[t.Topic][p] = m.MemberID
					rows.Add(t.Topic, p)
				}
			}
		}
	}
	for topic, ps := range committed {
		for p, o := range ps {
			if o.Err != nil {
				return fmt.Errorf("fetch offsets of group %s: %s-%d: %w", group, topic, p, o.Err)
			}
			if o.At >= 0 {
				rows.Add(topic, p)
			}
		}
	}
	var ends kadm.ListedOffsets
	if topics := rows.Topics(); len(topics) > 0 {
		err = adm.do(ctx, "list end offsets", func(ctx context.Context) (err error) {
			ends, err = adm.ListEndOffsets(ctx, topics...)
			return err
		})
		if err != nil {
			return err
		}
	}

	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "Group:\t%s\n", group)
	fmt.Fprintf(w, "State:\t%s\n", orDash(d.State))
	fmt.Fprintf(w, "Type:\t%s\n", orDash(d.ProtocolType))
	fmt.Fprintf(w, "Protocol:\t%s\n", orDash(d.Protocol))
	fmt.Fprintf(w, "Members:\t%d\n", len(d.Members))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "MEMBER\tCLIENT-ID\tHOST\tPARTITIONS")
	for _, m := range d.Members {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", m.MemberID, orDash(m.ClientID), orDash(m.ClientHost), assignment(m))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER")
	for _, t := range rows.Sorted() {
		for _, p := range t.Partitions {
			commit, end, lag := "-", "-", "-"
			o, hasCommit := committed.Lookup(t.Topic, p)
			hasCommit = hasCommit && o.At >= 0
			if hasCommit {
				commit = strconv.FormatInt(o.At, 10)
			}
			if e, ok := ends.Lookup(t.Topic, p); ok && e.Err == nil {
				end = strconv.FormatInt(e.Offset, 10)
				if hasCommit {
					lag = strconv.FormatInt(max(e.Offset-o.At, 0), 10)
				}
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", t.Topic, p, commit, end, lag, orDash(owner[t.Topic][p]))
		}
	}
	return w.Flush()
}

// assignment formats a member's partitions as topic:0,1,2 per topic.
func assignment(m kadm.DescribedGroupMember) string {
	a, ok := m.Assigned.AsConsumer()
	if !ok {
		return "-"
	}
	byTopic := map[string][]int32{}
	for _, t := range a.Topics {
		byTopic[t.Topic] = append(byTopic[t.Topic], t.Partitions...)
	}
	var parts []string
	for _, topic := range slices.Sorted(maps.Keys(byTopic)) {
		ps := byTopic[topic]
		if len(ps) == 0 {
			continue
		}
		slices.Sort(ps)
		nums := make([]string, len(ps))
		for i, p := range ps {
			nums[i] = strconv.Itoa(int(p))
		}
		parts = append(parts, topic+":"+strings.Join(nums, ","))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newGroupResetOffsetsCommand(s *serverFlags) *cobra.Command {
	var (
		topic                        string
		partition                    int32
		toEarliest, toLatest, commit bool
		toOffset                     int64
		toTime                       string
	)
	cmd := &cobra.Command{
		Use:   "reset-offsets GROUP --topic T (--to-earliest | --to-latest | --to-offset N | --to-time T)",
		Short: "Set a group's committed offsets of a topic (a dry run unless --execute)",
		Long: `Set the committed offsets of a consumer group for the partitions of a topic
(or only --partition P), as kafka-consumer-groups.sh --reset-offsets does:

  --to-earliest   each partition's first stored offset: the group reads
                  everything again
  --to-latest     each partition's end offset: the group skips what is stored
  --to-offset N   offset N; outside a partition's offsets, the nearest of its
                  start and end (with a note on stderr)
  --to-time T     the first record with a timestamp at or after T (RFC 3339),
                  else the end offset

Without --execute it only prints the plan (GROUP, TOPIC, PARTITION, the
CURRENT committed offset and the NEW one); with --execute it also commits
it. The group must have no active members: a member would overwrite the
offsets with its own commits, so the command refuses (exit 2) while there
are any. A group that does not exist yet is created with these offsets.`,
		Example: `  tide group reset-offsets billing --topic orders --to-earliest --server 127.0.0.1:9092
  tide group reset-offsets billing --topic orders --to-time 2024-05-01T00:00:00Z --execute`,
		Args: cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			flags := cmd.Flags()
			target := resetTarget{offset: -1}
			n := 0
			for _, name := range []string{"to-earliest", "to-latest", "to-offset", "to-time"} {
				if flags.Changed(name) {
					n++
				}
			}
			switch {
			case n != 1:
				return usageErrorf("give one of --to-earliest, --to-latest, --to-offset and --to-time")
			case flags.Changed("to-earliest") && !toEarliest, flags.Changed("to-latest") && !toLatest:
				return usageErrorf("--to-earliest and --to-latest take no value")
			case toLatest:
				target.latest = true
			case flags.Changed("to-offset"):
				if toOffset < 0 {
					return usageErrorf("--to-offset %d: must not be negative", toOffset)
				}
				target.offset = toOffset
			case flags.Changed("to-time"):
				t, err := time.Parse(time.RFC3339, toTime)
				if err != nil {
					return usageErrorf("--to-time %q: want RFC 3339, e.g. 2024-05-01T12:00:00Z", toTime)
				}
				target.time = t
			}
			if flags.Changed("partition") && partition < 0 {
				return usageErrorf("--partition %d: must not be negative", partition)
			}
			if !flags.Changed("partition") {
				partition = -1
			}
			if err := s.requireServer(); err != nil {
				return err
			}
			return kafkaExit(resetOffsets(cmd, s, args[0], topic, partition, target, commit))
		}),
	}
	f := cmd.Flags()
	f.StringVar(&topic, "topic", "", "the `topic` whose offsets to reset (required)")
	f.Int32Var(&partition, "partition", 0, "reset only partition `P`")
	f.BoolVar(&toEarliest, "to-earliest", false, "reset to each partition's first stored offset")
	f.BoolVar(&toLatest, "to-latest", false, "reset to each partition's end offset")
	f.Int64Var(&toOffset, "to-offset", 0, "reset to offset `N`")
	f.StringVar(&toTime, "to-time", "", "reset to the first record timestamped at or after `T` (RFC 3339)")
	f.BoolVar(&commit, "execute", false, "commit the new offsets (without it: print the plan only)")
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}

// resetTarget is where reset-offsets moves a group: to the earliest
// offsets unless one of the fields says otherwise.
type resetTarget struct {
	latest bool
	offset int64     // -1: not given
	time   time.Time // zero: not given
}

func resetOffsets(cmd *cobra.Command, s *serverFlags, group, topic string, partition int32, target resetTarget, execute bool) error {
	ctx := cmd.Context()
	adm, err := s.connectAdmin(ctx)
	if err != nil {
		return err
	}
	defer adm.Close()
	d, err := adm.describedGroup(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return err
	}
	if len(d.Members) > 0 {
		return &answerError{err: kerr.NonEmptyGroup, message: fmt.Sprintf(
			"group %s has %d active members (state %s): stop them before resetting its offsets", group, len(d.Members), d.State)}
	}
	partitions, err := adm.topicPartitions(ctx, topic)
	if err != nil {
		return err
	}
	if partition >= 0 {
		if !slices.Contains(partitions, partition) {
			return unknownPartition(topic, partition)
		}
		partitions = []int32{partition}
	}

	var committed kadm.OffsetResponses
	var starts, ends, byTime kadm.ListedOffsets
	err = adm.do(ctx, "list offsets of "+topic, func(ctx context.Context) (err error) {
		if committed, err = adm.FetchOffsetsForTopics(ctx, group, topic); err != nil {
			return err
		}
		if starts, ends, err = adm.bounds(ctx, topic); err != nil {
			return err
		}
		if !target.time.IsZero() {
			if byTime, err = adm.ListOffsetsAfterMilli(ctx, target.time.UnixMilli(), topic); err != nil {
				return err
			}
			byTime, err = listedOffsets("offset for time", byTime)
		}
		return err
	})
	if err != nil {
		return err
	}

	plan := kadm.Offsets{}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "GROUP\tTOPIC\tPARTITION\tCURRENT\tNEW")
	for _, p := range partitions {
		start, _ := starts.Lookup(topic, p)
		end, _ := ends.Lookup(topic, p)
		var next int64
		switch {
		case target.latest:
			next = end.Offset
		case target.offset >= 0:
			next = min(max(target.offset, start.Offset), end.Offset)
			if next != target.offset {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: offset %d is outside [%d, %d] of %s-%d: using %d\n",
					target.offset, start.Offset, end.Offset, topic, p, next)
			}
		case !target.time.IsZero():
			at, _ := byTime.Lookup(topic, p)
			next = at.Offset
		default:
			next = start.Offset
		}
		current := "-"
		if o, ok := committed.Lookup(topic, p); ok && o.Err == nil && o.At >= 0 {
			current = strconv.FormatInt(o.At, 10)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\n", group, topic, p, current, next)
		plan.Add(kadm.Offset{Topic: topic, Partition: p, At: next, LeaderEpoch: -1})
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if !execute {
		fmt.Fprintln(cmd.ErrOrStderr(), "dry run: no offsets changed (add --execute to commit them)")
		return nil
	}
	var res kadm.OffsetResponses
	err = adm.do(ctx, "commit offsets of group "+group, func(ctx context.Context) (err error) {
		res, err = adm.CommitOffsets(ctx, group, plan)
		if err == nil {
			err = res.Error()
		}
		return err
	})
	if err != nil {
		return err
	}
	plural := "s"
	if len(partitions) == 1 {
		plural = ""
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "reset offsets of group %s on %d partition%s of %s\n", group, len(partitions), plural, topic)
	return nil
}

func newGroupDeleteCommand(s *serverFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP",
		Short: "Delete a group that has no active members, with its committed offsets",
		Args:  cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if err := s.requireServer(); err != nil {
				return err
			}
			return kafkaExit(deleteGroup(cmd, s, args[0]))
		}),
	}
}

func deleteGroup(cmd *cobra.Command, s *serverFlags, group string) error {
	return adminAction(cmd, s, "delete group "+group, "deleted group "+group, func(ctx context.Context, adm *admin) error {
		res, err := adm.DeleteGroup(ctx, group)
		return answer(err, res.ErrMessage)
	})
}
