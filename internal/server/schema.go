package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/tide-data/tide/internal/schema"
	"github.com/tide-data/tide/internal/schema/api"
	"github.com/tide-data/tide/internal/schema/avro"
	"github.com/tide-data/tide/internal/schema/jsonschema"
	"github.com/tide-data/tide/internal/schema/protobuf"
)

// schemaFormats are the schema languages the registry serves.
func schemaFormats() []schema.Format {
	return []schema.Format{
		avro.Format(),
		jsonschema.Format(),
		protobuf.Format(),
	}
}

// openSchemaRegistry opens the schema registry on the transport (reading
// the __tide_schemas topic to its end), unless schema_registry is off.
func (s *Server) openSchemaRegistry() error {
	if !s.cfg.SchemaRegistry {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	s.schemas, err = schema.Open(ctx, s.transport, schemaFormats(), schema.Options{WorkerID: s.workerID(), Logger: s.logger})
	return err
}

// mountSchemaRegistry serves the Confluent Schema Registry API at the
// root paths (/subjects, /schemas, /config, /mode, /compatibility), so that
// clients take the node's HTTP address as the registry's URL.
func (s *Server) mountSchemaRegistry(mux *http.ServeMux) {
	if s.schemas == nil {
		return
	}
	h := api.Handler(s.schemas)
	for _, prefix := range api.Prefixes() {
		mux.Handle(prefix, h)
	}
}

// schemaValues is the Kafka listener's check of values produced to topics
// with schema.validation framed or strict. The listener is built before
// the registry opens (the registry reads its topic through the log the
// listener serves), and serves only after it: the registry is looked up
// per call.
type schemaValues struct{ s *Server }

func (v schemaValues) CheckValue(topic, mode string, value []byte) error {
	if v.s.schemas == nil {
		return errors.New("the schema registry is off (schema_registry = false): this topic's schema.validation cannot be checked")
	}
	return v.s.schemas.CheckValue(topic, mode, value)
}

func (v schemaValues) FramedJSON(topic string) (func(dst, doc []byte) ([]byte, error), error) {
	if v.s.schemas == nil {
		return nil, errors.New("the schema registry is off (schema_registry = false): this topic's schema.validation cannot be checked")
	}
	f, err := v.s.schemas.JSONFramerFor(topic)
	if err != nil {
		return nil, err
	}
	return f.Append, nil
}
