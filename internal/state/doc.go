// Package state keeps one stateful task's operator state on local disk,
// mirrored by a changelog topic partition, so that a task survives a
// crash and moves between workers (Kafka Streams' model).
//
// A Store is a pebble database in the task's state directory. The
// operator holds its state in memory up to a budget; the store is its
// durable copy — and, beyond the budget, where the rest of it lives,
// read back with Get and ScanPrefix — and the changelog its replicated
// one. A checkpoint (the task's loop):
//
//	cp := store.NewCheckpoint(changelog)
//	op.Changes(cp.Put)                      // the entries changed since the last one
//	produce(outputs + cp.Records(), inputs) // one transaction (exactly-once),
//	                                        // or one after the other (at-least-once)
//	store.Commit(cp)                        // the changes and the changelog offset
//	                                        // reached, one synced pebble batch
//	op.Evict()                              // what exceeds the memory budget leaves
//	                                        // memory: the store has it now
//
// and at start:
//
//	store, _ := state.Open(dir)
//	store.Restore(ctx, tr, changelog) // replay the changelog from the store's offset
//	store.Scan(op.Load)               // the state into the operator, up to its budget
//
// # Invariant
//
// The store's content is always the changelog's replayed up to the
// store's offset: the changes of a checkpoint and the offset after its
// last changelog record are one atomic pebble batch, applied only once
// the records are durable (committed, with transactions) in the
// changelog. The store may lag the changelog (a crash after the produce,
// before Commit; a lost unsynced batch), never lead it; Restore replays
// what it lags by. Sync is therefore not what makes the store correct —
// pebble applies a crash's surviving batches in order, so a lost batch
// only means more to replay — but it bounds that replay to what the
// crash interrupted.
//
// Restore starts over — wipes the directory and replays from the
// changelog's start — when the store has no offset, when its offset is
// outside the changelog's [start, end] (the changelog was deleted and
// recreated, or retention removed what the store lacks), or when its
// offset is for another changelog partition. Records are read committed
// only (the transport's ReadAt guarantees it): an aborted transaction's
// changes are never applied. Restore commits as it goes, so a restore
// that is interrupted resumes where it got to.
//
// # On disk
//
// Pebble keys are tagged so that the store's own bookkeeping never
// collides with the caller's keys:
//
//	caller's entry:  0x01 | key          -> value
//	checkpoint:      0x00 "checkpoint"   -> +------+------------------+---------------------+-------+
//	                                        | 0x01 | offset (varint)  | partition (varint)  | topic |
//	                                        | vers | next to replay   |                     |       |
//	                                        +------+------------------+---------------------+-------+
//
// The changelog's records are the caller's keys and values unchanged; a
// nil value (a tombstone) deletes the key, so a compacted changelog
// keeps the latest value of each live key.
//
// # Concurrency
//
// A Store belongs to its task's goroutine: it is not safe for concurrent
// use.
package state
