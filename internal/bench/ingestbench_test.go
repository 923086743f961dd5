package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/schema"
	"github.com/tide-data/tide/internal/schema/avro"
	"github.com/tide-data/tide/internal/schema/jsonschema"
)

// tinyIngestOptions is a run of a few hundred milliseconds per scenario.
func tinyIngestOptions(t *testing.T, format string) IngestOptions {
	opts := DefaultIngestOptions()
	opts.Dir, opts.Schema = t.TempDir(), format
	opts.Duration, opts.Warmup = 300*time.Millisecond, 100*time.Millisecond
	opts.BatchConns, opts.SingleConns, opts.BatchEvents = 2, 4, 10
	return opts
}

// The schemas accept every event the generator writes, at every size, and
// pin its shape: an event with a field more or less is refused.
func TestBenchEventSchemas(t *testing.T) {
	for _, c := range []struct {
		format schema.Format
		text   string
	}{
		{avro.Format(), benchEventAvroSchema},
		{jsonschema.Format(), benchEventJSONSchema},
	} {
		p, err := c.format.Parse(c.text, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.format.Type(), err)
		}
		enc := c.format.(schema.JSONEncoder)
		for _, size := range []int{64, 200, 1000} {
			for i := range 1200 {
				event := benchEvent(i, size)
				if _, err := enc.AppendJSON(nil, p, event); err != nil {
					t.Fatalf("%s: %s: %v", c.format.Type(), event, err)
				}
			}
		}
		event := benchEvent(7, 200)
		for _, bad := range [][]byte{
			bytes.Replace(event, []byte(`"type":"page_view",`), nil, 1),
			bytes.Replace(event, []byte(`{`), []byte(`{"extra":1,`), 1),
			bytes.Replace(event, []byte(`"id":7`), []byte(`"id":"7"`), 1),
		} {
			if _, err := enc.AppendJSON(nil, p, bad); err == nil {
				t.Errorf("%s accepted %s", c.format.Type(), bad)
			}
		}
	}
}

func TestRunIngestSchema(t *testing.T) {
	for _, format := range []string{SchemaAvro, SchemaJSON} {
		t.Run(format, func(t *testing.T) {
			report, err := RunIngest(context.Background(), tinyIngestOptions(t, format))
			if err != nil {
				t.Fatal(err)
			}
			if len(report.Results) != 4 {
				t.Fatalf("%d results, want a baseline and a validated run of two scenarios", len(report.Results))
			}
			for i, res := range report.Results {
				want := SchemaNone
				if i%2 == 1 {
					want = format
				}
				if res.Schema != want || res.Events <= 0 || res.Errors != 0 {
					t.Errorf("result %d: %+v, want schema %s, events, no errors", i, res, want)
				}
			}
			s := report.Schema
			if s == nil || s.Format != format || s.SchemaID <= 0 || s.EncodeNs <= 0 || s.EncodeCalls <= 0 || s.EncodedBytes <= 5 {
				t.Fatalf("schema report %+v", s)
			}
			if len(s.Scenarios) != 2 || len(report.Targets) != 2 {
				t.Fatalf("%d ratios, %d targets, want 2", len(s.Scenarios), len(report.Targets))
			}
			for _, c := range s.Scenarios {
				if c.Ratio <= 0 || c.Baseline <= 0 || c.Validated <= 0 {
					t.Errorf("ratio %+v", c)
				}
			}
			var out strings.Builder
			if err := WriteIngestReport(&out, report); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"schema", format + " validation+encoding:", "ns/event", "as a share of none"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// Without a schema the report keeps its shape: two results, the two
// throughput targets, no schema column.
func TestRunIngestNoSchema(t *testing.T) {
	report, err := RunIngest(context.Background(), tinyIngestOptions(t, SchemaNone))
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Results) != 2 || len(report.Targets) != 2 || report.Schema != nil || report.Results[0].Schema != "" {
		t.Fatalf("report %+v", report)
	}
	var out strings.Builder
	if err := WriteIngestReport(&out, report); err != nil {
		t.Fatal(err)
	}
	if header := strings.Fields(strings.SplitN(out.String(), "\n", 2)[0]); len(header) < 2 || header[1] != "connections" ||
		strings.Contains(out.String(), "schema") {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestIngestOptionsSchema(t *testing.T) {
	opts := DefaultIngestOptions()
	opts.Schema = "protobuf"
	if err := opts.Validate(); err == nil {
		t.Error("schema protobuf accepted")
	}
}
