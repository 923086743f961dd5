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
//	        00000000000000000000.log     batches, back to back, as producers sent them
//	        00000000000000000000.index   sparse index of that segment
//	        00000000000000052311.log     next segment: named by its first offset
//	        ...
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
//
// Locking is described in docs/LOCKING.md.
package log
