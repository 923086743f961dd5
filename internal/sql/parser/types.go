package parser

import (
	"strconv"

	"github.com/tide-data/tide/internal/sql/ast"
)

// typeAliases maps single-word type names to their canonical names (see
// ast.TypeName). Names not here, and not handled as multi-word names by
// parseType, are kept as written: the analyzer rejects them.
var typeAliases = map[string]string{
	"int": "integer", "int4": "integer", "integer": "integer",
	"int2": "smallint", "smallint": "smallint",
	"int8": "bigint", "bigint": "bigint",
	"float8": "double precision", "real": "real", "float4": "real",
	"numeric": "numeric", "decimal": "numeric", "dec": "numeric",
	"text": "text", "varchar": "character varying",
	"bool": "boolean", "boolean": "boolean", "bytea": "bytea",
	"timestamptz": "timestamptz", "date": "date", "timetz": "timetz",
	"interval": "interval", "json": "json", "jsonb": "jsonb",
}

// parseType parses a type name with its modifiers and array marker.
func (p *parser) parseType() ast.TypeName {
	t := p.tok()
	tn := ast.TypeName{Pos: t.pos}
	switch {
	case t.kind == tokIdent:
		p.advance()
		tn.Name = t.val
	case t.kind == tokWord && !ast.IsReserved(t.val):
		p.advance()
		tn.Name = p.canonicalType(t.val, &tn)
	default:
		p.unexpected("a type name")
	}
	if tn.Args == nil && p.isOp(0, "(") {
		tn.Args = p.parseTypeArgs()
		if t.kind == tokWord && (t.val == "timestamp" || t.val == "time") {
			tn.Name = p.timeZoneSuffix(tn.Name)
		}
	}
	for p.acceptOp("[") {
		if p.tok().kind == tokNumber {
			p.advance()
		}
		p.expectOp("]")
		tn.Array = true
	}
	return tn
}

// canonicalType resolves the (possibly multi-word) type name starting
// with word, which has been consumed.
func (p *parser) canonicalType(word string, tn *ast.TypeName) string {
	switch word {
	case "double":
		p.expectWord("precision")
		return "double precision"
	case "character", "char":
		if p.acceptWord("varying") {
			return "character varying"
		}
		return "character"
	case "timestamp", "time":
		return p.timeZoneSuffix(word)
	case "float":
		// float(p) is real up to 24 bits of precision, as in Postgres.
		if p.isOp(0, "(") {
			at := p.peek(1)
			args := p.parseTypeArgs()
			if len(args) == 1 && args[0] >= 1 && args[0] <= 24 {
				return "real"
			}
			if len(args) != 1 || args[0] < 1 || args[0] > 53 {
				p.failAt(at, "precision for type float must be between 1 and 53", "")
			}
		}
		return "double precision"
	}
	if name, ok := typeAliases[word]; ok {
		return name
	}
	return word
}

// timeZoneSuffix consumes WITH|WITHOUT TIME ZONE after timestamp or time.
func (p *parser) timeZoneSuffix(name string) string {
	if !p.isWord(0, "with") && !p.isWord(0, "without") || !p.isWord(1, "time") {
		return name
	}
	with := p.advance().val == "with"
	p.advance()
	p.expectWord("zone")
	if !with {
		return name
	}
	if name == "timestamp" {
		return "timestamptz"
	}
	if name == "time" {
		return "timetz"
	}
	return name
}

// parseTypeArgs parses (n [, n ...]).
func (p *parser) parseTypeArgs() []int {
	p.advance() // (
	var args []int
	for {
		t := p.tok()
		if t.kind != tokNumber {
			p.unexpected("an integer")
		}
		n, err := strconv.Atoi(t.val)
		if err != nil || n < 0 {
			p.failAt(t, "type modifier "+quoteRaw(t.raw)+" is not a valid integer", "")
		}
		p.advance()
		args = append(args, n)
		if p.acceptOp(")") {
			return args
		}
		if !p.isOp(0, ",") {
			p.unexpected(`","`, `")"`)
		}
		p.advance()
	}
}
