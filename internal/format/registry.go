package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	hamba "github.com/hamba/avro/v2"

	"github.com/tide-data/tide/internal/sql/types"
)

// Schema types as the schema registry names them.
const (
	SchemaAvro = "AVRO"
	SchemaJSON = "JSON"
)

// RegisteredSchema is one schema of the schema registry.
type RegisteredSchema struct {
	ID   int
	Type string // SchemaAvro, SchemaJSON, "PROTOBUF"
	Text string
	// Avro is the parsed schema, its references resolved; nil unless
	// Type is SchemaAvro.
	Avro hamba.Schema
}

// Schemas is the schema registry as the registry formats ('avro',
// 'json_sr') use it. Implementations are safe for concurrent use and
// answer reads from memory: Decode calls ByID for every schema id it has
// not seen yet.
type Schemas interface {
	// ByID returns the schema registered with id.
	ByID(id int) (RegisteredSchema, error)
	// Latest returns the latest live version of subject.
	Latest(subject string) (RegisteredSchema, error)
	// Register registers text, a schema of type typ, under subject (or
	// finds it registered there) and returns its id. An incompatible
	// schema is an error that says why.
	Register(subject, typ, text string) (int, error)
}

// Env is what a format may need from outside its options.
type Env struct {
	// Schemas is the schema registry; nil when Tide runs without one,
	// and the registry formats refuse to work.
	Schemas Schemas
	// Subject is the subject a registry format reads its columns from
	// and registers under unless its '<format>.subject' option names
	// another: "<topic>-value" for a topic.
	Subject string
	// Name names what an encoder writes (the sink), for the record name
	// of a schema it registers.
	Name string
}

// frameSize is the Confluent wire format's header: a zero magic byte and
// the schema id as a big-endian uint32.
const frameSize = 5

// appendFrame appends the header naming schema id.
func appendFrame(dst []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, 0), uint32(id))
}

// readFrame splits a framed value into its schema id and payload.
func readFrame(format string, data []byte) (int, []byte, error) {
	if len(data) < frameSize || data[0] != 0 {
		return 0, nil, &types.Error{Code: codeInvalidText, Message: fmt.Sprintf(
			"format %s: the value does not start with the schema registry's frame (a zero byte and a 4-byte schema id)", format)}
	}
	id := binary.BigEndian.Uint32(data[1:frameSize])
	if id > math.MaxInt32 {
		return 0, nil, &types.Error{Code: codeInvalidText, Message: fmt.Sprintf("format %s: schema id %d is out of range", format, id)}
	}
	return int(id), data[frameSize:], nil
}

// registryFormat holds what the registry formats share: the registry,
// the subject and the schema type they want there.
type registryFormat struct {
	name    string
	schemas Schemas
	subject string
}

// ErrNoRegistry is the answer of a registry format without a registry
// (Env.Schemas nil), wrapped with the format's name.
var ErrNoRegistry = errors.New("needs the schema registry, which is off (schema_registry = false)")

func newRegistryFormat(name string, options map[string]string, env Env) (registryFormat, error) {
	f := registryFormat{name: name, schemas: env.Schemas, subject: env.Subject}
	if s, ok := options[name+".subject"]; ok {
		f.subject = s
	}
	if f.schemas == nil {
		return f, fmt.Errorf("format %s %w", name, ErrNoRegistry)
	}
	if f.subject == "" {
		return f, fmt.Errorf("%w: format %s needs a subject: set '%s.subject'", ErrInvalidOption, name, name)
	}
	return f, nil
}

// latest returns the latest schema of the format's subject, which must
// be of type typ.
func (f registryFormat) latest(typ string) (RegisteredSchema, error) {
	s, err := f.schemas.Latest(f.subject)
	if err != nil {
		return s, fmt.Errorf("format %s: subject %s: %w", f.name, f.subject, err)
	}
	if s.Type != typ {
		return s, fmt.Errorf("format %s: subject %s holds a schema of type %s, not %s", f.name, f.subject, s.Type, typ)
	}
	return s, nil
}

// register registers the schema an encoder writes with.
func (f registryFormat) register(typ, text string) (int, error) {
	id, err := f.schemas.Register(f.subject, typ, text)
	if err != nil {
		return 0, fmt.Errorf("format %s: registering the schema of what the sink writes under subject %s: %w", f.name, f.subject, err)
	}
	return id, nil
}
