// Package transport is the seam between Tide's engine and connectors and
// the log they run on. The engine never imports the storage engine or a
// Kafka client: it reads, writes and commits through Transport, and the
// same pipeline runs on either implementation:
//
//   - transport/embedded calls the storage engine in process (no network
//     hop) and commits offsets through Tide's own group coordinator, so the
//     offsets are the ones `tide group describe` and any Kafka tool see;
//   - transport/kafkatransport speaks to an external Apache Kafka cluster
//     (or Tide's own listener) with franz-go.
//
// Both pass one conformance suite, transport/transporttest.
//
// # Contracts
//
//   - Produce returns only when every record it was given is durable
//     (acks=all on Kafka; fsync'd on the embedded log), or with an error;
//     a record with Partition < 0 goes to the partition Kafka's default
//     partitioner chooses for its key (murmur2), or round-robin without a
//     key.
//   - A Consumer delivers each assigned partition's records in offset
//     order. Commit stores "next offset to read" per partition for the
//     consumer's group, the same committed offsets Kafka's OffsetCommit
//     stores, and only what the caller passes: the caller commits after the
//     outputs derived from the records are durable (at-least-once).
//   - ReadAt reads one partition from an offset without a group, as a
//     Kafka fetch does: whole batches from the one holding the offset, the
//     records before the offset dropped, transaction markers skipped. It
//     never waits for records to arrive.
//   - Partition assignment may change (on Kafka, when workers of the same
//     group join or leave). Before a partition is taken away the consumer
//     calls OnRevoked and waits for it to return, so the owner can flush
//     and commit; OnAssigned reports new partitions before their records.
package transport
