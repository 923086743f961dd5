// Package record reads and writes Kafka record batches (message format v2,
// magic 2): the unit producers send, Tide stores byte for byte, and
// consumers fetch. The storage engine keeps batches exactly as producers
// sent them and rewrites only the two fields the CRC leaves out, the base
// offset and the partition leader epoch.
//
// # Batch layout
//
// All integers are big-endian; "varint" is a zig-zag varint (int32 in at
// most 5 bytes, varlong int64 in at most 10).
//
//	offset  size
//	     0     8  baseOffset            first offset of the batch    ┐ not covered
//	     8     4  batchLength           bytes after this field       │ by the CRC
//	    12     4  partitionLeaderEpoch  rewritten by the broker      ┘
//	    16     1  magic                 always 2
//	    17     4  crc                   CRC-32C (Castagnoli) of bytes 21..end
//	    21     2  attributes            bits 0-2 codec, 3 LogAppendTime,  ┐
//	                                    4 transactional, 5 control        │
//	    23     4  lastOffsetDelta       last offset - baseOffset          │
//	    27     8  baseTimestamp         ms since epoch                    │ covered
//	    35     8  maxTimestamp          ms since epoch                    │ by the
//	    43     8  producerId            -1 when none                      │ CRC
//	    51     2  producerEpoch         -1 when none                      │
//	    53     4  baseSequence          -1 when none                      │
//	    57     4  recordCount                                             │
//	    61     …  records               recordCount records, compressed   │
//	                                    as one stream when codec != 0     ┘
//
// Each record:
//
//	length          varint   bytes after this field
//	attributes      int8     unused, 0
//	timestampDelta  varlong  timestamp - baseTimestamp
//	offsetDelta     varint   offset - baseOffset
//	keyLength       varint   -1 for a null key
//	key             bytes
//	valueLength     varint   -1 for a null value
//	value           bytes
//	headerCount     varint
//	headers         headerCount × (keyLength varint, key, valueLength varint (-1 null), value)
//
// # Invariants
//
// A batch that Validate accepts satisfies all of these; DecodeRecords checks
// the record-level ones for compressed batches too:
//
//   - size = batchLength + 12 and the bytes given are exactly one batch;
//     batchLength >= 49 (a batch with no records is legal: compaction
//     leaves them to keep producer state);
//   - magic is 2, the codec is 0-4, lastOffsetDelta >= 0 and
//     0 <= recordCount <= lastOffsetDelta + 1;
//   - the CRC matches, so any change outside baseOffset and
//     partitionLeaderEpoch (bytes 0-7 and 12-15) is detected;
//   - records fill the records section exactly, each record's fields fill
//     exactly its length, and offset deltas rise strictly within
//     [0, lastOffsetDelta] (compaction leaves gaps, never reorders).
//
// Nothing read from a batch is trusted to size an allocation: counts and
// lengths are checked against the bytes actually present, and
// decompression stops at a caller-given cap (ErrTooLarge). Malformed input
// returns an error wrapping ErrCorrupt, never a panic.
//
// ParseHeader, Validate, SetBaseOffset and SetPartitionLeaderEpoch do not
// allocate (unless they return an error). All functions are safe for
// concurrent use; codec state is pooled internally.
package record
