package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/tide-data/tide/internal/format"
)

// recordingSchemas is a schema registry that keeps what is registered,
// one id per distinct schema text of a subject.
type recordingSchemas struct {
	mu    sync.Mutex
	texts map[string][]string // subject -> schemas, in order
}

func (r *recordingSchemas) ByID(int) (format.RegisteredSchema, error) {
	return format.RegisteredSchema{}, errors.New("not kept")
}

func (r *recordingSchemas) Latest(string) (format.RegisteredSchema, error) {
	return format.RegisteredSchema{}, errors.New("not kept")
}

func (r *recordingSchemas) Register(subject, _, text string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, t := range r.texts[subject] {
		if t == text {
			return i + 1, nil
		}
	}
	r.texts[subject] = append(r.texts[subject], text)
	return len(r.texts[subject]), nil
}

// An avro sink's record is named tide.<sink> (docs/SQL.md), its parts'
// too: one schema under the subject (the registry's default BACKWARD
// level refuses a record of another name there).
func TestUnionPartsAvroRecordName(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	reg := &recordingSchemas{texts: map[string][]string{}}
	e := openEngineWith(t, n, func(c *Config) { c.Schemas = reg })
	defer closeEngine(t, e)
	mustExec(t, e, evSource)
	if _, err := e.Execute(context.Background(), `CREATE SINK x WITH (connector = 'topic', topic = 'x', format = 'avro') AS
		SELECT id, amount FROM ev UNION ALL SELECT amount, count(*) FROM TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND) GROUP BY amount, window_start, window_end`, ExecOptions{}); err != nil {
		t.Fatalf("CREATE SINK of a UNION ALL with an aggregation in avro: %v", err)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if texts := reg.texts["x-value"]; len(texts) != 1 || !strings.Contains(texts[0], `"tide.x"`) && !strings.Contains(texts[0], `"x"`) {
		t.Errorf("subject x-value got %d schemas, want one for the sink: %q", len(texts), texts)
	}
}
