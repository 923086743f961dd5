// Package avro is the registry's Avro schema language: parsing (with
// github.com/hamba/avro/v2), the canonical form that gives a schema its
// id, compatibility by the Avro specification's schema resolution rules,
// strict validation of binary payloads, and the conversion of JSON
// documents to Avro binary for HTTP ingestion.
//
// # References
//
// A schema may use named types (records, enums, fixed) that other
// registered schemas define: those are its references, passed to Parse
// already parsed. Parse parses each referenced schema's text again, with
// the references it had in turn, into a type table private to the call,
// then the new text against that table. The canonical form names a
// referenced type by its full name, as the text did; it never inlines it.
//
// # Canonical form
//
// Canonical is what the registry compares to give an identical schema the
// same id. It is not Avro's Parsing Canonical Form, which drops defaults,
// docs, aliases and custom attributes: two schemas differing only in a
// default would share an id, yet a default decides compatibility, and a
// client fetching the schema by id would get the other's. Confluent's
// registry keeps those attributes too. The form is compact JSON, the same
// for texts that differ only in whitespace, key order or how names are
// qualified:
//
//   - every named type's "name" is its full name; "namespace" is dropped;
//     aliases of named types are fully qualified;
//   - known keys come in a fixed order ("type", "name", "aliases", "doc",
//     then "fields", "symbols", "items", "values" or "size", and a field's
//     "name", "type", "default", "order", "aliases", "doc"); custom
//     attributes (logicalType, precision, scale, connect.name, ...) follow,
//     sorted by key;
//   - a primitive with no attributes is its bare name: {"type":"int"} is
//     "int"; a field's "order" is dropped when it is "ascending";
//   - defaults and custom attribute values are written as in the text,
//     numbers keeping their digits, object keys sorted, strings escaped one
//     way.
//
// Docs and custom attributes are kept, so two schemas differing only in a
// doc get two ids, as in Confluent. The canonical form parses back to
// itself.
//
// # Stricter than hamba/avro
//
// Text must be one JSON value without duplicate keys (hamba/avro reads
// `int` unquoted as a type name, and takes the last of duplicate keys).
// Defaults are checked against the text, not hamba's conversion of it: an
// int default must be an integer in range (hamba truncates 1.5 to 1 and
// wraps 12345678901234567890), a fixed default must have the fixed's size,
// and a record default must give every field without a default.
//
// # Payloads
//
// Validate walks an Avro binary datum with its schema, building nothing: a
// valid payload costs no allocation. It rejects what hamba/avro's decoder
// lets through (trailing bytes, booleans other than 0 and 1, strings that
// are not UTF-8) as well as truncation and out-of-range indexes; block
// counts larger than the bytes left are corrupt (except for items that
// take no room). Nesting beyond 10,000 levels is refused.
//
// # JSON documents
//
// EncodeJSON converts a JSON document to Avro binary; its doc comment
// gives the mapping. It reads the document's bytes once, writing the
// binary as it goes: no tree is built and no separate validation pass is
// made. Parse works out a plan per schema node (encode_plan.go: record
// field names and defaults, enum symbol tables, union branch names and
// which branches may take which JSON type): in a record whose members
// come in schema order, each key costs one comparison with the next
// field's name and no hash look-up; members in another order are encoded
// as they come and the encoded fields put in order afterwards.
// The scanner (json_scan.go) checks RFC 8259 grammar on the way and
// allows 300 levels of nesting.
//
//	           fast walk ──ok──▶ Avro binary
//	               │ fails
//	               ▼
//	whole document JSON? ──no──▶ "invalid JSON at byte N: ..."
//	               │ yes
//	               ▼
//	strict walk: each record's keys checked before its fields,
//	messages built ──▶ the first error, with its JSON Pointer
//
// Only a failing document is read again, so that the error reported is
// the one the earlier fastjson-based encoder reported: a syntax error
// anywhere first, then, per record, an unknown or repeated key before a
// missing field or a bad value in schema order. Field defaults are
// encoded once, by Parse, with the same encoder (a default is a value of
// a union's first branch). Numbers are read as fastjson read them
// (fastfloat), strings unescaped as fastjson did, including its handling
// of unpaired UTF-16 surrogates; the differential tests hold the encoder
// to the fastjson-based one, kept as their oracle.
//
// # Concurrency
//
// A Schema is immutable after Parse and safe for concurrent use, as are
// Format's methods and EncodeJSON. A Schema's plans are built by Parse
// and only read afterwards; EncodeJSON's scratch buffers come from a
// sync.Pool, taken only when a document needs them (escaped strings,
// members out of schema order, maps).
package avro
