package tracingtest

import (
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// countSpans, which walks the wire format, counts what decoding finds.
func TestCountSpans(t *testing.T) {
	span := func(name string) *tracepb.Span {
		return &tracepb.Span{TraceId: make([]byte, 16), SpanId: make([]byte, 8), Name: name, StartTimeUnixNano: 1}
	}
	msg := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
		{Resource: &resourcepb.Resource{}, ScopeSpans: []*tracepb.ScopeSpans{
			{Spans: []*tracepb.Span{span("a"), span("b")}},
			{Spans: []*tracepb.Span{span("c")}, SchemaUrl: "x"},
		}},
		{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{span("d"), span("e"), span("f")}}}},
		{},
	}}
	b, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := countSpans(b); err != nil || n != 6 {
		t.Errorf("countSpans = %d, %v; want 6", n, err)
	}
	if _, err := countSpans(b[:len(b)-3]); err == nil {
		t.Error("a truncated request was counted")
	}
}
