// Package tracing carries W3C trace context through Tide and records
// spans, exported to an OpenTelemetry collector over OTLP/HTTP.
//
// # Propagation
//
// A trace context travels as the W3C `traceparent` header: on HTTP
// ingestion requests, and as a record header in the log (Kafka producers
// set it the same way), from which pipelines read it and to which they
// write their own. The header's text form is
//
//	00-<trace id: 32 hex>-<parent span id: 16 hex>-<flags: 2 hex>
//	     4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7   01 = sampled
//
// Parse and AppendTraceparent read and write it without allocating; a
// header that does not parse is passed on unchanged and starts nothing.
//
// # Sampling and cost
//
// Sampling is parent-based: a context whose sampled flag is set is traced,
// one whose flag is clear is not, and a record or request without one
// starts a new trace with the configured ratio (Tracer.SampleNew, one
// random draw). Callers decide before they call Start, so what is not
// traced costs a header scan and, with no header, that draw: no span, no
// allocation.
//
// A nil *Tracer is tracing off: SampleNew reports false and Shutdown does
// nothing, so callers test for nil once and traceparent headers pass
// through untouched.
//
// # Spans and export
//
// A traced record costs two or three spans, and a pipeline at a few
// hundred thousand records a second traces thousands of records a second
// at 1%. The OpenTelemetry SDK's spans cost about 2 µs and 1.5 KB each
// before export (docs/BENCHMARKS.md, "Instrumentation cost"), which put the
// pipeline benchmark at 88–96% of its speed without tracing, mostly short
// of the 95% target; so this package records spans itself, in the
// OpenTelemetry data model and wire protocol, and keeps the OpenTelemetry
// API's types (trace.SpanContext) for contexts:
//
//   - a Span is a pooled struct with its attributes inline: Start and End
//     allocate nothing;
//   - End hands the span to a bounded queue (full: dropped and counted,
//     never waited for); one goroutine batches the spans (BatchSize, or
//     every BatchTimeout) and encodes them straight into an OTLP
//     ExportTraceServiceRequest with protowire, into a reused buffer;
//   - the batch is POSTed over OTLP/HTTP in protobuf to the endpoint, with
//     the headers of OTEL_EXPORTER_OTLP_(TRACES_)HEADERS; a connection
//     error, 429 or 5xx is tried 3 times in all, then the batch is
//     dropped, counted and logged (once a minute at most).
//
// Shutdown flushes what is queued. The tests decode the exports with the
// OTLP protobuf definitions (go.opentelemetry.io/proto/otlp), as a
// collector would.
package tracing
