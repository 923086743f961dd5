package server

import (
	"context"
	"fmt"
	"time"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/schema"
	"github.com/tide-data/tide/internal/schema/avro"
)

// formatSchemas is the schema registry as the SQL formats 'avro' and
// 'json_sr' use it.
type formatSchemas struct{ r *schema.Registry }

var _ format.Schemas = formatSchemas{}

// registerTimeout bounds a sink's registration of its schema (a write to
// __tide_schemas).
const registerTimeout = 30 * time.Second

func (f formatSchemas) ByID(id int) (format.RegisteredSchema, error) {
	s, err := f.r.SchemaByID(id)
	if err != nil {
		return format.RegisteredSchema{}, err
	}
	return f.registered(s)
}

func (f formatSchemas) Latest(subject string) (format.RegisteredSchema, error) {
	s, err := f.r.SubjectVersion(subject, schema.Latest, false)
	if err != nil {
		if code := schema.CodeOf(err); code == schema.CodeSubjectNotFound || code == schema.CodeVersionNotFound {
			return format.RegisteredSchema{}, fmt.Errorf("%w: %w", format.ErrNotRegistered, err)
		}
		return format.RegisteredSchema{}, err
	}
	return f.registered(s.Schema)
}

func (f formatSchemas) Register(subject, typ, text string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), registerTimeout)
	defer cancel()
	id, _, err := f.r.Register(ctx, subject, schema.Input{Type: schema.Type(typ), Text: text}, schema.RegisterOptions{})
	return id, err
}

// registered adds the parsed form of an Avro schema.
func (f formatSchemas) registered(s schema.Schema) (format.RegisteredSchema, error) {
	out := format.RegisteredSchema{ID: s.ID, Type: string(s.Type), Text: s.Text}
	if s.Type != schema.Avro {
		return out, nil
	}
	p, err := f.r.Parsed(s.ID)
	if err != nil {
		return out, err
	}
	if a, ok := p.(*avro.Schema); ok {
		out.Avro = a.Avro()
	}
	return out, nil
}
