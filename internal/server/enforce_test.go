package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tide-data/tide/internal/record"
)

// Topics with schema.validation: a Kafka client producing values that are
// not framed, name an unknown schema, or (strict) do not match a version of
// the topic's value subject gets INVALID_RECORD with the reason; a value
// serialized by franz-go's Serde is accepted.
func TestProduceSchemaValidation(t *testing.T) {
	ts := startServer(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const orderSchema = `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"note","type":"string"}]}`
	rcl, err := sr.NewClient(sr.URLs(ts.url))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := rcl.CreateSchema(ctx, "pay-value", sr.Schema{Schema: orderSchema})
	if err != nil {
		t.Fatal(err)
	}
	other, err := rcl.CreateSchema(ctx, "other-value", sr.Schema{Schema: `"string"`})
	if err != nil {
		t.Fatal(err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.srv.KafkaAddr().String()), kgo.RecordRetries(0), kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for topic, mode := range map[string]string{"pay": "strict", "loose": "framed"} {
		if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"schema.validation": &mode}, topic); err != nil {
			t.Fatal(err)
		}
	}

	type order struct {
		ID   int64  `avro:"id"`
		Note string `avro:"note"`
	}
	var serde sr.Serde
	serde.Register(ss.ID, order{}, sr.EncodeFn(func(v any) ([]byte, error) {
		return avro.Marshal(avro.MustParse(orderSchema), v)
	}))
	good, err := serde.Encode(order{ID: 7, Note: "paid"})
	if err != nil {
		t.Fatal(err)
	}
	frame := func(id int, payload []byte) []byte {
		b := []byte{0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:], uint32(id))
		return append(b, payload...)
	}
	produce := func(topic string, value []byte) error {
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: value}).FirstErr()
	}
	if err := produce("pay", good); err != nil {
		t.Errorf("a valid framed value: %v", err)
	}
	cases := []struct {
		topic string
		value []byte
		want  string // "" accepted
	}{
		{"pay", []byte(`{"id":7}`), "not framed"},
		{"pay", frame(99, good[5:]), "schema id 99"},
		{"pay", frame(other.ID, good[5:]), "not a version of subject pay-value"},
		{"pay", frame(ss.ID, []byte{0xff}), "schema id"},
		{"loose", frame(ss.ID, []byte{0xff}), ""}, // framed: the id is registered; the payload is not checked
		{"loose", []byte("plain"), "not framed"},
	}
	for _, c := range cases {
		err := produce(c.topic, c.value)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %q: %v, want it accepted", c.topic, c.value, err)
		case c.want != "" && !errors.Is(err, kerr.InvalidRecord):
			t.Errorf("%s %q: %v, want INVALID_RECORD", c.topic, c.value, err)
		case c.want != "":
			// franz-go reports the code alone; the reason is in the
			// response's error message (librdkafka and the Java client show it).
			if msg := rawProduceMessage(t, ctx, cl, c.topic, c.value); !strings.Contains(msg, c.want) {
				t.Errorf("%s %q: message %q, want it to say %q", c.topic, c.value, msg, c.want)
			}
		}
	}
	// Describe shows the setting; a bad mode is refused.
	rc, err := adm.DescribeTopicConfigs(ctx, "pay")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := rc.On("pay", nil); err != nil || !strings.Contains(describeValue(c, "schema.validation"), "strict") {
		t.Errorf("describe: %v %v", c, err)
	}
	bad := "sometimes"
	if resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "schema.validation", Value: &bad}}, "pay"); err == nil {
		if r, _ := resp.On("pay", nil); r.Err == nil {
			t.Errorf("schema.validation=sometimes accepted")
		}
	}
}

