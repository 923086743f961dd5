// Package txn is Tide's transaction coordinator (Kafka's KIP-98) for a
// single node: it maps each transactional id to a producer id and epoch,
// tracks the id's transaction (the partitions and consumer groups added
// to it, its timeout), and ends it atomically: markers in every partition
// and the group's offsets, together, committed or aborted. The Kafka
// listener (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
// TxnOffsetCommit, transactional Produce) and the embedded transport's
// TxnProducer both call it, in process; a node has one per log (Open
// shares it).
//
// It also hands out every producer id of the log, idempotent producers'
// included, from durably reserved blocks (producer_ids.go), so that no two
// producers ever share one, across restarts too.
//
// # States
//
// Kafka's, with transaction protocol version 1 (the producer keeps its
// epoch across transactions; clients use it unless a broker advertises
// transaction.version 2):
//
//	         InitProducerId (epoch+1)           AddPartitionsToTxn,
//	  ┌──────────────────────────────┐         AddOffsetsToTxn
//	  ▼                              │        ┌────────┐
//	Empty ── AddPartitionsToTxn ──► Ongoing ◄─┘        │
//	  ▲                              │  │              │
//	  │            EndTxn(commit) ───┘  └── EndTxn(abort), timeout,
//	  │                 │                   InitProducerId (epoch+1)
//	  │                 ▼                        ▼
//	  │           PrepareCommit             PrepareAbort
//	  │                 │ markers, offsets       │ markers, offsets
//	  │                 ▼                        ▼
//	  └─────────── CompleteCommit          CompleteAbort ──► (Ongoing, Empty
//	        (InitProducerId, AddPartitionsToTxn from both)     as from Empty)
//
// A transaction ends in two phases. The Prepare state is written first,
// durably: from then on the outcome is decided. Then the coordinator
// writes a marker (log.Partition.AppendMarker) to every partition added to
// the transaction and has the group coordinator settle the offsets the
// transaction committed (group.Coordinator.CompleteTransaction), and
// finally writes the Complete state. Every step can be repeated, so a
// failure or a crash anywhere is repaired by doing it again: Open
// completes every transaction it finds prepared, in the background,
// retrying until it succeeds. A transaction found Ongoing is kept; its
// timeout runs from its start and aborts it, as the producer may still
// commit it meanwhile.
//
// Fencing: every InitProducerId of a transactional id bumps its epoch.
// A transaction open at that moment, or one that outlives its timeout, is
// aborted with the epoch bumped first, so its abort markers carry the new
// epoch and the partitions refuse the old producer's later batches; the
// coordinator refuses its requests (PRODUCER_FENCED). When an id's epochs
// run out it gets a new producer id.
//
// Writes into the open transaction (a produce, a TxnOffsetCommit) are
// checked against it (the partition or group was added, the producer's id
// and epoch are current) under the id's lock held shared, and the
// transaction cannot end while the lock is held: no marker slips between
// the check and the append, which would leave records after their
// transaction's marker, hanging the partition's last stable offset.
//
// # Locking
//
// Three locks, always taken in this order: the registry's (Open and
// Close), then an id's entry lock (entry.mu), then the coordinator's map
// lock (Coordinator.mu, held only to look up, add or start a goroutine).
// An entry lock is held across the durable write of a transition, the
// markers (which take the partitions' locks) and the group settlement
// (which waits for the group's goroutine); neither the log nor the group
// coordinator ever calls back into this package, so that cannot cycle.
// Writes into a transaction hold the entry lock shared.
//
// # On disk
//
// Transitions are records of the compacted topic __transaction_state, in
// Kafka's layout (kmsg.TxnMetadataKey and kmsg.TxnMetadataValue), so
// Kafka's tools read it; one partition unless created otherwise, the
// partition of an id chosen as Kafka does (the hash of the id). The latest
// record of an id is its state. Big-endian; a string is an int16 length
// and its bytes; arrays an int32 count.
//
//	key (version 0):
//	+-------------+-------------------------+
//	| version i16 | transactional id string |
//	+-------------+-------------------------+
//
//	value (version 0 written; 1 read, its tagged fields ignored):
//	+-------------+-----------------+-----------+-----------------+----------+
//	| version i16 | producer id i64 | epoch i16 | timeout ms i32  | state i8 |
//	+-------------+-----------------+-----------+-----------------+----------+
//	| [topic string, [partition i32]] | last update ms i64 | start ms i64 |
//	+---------------------------------+--------------------+--------------+
//
// State numbers are Kafka's: Empty 0, Ongoing 1, PrepareCommit 2,
// PrepareAbort 3, CompleteCommit 4, CompleteAbort 5 (Dead 6 is read as a
// deletion). The partitions are those of the transaction (empty once
// Complete); a group added with AddOffsetsToTxn appears as its partition
// of __consumer_offsets, as in Kafka, and is settled through the group
// coordinator rather than with a marker. The state is written before it
// takes effect in memory, so a failed write changes nothing.
//
// Not persisted, as in Kafka: the epoch before the last bump (which lets a
// retried InitProducerId through after a lost answer) is forgotten at a
// restart.
//
// # Not implemented
//
//   - Transaction protocol version 2 (KIP-890 part 2: an epoch bump at
//     every EndTxn, partitions added implicitly by Produce v12 and
//     TxnOffsetCommit v5): the listener does not advertise those versions,
//     so clients use version 1.
//   - Two-phase commit with an external coordinator (KIP-939),
//     DescribeTransactions, ListTransactions and the expiry of idle
//     transactional ids (transactional.id.expiration.ms): ids stay.
package txn
