// Package tracingtest is an in-process OTLP/HTTP trace receiver: it
// decodes the ExportTraceServiceRequest protobufs an exporter POSTs to
// /v1/traces and keeps their spans (or only counts them), for tests and
// for the instrumentation benchmark.
package tracingtest
