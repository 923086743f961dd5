// Package cdc captures a PostgreSQL database's committed changes into
// topics: one topic per table, keyed by the primary key, each change a
// Debezium-style envelope ({"before", "after", "source", "op", "ts_ms"}),
// each delete followed by a tombstone.
//
// A Capture owns one logical replication slot (plugin pgoutput) and one
// publication. Its life, in Run:
//
//  1. Check the server (wal_level = logical), the tables (present, with a
//     primary key or REPLICA IDENTITY FULL), create the publication and
//     the topics when missing.
//  2. If no completed snapshot is recorded for this source, create the
//     slot with an exported snapshot and copy every table inside that
//     snapshot (COPY, in batches): the rows are exactly those committed
//     before the slot's consistent point, and the slot streams exactly
//     the commits after it — no gap, no overlap. A snapshot interrupted by
//     a crash is started again from a new slot, and the keys an earlier
//     attempt wrote that the new snapshot no longer holds are deleted, so
//     replaying a topic always ends in the table's state.
//  3. Stream from the slot. Changes are written as their transactions
//     commit, in commit order; the slot's flush position moves only after
//     everything up to it is durable in the log, so a crash re-sends what
//     was not acknowledged. Re-sent changes are dropped by their position
//     (commit LSN, index in the transaction), which each record carries in
//     the header tide.cdc.position; at start the last record of each
//     partition says how far that partition got.
//
// The progress that is not in the slot (which source created it, whether
// its snapshot completed) lives in the compacted topic __tide_cdc_state,
// keyed by source name.
//
// Values come from pgoutput's and COPY's text forms, converted to JSON by
// the pgvalue package (numeric as exact strings, bytea as base64, times as
// ISO 8601 strings, json as JSON, arrays as arrays).
package cdc
