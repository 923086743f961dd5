// Package view serves materialized views: a Table is a view's rows as
// its topic holds them — one row per key, the latest value, a record
// without a value deleting its key — kept in memory by a reader that
// tails the topic, with subscribers that receive every change in the
// topic's order after a snapshot.
//
// The topic is the view's durable form: the pipeline that maintains the
// view writes it (compacted, one partition, read committed), so a Table
// is rebuilt by reading it, after a restart or on any worker of a
// cluster, and every worker serves the whole view. A Table knows nothing
// of SQL: rows are the encoded values the pipeline wrote.
//
// Subscribers have a bounded buffer: one that falls behind by more than
// it holds is dropped (its channel closed, Subscription.Err says why)
// rather than holding the reader back or growing without bound.
package view
