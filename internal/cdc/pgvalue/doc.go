// Package pgvalue converts Postgres column values from their text form
// into the JSON of Tide's CDC events (a Debezium-like envelope). The
// texts come from the pgoutput logical replication plugin (TupleData of
// kind 't') and from snapshots read with COPY (SELECT ...) TO STDOUT in
// text format, which SplitCopyRow splits and unescapes.
//
// # Assumptions
//
// A text is what the type's output function writes on a connection
// opened with these run-time parameters, which fix the forms the
// conversions rely on:
//
//	DateStyle=ISO, MDY  IntervalStyle=iso_8601  TimeZone=UTC
//	extra_float_digits=3  bytea_output=hex
//
// Dates, timestamps and intervals are checked against those forms, so a
// connection without the parameters fails (ErrSyntax) rather than
// writing other formats into events. bytea in escape format is accepted
// too.
//
// # Representations
//
//	bool                        true, false
//	int2, int4, int8, oid, xid  number, as it is
//	float4, float8              number, as it is; "NaN", "Infinity", "-Infinity" as strings
//	numeric, money              string, exactly the text ("12.30", "NaN")
//	json, jsonb                 the JSON itself, as it is (checked to be valid)
//	bytea                       string, standard base64 of the bytes
//	date                        string as it is: "2026-11-26", "infinity", "0044-03-15 BC"
//	timestamp                   string, 'T' for the space: "2026-11-26T05:48:19.123456"
//	timestamptz                 string in UTC with 'Z': "2026-11-26T05:48:19.123456Z"
//	                            (another offset than +00 is converted to UTC)
//	time, timetz                string as it is
//	interval                    string as it is, ISO 8601: "P1Y2M3DT4H5M6.5S"
//	arrays                      array of the elements' representations, null for NULL,
//	                            nested per dimension; bounds ("[0:1]=") are dropped
//	domains                     as their base type
//	anything else               string of the text: text, varchar, bpchar, name, char,
//	                            uuid, enums, inet, cidr, macaddr, xml, bit, varbit,
//	                            tsvector, composite, range, geometric, extension types,
//	                            and types the Registry does not know
//
// Timestamps BC keep Postgres' " BC" suffix ("0044-03-15T05:48:19 BC"),
// as to_jsonb writes them. A value that did not change and was not sent
// (TOASTed, pgoutput kind 'u') is the string Unavailable.
//
// # COPY text format
//
// A snapshot's rows come from COPY (SELECT ...) TO STDOUT, one line each:
//
//	field \t field \t ... \t field \n
//
// A field is \N for NULL, or the value's text with \b \f \n \r \t \v and
// \\ escaped (readers also take \ooo octal and \xhh hex escapes). Split
// the output on '\n' (a newline in a value is always escaped), then
// SplitCopyRow gives the texts AppendJSON converts.
//
// # Ownership and concurrency
//
// A Registry is safe for concurrent use: conversions read an immutable
// map without locking, Resolve and Add replace it. AppendJSON appends to
// dst, as strconv.Append* do, and allocates nothing once dst has room,
// arrays and bytea included. SplitCopyRow's fields point into the line
// and into the buffer it is given; see its doc.
package pgvalue
