package tracing

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func TestParseAndAppend(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	sc, ok := Parse(tp)
	if !ok || !sc.IsSampled() || !sc.IsRemote() || sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.SpanID().String() != "00f067aa0ba902b7" {
		t.Fatalf("Parse(%s) = %v, %v", tp, sc, ok)
	}
	if got := string(AppendTraceparent(nil, sc)); got != tp {
		t.Errorf("AppendTraceparent = %s, want %s", got, tp)
	}
	if sc, ok := Parse([]byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")); !ok || sc.IsSampled() {
		t.Errorf("unsampled: %v, %v", sc, ok)
	}
	// A later version may add fields after a dash; unknown flag bits are
	// dropped.
	if sc, ok := Parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-what-comes-next"); !ok || !sc.IsSampled() || sc.TraceFlags() != trace.FlagsSampled {
		t.Errorf("version 01: %v, %v", sc, ok)
	}
	for _, bad := range []string{
		"",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",     // short
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // version 00 has four fields
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero span id
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // separator
		"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",    // not hex
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01xyz", // later version without a dash
	} {
		if sc, ok := Parse(bad); ok {
			t.Errorf("Parse(%q) = %v, want invalid", bad, sc)
		}
	}
}

func TestIsHeader(t *testing.T) {
	for key, want := range map[string]bool{"traceparent": true, "Traceparent": true, "TRACEPARENT": true, "tracestate": false, "traceparentx": false} {
		if IsHeader(key) != want {
			t.Errorf("IsHeader(%q) = %v", key, !want)
		}
	}
}

// Parse agrees with OpenTelemetry's own W3C propagator, the oracle, on
// whether a header is valid and what it holds.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-extra",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
	} {
		f.Add(s)
	}
	prop := propagation.TraceContext{}
	f.Fuzz(func(t *testing.T, v string) {
		sc, ok := Parse(v)
		carrier := propagation.MapCarrier{"traceparent": v}
		want := trace.SpanContextFromContext(prop.Extract(t.Context(), carrier))
		if ok != want.IsValid() {
			// The propagator trims surrounding spaces; a header value
			// never has them (HTTP strips them, Kafka's come verbatim).
			if strings.TrimSpace(v) != v {
				return
			}
			t.Fatalf("Parse(%q) valid %v, the propagator says %v", v, ok, want.IsValid())
		}
		if !ok {
			return
		}
		if sc.TraceID() != want.TraceID() || sc.SpanID() != want.SpanID() || sc.IsSampled() != want.IsSampled() {
			t.Fatalf("Parse(%q) = %v, the propagator says %v", v, sc, want)
		}
		back, ok := Parse(AppendTraceparent(nil, sc))
		if !ok || back.TraceID() != sc.TraceID() || back.SpanID() != sc.SpanID() || back.TraceFlags() != sc.TraceFlags() {
			t.Fatalf("round trip of %q: %v", v, back)
		}
	})
}

// Parsing and formatting allocate nothing.
func TestParseAllocs(t *testing.T) {
	v := []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		sc, _ := Parse(v)
		buf = AppendTraceparent(buf[:0], sc)
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
