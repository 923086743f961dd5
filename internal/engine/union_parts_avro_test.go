package engine

import (
	"context"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/schema"
	"github.com/tide-data/tide/internal/schema/avro"
)

// registrySchemas is the schema registry as the formats use it (as
// internal/server's formatSchemas), enough to register.
type registrySchemas struct{ r *schema.Registry }

func (f registrySchemas) ByID(id int) (format.RegisteredSchema, error) {
	s, err := f.r.SchemaByID(id)
	if err != nil {
		return format.RegisteredSchema{}, err
	}
	return format.RegisteredSchema{ID: s.ID, Type: string(s.Type), Text: s.Text}, nil
}

func (f registrySchemas) Latest(subject string) (format.RegisteredSchema, error) {
	s, err := f.r.SubjectVersion(subject, schema.Latest, false)
	if err != nil {
		return format.RegisteredSchema{}, err
	}
	return format.RegisteredSchema{ID: s.ID, Type: string(s.Type), Text: s.Text}, nil
}

func (f registrySchemas) Register(subject, typ, text string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, _, err := f.r.Register(ctx, subject, schema.Input{Type: schema.Type(typ), Text: text}, schema.RegisterOptions{})
	return id, err
}

// An avro sink's record is named tide.<sink> (docs/SQL.md), its parts'
// too: one schema under the subject, which the default BACKWARD level
// would refuse a second record name in.
func TestUnionPartsAvroRecordName(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg, err := schema.Open(ctx, n.tr, []schema.Format{avro.Format()}, schema.Options{WorkerID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reg.Close(context.Background()) }()
	e := openEngineWith(t, n, func(c *Config) { c.Schemas = registrySchemas{reg} })
	defer closeEngine(t, e)
	mustExec(t, e, evSource)
	if _, err := e.Execute(context.Background(), `CREATE SINK x WITH (connector = 'topic', topic = 'x', format = 'avro') AS
		SELECT id, amount FROM ev UNION ALL SELECT amount, count(*) FROM TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND) GROUP BY amount, window_start, window_end`, ExecOptions{}); err != nil {
		t.Fatalf("CREATE SINK of a UNION ALL with an aggregation in avro: %v", err)
	}
	versions, err := reg.Versions("x-value", schema.LiveOnly)
	if err == nil && len(versions) != 1 {
		t.Errorf("subject x-value has %d versions, want 1 (one sink, one schema)", len(versions))
	}
}
