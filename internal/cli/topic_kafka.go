package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The topic commands over the Kafka protocol: same arguments and output as
// on a data directory, except what Kafka cannot tell (sizes on disk).

func createTopicOverKafka(cmd *cobra.Command, s *serverFlags, topic string, partitions int32, config map[string]string) error {
	ctx := cmd.Context()
	adm, err := s.connectAdmin(ctx)
	if err != nil {
		return err
	}
	defer adm.Close()
	configs := make(map[string]*string, len(config))
	for k, v := range config {
		configs[k] = &v
	}
	var res kadm.CreateTopicResponse
	err = adm.do(ctx, "create topic "+topic, func(ctx context.Context) (err error) {
		// Replication factor -1: the server's default.
		res, err = adm.CreateTopic(ctx, partitions, -1, configs, topic)
		return answer(err, res.ErrMessage)
	})
	if err != nil {
		return err
	}
	if res.NumPartitions > 0 { // Kafka 2.4+ says how many it made
		partitions = res.NumPartitions
	}
	plural := "s"
	if partitions == 1 {
		plural = ""
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "created topic %s with %d partition%s\n", topic, partitions, plural)
	return nil
}

func listTopicsOverKafka(cmd *cobra.Command, s *serverFlags, excludeInternal bool) error {
	ctx := cmd.Context()
	adm, err := s.connectAdmin(ctx)
	if err != nil {
		return err
	}
	defer adm.Close()
	var topics kadm.TopicDetails
	err = adm.do(ctx, "list topics", func(ctx context.Context) (err error) {
		if excludeInternal {
			topics, err = adm.ListTopics(ctx)
		} else {
			topics, err = adm.ListTopicsWithInternal(ctx)
		}
		return err
	})
	if err != nil {
		return err
	}
	return printLines(cmd.OutOrStdout(), topics.Names()) // sorted
}

func describeTopicOverKafka(cmd *cobra.Command, s *serverFlags, topic string) error {
	ctx := cmd.Context()
	adm, err := s.connectAdmin(ctx)
	if err != nil {
		return err
	}
	defer adm.Close()
	partitions, err := adm.topicPartitions(ctx, topic)
	if err != nil {
		return err
	}
	var starts, ends kadm.ListedOffsets
	var configs kadm.ResourceConfigs
	err = adm.do(ctx, "describe topic "+topic, func(ctx context.Context) (err error) {
		if starts, ends, err = adm.bounds(ctx, topic); err != nil {
			return err
		}
		configs, err = adm.DescribeTopicConfigs(ctx, topic)
		return err
	})
	if err != nil {
		return err
	}
	var entries []kadm.Config
	for _, rc := range configs {
		if rc.Err != nil {
			return fmt.Errorf("describe configuration of topic %s: %w", topic, answer(rc.Err, rc.ErrMessage))
		}
		entries = append(entries, rc.Configs...)
	}
	slices.SortFunc(entries, func(a, b kadm.Config) int { return strings.Compare(a.Key, b.Key) })

	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "Topic:\t%s\n", topic)
	fmt.Fprintf(w, "Partitions:\t%d\n", len(partitions))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "PARTITION\tSTART\tEND")
	for _, p := range partitions {
		start, _ := starts.Lookup(topic, p)
		end, _ := ends.Lookup(topic, p)
		fmt.Fprintf(w, "%d\t%d\t%d\n", p, start.Offset, end.Offset)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CONFIG\tVALUE\tSOURCE")
	for _, c := range entries {
		value := c.MaybeValue()
		if c.Sensitive {
			value = "(sensitive)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", c.Key, value, configSource(c.Source))
	}
	return w.Flush()
}

// configSource names where a setting comes from as the data-directory
// describe does ("topic", "default"), adding "broker" for settings that
// the broker's configuration decides.
func configSource(source kmsg.ConfigSource) string {
	switch source {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "topic"
	case kmsg.ConfigSourceDefaultConfig, kmsg.ConfigSourceUnknown:
		return "default"
	}
	return "broker"
}

func deleteTopicOverKafka(cmd *cobra.Command, s *serverFlags, topic string) error {
	return adminAction(cmd, s, "delete topic "+topic, "deleted topic "+topic, func(ctx context.Context, adm *admin) error {
		res, err := adm.DeleteTopic(ctx, topic)
		return answer(err, res.ErrMessage)
	})
}
