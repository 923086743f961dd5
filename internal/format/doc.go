// Package format holds Tide's row codecs: a Decoder turns one message
// value into the declared columns of a row, an Encoder appends one row as
// a message value. A pipeline names its format in the WITH clause
// (format='json'); NewDecoder and NewEncoder look the name up in a small
// static registry, and the format's options are the WITH options whose
// keys start with "format." or "<name>." (IsOption tells them apart).
//
// # Ownership and concurrency
//
//   - A Decoder is used by one goroutine (each runtime task makes its own):
//     it reuses scratch buffers between calls. The Values it
//     stores in a row own their memory (nothing points into the input), so
//     the caller may reuse the input buffer after Decode returns. The text
//     values of one decoded row may share one backing string.
//   - An Encoder holds no mutable state and is safe for concurrent use. It
//     appends to dst and returns the extended slice, like strconv.Append*.
//
// # Errors
//
// A record that cannot be decoded gives a *types.Error with a SQLSTATE
// code (22P02 invalid_text_representation, 22003 numeric_value_out_of_range,
// 22008 datetime_field_overflow) whose message names the column, for
// example
//
//	column "amount": expected number for integer, found string "abc"
//
// so the runtime can dead-letter the record with a precise reason. With
// 'json.ignore-parse-errors'='true' a bad field decodes as NULL and a
// record that is not a JSON object gives ErrSkip: drop it, do not
// dead-letter it.
//
// # Registry formats: avro and json_sr
//
// 'avro' and 'json_sr' read and write values in the schema registry's
// wire format (a zero byte, the schema id as a big-endian uint32, then
// Avro binary or JSON) through the Schemas interface of Env, which the
// server implements over its registry (this package imports none of it).
// Their Columns give a source that declares none the columns of its
// subject's latest schema, or check declared ones against it
// (SourceColumns).
//
// An Avro decoder compiles, per writer schema id it meets, a program of
// closures (avro_decode.go): one step per writer field, in the writer's
// order, reading into the column of the same name with its conversion
// (convert.go: Postgres' assignment casts, text through the column type's
// input function) or skipping the value; records, arrays, maps and unions
// of several types are rendered as jsonb. So any version a producer wrote
// with reads into the source's columns, and a writer type that cannot
// convert fails only the records that carry it. The decoder checks what
// it reads (truncation, trailing bytes, varints past 64 bits, UTF-8 and
// NUL in strings, union and enum indexes, nesting depth, decimals past
// numeric's range) and bounds what a few bytes can stand for: a value's
// array and map items number at most its bytes plus maxAvroEmptyItems
// (items of null or of empty records take no bytes). A recursive schema
// compiles to a cycle of closures, each record type once per program, so
// a program's size is the schema's, whatever values it has read. Avro
// aliases are not consulted: the reader is the columns, which have none.
//
// An encoder registers, when it is made, a schema of its columns (every
// field nullable) under its subject and frames each value with the id;
// the schemas are in avroSchemaText and jsonSchemaText.
//
// # JSON
//
// Decoding takes, for every declared column, the top-level field of
// exactly the same name (case-sensitive; the first one if a name repeats).
// A missing field or JSON null is NULL (a missing field is an error with
// 'json.fail-on-missing-field'='true'). Conversions, by column type:
//
//	smallint, integer, bigint  number with an integral value (1, 1.0, 1e3);
//	                           fractions and out-of-range values are errors
//	double precision           number; or the string "NaN", "Infinity", "-Infinity"
//	numeric                    number, exactly from its text; or "NaN", "Infinity", "-Infinity"
//	text                       string (valid UTF-8 without NUL, as Postgres
//	                           requires); any other JSON value as jsonb's
//	                           text of it, as Postgres' ->> gives
//	boolean                    true or false
//	timestamp, timestamptz,    string, with Postgres' input rules; or a number
//	date                       of milliseconds since 1970-01-01 00:00:00 UTC
//	                           (a date takes the day that instant falls in)
//	interval                   string, with Postgres' input rules
//	bytea                      string in Postgres' text form: hex '\x0102'
//	                           (written "\\x0102" in JSON)
//	json                       any value, in jsonb's canonical text
//	                           (types.AppendJSONB: keys sorted, last
//	                           duplicate wins, one space after ':' and ',')
//
// Strings without a zone given to timestamptz are UTC; a zone given to a
// timestamp without time zone is ignored, as Postgres does.
//
// Encoding writes one object with the columns in order, values rendered
// as Postgres' to_json renders them with TimeZone=UTC:
//
//	{"id":42,"price":1.5,"name":"a\"b","at":"2024-01-02T03:04:05.123456+00:00",
//	 "day":"2024-01-02","ttl":"1 day 02:00:00","raw":"\\x0102","doc":{"k":[1]}}
//
// integers and numeric as numbers, double precision as the shortest
// number that reads back exactly (NaN and ±Infinity as the strings
// "NaN", "Infinity", "-Infinity"), timestamps in ISO 8601 with 'T' and
// trailing fractional zeros dropped, timestamptz with "+00:00", interval
// as its Postgres text, bytea as "\\x" and hex, json as its text. Strings
// are escaped exactly as encoding/json escapes them (HTML characters as
// \u003c and friends, invalid UTF-8 as \ufffd, U+2028/U+2029 escaped), so
// the output is always valid JSON.
//
// The decoder checks what it uses: a number in a field no column reads is
// not validated against JSON's grammar (only its bytes are), as before.
//
// # The JSON decoder's scanner
//
// Decoding is the bulk of the format's share of a pipeline's work, so it
// is measured against a ceiling: fastjson parsing the same record and
// writing it back, with no types and no checks (BenchmarkCeilingFastjson200B
// against BenchmarkDecodeEncode200B). Decoding by building fastjson's tree
// of the record, then walking it and converting fields, ran at about a
// third of that ceiling (the target is 70%; the one-pass decoder and the
// encoder's fast paths brought it to about 60% when this was written).
// The decoder is one pass over the record's bytes (json_scan.go,
// json_decode.go):
//
//	{ "event_id" : 918273645 , "page" : "/p/x" , "extra" : {...} }
//	  '--------'   '-------'   '----'   '----'   '-----'   '---'
//	  key: matched  converted   key      copied    key       skipped:
//	  against the   in place    (slow    into the  (no       checked,
//	  next column   (no string  path:    row's     column)   nothing built
//	  expected      made)       hash)    arena
//
// In detail:
//
//   - a key is first compared, with one or two 8-byte loads, with the name
//     of the column after the last one matched (fields usually come in the
//     same order record after record); else it is scanned, unescaped if
//     it must be, and looked up in a perfect hash of the names (a map only
//     when no perfect hash was found);
//   - a column's value is converted where it lies: integers and short
//     decimals parsed without strconv, other floats by strconv.ParseFloat
//     over the bytes, timestamps by the ISO fast path, numeric by apd,
//     text copied (unescaped only if it has escapes, checked only if not
//     printable ASCII) into the arena that becomes the row's one string;
//   - json values, and text columns given non-strings, are the slow path:
//     fastjson reads that value alone for types.AppendJSONB, as before;
//   - any other value is skipped by a checking skipper that builds nothing.
//
// The scanner accepts exactly what fastjson accepted (its lenient numbers
// and strings included, see json_scan.go), so no record that decoded
// before fails now or the other way round; a record that does not parse
// is re-parsed by fastjson for its error message, which is therefore the
// one it always had. Errors keep their order too: a syntax error anywhere
// in the record wins over a bad field, and of bad fields the first
// column's. The fastjson-based decoder is kept, in json_decode_ref_test.go,
// as the oracle of a differential test and of FuzzDecodeDifferential,
// which require both to give the same values and the same errors.
package format
