// Package plan turns parsed statements into what the runtime executes:
// a Source (the declared schema, its watermark and connector options)
// and a Pipeline (source → filter → project → sink, with a key), with
// every expression bound to the source's row layout and compiled once.
//
// Analysis is where semantic errors are found and reported with the
// statement's line:column: unknown columns and types, a WHERE that is not
// boolean, a watermark on a column that is not a timestamp, features the
// runtime does not run yet (aggregations, joins, windows) — those name
// the limitation rather than failing obscurely.
//
// Row layout of a source: the declared columns in order, then the
// record's metadata columns, which SELECT * does not expand:
//
//	_key        bytea        the record key (NULL if none)
//	_topic      text         origin topic
//	_partition  integer      origin partition
//	_offset     bigint       origin offset
//	_timestamp  timestamptz  the record timestamp
//
// Explain renders a Pipeline as an indented tree for EXPLAIN.
package plan
