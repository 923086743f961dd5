package types

import "fmt"

// Error is an evaluation error with a Postgres SQLSTATE-like code, so a
// dead-letter header and an HTTP error can name it precisely.
type Error struct {
	Code    string // e.g. "22012" division_by_zero
	Message string
}

func (e *Error) Error() string { return e.Message }

// SQLSTATE codes used by the engine, named as Postgres names them.
const (
	CodeInvalidTextRepresentation = "22P02" // invalid_text_representation
	CodeNumericValueOutOfRange    = "22003" // numeric_value_out_of_range
	CodeDivisionByZero            = "22012" // division_by_zero
	CodeInvalidDatetimeFormat     = "22007" // invalid_datetime_format
	CodeDatetimeFieldOverflow     = "22008" // datetime_field_overflow
	CodeInvalidRegularExpression  = "2201B" // invalid_regular_expression
	CodeInvalidParameterValue     = "22023" // invalid_parameter_value
	CodeInvalidEscapeSequence     = "22025" // invalid_escape_sequence
	CodeStringDataRightTruncation = "22001" // string_data_right_truncation
	CodeCharacterNotInRepertoire  = "22021" // character_not_in_repertoire
	CodeUntranslatableCharacter   = "22P05" // untranslatable_character
	CodeInvalidArgumentForLog     = "2201E" // invalid_argument_for_logarithm
	CodeInvalidArgumentForPower   = "2201F" // invalid_argument_for_power_function
	CodeFeatureNotSupported       = "0A000" // feature_not_supported
	CodeCannotCoerce              = "42846" // cannot_coerce
	CodeUndefinedObject           = "42704" // undefined_object
	CodeDataException             = "22000" // data_exception
	CodeInvalidJSONText           = "22P02" // json input errors share invalid_text_representation
)

// Evaluation errors shared by the expression compiler and the formats.
var (
	ErrDivisionByZero = &Error{Code: "22012", Message: "division by zero"}
	ErrSmallintRange  = &Error{Code: "22003", Message: "smallint out of range"}
	ErrIntegerRange   = &Error{Code: "22003", Message: "integer out of range"}
	ErrBigintRange    = &Error{Code: "22003", Message: "bigint out of range"}
	ErrFloatRange     = &Error{Code: "22003", Message: "value out of range: overflow"}
	ErrFloatUnderflow = &Error{Code: "22003", Message: "value out of range: underflow"}
	ErrNumericRange   = &Error{Code: "22003", Message: "value overflows numeric format"}
	ErrTimestampRange = &Error{Code: "22008", Message: "timestamp out of range"}
	ErrDateRange      = &Error{Code: "22008", Message: "date out of range"}
	ErrIntervalRange  = &Error{Code: "22008", Message: "interval out of range"}
)

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// RangeError returns the "out of range" error of integer kind k.
func RangeError(k Kind) *Error {
	switch k {
	case KindInt2:
		return ErrSmallintRange
	case KindInt4:
		return ErrIntegerRange
	default:
		return ErrBigintRange
	}
}

// syntaxError is Postgres' "invalid input syntax for type T" error.
func syntaxError(typ, s string) *Error {
	return &Error{Code: CodeInvalidTextRepresentation, Message: fmt.Sprintf("invalid input syntax for type %s: %q", typ, s)}
}

// datetimeSyntaxError is the same error for the date/time kinds, which
// Postgres reports under invalid_datetime_format.
func datetimeSyntaxError(typ, s string) *Error {
	return &Error{Code: CodeInvalidDatetimeFormat, Message: fmt.Sprintf("invalid input syntax for type %s: %q", typ, s)}
}
