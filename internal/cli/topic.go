package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/log"
)

func newTopicCommand(g *globals, e *env) *cobra.Command {
	cmd := groupCommand("topic", "Create, list, describe, alter and delete topics")
	g.addDataDirFlag(cmd, e)
	s := &serverFlags{}
	s.addFlags(cmd, e)
	cmd.AddCommand(newTopicCreateCommand(g, s), newTopicListCommand(g, s), newTopicDescribeCommand(g, s), newTopicAlterCommand(g, s), newTopicDeleteCommand(g, s))
	return cmd
}

func newTopicCreateCommand(g *globals, s *serverFlags) *cobra.Command {
	var (
		partitions int32
		settings   []string
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Long: `Create a topic with the given number of partitions, creating the data
directory if needed. With --server the server creates it (replication
factor: the server's default).

Configuration keys (--config key=value, repeatable) are Kafka's names:
` + "  " + strings.Join(log.ConfigKeys(), "\n  ") + `
A value may contain commas (cleanup.policy=compact,delete).`,
		Example: "  tide topic create orders --partitions 6 --config retention.ms=86400000",
		Args:    cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			config, err := parseConfig(settings)
			if err != nil {
				return err
			}
			switch server, err := s.useServer(cmd); {
			case err != nil:
				return err
			case server:
				return kafkaExit(createTopicOverKafka(cmd, s, args[0], partitions, config))
			}
			return withLog(g.dataDir, true, func(l *log.Log) error {
				t, err := l.CreateTopic(args[0], partitions, config)
				if err != nil {
					return err
				}
				plural := "s"
				if t.NumPartitions() == 1 {
					plural = ""
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "created topic %s with %d partition%s\n", t.Name(), t.NumPartitions(), plural)
				return nil
			})
		}),
	}
	cmd.Flags().Int32Var(&partitions, "partitions", 1, "number of `partitions`")
	cmd.Flags().StringArrayVar(&settings, "config", nil, "topic configuration as `key=value` (repeatable)")
	return cmd
}

// parseConfig turns key=value settings into a map; the log validates keys
// and values.
func parseConfig(settings []string) (map[string]string, error) {
	config := make(map[string]string, len(settings))
	for _, s := range settings {
		key, value, ok := strings.Cut(s, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, usageErrorf("--config %q: want key=value", s)
		}
		if _, dup := config[key]; dup {
			return nil, usageErrorf("--config %s given twice", key)
		}
		config[key] = value
	}
	return config, nil
}

func newTopicListCommand(g *globals, s *serverFlags) *cobra.Command {
	var excludeInternal bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List topics, one name per line",
		Long: `List topics, one name per line, in name order, internal topics (such as
__consumer_offsets) included unless --exclude-internal is given, as Kafka's
kafka-topics.sh --list does.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			switch server, err := s.useServer(cmd); {
			case err != nil:
				return err
			case server:
				return kafkaExit(listTopicsOverKafka(cmd, s, excludeInternal))
			}
			return withLog(g.dataDir, false, func(l *log.Log) error {
				var names []string
				for _, t := range l.Topics() {
					if !excludeInternal || !isInternalTopic(t.Name()) {
						names = append(names, t.Name())
					}
				}
				return printLines(cmd.OutOrStdout(), names)
			})
		}),
	}
	cmd.Flags().BoolVar(&excludeInternal, "exclude-internal", false, "leave out internal topics (names starting with __)")
	return cmd
}

// isInternalTopic says whether a topic is one Tide or Kafka keeps for
// itself (consumer offsets, producer ids).
func isInternalTopic(name string) bool { return strings.HasPrefix(name, "__") }

// printLines writes one line per item.
func printLines(w io.Writer, lines []string) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func newTopicDescribeCommand(g *globals, s *serverFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a topic's partitions (start and end offsets, bytes) and configuration",
		Long: `Show a topic's partitions and configuration.

For each partition: START is the first offset still stored, END one past the
last (the next offset to be written), BYTES the size on disk. Configuration
lists every setting with its source: "topic" if set for this topic, else
"default".

With --server, START and END come from ListOffsets and the configuration
from DescribeConfigs; the Kafka protocol has no cheap way to ask for a
partition's size, so BYTES and SEGMENTS are left out, and a setting the
broker's own configuration decides has the source "broker".`,
		Args: cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			switch server, err := s.useServer(cmd); {
			case err != nil:
				return err
			case server:
				return kafkaExit(describeTopicOverKafka(cmd, s, args[0]))
			}
			return withLog(g.dataDir, false, func(l *log.Log) error {
				t, err := l.Topic(args[0])
				if err != nil {
					return err
				}
				return describeTopic(cmd, t)
			})
		}),
	}
}

