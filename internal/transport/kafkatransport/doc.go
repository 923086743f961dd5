// Package kafkatransport is the transport over a Kafka cluster (Apache
// Kafka, or Tide's own listener) with franz-go.
//
// # Produce
//
// One client produces and administers: acks=all, idempotent, no linger
// (Produce is synchronous, ProduceSync). Its partitioner honours
// Record.Partition >= 0 (out of range fails the record), places keyed
// records with Kafka's murmur2 partitioner (record.PartitionForKey,
// identical to kgo.StickyKeyPartitioner's and the Java client's) and spreads
// unkeyed ones round-robin, as the embedded transport does. CreateTopic
// and DeleteTopic wait until the metadata shows the change, since Kafka
// answers before every broker knows it.
//
// # Consumers
//
// Each consumer is a kgo client of its own in the group, with autocommit
// off and BlockRebalanceOnPoll: kgo holds a rebalance until the owner is
// back in Poll (Poll calls AllowRebalance first), so the callbacks run on
// kgo's group goroutine while the owner waits in Poll, never while it
// processes what Poll returned. OnPartitionsAssigned maps to OnAssigned;
// OnPartitionsRevoked and OnPartitionsLost map to OnRevoked, restricted to
// partitions the consumer holds (kgo also calls revoke at the end of each
// session). The default assignor is range (eager), which the embedded
// transport speaks too, so both can be members of one group on Tide's
// listener; Config.Balancers can choose cooperative-sticky instead.
// Start maps to ConsumeResetOffset (earliest or latest).
//
// Commit is CommitOffsetsSync of exactly the offsets given, each with the
// leader epoch of the last record polled from its partition, for the
// member's current generation; Committed is an OffsetFetch (kadm). Close
// allows the pending rebalance, leaves the group (kgo revokes, so
// OnRevoked runs and may commit before the LeaveGroup), revokes anything
// kgo did not, and closes the client.
//
// # ReadAt
//
// ReadAt needs no consumer client: it lists the partition's end offset
// (returning nothing at or past it), looks up the leader and topic id in
// the metadata, and sends one Fetch of its own to the leader on the
// transport's client (no wait, maxBytes, read_uncommitted like the
// consumers, so records of aborted transactions are returned as they
// return them). It decodes the batches itself with internal/record, as the
// embedded transport does: records before the offset, control batches and
// a trailing partial batch are dropped, and a fetch left with no record
// is followed by one from the next batch. A few retriable errors (a leader
// moving) are retried with the leader looked up again.
package kafkatransport
