package alert

import (
	"context"
	"fmt"

	"github.com/tide-data/tide/internal/lag"
)

// Actions a Recommendation names.
const (
	ActionAddPartitions = "add_partitions"
	ActionAddWorkers    = "add_workers"
	ActionMoveToKafka   = "move_to_kafka"
)

// Recommendation is the scale-out step for a lagging pipeline.
type Recommendation struct {
	Action     string
	Text       string
	Topic      string
	Partitions int32 // of Topic now
	Members    int   // of the pipeline's group now
}

// Shape is what a recommendation depends on besides the pipeline.
type Shape struct {
	// Backend is the transport's name: "kafka" for a Kafka cluster,
	// anything else for the embedded log.
	Backend string
	// Server is what `tide … --server` should name: this node's Kafka
	// listener on the embedded log, the brokers on Kafka. Empty prints a
	// placeholder.
	Server string
	// CPUs on this node; on the embedded log, a topic with at least twice
	// as many partitions gets no more parallelism from more of them.
	CPUs int
}

// Recommend says how to scale a pipeline whose lag misses its objective.
// Pipelines run one task per input partition, and on Kafka the workers
// running a pipeline share its partitions (one group member each), so:
//
//   - on Kafka, with fewer members than partitions: add workers, up to one
//     per partition;
//   - on Kafka, with a member per partition already: add partitions (then
//     workers);
//   - on the embedded log: add partitions, for more tasks on this node,
//     while the partitions are fewer than twice the node's CPUs; past
//     that, move to Kafka and run several workers.
//
// Partition counts come from topics (the pipeline's first topic); when it
// cannot say, from the partitions the group has committed.
func Recommend(ctx context.Context, shape Shape, topics TopicReader, p Pipeline, g lag.Group) Recommendation {
	r := Recommendation{Members: g.Members}
	if len(p.Topics) > 0 {
		r.Topic = p.Topics[0]
		if info, err := topics.Topic(ctx, r.Topic); err == nil {
			r.Partitions = info.Partitions
		}
	}
	if r.Partitions == 0 {
		for _, part := range g.Partitions {
			if r.Topic == "" {
				r.Topic = part.Topic
			}
			if part.Topic == r.Topic {
				r.Partitions++
			}
		}
	}
	server := shape.Server
	if server == "" {
		server = "HOST:PORT"
	}
	topic := r.Topic
	if topic == "" {
		topic = "its topic"
	}
	more := max(2*r.Partitions, 2)
	alter := fmt.Sprintf("tide topic alter %s --partitions %d --server %s", topic, more, server)
	if shape.Backend == "kafka" {
		if int32(r.Members) < r.Partitions {
			r.Action = ActionAddWorkers
			r.Text = fmt.Sprintf("add workers: group %s has %d member(s) for the %d partitions of %s, and each worker running the pipeline takes a share of them; "+
				"start up to %d more (tide serve --kafka-brokers %s)", p.Group, r.Members, r.Partitions, topic, r.Partitions-int32(r.Members), server)
			return r
		}
		r.Action = ActionAddPartitions
		r.Text = fmt.Sprintf("add partitions, then workers: group %s already has a member for each of the %d partition(s) of %s; "+
			"raise them (%s) and start more workers (tide serve --kafka-brokers %s). Keys then map to other partitions: "+
			"per-key order holds for records written after the change", p.Group, r.Partitions, topic, alter, server)
		return r
	}
	cpus := max(shape.CPUs, 1)
	if r.Partitions >= int32(2*cpus) {
		r.Action = ActionMoveToKafka
		r.Text = fmt.Sprintf("move to Kafka with several workers: %s has %d partitions, already more than this node's %d CPU(s) run in parallel; "+
			"run Tide on a Kafka cluster (tide serve --kafka-brokers HOST:PORT) with several workers, each taking a share of the partitions", topic, r.Partitions, cpus)
		return r
	}
	r.Action = ActionAddPartitions
	r.Text = fmt.Sprintf("add partitions: %s has %d partition(s), and the pipeline runs one task per partition; raise them (%s) for more tasks in parallel, "+
		"and past this node's CPUs move to Kafka with several workers (tide serve --kafka-brokers)", topic, r.Partitions, alter)
	return r
}
