// Package topn is the state of a top-N in one task: per partition, the
// first N rows in an order (SQL's ROW_NUMBER(), RANK() or DENSE_RANK()
// OVER (PARTITION BY ... ORDER BY ...) filtered to ranks 1 to N). The
// engine shuffles the rows to tasks by partition key, evaluates the sort
// values and the row's columns, and hands each row to Add, which keeps
// it if it ranks within N, pushing out the rows that no longer do.
//
// The operator is used by one task goroutine: not safe for concurrent
// use, and the callbacks must not call back into it.
//
// # Order and ties
//
// Rows sort by their sort values (each ascending or descending, NULLs
// first or last), then by origin (source partition, then offset): the
// order is total, the same after a restore and on every replay, so
// ROW_NUMBER numbers tied rows the same way each time. RANK and
// DENSE_RANK give tied rows one rank, and a partition keeps every row
// whose rank is at most N: with ties at the boundary it holds more than
// N rows.
//
// # Updating and final results
//
// Without event time (Spec.Final false) a partition's rows change as
// rows arrive: Updates hands over, per partition changed since the last
// call, its rows from the first position that changed, with their
// ranks — the engine emits them as upserts keyed by partition and row
// number — and the positions that emptied.
//
// With Spec.Final, every row of a partition has the partition's event
// time (the engine partitions by the event-time column), and the
// partition is complete once the watermark passes it: Fire hands over
// its rows, ranked, and drops it. A row behind the watermark of the last
// Fire is late: Add refuses it (ErrLate), since its partition may be
// gone.
//
// # Rows that change
//
// With Spec.Retract (a top-N over an updating GROUP BY) a row's identity
// names a group whose row changes: an Add of a row in state replaces it,
// Retract takes it back, and every row is kept, since any may rise into
// the first N when one before it falls or leaves. Updates then hands
// over what changed in each partition's first N since the last call.
//
// A row's identity is its origin (source partition and offset): the
// repartition topic is written at least once, so a second Add of a row
// in state is a duplicate and is ignored. A duplicate of a row pushed out
// ranks where it did and is pushed out again.
//
// # Persistence
//
// As join's: Changes gives the entries changed since the last
// checkpoint, Load rebuilds the operator from every entry at restore.
//
//	row entry:
//	key:   0x06 'r' | len(partition key) (uvarint) | partition key | partition (4, BE) | offset (8, BE)
//	value: event time (varint) | Values (sort values, then columns)
//
//	watermark entry: key 0x06 'w', value the watermark (varint)
//
// The first byte 0x06 marks the top-N's entries in a store that other
// operators' entries share.
package topn
