package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// consumeAll reads n records of topic from the start.
func consumeAll(t *testing.T, ctx context.Context, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("topic %s: %d of %d records before %v", topic, len(out), n, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// A Kafka producer writes Avro with franz-go's serde and the registry; a
// source in format 'avro' takes its columns from the registered schema; a
// sink in format 'avro' registers the schema of what it writes, and a
// consumer reads it back with that schema. The same with 'json_sr'. The
// completed source survives a restart with its SQL directory applied
// again.
func TestRegistryFormatsEndToEnd(t *testing.T) {
	root := t.TempDir()
	data, sqlDir := filepath.Join(root, "data"), filepath.Join(root, "sql")
	sourceSQL := `CREATE SOURCE clicks WITH (connector = 'topic', topic = 'clicks', format = 'avro');`
	withDir := func(c *Config) { c.SQLDir = sqlDir }
	ts := startServer(t, data, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := ts.srv.KafkaAddr().String()

	const clickSchema = `{"type":"record","name":"Click","namespace":"web","fields":[
	  {"name":"id","type":"long"},{"name":"url","type":"string"},
	  {"name":"amount","type":["null","int"],"default":null},
	  {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}`
	rcl, err := sr.NewClient(sr.URLs(ts.url))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := rcl.CreateSchema(ctx, "clicks-value", sr.Schema{Schema: clickSchema})
	if err != nil {
		t.Fatal(err)
	}
	type click struct {
		ID     int64     `avro:"id"`
		URL    string    `avro:"url"`
		Amount *int32    `avro:"amount"`
		At     time.Time `avro:"at"`
	}
	var serde sr.Serde
	serde.Register(ss.ID, click{}, sr.EncodeFn(func(v any) ([]byte, error) {
		return avro.Marshal(avro.MustParse(clickSchema), v)
	}))
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 50
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i := range n {
		c := click{ID: int64(i), URL: fmt.Sprintf("/p/%d", i), At: base.Add(time.Duration(i) * time.Millisecond)}
		if i%5 != 0 {
			a := int32(i)
			c.Amount = &a
		}
		v, err := serde.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "clicks", Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	ts.mustSQL(t, sourceSQL)
	desc := fmt.Sprint(ts.mustSQL(t, "DESCRIBE clicks")[0])
	for _, want := range []string{"id", "bigint", "url", "amount", "integer", "at", "timestamp with time zone"} {
		if !strings.Contains(desc, want) {
			t.Errorf("DESCRIBE clicks lacks %q: %s", want, desc)
		}
	}
	ts.mustSQL(t, `CREATE SINK big WITH (connector = 'topic', topic = 'big', format = 'avro') AS
	  SELECT id, url, amount * 2 AS doubled, at FROM clicks WHERE amount > 10;`)
	ts.mustSQL(t, `CREATE SINK plain WITH (connector = 'topic', topic = 'plain', format = 'json_sr') AS
	  SELECT id, upper(url) AS url, amount FROM clicks;`)

	// The avro sink: every value framed with the id of the schema it
	// registered under big-value, and readable with that schema.
	var want []string
	for i := 11; i < n; i++ {
		if i%5 != 0 {
			want = append(want, fmt.Sprintf("%d /p/%d %d %s", i, i, 2*i, base.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano)))
		}
	}
	recs := consumeAll(t, ctx, addr, "big", len(want))
	latest, err := rcl.SchemaByVersion(ctx, "big-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(latest.Schema.Schema, `"tide.big"`) {
		t.Errorf("big-value holds %s", latest.Schema.Schema)
	}
	outSchema := avro.MustParse(latest.Schema.Schema)
	var got []string
	for _, r := range recs {
		if r.Value[0] != 0 || int(binary.BigEndian.Uint32(r.Value[1:5])) != latest.ID {
			t.Fatalf("value %x is not framed with schema id %d", r.Value[:5], latest.ID)
		}
		var v struct {
			ID      *int64     `avro:"id"`
			URL     *string    `avro:"url"`
			Doubled *int32     `avro:"doubled"`
			At      *time.Time `avro:"at"`
		}
		if err := avro.Unmarshal(outSchema, r.Value[5:], &v); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %d %s", *v.ID, *v.URL, *v.Doubled, v.At.UTC().Format(time.RFC3339Nano)))
	}
	sort.Slice(got, func(i, j int) bool { return len(got[i]) < len(got[j]) || len(got[i]) == len(got[j]) && got[i] < got[j] })
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("big:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The json_sr sink: framed JSON under a JSON Schema in plain-value.
	jrecs := consumeAll(t, ctx, addr, "plain", n)
	jlatest, err := rcl.SchemaByVersion(ctx, "plain-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	if jlatest.Type != sr.TypeJSON {
		t.Errorf("plain-value is a %v schema", jlatest.Type)
	}
	nulls := 0
	for _, r := range jrecs {
		if int(binary.BigEndian.Uint32(r.Value[1:5])) != jlatest.ID {
			t.Fatalf("json_sr value %x not framed with id %d", r.Value[:5], jlatest.ID)
		}
		var v struct {
			ID     int64  `json:"id"`
			URL    string `json:"url"`
			Amount *int   `json:"amount"`
		}
		if err := json.Unmarshal(r.Value[5:], &v); err != nil {
			t.Fatal(err)
		}
		if v.URL != strings.ToUpper(fmt.Sprintf("/p/%d", v.ID)) {
			t.Errorf("json_sr record %+v", v)
		}
		if v.Amount == nil {
			nulls++
		}
	}
	if nulls != n/5 {
		t.Errorf("%d null amounts, want %d", nulls, n/5)
	}

	// A json_sr source over what the sink wrote, its columns from the
	// registered JSON Schema.
	ts.mustSQL(t, `CREATE SOURCE plain_in WITH (connector = 'topic', topic = 'plain', format = 'json_sr');`)
	jdesc := fmt.Sprint(ts.mustSQL(t, "DESCRIBE plain_in")[0])
	for _, want := range []string{"id", "bigint", "url", "text", "amount"} {
		if !strings.Contains(jdesc, want) {
			t.Errorf("DESCRIBE plain_in lacks %q: %s", want, jdesc)
		}
	}
	ts.mustSQL(t, `CREATE SINK again WITH (connector = 'topic', topic = 'again') AS SELECT id FROM plain_in WHERE amount IS NULL;`)
	if again := consumeAll(t, ctx, addr, "again", n/5); len(again) != n/5 {
		t.Errorf("again: %d records", len(again))
	}
	ts.stop(t)

	// The source, completed with its columns, is what the SQL directory's
	// column-less statement created: applying it again is a no-op.
	writeSQLDir(t, sqlDir, map[string]string{"10_clicks.sql": sourceSQL})
	ts = startServer(t, data, withDir)
	if d := fmt.Sprint(ts.mustSQL(t, "DESCRIBE clicks")[0]); d != desc {
		t.Errorf("DESCRIBE clicks after restart:\n%s\nwant\n%s", d, desc)
	}
}

// Without a registered schema a column-less avro source is refused with
// what to do; a sink whose schema the subject's compatibility refuses is
// refused at CREATE.
func TestRegistryFormatsErrors(t *testing.T) {
	ts := startServer(t, "", nil)
	status, r := ts.sql(t, `CREATE SOURCE s WITH (connector = 'topic', topic = 'nothing', format = 'avro');`)
	if status != 400 || !strings.Contains(fmt.Sprint(r.Error), "nothing-value") || !strings.Contains(fmt.Sprint(r.Error), "tide schema register") {
		t.Errorf("column-less avro source of an unregistered subject: %d %v", status, r.Error)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rcl, err := sr.NewClient(sr.URLs(ts.url))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rcl.CreateSchema(ctx, "taken-value", sr.Schema{Schema: `{"type":"record","name":"X","fields":[{"name":"must","type":{"type":"array","items":"string"}}]}`}); err != nil {
		t.Fatal(err)
	}
	ts.mustSQL(t, `CREATE SOURCE o (id bigint) WITH (connector = 'topic', topic = 'o');`)
	status, r = ts.sql(t, `CREATE SINK k WITH (connector = 'topic', topic = 'taken', format = 'avro') AS SELECT id FROM o;`)
	if status != 400 || !strings.Contains(fmt.Sprint(r.Error), "taken-value") {
		t.Errorf("an incompatible sink schema: %d %v", status, r.Error)
	}
	status, r = ts.sql(t, `CREATE SOURCE bad (must integer) WITH (connector = 'topic', topic = 'taken', format = 'avro');`)
	if status != 400 || !strings.Contains(fmt.Sprint(r.Error), `column "must" (integer) cannot be read from field must`) ||
		!strings.Contains(fmt.Sprint(r.Error["hint"]), "declare columns the subject's latest schema can fill") {
		t.Errorf("a declared column the schema cannot fill: %d %v", status, r.Error)
	}
}
