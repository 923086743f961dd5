// Package group is Tide's consumer group coordinator for Kafka's classic
// group protocol: it serves JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups,
// OffsetDelete and TxnOffsetCommit as Apache Kafka's GroupCoordinator does, so that franz-go,
// librdkafka, the Java client and kafkajs consumer groups work against
// Tide. The Kafka listener decodes requests and hands them to
// Coordinator.Handle; this package knows nothing of connections.
//
// # Groups
//
// Each group is owned by one goroutine that runs every change to it, in
// order: requests, timer expiries and admin calls arrive as functions on
// an unbuffered channel (the single-owner loop of franz-go's kfake). No
// state is shared between groups; the Coordinator's mutex guards only the
// name-to-group map. A request that must wait (JoinGroup until the join
// phase ends, SyncGroup until the leader's assignment) is parked with a
// reply function and answered later by the goroutine; the goroutine itself
// never waits, except for the fsync of an offset commit.
//
// The state machine is Kafka's:
//
//	           first join
//	Empty ──────────────────► PreparingRebalance ◄─────────┐
//	  ▲                          │          │              │ join, leave,
//	  └── join phase ends, ──────┘          │ join phase   │ session expiry,
//	      no members                        ▼ ends         │ new metadata,
//	                              CompletingRebalance ─────┤ late SyncGroup
//	                                        │              │
//	                                        │ leader's     │
//	                                        ▼ SyncGroup    │
//	                                      Stable ──────────┘
//
// Members that do not rejoin within the rebalance timeout (the largest of
// the members') are removed, except static members (group.instance.id),
// which keep their place. JoinGroup v4+ without a member id gets
// MEMBER_ID_REQUIRED and a member id it must rejoin with within its
// session timeout; until then it holds the join phase open. Members whose
// SyncGroup does not arrive within the rebalance timeout after the join
// phase are removed and the group rebalances. A member is removed when
// its session timeout passes without a heartbeat (or commit), unless it
// is waiting in a rebalance. The protocol is chosen by vote among the
// protocols every member supports.
//
// A group exists while it has members or committed offsets. One left with
// neither lingers as Empty for 10 minutes (Kafka's cleanup interval), then
// is forgotten; one that never formed a generation (a failed first join)
// is forgotten at once. Deleted groups (DeleteGroups) end at once.
//
// # Committed offsets
//
// Commits are written to the offsets topic (Options.OffsetsTopic,
// default __consumer_offsets, compacted, one partition unless created
// otherwise) with the log's Append, which returns once they are durable,
// before the commit is answered and before the in-memory copy changes.
// NewCoordinator replays the topic into memory. A commit is one batch:
// atomic, and refused with INVALID_COMMIT_OFFSET_SIZE above the topic's
// max.message.bytes. Deletes (DeleteGroups, OffsetDelete, a deleted topic)
// write tombstones (null values), which compaction eventually drops. All
// of a group's records go to one partition, abs(javaHash(group)) mod the
// partition count, as in Kafka, so they stay ordered.
//
// Records use Kafka's own __consumer_offsets layout (kmsg.OffsetCommitKey
// and kmsg.OffsetCommitValue), so Kafka's tools can read the topic. All
// integers are big-endian; a string is an int16 length and its bytes.
//
//	key (version 1; 0 is read too):
//	+--------------+---------------+---------------+----------------+
//	| version i16  | group string  | topic string  | partition i32  |
//	+--------------+---------------+---------------+----------------+
//
//	value (version 3 written; 0 to 4 read), null for a tombstone:
//	+-------------+------------+-----------------+------------------+--------------------+
//	| version i16 | offset i64 | leaderEpoch i32 | metadata string  | commitTime i64 (ms) |
//	+-------------+------------+-----------------+------------------+--------------------+
//
// The key version tells record kinds apart, as in Kafka: 0 and 1 are
// offset commits, 2 is Kafka's group metadata (not written by Tide, and
// skipped on load, as are other versions, written by a future Tide), and
// 1000 is Tide's own pending transactional offset (below). An offset
// record that does not decode fails NewCoordinator with ErrCorruptOffsets
// rather than start with offsets missing.
//
// # Transactional offsets
//
// TxnOffsetCommit (Kafka's KIP-98) commits offsets within a producer's
// transaction; the transaction coordinator (internal/txn) checks the
// transaction before it calls Handle. Such an offset is pending until the
// transaction ends: OffsetFetch does not return it, and with
// require_stable (v7+) answers UNSTABLE_OFFSET_COMMIT for its partition,
// so a read_committed consumer waits instead of starting from an offset
// about to move. It is stored at once, durably, as a record of its own:
//
//	key (version 1000):
//	+--------------+--------------+-----------------+--------------+---------------+
//	| version i16  | group string | producerId i64  | topic string | partition i32 |
//	+--------------+--------------+-----------------+--------------+---------------+
//
//	value: an offset commit value, as above
//
// When the transaction ends, the coordinator calls CompleteTransaction,
// which writes, in one batch per group, the committed offsets (on commit)
// and tombstones for the pending keys. One batch is atomic, so the topic
// holds either the pending offsets or their outcome; settling again
// settles nothing, so the transaction coordinator simply repeats it after
// a crash (it completes every transaction it recorded as prepared). Kafka
// writes the pending offsets as a transactional batch and settles them
// with a marker in __consumer_offsets; this scheme keeps the offsets topic
// free of transactions and compacts like any other record. A group with
// pending offsets is not forgotten, nor deleted (NON_EMPTY_GROUP). A
// settled commit applies its offsets whatever plain commit came between
// (Kafka keeps the one written later), and drops those of deleted topics.
//
// # Not implemented
//
//   - Group metadata is not persisted: after a restart every member must
//     rejoin (its heartbeat gets UNKNOWN_MEMBER_ID), as after a Kafka
//     coordinator failover that lost the group record. Offsets survive.
//   - Offsets never expire (Kafka's offsets.retention.minutes, 7 days
//     after a group empties); they stay until deleted.
//   - TxnOffsetCommit v5+ (the group joins the transaction implicitly,
//     KIP-890 part 2), the KIP-848 consumer protocol (OffsetFetch v9+,
//     OffsetCommit v10 topic ids) and group.max.size.
//   - Static membership is served as far as it does not depend on the
//     persisted group record: a static member joins without the
//     MEMBER_ID_REQUIRED round trip; one that restarts (joins without its
//     member id) replaces its old member id, whose requests then get
//     FENCED_INSTANCE_ID, and keeps its assignment without a rebalance
//     when the group is Stable and the protocol choice does not change (a
//     leader is told to skip the assignment, KIP-814); static members that
//     do not rejoin are kept through the join phase. Across a coordinator
//     restart static members rejoin like everyone else.
//   - A JoinGroup whose connection goes away stays in the rebalance until
//     it times out, as in Kafka, whose coordinator cannot see it either.
//   - Timers use the real clock; Options.Now only stamps commits.
package group
