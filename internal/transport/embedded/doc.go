// Package embedded is the transport that runs in Tide's own process: it
// calls the storage engine (internal/log) directly, with no network hop,
// and keeps consumer groups in Tide's group coordinator (internal/group)
// by handing it the same kmsg requests the Kafka listener decodes from the
// wire. Groups, members and committed offsets are therefore the ones
// `tide group describe` and any Kafka tool connected to the listener see,
// and embedded members can share a group with Kafka clients (both speak
// the "consumer" protocol with the "range" assignor).
//
// # Produce
//
// Records are grouped by partition (explicit, murmur2 of the key as
// Kafka's default partitioner, or round-robin without a key) and each
// partition's records are encoded into RecordBatch v2 batches of at most
// the topic's max.message.bytes, straight from the caller's slices. Every
// partition is written with AppendDeferred before any is waited for, so
// their fsyncs run in parallel and share the log's group commit with
// concurrent producers; Produce returns once every wait has: acknowledged
// means durable.
//
// # Consumers
//
// A consumer is three kinds of goroutine:
//
//	owner (Poll, Close) ◄── events ── membership goroutine ──► coordinator
//	        ▲                          (join, sync, heartbeat,   (Handle)
//	        └──── results ── fetchers   leave)
//	                         (one per assigned partition: Read, Wait)
//
// Their roles:
//
//   - The membership goroutine speaks the classic protocol: JoinGroup
//     (protocol type "consumer", kmsg.ConsumerMemberMetadata with the
//     topics), the leader's range assignment in SyncGroup
//     (kmsg.ConsumerMemberAssignment), heartbeats every heartbeat interval.
//     On REBALANCE_IN_PROGRESS or a lost membership it asks the owner to
//     revoke everything and waits until it has, heartbeating meanwhile,
//     then rejoins: an eager rebalance, as Kafka's range assignor does.
//     A leader also rejoins when a subscribed topic's partition count
//     changes.
//   - The rebalance callbacks run on the owner's goroutine, inside Poll
//     (or Close), as the Java consumer runs them inside poll(): never
//     concurrently with the owner's processing. OnAssigned comes before
//     any record of its partitions, and OnRevoked returns before the
//     member rejoins, so a commit made in it carries the generation that
//     owned the partitions. Assignments wait for the next Poll; an owner
//     that does not poll within the rebalance timeout is dropped from the
//     group, as with Kafka's max.poll.interval.ms.
//   - Fetchers start at the group's committed offset (OffsetFetch with
//     require_stable: while a transaction holds offsets of the group they
//     wait for it to end) or, for a partition without one or whose offset
//     is out of range, at the log start or the last stable offset as
//     ConsumerOptions.Start says. A fetcher reads committed records only
//     (Partition.ReadCommitted: up to the last stable offset, markers and
//     aborted transactions dropped), decodes, hands the records to Poll and
//     reads on; at the last stable offset it sleeps in
//     Partition.WaitStable, so an idle consumer, or one held back by an
//     open transaction, costs nothing. Together they hold at most the buffered-bytes budget
//     read but not yet returned by Poll, exceeded only by batches larger
//     than the fetch size (which are read whole, as Kafka's KIP-74 wants).
//   - Records returned by Poll alias the buffer they were read into, which
//     nothing else uses: the caller owns them without a copy.
//
// Commit is an OffsetCommit with the member's id and generation (and the
// leader epoch of the last record polled from each partition), so the
// coordinator validates it as Kafka's would: after the partitions may have
// moved it fails with REBALANCE_IN_PROGRESS or ILLEGAL_GENERATION (kerr
// errors, matched with errors.Is). Committed is an OffsetFetch. Close calls
// OnRevoked for what the consumer holds, then leaves the group (LeaveGroup)
// so that the others rebalance at once, and stops every goroutine it
// started.
//
// # ReadAt
//
// ReadAt is a fetcher's read without the consumer: Partition.ReadCommitted
// at the offset, decoded by the same function, on the caller's goroutine.
// The batch holding the offset is read whole and its earlier records
// dropped, as Kafka clients drop them from a fetch; a read that leaves no
// record is followed by the next, up to the last stable offset.
//
// # Transactions
//
// NewTxnProducer makes in process the calls a Kafka client makes to the
// transaction coordinator (internal/txn, the log's, which the Kafka
// listener shares; New opens it unless WithTransactions gives it):
// InitProducerId, which fences earlier producers of the id; then per
// transaction AddPartitionsToTxn for partitions new to it, transactional
// batches with the producer's id, epoch and sequences appended while the
// coordinator is kept from ending the transaction, AddOffsetsToTxn and
// TxnOffsetCommit for the group's offsets, and EndTxn, which writes the
// markers and settles the offsets. A transaction with nothing in it never
// reaches the coordinator.
package embedded
