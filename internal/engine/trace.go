package engine

import (
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/tracing"
	"github.com/tide-data/tide/internal/transport"
)

// Tracing records through a pipeline.
//
// A record is traced when its traceparent header is sampled, or, without
// one, when the tracer samples a new trace for it (the ratio). Its span,
// "process <pipeline>", is a child of the record's context; it starts
// when the task takes up the batch and ends when the batch is
// acknowledged, so it covers processing, the sink write and the
// dead-letter write. The output's traceparent names it (same trace id);
// the sink's write is "deliver <pipeline>", its child. An unsampled or
// malformed traceparent is passed on as it came and costs a header scan;
// a record without one, a random draw.

// tracedRecord is a record of the current batch with a span.
type tracedRecord struct {
	span *tracing.Span
	out  int // its output's index in task.outputs; -1 if it has none
}

// Span attribute keys.
const (
	attrTopic     = "tide.topic"
	attrPartition = "tide.partition"
	attrOffset    = "tide.offset"
	attrStage     = "tide.stage"
	attrFiltered  = "tide.filtered"
	attrConnector = "tide.connector"
	attrAttempts  = "tide.attempts"
)

// traceparent returns the value of the traceparent header among headers;
// nil if there is none.
func traceparent(headers []transport.Header) []byte {
	for i := range headers {
		if tracing.IsHeader(headers[i].Key) {
			return headers[i].Value
		}
	}
	return nil
}

// startSpan starts m's pipeline span if m is traced; nil if not. The
// span's start is the batch's, read from the clock at the batch's first
// traced record.
func (t *task) startSpan(m *connector.Message, batchStart *time.Time) *tracing.Span {
	var parent trace.SpanContext
	if tp := traceparent(m.Headers); tp != nil {
		sc, ok := tracing.Parse(tp)
		if !ok || !sc.IsSampled() {
			return nil
		}
		parent = sc
	} else if !t.p.tracer.SampleNew() {
		return nil
	}
	if batchStart.IsZero() {
		*batchStart = time.Now()
	}
	// The pipeline's name is the span's; the attributes find the record.
	return t.p.tracer.Start(parent, t.p.processSpan, tracing.KindConsumer, *batchStart,
		tracing.String(attrTopic, m.Origin.Topic),
		tracing.Int(attrPartition, int64(m.Origin.Partition)),
		tracing.Int(attrOffset, m.Origin.Offset))
}

// traceRecord notes what became of a traced record: the output appended
// at index out (if any) gets a traceparent naming span; an error marks
// the span.
func (t *task) traceRecord(span *tracing.Span, out int, stage string, err error) {
	tr := tracedRecord{span: span, out: -1}
	switch {
	case err != nil:
		span.SetError(err.Error())
		span.SetAttributes(tracing.String(attrStage, stage))
	case out < len(t.outputs):
		tr.out = out
		o := &t.outputs[out]
		o.Headers = withTraceparent(o.Headers, tracing.AppendTraceparent(make([]byte, 0, 55), span.SpanContext()))
	default:
		span.SetAttributes(tracing.Bool(attrFiltered, true))
	}
	t.traced = append(t.traced, tr)
}

// withTraceparent returns a copy of headers with traceparent set to value
// (the input's headers are left as they are: the dead-letter topic keeps
// them).
func withTraceparent(headers []transport.Header, value []byte) []transport.Header {
	out := make([]transport.Header, 0, len(headers)+1)
	set := false
	for _, h := range headers {
		if tracing.IsHeader(h.Key) {
			h.Value, set = value, true
		}
		out = append(out, h)
	}
	if !set {
		out = append(out, transport.Header{Key: tracing.Header, Value: value})
	}
	return out
}

// endSpans ends the batch's spans: for each traced output a delivery span
// from writeStart to written (an error if the sink rejected it), then
// the pipeline spans. abandoned: the batch was given up unwritten.
func (t *task) endSpans(writeStart, written time.Time, abandoned bool) {
	if len(t.traced) == 0 {
		return
	}
	for _, tr := range t.traced {
		if abandoned {
			tr.span.SetError("abandoned: the pipeline stopped before the batch was written (it is read again)")
			tr.span.End(time.Time{})
			continue
		}
		if tr.out >= 0 {
			d := t.p.tracer.Start(tr.span.SpanContext(), t.p.deliverSpan, tracing.KindProducer, writeStart,
				tracing.String(attrConnector, t.p.plan.Connector))
			if r, ok := t.rejection(tr.out); ok {
				msg := "rejected by the sink"
				if r.Err != nil {
					msg = r.Err.Error()
				}
				if r.Code != "" {
					msg = r.Code + ": " + msg
				}
				d.SetError(msg)
				d.SetAttributes(tracing.Int(attrAttempts, int64(r.Attempts)))
				tr.span.SetError("dead-lettered: " + msg)
			}
			d.End(written)
		}
		tr.span.End(time.Time{})
	}
	clear(t.traced)
	t.traced = t.traced[:0]
}

// rejection returns the sink's rejection of output i, if it rejected it.
func (t *task) rejection(i int) (connector.Rejection, bool) {
	for _, r := range t.rejections {
		if r.Index == i {
			return r, true
		}
	}
	return connector.Rejection{}, false
}
