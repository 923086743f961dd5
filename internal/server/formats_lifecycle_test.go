package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// produceAvro writes v framed with schema id, encoded by schemaText.
func produceAvro(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, id int, schemaText string, v any) {
	t.Helper()
	payload, err := avro.Marshal(avro.MustParse(schemaText), v)
	if err != nil {
		t.Fatal(err)
	}
	value := append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), payload...)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: value}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// A node whose catalog holds an avro source and sink restarts with the
// registry off: it starts, the source (its columns stored) is described
// as before, the sink stays in the catalog without running (as any object
// that cannot be restored: the log says why), the column-less statement
// of the SQL directory is still a no-op, and new registry-format objects
// are refused with what to do. With the registry back, the sink runs.
func TestRegistryFormatsRegistryOff(t *testing.T) {
	root := t.TempDir()
	data, sqlDir := filepath.Join(root, "data"), filepath.Join(root, "sql")
	sourceSQL := `CREATE SOURCE ev WITH (connector = 'topic', topic = 'ev', format = 'avro');`
	ts := startServer(t, data, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const schemaText = `{"type":"record","name":"Ev","fields":[{"name":"id","type":"long"}]}`
	rcl, err := sr.NewClient(sr.URLs(ts.url))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rcl.CreateSchema(ctx, "ev-value", sr.Schema{Schema: schemaText}); err != nil {
		t.Fatal(err)
	}
	ts.mustSQL(t, sourceSQL)
	ts.mustSQL(t, `CREATE SINK out WITH (connector = 'topic', topic = 'out', format = 'avro') AS SELECT id FROM ev;`)
	desc := fmt.Sprint(ts.mustSQL(t, "DESCRIBE ev")[0])
	ts.stop(t)

	writeSQLDir(t, sqlDir, map[string]string{"10_ev.sql": sourceSQL})
	off := startServer(t, data, func(c *Config) { c.SchemaRegistry = false; c.SQLDir = sqlDir })
	if d := fmt.Sprint(off.mustSQL(t, "DESCRIBE ev")[0]); d != desc {
		t.Errorf("DESCRIBE ev with the registry off:\n%s\nwant\n%s", d, desc)
	}
	if status, r := off.sql(t, "DESCRIBE out"); status != 400 || !strings.Contains(fmt.Sprint(r.Error), "in the catalog but not running") {
		t.Errorf("DESCRIBE out with the registry off: %d %v", status, r.Error)
	}
	status, r := off.sql(t, `CREATE SINK again WITH (connector = 'topic', topic = 'again', format = 'avro') AS SELECT id FROM ev;`)
	if status != 400 || !strings.Contains(fmt.Sprint(r.Error), "schema_registry = false") {
		t.Errorf("an avro sink with the registry off: %d %v", status, r.Error)
	}
	status, r = off.sql(t, `CREATE SOURCE ev2 WITH (connector = 'topic', topic = 'ev', format = 'avro');`)
	if status != 400 || !strings.Contains(fmt.Sprint(r.Error), "schema_registry = false") || !strings.Contains(fmt.Sprint(r.Error), "start Tide with schema_registry = true") {
		t.Errorf("an avro source with the registry off: %d %v", status, r.Error)
	}
	off.stop(t)

	on := startServer(t, data, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(on.srv.KafkaAddr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	onRegistry, err := sr.NewClient(sr.URLs(on.url))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := onRegistry.SchemaByVersion(ctx, "ev-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	produceAvro(t, ctx, cl, "ev", ss.ID, schemaText, map[string]any{"id": int64(7)})
	if recs := consumeAll(t, ctx, on.srv.KafkaAddr().String(), "out", 1); len(recs) != 1 {
		t.Errorf("out: %d records", len(recs))
	}
}

// A running avro pipeline whose subject gets a new version its columns
// cannot take (compatibility NONE): records of that version go to the
// dead-letter topic with the reason, the pipeline keeps running, and
// records of the old version still flow.
func TestRegistryFormatsIncompatibleVersionWhileRunning(t *testing.T) {
	ts := startServer(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := ts.srv.KafkaAddr().String()
	const v1 = `{"type":"record","name":"Ev","fields":[{"name":"id","type":"long"},{"name":"n","type":"long"}]}`
	const v2 = `{"type":"record","name":"Ev","fields":[{"name":"id","type":"long"},{"name":"n","type":{"type":"array","items":"long"}}]}`
	rcl, err := sr.NewClient(sr.URLs(ts.url))
	if err != nil {
		t.Fatal(err)
	}
	s1, err := rcl.CreateSchema(ctx, "ev-value", sr.Schema{Schema: v1})
	if err != nil {
		t.Fatal(err)
	}
	ts.mustSQL(t, `CREATE SOURCE ev WITH (connector = 'topic', topic = 'ev', format = 'avro');`)
	ts.mustSQL(t, `CREATE SINK out WITH (connector = 'topic', topic = 'out') AS SELECT id, n FROM ev;`)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceAvro(t, ctx, cl, "ev", s1.ID, v1, map[string]any{"id": int64(1), "n": int64(10)})

	for _, res := range rcl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}, "ev-value") {
		if res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	s2, err := rcl.CreateSchema(ctx, "ev-value", sr.Schema{Schema: v2})
	if err != nil {
		t.Fatal(err)
	}
	produceAvro(t, ctx, cl, "ev", s2.ID, v2, map[string]any{"id": int64(2), "n": []int64{1, 2}})
	produceAvro(t, ctx, cl, "ev", s1.ID, v1, map[string]any{"id": int64(3), "n": int64(30)})

	out := consumeAll(t, ctx, addr, "out", 2)
	var got []string
	for _, r := range out {
		got = append(got, string(r.Value))
	}
	if strings.Join(got, " ") != `{"id":1,"n":10} {"id":3,"n":30}` {
		t.Errorf("out: %s", strings.Join(got, " "))
	}
	dlq := consumeAll(t, ctx, addr, "out.dlq", 1)
	var reason string
	for _, h := range dlq[0].Headers {
		if strings.Contains(h.Key, "error") {
			reason += h.Key + "=" + string(h.Value) + " "
		}
	}
	if !strings.Contains(reason, fmt.Sprintf("schema id %d", s2.ID)) || !strings.Contains(reason, `column "n"`) {
		t.Errorf("dead letter's reason: %s", reason)
	}
	if sinks := fmt.Sprint(ts.mustSQL(t, "SHOW SINKS")[0]); !strings.Contains(sinks, "running") {
		t.Errorf("SHOW SINKS: %s", sinks)
	}
}
