package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/schema"
	"github.com/tide-data/tide/internal/schema/avro"
	"github.com/tide-data/tide/internal/schema/jsonschema"
	"github.com/tide-data/tide/internal/server"
	"github.com/tide-data/tide/internal/transport/embedded"
)

// The schema formats of IngestOptions.Schema.
const (
	SchemaNone = "none"
	SchemaAvro = "avro"
	SchemaJSON = "json"
)

// TargetIngestSchemaRatio is the share of a scenario's plain events/s that
// ingestion keeps with schema.validation=strict.
const TargetIngestSchemaRatio = 0.70

// The schemas of benchEvent's events, exactly: every field the generator
// writes, of the type it writes, and no other (JSON Schema: all required,
// no additional properties; Avro: a record has no optional fields unless
// declared so). ts stays a string: JSON carries it as RFC 3339 text, which
// Avro's timestamp-millis (a long) would not take.
const (
	benchEventAvroSchema = `{"type":"record","name":"BenchEvent","namespace":"tide.bench","fields":[` +
		`{"name":"id","type":"long"},{"name":"user_id","type":"string"},{"name":"type","type":"string"},` +
		`{"name":"amount","type":"double"},{"name":"ts","type":"string"},{"name":"pad","type":"string"}]}`
	benchEventJSONSchema = `{"type":"object","properties":{` +
		`"id":{"type":"integer"},"user_id":{"type":"string"},"type":{"type":"string"},` +
		`"amount":{"type":"number"},"ts":{"type":"string"},"pad":{"type":"string"}},` +
		`"required":["id","user_id","type","amount","ts","pad"],"additionalProperties":false}`
)

// IngestSchemaReport is what a run with a schema adds: per scenario the
// validated events/s as a share of the plain ones, and the registry's
// encoding cost per event measured alone.
type IngestSchemaReport struct {
	Format   string `json:"format"`
	SchemaID int    `json:"schema_id"`
	// EncodeNs and EncodeAllocs are per call of Registry.AppendFramedJSON
	// on one benchEvent, on one goroutine, over EncodeCalls calls; the
	// framed value is EncodedBytes long.
	EncodeNs     float64             `json:"encode_ns_per_event"`
	EncodeAllocs float64             `json:"encode_allocs_per_event"`
	EncodeCalls  int64               `json:"encode_calls"`
	EncodedBytes int                 `json:"encoded_bytes"`
	Scenarios    []IngestSchemaRatio `json:"scenarios"`
}

// IngestSchemaRatio compares one scenario with and without validation.
type IngestSchemaRatio struct {
	Name      string  `json:"name"`
	Baseline  float64 `json:"baseline_events_per_sec"`
	Validated float64 `json:"validated_events_per_sec"`
	Ratio     float64 `json:"ratio"`
	// ExtraCPUNs is the process CPU per event the validated run spent
	// beyond the baseline's, in nanoseconds.
	ExtraCPUNs float64 `json:"extra_cpu_ns_per_event"`
}

// ingestValidation is the set-up of a run with a schema: the validated
// topics, and the report it fills.
type ingestValidation struct {
	batchedTopic, singleTopic string
	report                    *IngestSchemaReport
}

// setUpIngestValidation registers the schema of opts.Schema on srv's
// registry under the value subjects of the validated topics, creates them
// with schema.validation=strict, checks that one event is accepted on
// each, and times the registry's encoding alone.
func setUpIngestValidation(ctx context.Context, srv *server.Server, opts IngestOptions) (*ingestValidation, error) {
	in := schema.Input{Type: schema.Avro, Text: benchEventAvroSchema}
	if opts.Schema == SchemaJSON {
		in = schema.Input{Type: schema.JSON, Text: benchEventJSONSchema}
	}
	v := &ingestValidation{
		batchedTopic: ingestBatchedTopic + "_" + opts.Schema,
		singleTopic:  ingestSingleTopic + "_" + opts.Schema,
		report:       &IngestSchemaReport{Format: opts.Schema},
	}
	base := "http://" + srv.HTTPAddr().String()
	rcl, err := sr.NewClient(sr.URLs(base))
	if err != nil {
		return nil, err
	}
	for _, topic := range []string{v.batchedTopic, v.singleTopic} {
		ss, err := rcl.CreateSchema(ctx, schema.ValueSubject(topic), sr.Schema{Schema: in.Text, Type: srType(in.Type)})
		if err != nil {
			return nil, fmt.Errorf("registering the %s schema: %w", opts.Schema, err)
		}
		v.report.SchemaID = ss.ID
		if _, err := srv.Log().CreateTopic(topic, opts.Partitions, map[string]string{log.ConfigSchemaValidation: schema.EnforceStrict}); err != nil {
			return nil, err
		}
		if err := postOne(ctx, base, topic, benchEvent(0, opts.EventBytes)); err != nil {
			return nil, err
		}
	}
	if err := v.measureEncoding(ctx, in, opts); err != nil {
		return nil, fmt.Errorf("timing the %s encoding: %w", opts.Schema, err)
	}
	return v, nil
}

