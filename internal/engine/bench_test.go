package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/parser"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/sql/types"
)

// The benchmarks of issue 4: stateless pipelines over ~200-byte JSON
// events, against the ceiling of a plain loop that parses and re-encodes
// the same events with fastjson. internal/bench (tide bench pipeline) runs
// the same source and queries through the whole engine; keep the two in
// step.

// benchSource declares the event: ids, text, a double amount, a status
// and a currency from value lists, a timestamp. The field lengths make
// the average JSON value 200 bytes or so (BenchmarkTask reports the exact
// average as bytes/event).
const benchSource = `CREATE SOURCE events (
    id bigint NOT NULL,
    user_id bigint,
    session text,
    page text,
    amount double precision,
    currency text,
    status text,
    country text,
    ts timestamptz
) WITH (connector = 'datagen', format = 'json', 'rows-per-second' = '0', seed = '4',
    'fields.id.kind' = 'sequence', 'fields.id.min' = '1000000000',
    'fields.user_id.min' = '1', 'fields.user_id.max' = '9999999',
    'fields.session.length' = '12', 'fields.page.length' = '14',
    'fields.amount.min' = '0', 'fields.amount.max' = '1000',
    'fields.currency.values' = 'EUR,USD,GBP,CHF',
    'fields.status.values' = 'created,paid,packed,shipped,delivered,returned',
    'fields.country.values' = 'DE,FR,GB,US,NL,ES,IT,PL')`

// benchQueries are the pipelines measured, by case name.
var benchQueries = []struct{ name, sql string }{
	{"passthrough", `CREATE SINK out WITH (connector = 'blackhole') AS SELECT * FROM events`},
	// WHERE keeps 85% of the events (amount is uniform in [0, 1000]).
	{"filter_project", `CREATE SINK out WITH (connector = 'blackhole') AS
SELECT id, user_id, upper(status) AS status, amount * 1.1 AS amount_eur, currency, country, ts
FROM events WHERE amount > 150 KEY BY user_id`},
}

// benchEvents is how many events are generated once and cycled through:
// 64 batches of 256, about 3 MB of JSON.
const benchEvents = 64 * 256

// BenchmarkTask measures a pipeline task's work per event on one core:
// decode, filter, project, key, encode (task.process, the code path of a
// running pipeline) and the write to a blackhole sink, over batches of
// pre-generated events. ns/op is per event; events/cpu-s divides by the
// process's CPU time (the GC's background work included).
func BenchmarkTask(b *testing.B) {
	batches, bytes, events := benchBatches(b, benchEvents)
	for _, q := range benchQueries {
		b.Run(q.name, func(b *testing.B) {
			t := benchTask(b, q.sql)
			ctx := context.Background()
			b.SetBytes(bytes / events)
			b.ReportAllocs()
			var out, done int64
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; done < int64(b.N); i = (i + 1) % len(batches) {
				batch := batches[i]
				if left := int64(b.N) - done; left < int64(len(batch.Messages)) {
					batch.Messages = batch.Messages[:left]
				}
				t.process(batch)
				if len(t.dead) > 0 {
					b.Fatalf("dead letters: %+v", t.dead[0].Headers)
				}
				if !t.writeOutputs(ctx, batch) {
					b.Fatal("write failed")
				}
				batch.Ack()
				out += int64(len(t.outputs))
				done += int64(len(batch.Messages))
			}
			b.StopTimer()
			reportRates(b, done, cpuTime()-cpu0)
			b.ReportMetric(float64(out)/float64(done), "out/event")
		})
	}
}

// BenchmarkCeiling is what BenchmarkTask is measured against: the same
// events parsed by fastjson (one reused Parser) and written back with
// MarshalTo, in a plain loop, with no types, no checks, no expressions.
func BenchmarkCeiling(b *testing.B) {
	batches, bytes, events := benchBatches(b, benchEvents)
	var values [][]byte
	for _, batch := range batches {
		for _, m := range batch.Messages {
			values = append(values, m.Value)
		}
	}
	var p fastjson.Parser
	buf := make([]byte, 0, 512)
	b.SetBytes(bytes / events)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		v, err := p.ParseBytes(values[i%len(values)])
		if err != nil {
			b.Fatal(err)
		}
		buf = v.MarshalTo(buf[:0])
	}
	b.StopTimer()
	reportRates(b, int64(b.N), cpuTime()-cpu0)
}

func TestBenchEventSize(t *testing.T) {
	_, bytes, events := benchBatches(t, benchEvents)
	if avg := float64(bytes) / float64(events); avg < 190 || avg > 215 {
		t.Errorf("benchmark events average %.1f bytes; tune the field lengths back to about 200", avg)
	}
}

