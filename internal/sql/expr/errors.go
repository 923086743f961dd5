package expr

import (
	"errors"
	"fmt"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
)

// Error is a compile error: a position in the statement, Postgres'
// message, an optional hint, and the SQLSTATE Postgres reports for the
// same mistake (42703 undefined column, 42883 undefined function or
// operator, 42804 datatype mismatch, 22P02 a bad literal, ...).
type Error struct {
	Pos  ast.Pos
	Msg  string
	Hint string
	Code string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("line %d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
	if e.Hint != "" {
		s += "\nHINT: " + e.Hint
	}
	return s
}

// SQLSTATE codes of compile errors.
const (
	codeUndefinedColumn   = "42703"
	codeAmbiguousColumn   = "42702"
	codeUndefinedFunction = "42883"
	codeDatatypeMismatch  = "42804"
	codeSyntaxError       = "42601"
	codeCannotCoerce      = "42846"
	codeFeature           = "0A000"
	codeIndeterminate     = "42P18"
)

func errorf(pos ast.Pos, code, format string, args ...any) *Error {
	return &Error{Pos: pos, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// wrapValueError turns an error from the types package (a literal that
// does not read as its type) into a compile error at pos, keeping its
// SQLSTATE.
func wrapValueError(pos ast.Pos, err error) *Error {
	var te *types.Error
	if errors.As(err, &te) {
		return &Error{Pos: pos, Code: te.Code, Msg: te.Message}
	}
	return &Error{Pos: pos, Code: "XX000", Msg: err.Error()}
}

// Code returns the SQLSTATE of a compile (*Error) or evaluation
// (*types.Error) error, or "" for other errors.
func Code(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	var te *types.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return ""
}

func typeNames(ks []types.Kind) string {
	s := ""
	for i, k := range ks {
		if i > 0 {
			s += ", "
		}
		s += k.String()
	}
	return s
}
