package types

// Error is an evaluation error with a Postgres SQLSTATE-like code, so a
// dead-letter header and an HTTP error can name it precisely.
type Error struct {
	Code    string // e.g. "22012" division_by_zero
	Message string
}

func (e *Error) Error() string { return e.Message }

// Evaluation errors shared by the expression compiler and the formats.
var (
	ErrDivisionByZero = &Error{Code: "22012", Message: "division by zero"}
	ErrSmallintRange  = &Error{Code: "22003", Message: "smallint out of range"}
	ErrIntegerRange   = &Error{Code: "22003", Message: "integer out of range"}
	ErrBigintRange    = &Error{Code: "22003", Message: "bigint out of range"}
)