// benchTask returns a task of query's pipeline writing to a blackhole.
func benchTask(tb testing.TB, query string) *task {
	tb.Helper()
	pl := benchPlan(tb, query)
	p := &pipeline{plan: pl, logger: testLogger(), sink: &connector.Blackhole{}}
	p.outColumns = outputColumns(pl)
	in := &sourceInput{def: pl.Source, columns: sourceColumns(pl.Source), filter: pl.Filter, query: pl, partitions: 1}
	in.format, in.formatOpts, _ = splitFormatOptions(pl.Source.Options)
	p.outFormat, p.outFmtOpts, _ = splitFormatOptions(pl.Options)
	var err error
	if p.enc, err = format.NewEncoder(p.outFormat, p.outColumns, p.outFmtOpts, format.Env{}); err != nil {
		tb.Fatal(err)
	}
	p.setState(stateRunning, nil)
	return p.newTask(in, 0)
}

func reportRates(b *testing.B, events int64, cpu time.Duration) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if cpu > 0 {
		b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
	}
}

// BenchmarkCeilingCodec is the ceiling with the pipelines' own JSON
// library: the same events decoded into typed rows by internal/format's
// decoder for the source's columns and encoded back by its encoder, in a
// plain loop — no engine, no expressions, no sink. BenchmarkTask over it
// is the runtime's overhead; BenchmarkCeiling (fastjson, untyped) is the
// codec's own distance from a parse-and-print.
func BenchmarkCeilingCodec(b *testing.B) {
	batches, bytes, events := benchBatches(b, benchEvents)
	var values [][]byte
	for _, batch := range batches {
		for _, m := range batch.Messages {
			values = append(values, m.Value)
		}
	}
	src := benchPlan(b, "").Source
	cols := sourceColumns(src)
	dec, err := format.NewDecoder("json", cols, nil, format.Env{})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := format.NewEncoder("json", cols, nil, format.Env{})
	if err != nil {
		b.Fatal(err)
	}
	row := make(types.Row, len(cols))
	buf := make([]byte, 0, 512)
	b.SetBytes(bytes / events)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		if err := dec.Decode(values[i%len(values)], row); err != nil {
			b.Fatal(err)
		}
		if buf, err = enc.Encode(buf[:0], row); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRates(b, int64(b.N), cpuTime()-cpu0)
}

// benchPlan plans query over benchSource with the real parser and planner.
func benchPlan(tb testing.TB, query string) *plan.Pipeline {
	tb.Helper()
	stmt, err := parser.ParseOne(benchSource)
	if err != nil {
		tb.Fatal(err)
	}
	src, err := plan.AnalyzeSource(stmt.(*ast.CreateSource), connector.SourceKinds(), plan.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if query == "" {
		return &plan.Pipeline{Source: src}
	}
	stmt, err = parser.ParseOne(query)
	if err != nil {
		tb.Fatal(err)
	}
	lookup := func(name string) (*plan.Source, bool) { return src, name == src.Name }
	pl, err := plan.AnalyzeSink(stmt.(*ast.CreateSink), lookup, connector.SinkKinds(), plan.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return pl
}

// benchBatches generates n events once with the datagen connector (fixed
// seed and clock), in the connector's own batches.
func benchBatches(tb testing.TB, n int) (batches []connector.Batch, bytes, events int64) {
	tb.Helper()
	src := benchPlan(tb, "").Source
	_, _, opts := splitFormatOptions(src.Options)
	opts["number-of-rows"] = fmt.Sprint(n)
	gen, err := connector.NewSource(src.Connector, sourceColumns(src), opts, connector.Env{Group: "bench", Now: benchClock})
	if err != nil {
		tb.Fatal(err)
	}
	for {
		b, err := gen.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		batches = append(batches, b)
		for _, m := range b.Messages {
			bytes += int64(len(m.Value))
		}
		events += int64(len(b.Messages))
	}
	return batches, bytes, events
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchClock stamps generated events with a fixed time that has
// microseconds, as a real clock's have.
func benchClock() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 123456000, time.UTC) }

// BenchmarkDatagen is the generator's share of an in-process pipeline
// (tide bench pipeline): generating and encoding one event.
func BenchmarkDatagen(b *testing.B) {
	src := benchPlan(b, "").Source
	_, _, opts := splitFormatOptions(src.Options)
	gen, err := connector.NewSource(src.Connector, sourceColumns(src), opts, connector.Env{Group: "bench", Now: benchClock})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var done int64
	cpu0 := cpuTime()
	for done < int64(b.N) {
		batch, err := gen.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		done += int64(len(batch.Messages))
	}
	b.StopTimer()
	b.SetBytes(0)
	reportRates(b, done, cpuTime()-cpu0)
}
