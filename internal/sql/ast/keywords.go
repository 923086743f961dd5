package ast

// reserved are the keywords that cannot be used as unquoted names. The
// parser and Format share this one list, so that Format quotes exactly
// the names the parser would not take bare. It is kept short, as Postgres
// keeps its list: words like key, source, topic, format, value, timestamp
// or interval are usable as column names and are keywords only where the
// grammar expects them.
var reserved = map[string]bool{
	"all": true, "and": true, "any": true, "as": true, "asymmetric": true,
	"between": true, "both": true, "case": true, "cast": true, "create": true,
	"cross": true, "current_date": true, "current_time": true,
	"current_timestamp": true, "distinct": true, "else": true, "end": true,
	"except": true, "false": true, "fetch": true, "for": true, "from": true,
	"full": true, "group": true, "having": true, "ilike": true, "in": true,
	"inner": true, "intersect": true, "is": true, "isnull": true, "join": true,
	"lateral": true, "leading": true, "left": true, "like": true, "limit": true,
	"localtime": true, "localtimestamp": true, "natural": true, "not": true,
	"notnull": true, "null": true, "offset": true, "on": true, "or": true,
	"order": true, "outer": true, "placing": true, "right": true,
	"select": true, "similar": true, "symmetric": true, "table": true,
	"then": true, "trailing": true, "true": true, "union": true, "using": true,
	"when": true, "where": true, "window": true, "with": true,
}

// IsReserved reports whether word (lower case) is a reserved keyword:
// one that must be double-quoted to be used as a name.
func IsReserved(word string) bool { return reserved[word] }