// rawProduceMessage produces value with a hand-built request and returns
// the partition's error message.
func rawProduceMessage(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, value []byte) string {
	t.Helper()
	batch, err := record.AppendBatch(nil, []record.Record{{Value: value}}, record.BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorMessage == nil || len(p.ErrorRecords) != 1 {
		return ""
	}
	return *p.ErrorMessage
}

func describeValue(c kadm.ResourceConfig, name string) string {
	for _, cfg := range c.Configs {
		if cfg.Key == name {
			return cfg.MaybeValue()
		}
	}
	return ""
}

// HTTP ingestion into a topic with schema.validation: each JSON value is
// encoded for the latest version of <topic>-value (Avro binary, or the
// JSON itself for JSON Schema) and framed; a value the schema refuses gets
// 422 naming the element and the path, and nothing is written. The mode
// comes from the topic's config (pay) or from the server's
// ingest_schema_validation (clicks), the form that works on Kafka too.
func TestIngestSchemaValidation(t *testing.T) {
	ts := startServer(t, "", func(c *Config) { c.IngestSchemaValidation = map[string]string{"clicks": "strict"} })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const orderSchema = `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"note","type":"string"}]}`
	rcl, err := sr.NewClient(sr.URLs(ts.url))
	if err != nil {
		t.Fatal(err)
	}
	avroVer, err := rcl.CreateSchema(ctx, "pay-value", sr.Schema{Schema: orderSchema})
	if err != nil {
		t.Fatal(err)
	}
	jsonVer, err := rcl.CreateSchema(ctx, "clicks-value", sr.Schema{Type: sr.TypeJSON,
		Schema: `{"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}`})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.srv.KafkaAddr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	strict := "strict"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"schema.validation": &strict}, "pay"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "clicks"); err != nil {
		t.Fatal(err)
	}
	post := func(topic, body string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, "POST", ts.url+"/v1/topics/"+topic+"/records", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("pay", `[{"id":7,"note":"paid"},{"id":8,"note":"also"}]`); code != 200 {
		t.Fatalf("valid orders: %d %s", code, body)
	}
	if code, body := post("pay", `[{"id":9,"note":"ok"},{"id":"ten","note":"bad"}]`); code != 422 ||
		!strings.Contains(body, `"schema_violation"`) || !strings.Contains(body, "element 1") || !strings.Contains(body, "/id") {
		t.Errorf("an invalid order: %d %s", code, body)
	}
	if code, body := post("clicks", `{"url":"/cart"}`); code != 200 {
		t.Fatalf("a valid click: %d %s", code, body)
	}
	if code, body := post("clicks", `{"page":"/cart"}`); code != 422 || !strings.Contains(body, "url") {
		t.Errorf("an invalid click: %d %s", code, body)
	}

	// What was written: framed values, the Avro ones readable with the schema.
	type order struct {
		ID   int64  `avro:"id"`
		Note string `avro:"note"`
	}
	var serde sr.Serde
	serde.Register(avroVer.ID, order{}, sr.DecodeFn(func(b []byte, v any) error {
		return avro.Unmarshal(avro.MustParse(orderSchema), b, v)
	}))
	rd, err := kgo.NewClient(kgo.SeedBrokers(ts.srv.KafkaAddr().String()), kgo.ConsumeTopics("pay", "clicks"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var got []string
	for len(got) < 3 {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %v", got)
		}
		fs.EachRecord(func(r *kgo.Record) {
			switch r.Topic {
			case "pay":
				var o order
				if err := serde.Decode(r.Value, &o); err != nil {
					t.Errorf("decoding %x: %v", r.Value, err)
				}
				got = append(got, fmt.Sprintf("%d:%s", o.ID, o.Note))
			case "clicks":
				if id := int(binary.BigEndian.Uint32(r.Value[1:5])); r.Value[0] != 0 || id != jsonVer.ID || string(r.Value[5:]) != `{"url":"/cart"}` {
					t.Errorf("click written as %q", r.Value)
				}
				got = append(got, "click")
			}
		})
	}
	slices.Sort(got)
	if strings.Join(got, " ") != "7:paid 8:also click" {
		t.Errorf("written: %v (the refused request wrote nothing)", got)
	}
}
