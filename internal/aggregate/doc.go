// Package aggregate is the GROUP BY operator of stateful pipelines: it
// folds each event's aggregate arguments into the accumulators of its
// group (internal/sql/expr's Aggregate), per event-time window when the
// query has one (internal/eventtime).
//
// Windowed, results are append-only: a window's row is emitted once, when
// the watermark passes its end (Fire), and its state is dropped. An event
// whose every window has already fired is late (ErrLate) and the caller
// applies the source's late-data policy. SESSION windows grow and merge
// as events come, their accumulators merged.
//
// Without a window the result is updating: Add returns the group's new
// row, which the pipeline emits as an upsert keyed by the group (a
// changelog).
//
// The operator keeps its state in memory. It is used by one task
// goroutine: not safe for concurrent use.
//
// # Persistence
//
// A task mirrors the operator's state to a store and a changelog topic
// (internal/state) at each checkpoint: Changes gives the entries changed
// since the last one, Load rebuilds the operator from every entry at
// restore. Tracking costs a flag test per Add and an append the first
// time a window changes between checkpoints; Changes walks those windows
// only. An entry is one (group, window) — the group's accumulators
// without a window, under window start 0 — plus one operator-wide entry,
// the watermark of the last Fire, so that windows emitted before a
// restore are not emitted again and their late events stay late.
//
// Keys sort by group key, then window start (the group key is the
// caller's opaque string; a 0x00 in it is escaped as 0x00 0xff):
//
//	window entry:
//	+------+----------------------+-----------+----------------------+
//	| 0x01 | group key (escaped)  | 0x00 0x01 | start (8 bytes, BE,  |
//	|      |                      |           |  sign bit flipped)   |
//	+------+----------------------+-----------+----------------------+
//	value:
//	+------+-----------------+--------------------+---------------------------------+
//	| 0x01 | end (varint)    | count (uvarint) =  | count x { len (uvarint),        |
//	| vers |                 | len(Spec.Aggs)     |   Accumulator.AppendState }     |
//	+------+-----------------+--------------------+---------------------------------+
//
//	watermark entry: key 0x00 "fired", value the watermark (varint)
//
// Keys starting 0x00 are the operator's own; other values of the first
// byte are free for later kinds of entry. A deleted entry (its window
// fired or merged into a larger session) is a nil value, a tombstone in
// the changelog.
package aggregate
