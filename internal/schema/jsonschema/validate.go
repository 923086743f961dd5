package jsonschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	jsv "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/tide-data/tide/internal/schema"
)

// Errors of Validate, matched with errors.Is.
var (
	// ErrPayload marks a payload that breaks its schema: every *Failure
	// wraps it.
	ErrPayload = errors.New("jsonschema: payload does not match its schema")
	// ErrMalformed marks a payload that is not one JSON document; its
	// *Failure wraps ErrPayload too.
	ErrMalformed = errors.New("jsonschema: payload is not JSON")
)

// Failure is why a payload breaks its schema: the first failing place in
// the payload and the reason, e.g. Path "/amount", Reason "got string,
// want number". Validate returns it as the error; find it with errors.As.
type Failure struct {
	// Path is the JSON pointer (RFC 6901) of the failing value in the
	// payload; "" is the whole payload.
	Path string
	// Reason is one line from the validator.
	Reason string

	malformed bool
}

// Error is "<path>: <reason>", the root written as "(root)".
func (f *Failure) Error() string {
	path := f.Path
	if path == "" {
		path = "(root)"
	}
	return path + ": " + f.Reason
}

// Unwrap returns ErrPayload, and ErrMalformed for a payload that is not
// JSON.
func (f *Failure) Unwrap() []error {
	if f.malformed {
		return []error{ErrPayload, ErrMalformed}
	}
	return []error{ErrPayload}
}

// Validate checks payload, one JSON document, against p. It returns nil
// when the payload is valid and a *Failure when it is not (not JSON
// included); any other error means p is not a JSON schema.
func (format) Validate(p schema.Parsed, payload []byte) error {
	f, err := FirstFailure(p, payload)
	if err != nil {
		return err
	}
	if f != nil {
		return f
	}
	return nil
}

// FirstFailure validates payload against p and returns the first failure,
// nil when the payload is valid. "First" is the failure at the smallest
// payload location (JSON pointers compared as strings), so the answer is
// the same on every run. A payload that is not JSON is a failure at the
// root. The error is for a p that is not a JSON schema.
//
// A payload the fast path accepts costs no allocation; any other is
// decoded and validated by the library, which gives the failure.
func FirstFailure(p schema.Parsed, payload []byte) (*Failure, error) {
	d, err := asParsed(p)
	if err != nil {
		return nil, err
	}
	if d.fast != nil && validateFast(d.fast, payload) == accepted {
		return nil, nil
	}
	return libraryFailure(d, payload), nil
}

// libraryFailure is FirstFailure by the library alone: the payload
// decoded with encoding/json and validated by the compiled schema.
func libraryFailure(d *parsed, payload []byte) *Failure {
	v, err := jsv.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return &Failure{Reason: "not JSON: " + err.Error(), malformed: true}
	}
	if hasHugeNumber(v) {
		return firstHugeNumber(v, nil)
	}
	return firstFailure(d.compiled.Validate(v))
}

// hasHugeNumber reports whether v holds a number literal longer than
// maxNumberText or with an exponent beyond ±maxNumberExponent. The
// validator turns numbers into exact rationals, which for such literals
// takes milliseconds to seconds: a payload full of them would stall the
// produce path. No double or decimal a client sends comes near the limits.
func hasHugeNumber(v any) bool {
	switch v := v.(type) {
	case json.Number:
		return !numberIsSmall(string(v))
	case []any:
		for _, x := range v {
			if hasHugeNumber(x) {
				return true
			}
		}
	case map[string]any:
		for _, x := range v {
			if hasHugeNumber(x) {
				return true
			}
		}
	}
	return false
}

// firstHugeNumber is the failure for the first huge number in document
// order (object keys sorted).
func firstHugeNumber(v any, path []string) *Failure {
	switch v := v.(type) {
	case json.Number:
		if !numberIsSmall(string(v)) {
			return &Failure{Path: pointer(path), Reason: fmt.Sprintf("number too large to validate (over %d characters or an exponent beyond ±%d)", maxNumberText, maxNumberExponent)}
		}
	case []any:
		for i, x := range v {
			if f := firstHugeNumber(x, append(path, strconv.Itoa(i))); f != nil {
				return f
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			if f := firstHugeNumber(v[k], append(path, k)); f != nil {
				return f
			}
		}
	}
	return nil
}

// firstFailure picks the failure to report from a validator error.
func firstFailure(err error) *Failure {
	if err == nil {
		return nil
	}
	var ve *jsv.ValidationError
	if !errors.As(err, &ve) {
		return &Failure{Reason: err.Error()}
	}
	var all []Failure
	collectFailures(ve, &all)
	if len(all) == 0 {
		return &Failure{Path: pointer(ve.InstanceLocation), Reason: reason(ve.ErrorKind)}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Path != all[j].Path {
			return all[i].Path < all[j].Path
		}
		return all[i].Reason < all[j].Reason
	})
	return &all[0]
}

// collectFailures gathers the failures of e's tree a reader can act on.
// It descends through the grouping kinds (the whole schema, a $ref, an
// allOf: every cause is a failure in its own right); at an anyOf or oneOf
// it stops and joins the branches' reasons, since no one branch is "the"
// failure.
func collectFailures(e *jsv.ValidationError, out *[]Failure) {
	switch e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.Reference, *kind.AllOf:
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				collectFailures(c, out)
			}
			return
		}
	case *kind.AnyOf, *kind.OneOf:
		if len(e.Causes) > 0 {
			var branches []string
			for _, c := range e.Causes {
				var sub []Failure
				collectFailures(c, &sub)
				for _, f := range sub {
					r := f.Reason
					if f.Path != pointer(e.InstanceLocation) {
						r = f.Path + ": " + r
					}
					branches = append(branches, r)
				}
			}
			*out = append(*out, Failure{
				Path:   pointer(e.InstanceLocation),
				Reason: reason(e.ErrorKind) + " (" + strings.Join(branches, "; ") + ")",
			})
			return
		}
	}
	*out = append(*out, Failure{Path: pointer(e.InstanceLocation), Reason: reason(e.ErrorKind)})
}

// reason is the validator's message for one error kind, without the
// location the library prefixes. (The kinds format themselves only
// through a golang.org/x/text printer; going through ValidationError
// keeps that dependency indirect.)
func reason(k jsv.ErrorKind) string {
	if a, ok := k.(*kind.AdditionalProperties); ok {
		// The library lists them in map order: sorted, the message is
		// the same on every run.
		k = &kind.AdditionalProperties{Properties: slices.Sorted(slices.Values(a.Properties))}
	}
	msg := (&jsv.ValidationError{ErrorKind: k}).Error()
	return withoutBase(strings.TrimPrefix(msg, "at '': "))
}

// pointer writes JSON pointer tokens as a pointer.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

var tokenEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// escapeToken escapes one JSON pointer token (RFC 6901).
func escapeToken(t string) string {
	if !strings.ContainsAny(t, "~/") {
		return t
	}
	return tokenEscaper.Replace(t)
}

// AppendJSON is schema.JSONEncoder: a JSON Schema payload is the document
// itself, once it is valid.
func (f format) AppendJSON(dst []byte, p schema.Parsed, doc []byte) ([]byte, error) {
	if err := f.Validate(p, doc); err != nil {
		return dst, err
	}
	return append(dst, doc...), nil
}
