package types

import (
	"fmt"
	"strings"
)

// kindByName maps the canonical type names the parser produces (and the
// common aliases Postgres accepts) to kinds. "real"/"float4" map to double
// precision: Tide has no single-precision float. The character types map
// to text; the compiler truncates on an explicit cast to varchar(n) or
// char(n) as Postgres does, but char(n) is not blank-padded.
var kindByName = map[string]Kind{
	"boolean": KindBool, "bool": KindBool,
	"smallint": KindInt2, "int2": KindInt2,
	"integer": KindInt4, "int": KindInt4, "int4": KindInt4,
	"bigint": KindInt8, "int8": KindInt8,
	"double precision": KindFloat8, "float8": KindFloat8, "float": KindFloat8,
	"real": KindFloat8, "float4": KindFloat8,
	"numeric": KindNumeric, "decimal": KindNumeric,
	"text": KindText, "character varying": KindText, "varchar": KindText,
	"character": KindText, "char": KindText, "bpchar": KindText, "string": KindText,
	"bytea":     KindBytea,
	"timestamp": KindTimestamp, "timestamp without time zone": KindTimestamp,
	"timestamptz": KindTimestampTZ, "timestamp with time zone": KindTimestampTZ,
	"date":     KindDate,
	"interval": KindInterval,
	"json":     KindJSON, "jsonb": KindJSON,
}

// KindFromName maps a type name as ast.TypeName spells it ("integer",
// "double precision", "timestamptz", "character varying", ...) to a Kind.
// The error names the supported types.
func KindFromName(name string) (Kind, error) {
	if k, ok := kindByName[strings.ToLower(strings.TrimSpace(name))]; ok {
		return k, nil
	}
	return 0, &Error{Code: CodeUndefinedObject, Message: fmt.Sprintf(
		"type %q is not supported; supported types: boolean, smallint, integer, bigint, "+
			"double precision (also real), numeric, text (also varchar, char), bytea, timestamp, "+
			"timestamptz, date, interval, json, jsonb", name)}
}
