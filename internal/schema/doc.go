// Package schema is Tide's schema registry core: the schema languages'
// common contract (Format, Parsed), subjects, versions and global ids,
// compatibility levels and modes, kept in a compacted topic and rebuilt
// from it at start. The languages live in subpackages (schema/avro,
// schema/jsonschema, schema/protobuf); the Confluent-compatible HTTP API
// in schema/api.
//
// # The topic
//
// Everything the registry knows is a record in __tide_schemas (compacted,
// one partition, so that the records have one order). A Registry reads it
// to its end at Open, then follows it with a consumer (one goroutine,
// applying records in offset order), so that several Tide workers on one
// Kafka cluster hold the same state. Keys and values are JSON:
//
//	kind     key                                          value
//	-------  -------------------------------------------  ------------------------------------------
//	schema   {"kind":"schema","id":7,"nonce":"a41f…"}      {"id":7,"schemaType":"AVRO","schema":"…",
//	                                                       "references":[…],"hash":"9f86…"}
//	version  {"kind":"version","subject":"s","nonce":"…"}  {"subject":"s","version":3,"id":7,"hash":"9f86…"}
//	deleted  {"kind":"deleted","subject":"s","nonce":"…"}  {"deleted":true}
//	config   {"kind":"config","subject":"s"}               {"compatibilityLevel":"FULL"}
//	mode     {"kind":"mode","subject":"s"}                 {"mode":"READONLY"}
//
// The hash is SHA-256 over a schema's type, canonical text
// (Parsed.Canonical) and references: a schema's identity. The stored text is
// the text first registered (or its canonical text with normalize). A
// config or mode of subject "" (no "subject" field) is the global one.
//
// # Writes are claims, decided by the log's order
//
// There is no leader. A write appends records and returns only once this
// worker has applied them (read-your-writes), so it learns what they did
// exactly as every other worker does. Before deciding, a write catches up
// with the topic's end, and one write at a time runs per worker.
//
//   - A registration of a schema new to the registry proposes
//     id = highest id held + 1 in a schema record. When applying, the first
//     record that claims an id holds it; a later claim of a held id for
//     another schema is ignored, and so is a claim of a second id for a
//     schema that holds one (it maps to the existing id). Ids are never
//     released.
//
//   - The version record that follows proposes version = highest version
//     of the subject + 1 (soft-deleted ones count; hard-deleted numbers are
//     reused, as Confluent does). It holds if its id is the schema its hash
//     names, the version is free, and no live version of the subject holds
//     the id (the same schema registered again keeps its version).
//
//   - A writer whose claim did not hold sees it when reading its records
//     back, and decides again on the new state (it may now find its schema
//     registered, an id taken, or its schema incompatible with a version
//     registered meanwhile), up to 16 times.
//
//     worker A  ──► schema{id 5, X} version{s v1, 5, X} ┐
//     worker B  ──► schema{id 5, Y} version{t v1, 5, Y} ┤  log order: A's, then B's
//     every worker applies: id 5 = X, s v1 = X; B's claims are ignored
//     worker B  reads its records back, lost ──► schema{id 6, Y} version{t v1, 6, Y}
//
// Soft deletes write a "deleted" record for a version's nonce; permanent
// deletes tombstone the version and deleted records; config and mode
// records are last-writer-wins per key (tombstone = delete).
//
// # Compaction
//
// Compaction keeps the latest record of each key, so the rules must give
// the same state from the compacted log as from the whole one. Claims are
// keyed by a nonce unique to each attempt, so a holding claim is never
// superseded: it is removed only by its own tombstone (a permanent delete;
// schema claims never). A claim that lost, however, would hold if replayed
// after the claim that beat it was removed: so every worker tombstones the
// claims it sees lose (sweep), and a loser is gone long before compaction
// reaches its segment. (A loser outlives that only if every worker stops
// between writing it and sweeping it, and then the version it lost to is
// permanently deleted and compacted away: a version may then reappear.)
// Soft-delete markers have their own keys for the same reason: a marker
// superseding its claim would move the claim after a loser.
//
// # Errors and Confluent's rules
//
// Operations return *Error with Confluent's codes (40401 subject not found,
// 40402 version not found, 40403 schema not found, 40404..40409, 409
// incompatible, 42201..42208, 50001 store, 50002 timeout), and follow its
// rules: a subject whose versions are all soft-deleted is itself
// soft-deleted; permanent deletes only after soft ones; READONLY refuses
// registrations and deletions; IMPORT registers only with a given id and
// checks no compatibility; an id is served (SchemaByID) while some version,
// live or soft-deleted, holds it.
package schema
