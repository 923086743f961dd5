// Package log is Tide's storage engine: a durable, partitioned, append-only
// log of Kafka RecordBatch v2 batches in a data directory.
//
// It knows nothing of Kafka requests, SQL or HTTP. The Kafka listener, the
// embedded stream transport and the CLI sit on top of it.
//
// # On disk
//
//	<data-dir>/
//	  LOCK                       flock'd by the owning process; holds its pid
//	  CLEAN_SHUTDOWN             present only between a clean Close and the next Open
//	  topics/
//	    <topic>/
//	      topic.json             name, partition count, configuration overrides
//	      <partition>/
//	        00000000000000000000.log       batches, back to back, as producers sent them
//	        00000000000000000000.index     sparse index of that segment
//	        00000000000000000000.txnindex  transactions aborted by markers in it (if any)
//	        00000000000000052311.log       next segment: named by its first offset
//	        ...
//	        producer-snapshot.json         producer and open-transaction state as of an offset
//	        leader-epoch-checkpoint        leader epochs (epoch.go)
//	        log-start-offset               a start moved by DeleteRecords (admin.go)
//	    ~creating-<topic>/       a create in progress; removed on open
//	    ~deleting-<topic>-<n>/   a delete in progress; removed on open
//
// A segment (.log) is a sequence of whole RecordBatch v2 batches exactly as
// the producer sent them, except that the broker-owned header fields
// baseOffset and partitionLeaderEpoch are rewritten; the CRC-32C does not
// cover them, so stored bytes stay valid and a fetch returns them as they are.
//
//	+------------+-----------+-------------+-------+-----+---------------------------+
//	| baseOffset | batchLen  | leaderEpoch | magic | crc | attributes ... records    |
//	|   int64    |  int32    |   int32     | int8=2| u32 | (covered by the CRC)      |
//	+------------+-----------+-------------+-------+-----+---------------------------+
//
// An index (.index) has one 16-byte entry at most every 4 KiB of log:
//
//	+------------------+----------------+------------------------------+
//	| offset - base u32| position u32   | max timestamp so far i64     |
//	+------------------+----------------+------------------------------+
//
// "Max timestamp so far" covers every batch up to and including the indexed
// one, so a timestamp search skips whole stretches.
//
// A transaction index (.txnindex) has one 34-byte entry, Kafka's layout, per
// abort marker in its segment, in marker order (txnindex.go):
//
//	+-------------+-------------+--------------+--------------+--------------+
//	| version i16 | producer id | first offset | last offset  | last stable  |
//	|    = 0      |    i64      |    i64       | i64 = marker | offset i64   |
//	+-------------+-------------+--------------+--------------+--------------+
//
// A marker is a control batch (attributes transactional|control, base
// sequence -1) of one record: key = version i16 0 + type i16 (0 abort,
// 1 commit), value = version i16 0 + coordinator epoch i32.
//
// producer-snapshot.json is {"version":1, "offset":N, "producers":{...},
// "ongoing":{"<producer id>": first offset}}: the state after every batch
// below N (producers.go). Directories from before transactions hold a
// bare producer map and no .txnindex files; they open as they did.
//
// # Invariants
//
//   - Acknowledged means durable: with fsync=always (the default) Append
//     returns only after an fsync covering its bytes has succeeded, and
//     readers never see bytes that are not yet durable (the high watermark
//     is the durable end). Concurrent appends share one fsync.
//   - Offsets are contiguous and assigned once; compaction removes records
//     but never renumbers, so gaps exist only in compacted topics.
//   - Only the active (last) segment of a partition is ever written; a
//     segment is fsync'd with its index when it rolls and is immutable from
//     then on, except that compaction may replace it whole (rename).
//   - After a failed write or fsync a partition refuses appends with the
//     same error until the log is reopened (sticky errors): the kernel may
//     have dropped the dirty pages, so nothing after that point can be
//     promised.
//   - Recovery after an unclean shutdown checks each segment's tail from its
//     last index entry, batch by batch (length, offsets, CRC), and cuts the
//     first torn or garbage batch and everything after it. Missing or
//     inconsistent indexes are rebuilt from the log.
//   - At most WithMaxOpenFiles segment files are open at once; idle ones
//     are closed least recently used first and reopened on demand.
//   - Transactions (txn.go): the last stable offset (LSO) is the first
//     offset of the earliest transaction not ended by a marker below the
//     high watermark, or the high watermark. Below it every transaction
//     has a durable outcome, so a read_committed reader never sees a
//     commit a crash could undo. Markers are fsync'd before they are
//     acknowledged whatever the fsync mode; only AppendMarker writes
//     control batches.
//   - Producer state, open transactions and aborted-transaction lists are
//     functions of the log, rebuilt exactly at open: a snapshot as of the
//     last roll or clean close, plus a replay of the batches after it.
//   - Compaction works below the LSO only, drops aborted transactions'
//     batches, and drops a marker only after its transaction's data is
//     gone (cleaner.go).
//
// Locking is described in docs/LOCKING.md.
package log
