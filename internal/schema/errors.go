package schema

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes: Confluent Schema Registry's, which clients branch on. The
// first three digits are the HTTP status (409 alone is both).
const (
	CodeSubjectNotFound            = 40401
	CodeVersionNotFound            = 40402
	CodeSchemaNotFound             = 40403
	CodeSubjectSoftDeleted         = 40404
	CodeSubjectNotSoftDeleted      = 40405
	CodeVersionSoftDeleted         = 40406
	CodeVersionNotSoftDeleted      = 40407
	CodeSubjectCompatibilityNotSet = 40408
	CodeSubjectModeNotSet          = 40409
	CodeIncompatibleSchema         = 409
	CodeInvalidSchema              = 42201
	CodeInvalidVersion             = 42202
	CodeInvalidCompatibilityLevel  = 42203
	CodeInvalidMode                = 42204
	CodeOperationNotPermitted      = 42205
	CodeReferenceExists            = 42206
	CodeInvalidSubject             = 42208
	CodeStoreError                 = 50001
	CodeOperationTimeout           = 50002
)

// codeStatusOnlyLimit: codes below it (409) are HTTP statuses themselves.
const codeStatusOnlyLimit = 1000

// Error is a registry error with Confluent's code and message; the HTTP API
// answers {"error_code": Code, "message": Message} with Status(). Err, when
// set, is the underlying cause (a transport failure behind a 50001).
type Error struct {
	Code    int
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("schema: %s (%d): %v", e.Message, e.Code, e.Err)
	}
	return fmt.Sprintf("schema: %s (%d)", e.Message, e.Code)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status Confluent answers with for the code: the first
// three digits (404, 409, 422, 500).
func (e *Error) Status() int {
	if e.Code < codeStatusOnlyLimit {
		return e.Code
	}
	s := e.Code / 100
	if s < 100 || s > 599 {
		return http.StatusInternalServerError
	}
	return s
}

// CodeOf returns the registry code of err: its *Error's, or 50001 for any
// other error (a failure of the store).
func CodeOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeStoreError
}

func newError(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func errSubjectNotFound(subject string) *Error {
	return newError(CodeSubjectNotFound, "Subject '%s' not found.", subject)
}

func errVersionNotFound(version int) *Error {
	if version == Latest {
		return newError(CodeVersionNotFound, "Version latest not found.")
	}
	return newError(CodeVersionNotFound, "Version %d not found.", version)
}

func errSchemaNotFound(id int) *Error {
	return newError(CodeSchemaNotFound, "Schema %d not found", id)
}

func errSchemaNotFoundPlain() *Error {
	return newError(CodeSchemaNotFound, "Schema not found")
}

func errStore(op string, err error) *Error {
	return &Error{Code: CodeStoreError, Message: "Error in the backend data store while " + op, Err: err}
}

// ErrInvalidVersion is the 42202 for a version string the API could not
// read: 1..2^31-1, "latest" or -1.
func ErrInvalidVersion(version string) *Error {
	return newError(CodeInvalidVersion, "The specified version '%s' is not a valid version id. "+
		"Allowed values are between [1, 2^31-1] and the string \"latest\"", version)
}
