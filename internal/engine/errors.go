package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/parser"
	"github.com/tide-data/tide/internal/sql/plan"
)

// Error codes: the stable, machine-readable part of an error, shared by
// the HTTP API (error.code) and the CLI. docs/SQL.md lists them.
const (
	CodeSyntax       = "sql_syntax_error"    // the statement does not parse
	CodeInvalid      = "sql_invalid"         // it parses but is wrong: unknown column, type mismatch, bad option
	CodeExists       = "object_exists"       // CREATE of a name in use
	CodeNotFound     = "object_not_found"    // DROP/DESCRIBE of an unknown name
	CodeDependent    = "dependent_objects"   // DROP of a source a sink reads
	CodeNotSupported = "sql_not_supported"   // valid SQL the engine does not run yet
	CodeUnavailable  = "storage_unavailable" // the log or cluster failed the write
)

// Error is a statement's failure.
type Error struct {
	Code    string
	Message string
	Hint    string
	// Statement is the 0-based index of the failed statement in the
	// submitted text; Pos is where in the text (line:column), if known.
	Statement int
	Pos       ast.Pos
	err       error
}

func (e *Error) Error() string {
	s := e.Message
	if e.Hint != "" {
		s += "\nHINT: " + e.Hint
	}
	return s
}

func (e *Error) Unwrap() error { return e.err }

// classify turns a parse, analysis or execution error into an *Error.
func classify(err error, index int, origin ast.Pos) *Error {
	var e *Error
	if errors.As(err, &e) {
		e.Statement = index
		// Positions of the engine's own errors are in the statement's
		// text, like the parser's: move them (and the message's
		// "line L:C: " prefix, where it has one) to the submitted text.
		if e.Pos.Line > 0 {
			p := shift(e.Pos, origin)
			if rest, ok := strings.CutPrefix(e.Message, "line "+e.Pos.String()+": "); ok {
				e.Message = "line " + p.String() + ": " + rest
			}
			e.Pos = p
		}
		return e
	}
	out := &Error{Code: CodeUnavailable, Message: err.Error(), Statement: index, err: err}
	var (
		pe *parser.Error
		ae *plan.Error
		xe *expr.Error
	)
	switch {
	case errors.As(err, &pe):
		out.Code, out.Pos, out.Hint = CodeSyntax, shift(pe.Pos, origin), pe.Hint
		out.Message = fmt.Sprintf("line %s: %s", out.Pos, pe.Msg)
	case errors.As(err, &ae):
		out.Code, out.Pos, out.Hint = CodeInvalid, shift(ae.Pos, origin), ae.Hint
		out.Message = fmt.Sprintf("line %s: %s", out.Pos, ae.Msg)
		if ae.Unsupported {
			out.Code = CodeNotSupported
		}
	case errors.As(err, &xe):
		out.Code, out.Pos, out.Hint = CodeInvalid, shift(xe.Pos, origin), xe.Hint
		out.Message = fmt.Sprintf("line %s: %s", out.Pos, xe.Msg)
	}
	return out
}

// shift moves a position inside one statement's text to the position in
// the whole submitted text, the statement starting at origin.
func shift(p, origin ast.Pos) ast.Pos {
	if p.Line == 0 {
		return p
	}
	if p.Line == 1 {
		p.Col += origin.Col - 1
	}
	p.Line += origin.Line - 1
	p.Offset += origin.Offset
	return p
}

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
