// Package catalog persists Tide's SQL objects (sources and sinks) in the
// log itself, so a restart — or another worker on the same Kafka cluster —
// sees every pipeline and resumes it from its committed offsets.
//
// The catalog is a compacted topic, __tide_catalog, with one partition so
// that its changes have one order. Each record is keyed by the object's
// name; its value is a JSON Entry holding the statement as the user wrote
// it; a drop writes a tombstone (null value). Loading reads the topic from
// the start to the end offset observed at open. Watch then tails it, so
// objects created through another worker appear here too.
//
//	key:   "orders"
//	value: {"kind":"SOURCE","name":"orders","sql":"CREATE SOURCE orders (...) WITH (...)",
//	        "created":"2026-11-26T10:00:00Z","id":"a41f..."}
//
// Names are one namespace for every kind, as Postgres relations are.
// Two workers creating the same name at the same moment: the later record
// in the topic wins on every worker (last writer wins), which keeps all
// workers convergent.
package catalog
