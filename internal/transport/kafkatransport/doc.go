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
// Start maps to ConsumeResetOffset (earliest or latest). Consumers read
// committed records only (FetchIsolationLevel(ReadCommitted)): a partition
// is held back at the first record of an open transaction, records of
// aborted ones are dropped; kgo fetches the group's offsets with
// RequireStable, so a member waits for a transaction that commits offsets
// of its group to end before it starts from them.
//
// Commit is CommitOffsetsSync of exactly the offsets given, each with the
// leader epoch of the last record polled from its partition, for the
// member's current generation; Committed is an OffsetFetch (kadm). Close
// allows the pending rebalance, leaves the group (kgo revokes, so
// OnRevoked runs and may commit before the LeaveGroup), revokes anything
// kgo did not, and closes the client.
//
// # Transactions
//
// A TxnProducer is a kgo client of its own with the transactional id and
// Config.TransactionTimeout; NewTxnProducer initialises its producer id at
// once (InitProducerID), which fences earlier producers of the id and has
// the coordinator abort their open transaction before it answers. Begin,
// Produce and Abort are kgo's BeginTransaction, ProduceSync and
// EndTransaction(TryAbort). Commit adds the group's offsets itself, since
// kgo commits offsets in a transaction only for the group its own client
// consumes in: AddOffsetsToTxn, then TxnOffsetCommit with generation -1 and
// no member id (accepted for a group with members: the transactional id
// fences zombies, and Tide gives each input partition an id of its own),
// then kgo's EndTransaction(TryCommit). A transaction with offsets and no
// records is one kgo does not know of (it would end it without an EndTxn),
// so Commit sends the EndTxn itself.
//
// The transactional clients' request versions stay below KIP-890 part 2
// (Produce v11, EndTxn v4, TxnOffsetCommit v4): partitions and offsets are
// added to transactions explicitly and EndTxn leaves the producer epoch as
// it is, which the EndTxn of our own relies on (under part 2 it would bump
// the epoch behind kgo's back). Kafka 4 serves these versions to every
// client that asks for them.
//
//	Begin ─► Produce* ─► Commit(group, offsets)
//	                       ├─ offsets: AddOffsetsToTxn, TxnOffsetCommit
//	                       ├─ records: kgo EndTransaction(TryCommit)
//	                       └─ none:    EndTxn(commit) of our own
//
// PRODUCER_FENCED and INVALID_PRODUCER_EPOCH are transport.ErrFenced, and
// sticky: a newer producer of the id exists, or the coordinator aborted a
// transaction that outlived the timeout (the Java client is fenced then
// too). A failed Produce leaves the transaction abort-only, as in the Java
// client. When an end fails otherwise (the outcome unknown), the next
// Begin aborts what may be left: kgo's EndTransaction(TryAbort), which
// re-initialises the producer id with its old epoch (KIP-360) when the
// outcome was unknown, so that it fails with PRODUCER_FENCED rather than
// fence a newer producer, and an EndTxn(abort) of our own for an
// offsets-only transaction (INVALID_TXN_STATE then means it had ended).
// The producer never creates a new client for the id: that would fence
// whoever owns it now.
//
// # ReadAt
//
// ReadAt needs no consumer client: it lists the partition's last stable
// offset (ListOffsets read_committed; returning nothing at or past it),
// looks up the leader and topic id in the metadata, and sends one Fetch of
// its own to the leader on the transport's client (no wait, maxBytes,
// read_committed like the consumers: the broker sends nothing past the
// last stable offset, and lists the aborted transactions in what it
// sends). It decodes the batches itself with internal/record, as the
// embedded transport does: records before the offset, control batches,
// aborted transactions' batches (a producer's transactional batches from
// an aborted transaction's first offset to its abort marker, as the Java
// consumer finds them) and a trailing partial batch are dropped, and a
// fetch left with no record is followed by one from the next batch. A few
// retriable errors (a leader moving) are retried with the leader looked up
// again.
package kafkatransport
