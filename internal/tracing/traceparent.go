package tracing

import (
	"errors"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// Header is the W3C trace context header, as HTTP and record headers
// carry it.
const Header = "traceparent"

// IsHeader reports whether a header key is traceparent (HTTP header names
// are case-insensitive; Kafka's are usually written in lower case).
func IsHeader(key string) bool {
	return len(key) == len(Header) && (key == Header || strings.EqualFold(key, Header))
}

// traceparentLen is the length of a version 00 traceparent.
const traceparentLen = 55

var errTraceparent = errors.New("tracing: not a W3C traceparent")

// Parse reads a traceparent header value into a remote span context. It
// accepts version 00 (with no reserved flag set) and, as the W3C
// recommends, later versions whose first four fields parse (version ff is
// invalid); the all-zero trace and span ids are invalid. Only the sampled
// flag is kept. It does not allocate.
func Parse[T ~string | ~[]byte](v T) (trace.SpanContext, bool) {
	sc, err := parse(v)
	return sc, err == nil
}

func parse[T ~string | ~[]byte](v T) (trace.SpanContext, error) {
	if len(v) < traceparentLen || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return trace.SpanContext{}, errTraceparent
	}
	version, ok := hexByte(v[0], v[1])
	if !ok || version == 0xff || (version == 0 && len(v) != traceparentLen) || (len(v) > traceparentLen && v[traceparentLen] != '-') {
		return trace.SpanContext{}, errTraceparent
	}
	var cfg trace.SpanContextConfig
	for i := range cfg.TraceID {
		if cfg.TraceID[i], ok = hexByte(v[3+2*i], v[4+2*i]); !ok {
			return trace.SpanContext{}, errTraceparent
		}
	}
	for i := range cfg.SpanID {
		if cfg.SpanID[i], ok = hexByte(v[36+2*i], v[37+2*i]); !ok {
			return trace.SpanContext{}, errTraceparent
		}
	}
	flags, ok := hexByte(v[53], v[54])
	if !ok || (version == 0 && flags > 3) { // version 00 defines sampled and random; the rest are reserved
		return trace.SpanContext{}, errTraceparent
	}
	cfg.TraceFlags = trace.TraceFlags(flags) & trace.FlagsSampled
	cfg.Remote = true
	sc := trace.NewSpanContext(cfg)
	if !sc.IsValid() {
		return trace.SpanContext{}, errTraceparent
	}
	return sc, nil
}

// hexByte decodes two lower-case hex digits (the W3C form; upper case is
// invalid).
func hexByte(hi, lo byte) (byte, bool) {
	h, ok1 := hexDigit(hi)
	l, ok2 := hexDigit(lo)
	return h<<4 | l, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

const hexDigits = "0123456789abcdef"

// AppendTraceparent appends sc as a version 00 traceparent to dst.
func AppendTraceparent(dst []byte, sc trace.SpanContext) []byte {
	tid, sid := sc.TraceID(), sc.SpanID()
	dst = append(dst, '0', '0', '-')
	for _, b := range tid {
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	dst = append(dst, '-')
	for _, b := range sid {
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	f := byte(sc.TraceFlags())
	return append(dst, '-', hexDigits[f>>4], hexDigits[f&0xf])
}