func srType(t schema.Type) sr.SchemaType {
	if t == schema.JSON {
		return sr.TypeJSON
	}
	return sr.TypeAvro
}

// postOne ingests one event into topic and fails unless it is accepted.
func postOne(ctx context.Context, base, topic string, event []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/topics/"+topic+"/records", bytes.NewReader(event))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("topic %s refused a generated event: %s %s", topic, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// measureEncoding times Registry.AppendFramedJSON on one event, as ingest
// calls it per record, in a benchmark loop of at least
// min(opts.Duration, 1s). The registry is a scratch one holding the same
// schema: the server's is not reachable from here, and this one runs the
// same code on the same parsed schema, without the server's background
// work in the timing.
func (v *ingestValidation) measureEncoding(ctx context.Context, in schema.Input, opts IngestOptions) (err error) {
	dir, err := os.MkdirTemp(opts.Dir, "tide-bench-ingest-registry-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l, err := log.Open(dir, log.WithCleanerInterval(0))
	if err != nil {
		return err
	}
	groups, err := group.NewCoordinator(l, group.Options{})
	if err != nil {
		return errors.Join(err, l.Close())
	}
	tr := embedded.New(l, groups)
	defer func() { err = errors.Join(err, tr.Close(), groups.Close(), l.Close()) }()
	reg, err := schema.Open(ctx, tr, []schema.Format{avro.Format(), jsonschema.Format()}, schema.Options{})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, reg.Close(ctx)) }()
	topic := v.batchedTopic
	if _, _, err := reg.Register(ctx, schema.ValueSubject(topic), in, schema.RegisterOptions{}); err != nil {
		return err
	}

	event := benchEvent(1, opts.EventBytes)
	dst := make([]byte, 0, 2*len(event)+16)
	const chunk = 1024
	for range chunk { // warm the caches and pools
		if dst, err = reg.AppendFramedJSON(dst[:0], topic, event); err != nil {
			return err
		}
	}
	minTime := min(opts.Duration, time.Second)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	var calls int64
	for time.Since(start) < minTime && ctx.Err() == nil {
		for range chunk {
			dst, err = reg.AppendFramedJSON(dst[:0], topic, event)
		}
		calls += chunk
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		return err
	}
	v.report.EncodeCalls = calls
	v.report.EncodeNs = float64(elapsed.Nanoseconds()) / float64(calls)
	v.report.EncodeAllocs = float64(after.Mallocs-before.Mallocs) / float64(calls)
	v.report.EncodedBytes = len(dst)
	return ctx.Err()
}

// finish pairs each scenario's baseline and validated results (adjacent
// in report.Results) and sets the report's targets.
func (v *ingestValidation) finish(report *IngestReport) {
	report.Schema = v.report
	for i := 0; i+1 < len(report.Results); i += 2 {
		plain, valid := report.Results[i], report.Results[i+1]
		c := IngestSchemaRatio{Name: plain.Name, Baseline: plain.Events, Validated: valid.Events}
		if plain.Events > 0 && valid.Events > 0 {
			c.Ratio = valid.Events / plain.Events
			c.ExtraCPUNs = (valid.CPU/valid.Events - plain.CPU/plain.Events) * 1e9
		}
		v.report.Scenarios = append(v.report.Scenarios, c)
		report.Targets = append(report.Targets, Target{
			Name: fmt.Sprintf("%s events/s as a share of none, %s", v.report.Format, c.Name), Value: c.Ratio, Want: TargetIngestSchemaRatio,
			Pass: c.Ratio >= TargetIngestSchemaRatio,
			Detail: fmt.Sprintf("%.1f%%: %.0f vs %.0f events/s, %+.0f ns CPU per event (target >= %.0f%%)",
				100*c.Ratio, c.Validated, c.Baseline, c.ExtraCPUNs, 100*TargetIngestSchemaRatio),
		})
	}
}

// writeIngestSchema prints the encoding figures of a run with a schema.
func writeIngestSchema(w io.Writer, s *IngestSchemaReport) error {
	_, err := fmt.Fprintf(w, "%s validation+encoding: %.0f ns/event, %.1f allocs/event, %d B framed (Registry.AppendFramedJSON on one event, %d calls, one goroutine; schema id %d)\n",
		s.Format, s.EncodeNs, s.EncodeAllocs, s.EncodedBytes, s.EncodeCalls, s.SchemaID)
	return err
}