func describeTopic(cmd *cobra.Command, t *log.Topic) error {
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "Topic:\t%s\n", t.Name())
	fmt.Fprintf(w, "Partitions:\t%d\n", t.NumPartitions())
	fmt.Fprintln(w)
	fmt.Fprintln(w, "PARTITION\tSTART\tEND\tBYTES\tSEGMENTS")
	var total log.Offsets
	for _, p := range t.Partitions() {
		o := p.Offsets()
		fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%d\n", p.ID(), o.LogStart, o.HighWatermark, o.Size, o.Segments)
		total.Size += o.Size
		total.Segments += o.Segments
	}
	if t.NumPartitions() > 1 {
		fmt.Fprintf(w, "total\t\t\t%d\t%d\n", total.Size, total.Segments)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CONFIG\tVALUE\tSOURCE")
	overrides := t.Overrides()
	effective := t.Config().Map()
	for _, key := range slices.Sorted(maps.Keys(effective)) {
		source := "default"
		if _, ok := overrides[key]; ok {
			source = "topic"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", key, effective[key], source)
	}
	return w.Flush()
}

func newTopicAlterCommand(g *globals, s *serverFlags) *cobra.Command {
	var partitions int32
	cmd := &cobra.Command{
		Use:   "alter NAME --partitions N",
		Short: "Add partitions to a topic",
		Long: `Grow a topic to N partitions (Kafka's CreatePartitions; N must be larger
than the count now). Existing partitions keep their records; keys hash to
new places afterwards, so per-key order holds only for records written
after the change. Pipelines reading the topic pick the new partitions up
at their group's next rebalance, which the change starts: one more task
per partition, and on Kafka more partitions for more workers to share —
the scale-out step a lag objective's alert recommends. Internal topics
(names starting with __) are refused.`,
		Example: "  tide topic alter orders --partitions 8 --server 127.0.0.1:9092",
		Args:    cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("partitions") {
				return usageErrorf("--partitions is required")
			}
			if isInternalTopic(args[0]) {
				// As Kafka's kafka-topics refuses for its own: groups are
				// placed by a hash modulo __consumer_offsets' partitions,
				// and Tide's catalog and registry rely on one partition's
				// order.
				return usageErrorf("%s is an internal topic: its partition count cannot be changed", args[0])
			}
			done := fmt.Sprintf("topic %s now has %d partitions", args[0], partitions)
			switch server, err := s.useServer(cmd); {
			case err != nil:
				return err
			case server:
				return kafkaExit(adminAction(cmd, s, "alter topic "+args[0], done, func(ctx context.Context, adm *admin) error {
					res, err := adm.UpdatePartitions(ctx, int(partitions), args[0])
					if err == nil {
						r, rerr := res.On(args[0], nil)
						if rerr != nil {
							return rerr
						}
						err = answer(r.Err, r.ErrMessage)
					}
					return err
				}))
			}
			return withLog(g.dataDir, false, func(l *log.Log) error {
				if err := l.CreatePartitions(args[0], partitions); err != nil {
					return err
				}
				fmt.Fprintln(cmd.ErrOrStderr(), done)
				return nil
			})
		}),
	}
	cmd.Flags().Int32Var(&partitions, "partitions", 0, "the topic's new number of `partitions`")
	return cmd
}

func newTopicDeleteCommand(g *globals, s *serverFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a topic and all its data",
		Args:  cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			switch server, err := s.useServer(cmd); {
			case err != nil:
				return err
			case server:
				return kafkaExit(deleteTopicOverKafka(cmd, s, args[0]))
			}
			return withLog(g.dataDir, false, func(l *log.Log) error {
				if err := l.DeleteTopic(args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "deleted topic %s\n", args[0])
				return nil
			})
		}),
	}
}
