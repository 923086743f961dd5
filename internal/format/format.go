package format

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tide-data/tide/internal/sql/types"
)

// Errors of the registry and the decoders, wrapped with details.
var (
	// ErrUnknownFormat means no format has that name.
	ErrUnknownFormat = errors.New("format: unknown format")
	// ErrInvalidOption means an option is unknown to the format or its
	// value is not valid.
	ErrInvalidOption = errors.New("format: invalid option")
	// ErrNotRegistered means a registry format's subject has no live
	// version.
	ErrNotRegistered = errors.New("format: subject not registered")
	// ErrSkip is returned by a Decoder that was told to ignore parse
	// errors ('json.ignore-parse-errors'='true') for a record it cannot
	// read at all: the caller drops the record and does not dead-letter it.
	ErrSkip = errors.New("format: record skipped")
)

// Column is one declared column of a source or sink: its name as the
// format spells it in the record and its SQL type.
type Column struct {
	Name string
	Type types.Kind
}

// Decoder turns one message value into a row. Decode fills row[0:n] for
// the n columns the decoder was made for; row must have len >= n. On
// error the contents of row[0:n] are unspecified. A Decoder is used by
// one goroutine at a time; see the package doc for what it owns.
type Decoder interface {
	Decode(data []byte, row types.Row) error
}

// ProjectingDecoder is a Decoder that can leave columns out, as Flink's
// projection push-down does: Project(read) makes Decode build only the
// columns read marks and set the others to NULL, their values skipped —
// checked as the format's syntax, not converted, so a value an unread
// column could not hold is no error. A decoder whose format requires
// every field (json.fail-on-missing-field) still checks that they are
// there, converting them all.
type ProjectingDecoder interface {
	Decoder
	Project(read []bool)
}

// Encoder appends one row's first n values (n columns) to dst as a
// message value and returns the extended slice. Encoders are safe for
// concurrent use.
type Encoder interface {
	Encode(dst []byte, row types.Row) ([]byte, error)
}

// Format is one entry of the registry.
type Format struct {
	// Name is what WITH (format='...') says.
	Name string
	// Options lists the option keys the format accepts, in full
	// ("json.fail-on-missing-field"), with their meaning.
	Options map[string]string
	// NewDecoder and NewEncoder are called with validated columns and
	// options holding only keys listed in Options.
	NewDecoder func(cols []Column, options map[string]string, env Env) (Decoder, error)
	NewEncoder func(cols []Column, options map[string]string, env Env) (Encoder, error)
	// Columns, for a format whose records are described by a schema in
	// the registry, gives the columns of a source that declares none or
	// checks the declared ones (SourceColumns); nil for the others.
	Columns func(declared []Column, options map[string]string, env Env) ([]Column, error)
}

// registry holds every format; it is fixed at compile time, so there is
// nothing to register at run time (and nothing to race on).
var registry = map[string]*Format{
	jsonFormat.Name:   &jsonFormat,
	avroFormat.Name:   &avroFormat,
	jsonSRFormat.Name: &jsonSRFormat,
}

// Names returns the registered format names, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the named format.
func Lookup(name string) (*Format, error) {
	f, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownFormat, name, strings.Join(Names(), ", "))
	}
	return f, nil
}

// IsOption reports whether a WITH option key belongs to the formats
// rather than to the connector: it starts with "format." or with a
// registered format's name and a dot.
func IsOption(key string) bool {
	if strings.HasPrefix(key, "format.") {
		return true
	}
	name, _, ok := strings.Cut(key, ".")
	if !ok {
		return false
	}
	_, known := registry[name]
	return known
}

// NewDecoder returns a decoder of the named format for cols. options
// holds the format options (see IsOption); one the format does not know
// is an error naming it and listing the valid ones. env matters only to
// the registry formats.
func NewDecoder(name string, cols []Column, options map[string]string, env Env) (Decoder, error) {
	f, err := prepare(name, cols, options)
	if err != nil {
		return nil, err
	}
	return f.NewDecoder(cols, options, env)
}

// NewEncoder returns an encoder of the named format for cols; options and
// env as for NewDecoder. A registry format registers the schema of what
// it writes (under env.Subject) here.
func NewEncoder(name string, cols []Column, options map[string]string, env Env) (Encoder, error) {
	f, err := prepare(name, cols, options)
	if err != nil {
		return nil, err
	}
	return f.NewEncoder(cols, options, env)
}

// UsesRegistry reports whether the named format reads the schema
// registry for a source's columns (SourceColumns).
func UsesRegistry(name string) bool {
	f, ok := registry[name]
	return ok && f.Columns != nil
}

// SourceColumns returns the columns of a source in a registry format:
// those of the latest schema of its subject when it declares none, else
// the declared ones once checked against that schema (a column the
// schema's field cannot convert to is an error now rather than a dead
// letter per record; a subject not registered yet passes). For other
// formats it returns declared.
func SourceColumns(name string, declared []Column, options map[string]string, env Env) ([]Column, error) {
	f, err := prepare(name, declared, options)
	if err != nil || f.Columns == nil {
		return declared, err
	}
	return f.Columns(declared, options, env)
}

func prepare(name string, cols []Column, options map[string]string) (*Format, error) {
	f, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	var unknown []string
	for key := range options {
		if _, ok := f.Options[key]; !ok {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		valid := make([]string, 0, len(f.Options))
		for key := range f.Options {
			valid = append(valid, key)
		}
		sort.Strings(valid)
		return nil, fmt.Errorf("%w: format %s does not know %s (valid: %s)",
			ErrInvalidOption, name, quoteAll(unknown), quoteAll(valid))
	}
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if c.Name == "" {
			return nil, fmt.Errorf("format %s: a column has no name", name)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("format %s: column %q declared twice", name, c.Name)
		}
		seen[c.Name] = true
		if c.Type == types.KindNull || c.Type > types.KindJSON {
			return nil, fmt.Errorf("format %s: column %q has no valid type", name, c.Name)
		}
	}
	return f, nil
}

func quoteAll(keys []string) string {
	q := slices.Clone(keys)
	for i, k := range q {
		q[i] = "'" + k + "'"
	}
	return strings.Join(q, ", ")
}

// boolOption reads a 'true'/'false' option (any case), def if absent.
func boolOption(options map[string]string, key string, def bool) (bool, error) {
	v, ok := options[key]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%w: '%s' must be 'true' or 'false', not '%s'", ErrInvalidOption, key, v)
}
