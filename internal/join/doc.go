// Package join is the state of a stream-stream join in one task: a
// symmetric hash join over event time. The engine shuffles both inputs'
// rows to tasks by join key, decodes them, and hands each to Add, which
// stores it and offers it every stored row of the other side with the
// same key; the engine's callback evaluates the rest of the join
// condition (an interval on the two event times, usually) and emits the
// pairs. The operator never looks at a row's columns.
//
// The operator is used by one task goroutine: not safe for concurrent
// use, and the callbacks must not call back into it.
//
// # Lateness and retention
//
// Expire moves the watermark. A row whose event time is behind the
// watermark of the last Expire is late, unless the other side keeps its
// rows Forever (then none of its partners is gone): Add refuses it
// (ErrLate) and the caller applies the source's late-data policy. Every row that is
// not late is stored and stays until the watermark passes its time plus
// its side's Spec.Keep; then Expire drops it, and hands it to the
// caller first if its side is outer and it never matched (the
// NULL-padded row of a LEFT, RIGHT or FULL join, emitted once, when no
// partner can come any more).
//
// Keep follows from the join condition. For
//
//	R.ts BETWEEN L.ts - a AND L.ts + b
//
// a right row that is not late has R.ts >= watermark, so once the
// watermark passes L.ts + b no right row still to come can match a left
// row L: Keep[Left] = b and, symmetrically, Keep[Right] = a. Every
// pair that satisfies the condition is then found exactly once, by
// whichever of its rows arrives second, however out of order the rows
// come, as long as none is late. A side whose rows may match rows
// arbitrarily far ahead in event time (no upper bound on the other
// side's time) keeps them Forever: its state grows until the job is
// dropped, and its unmatched outer rows are never emitted.
//
// Rows are held by join key in arrival order (match callbacks see them
// in that order) and by expiry time in a heap (so Expire costs a heap
// pop per dropped row, not a scan of the state). A row's identity is
// its side, source partition, offset and join key (one input row is in
// several hopping windows, each its own key): the repartition topic is
// written at least once, so a second Add of a row still in state is a
// duplicate and is ignored. A duplicate of a row already dropped is
// behind the watermark and is refused as late — unless the other side
// keeps its rows Forever: then it is not late, and is joined and stored
// again (the at-least-once shuffle's duplicates reach the output there;
// exactly-once shuffles write none).
//
// # Persistence
//
// A task mirrors the operator's state to a store and a changelog topic
// at each checkpoint: Changes gives the entries changed since the last
// one, Load rebuilds the operator from every entry at restore. An entry
// is one stored row, plus one operator-wide entry, the watermark, so
// that rows late before a restore stay late after it. A dropped row's
// entry is deleted (a nil value, a tombstone in the changelog); a row
// that matched for the first time is written again with its flag set.
//
// Keys sort by side, then join key (shorter first), then origin; the
// join key is the caller's opaque bytes, prefixed with their length so
// that where it ends is clear:
//
//	row entry:
//	key:
//	+------+------+-------------------+-----------+---------------+---------------+
//	| 0x05 | side | len(key) (uvarint)| join key  | partition (4, | offset (8,    |
//	|      | 0, 1 |                   |           |  BE, uint32)  |  BE, uint64)  |
//	+------+------+-------------------+-----------+---------------+---------------+
//	value:
//	+--------------------+-------+------------------------------+
//	| event time (varint)| flags | the row's columns (Values)   |
//	|                    | bit 0:|  to the end                  |
//	|                    |matched|                              |
//	+--------------------+-------+------------------------------+
//
//	watermark entry: key 0x05 'w', value the watermark (varint)
//
// The first byte 0x05 marks the join's entries in a store that other
// operators' entries share (0x00-0x04 are theirs). Flag bits other than
// bit 0 are reserved and refused at Load.
//
// A store returns the entries in key order, not in the order the rows
// arrived, so after a restore a key's rows are offered to match
// callbacks in origin order (partition, then offset) rather than in
// arrival order, and rows expiring at the same instant reach Expire's
// callback in that order too. Which pairs are found does not change.
package join
