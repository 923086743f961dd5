// Package protobuf is the registry's Protobuf schema language: a schema is
// the text of one .proto file, compiled with github.com/bufbuild/protocompile;
// payloads are checked with dynamic messages (google.golang.org/protobuf's
// dynamicpb).
//
// # References
//
// A schema's references are the files it imports, named by import path
// ("acme/money.proto"); each comes parsed, with the files it imports in
// turn, and the compiler reads their text from memory. The well-known
// files (google/protobuf/timestamp.proto, ...) are built in and need no
// reference. The schema itself compiles as schema.proto, the name error
// messages give.
//
// # Canonical form
//
// Canonical is the text with the white space around it trimmed, nothing
// more: two schemas that differ in formatting, comments or declaration
// order get two ids, as in Confluent's registry before its normalize
// option. Normalizing Protobuf means printing the descriptor back as
// .proto text, which is left for when a client needs it.
//
// # Compatibility
//
// Compatible applies the subset of Confluent's Protobuf rules that its doc
// comment lists: package, removed messages, field kinds and wire groups,
// message types of fields, proto2 required fields and oneof membership.
// It does not check reserved names and numbers, field labels (singular
// and repeated) or extensions.
//
// # Payloads
//
// A framed Protobuf value carries, after the 5-byte frame, the indexes of
// its message in the schema and then the message:
//
//	+-------+---------+---------+-----+---------+----------------------+
//	| count | index 0 | index 1 | ... | index n | message (wire format) |
//	+-------+---------+---------+-----+---------+----------------------+
//	  zig-zag varints; count 0 alone stands for the indexes [0]
//
// Validate reads the indexes, finds the message (the first index among the
// file's top-level messages, the next among that message's nested ones,
// and so on) and decodes the rest as it, strictly: required fields set,
// proto3 strings valid UTF-8, no field the schema does not declare.
//
// # Concurrency
//
// A Schema is immutable after Parse and safe for concurrent use, as are
// Format's methods.
package protobuf
