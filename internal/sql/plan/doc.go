// Package plan turns parsed statements into what the runtime executes:
// a Source (the declared schema, its watermark and connector options)
// and a Pipeline (source → filter → [aggregate →] project → sink, with a
// key), with every expression bound to its row layout and compiled once.
//
// Analysis is where semantic errors are found and reported with the
// statement's line:column, with Postgres' wording where Postgres has the
// same error: unknown columns and types, a WHERE that is not boolean, a
// column neither grouped nor aggregated, a window over a column without
// a watermark. Valid SQL the runtime does not run yet (joins, DISTINCT,
// subqueries) is refused as ErrNotSupported, naming the limitation
// rather than failing obscurely.
//
// # Row layouts
//
// The input row, a source's: the declared columns in order, then the
// record's metadata columns, which SELECT * does not expand:
//
//	_key        bytea        the record key (NULL if none)
//	_topic      text         origin topic
//	_partition  integer      origin partition
//	_offset     bigint       origin offset
//	_timestamp  timestamptz  the record timestamp
//
// A stateless pipeline evaluates its WHERE, select list and KEY BY over
// the input row. An aggregating one (Pipeline.Aggregation set) evaluates
// WHERE, the GROUP BY keys and the aggregates' arguments over the input
// row, and its HAVING, select list and KEY BY over the aggregated row:
//
//	key 1 … key k                 GROUP BY values, in GROUP BY order (Aggregation.Keys)
//	window_start, window_end      with a window table function only
//	aggregate 1 … aggregate a     one per distinct aggregate call (Aggregation.Aggs)
//
// To get there, analysis rewrites those expressions, replacing each
// aggregate call and each subexpression that matches a GROUP BY
// expression (compared as canonical text, ast.Format, after dropping the
// table's own qualifier) by a reference to its column; a column
// reference left over is the "must appear in the GROUP BY clause" error.
//
// # Windows
//
// TUMBLE, HOP and SESSION in FROM take Flink's arguments, positional or
// named: TUMBLE(TABLE src, DESCRIPTOR(ts), size [, offset]), HOP(TABLE
// src, DESCRIPTOR(ts), slide, size [, offset]), SESSION(TABLE src,
// DESCRIPTOR(ts), gap). Sizes are constant intervals without months,
// evaluated here. The time column is the one the watermark follows: the
// source's WATERMARK column, or _timestamp for a source declaring none.
// As in Flink, GROUP BY must hold window_start and window_end.
//
// Explain renders a Pipeline as an indented tree for EXPLAIN.
package plan
