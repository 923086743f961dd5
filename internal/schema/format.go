package schema

import "errors"

// Type is a schema language, as the Confluent API names it.
type Type string

// The schema languages.
const (
	Avro     Type = "AVRO"
	JSON     Type = "JSON"
	Protobuf Type = "PROTOBUF"
)

// Reference names another registered schema that a schema imports (an
// Avro named type, a JSON Schema $ref, a Protobuf import).
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// Parsed is a schema whose syntax was checked.
type Parsed interface {
	Type() Type
	// Canonical is the normalized text two schemas that mean the same
	// share (Avro's Parsing Canonical Form, compact JSON, ...): a schema
	// registered again under any subject gets the id of its canonical form.
	Canonical() string
}

// Format parses the schemas of one language and decides compatibility.
type Format interface {
	Type() Type
	// Parse checks text; refs holds the referenced schemas, parsed, by
	// Reference.Name. An invalid schema is an error wrapping ErrInvalid.
	Parse(text string, refs map[string]Parsed) (Parsed, error)
	// Compatible returns why data written with writer cannot be read with
	// reader, one message per problem; none when it can.
	Compatible(reader, writer Parsed) []string
}

// Validator checks a payload (without the 5-byte frame) against a schema:
// the strict enforcement of a topic's schema.
type Validator interface {
	Validate(p Parsed, payload []byte) error
}

// JSONEncoder turns a JSON document into a payload of the schema's
// language (Avro binary; JSON Schema: the document itself, validated), for
// ingestion that takes JSON and writes framed values. An error names the
// failing path.
type JSONEncoder interface {
	AppendJSON(dst []byte, p Parsed, json []byte) ([]byte, error)
}

// ErrInvalid marks an invalid schema (the API's 42201).
var ErrInvalid = errors.New("schema: invalid schema")
