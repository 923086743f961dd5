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
// The operator keeps its state in memory; the issue that makes pipelines
// stateful puts it in a store with a changelog topic, so a task can be
// rebuilt (docs/ARCHITECTURE.md says what is built). It is used by one
// task goroutine: not safe for concurrent use.
package aggregate
