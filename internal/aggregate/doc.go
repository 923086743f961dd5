// Package aggregate is the GROUP BY operator of stateful pipelines: it
// folds each event's aggregate arguments into the accumulators of its
// group (internal/sql/expr's Aggregate), per event-time window when the
// query has one (internal/eventtime).
//
// Windowed, results are append-only: a window's row is emitted once, when
// the watermark passes its end (Fire), and its state is dropped. With
// Spec.Early, Early also gives the current rows of the open tumbling or
// hopping windows changed since its last call (early results, which make
// the output an updating one). An event
// whose every window has already fired is late (ErrLate) and the caller
// applies the source's late-data policy. SESSION windows grow and merge
// as events come, their accumulators merged.
//
// Without a window the result is updating: Add returns the group's new
// row, which the pipeline emits as an upsert keyed by the group (a
// changelog).
//
// The operator is used by one task goroutine: not safe for concurrent
// use.
//
// # State larger than memory
//
// With a Spill store (the task's pebble store) the operator keeps only
// part of its state in memory. Windows are grouped in buckets by end
// (a heap of the distinct ends drives Fire). After each checkpoint has
// reached the store, Evict drops clean windows from memory — a clock
// over a referenced bit, so recently touched ones stay — until what is
// left takes Spec.MaxMemory bytes (estimated from each window's entry
// size at its last checkpoint), counting the evicted ones in their
// bucket. An event for a window not in memory reads it back with a point
// lookup when its bucket has evicted windows (pebble's bloom filters
// answer most misses for new groups), and Fire reads a bucket's evicted
// windows with one prefix scan: window keys start with the end. A window
// fired or merged away stays in memory as a tombstone until the next
// checkpoint deletes its entry, so a stale copy is never read back.
// Load (restore) stops materializing windows at the budget and leaves
// the rest in the store. Sessions merge by key, so a key's sessions go
// and come back together, found through a per-key index entry that
// lists their bounds (session.go); with a spill store Load leaves every
// session in the store, read back a key at a time. What memory always
// holds: the buckets (one per distinct window end, with a count; for
// sessions, also the empty ones merges leave until the watermark passes
// their end) and the tombstones between two checkpoints.
//
// # Persistence
//
// A task mirrors the operator's state to a store and a changelog topic
// (internal/state) at each checkpoint: Changes gives the entries changed
// since the last one, Load rebuilds the operator from every entry at
// restore. Tracking costs a flag test per Add and an append the first
// time a window changes between checkpoints; Changes walks those windows
// only. An entry is one (group, window) — the group's accumulators
// without a window, under window [0, 0) — plus one operator-wide entry,
// the watermark of the last Fire, so that windows emitted before a
// restore are not emitted again and their late events stay late.
//
// Keys sort by window end, then group key, then window start (the group
// key is the caller's opaque string; a 0x00 in it is escaped as
// 0x00 0xff):
//
//	window entry:
//	+------+--------------------+----------------------+-----------+--------------------+
//	| 0x03 | end (8 bytes, BE,  | group key (escaped)  | 0x00 0x01 | start (8 bytes, BE,|
//	|      |  sign bit flipped) |                      |           |  sign bit flipped) |
//	+------+--------------------+----------------------+-----------+--------------------+
//	value:
//	+------+--------------------+---------------------------------+
//	| 0x03 | count (uvarint) =  | count x { len (uvarint),        |
//	| vers | len(Spec.Aggs)     |   Accumulator.AppendState }     |
//	+------+--------------------+---------------------------------+
//
//	watermark entry: key 0x00 "fired", value the watermark (varint)
//
//	session index (one per group with SESSION windows):
//	key:   0x04 | group key (escaped) | 0x00 0x01
//	value: 0x01 (version) | count (uvarint) | count x { start, end (varints) }
//
// Keys starting 0x00 are the operator's own; 0x01 was the first layout's
// window entry (by group first), refused at Load; 0x02 is the engine's;
// 0x04 the session indexes;
// other values of the first byte are free for later kinds of entry. A
// deleted entry (its window fired, or merged into a larger session) is a
// nil value, a tombstone in the changelog.
package aggregate
