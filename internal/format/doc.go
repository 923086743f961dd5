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
//     it reuses a parser and scratch buffers between calls. The Values it
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
// not validated, since doing so would cost a second pass over every
// record.
package format
