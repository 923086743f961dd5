package connector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// setupTimeout bounds the transport calls constructors make (they have
// no context of their own: the runtime builds connectors synchronously).
const setupTimeout = 30 * time.Second

// TopicSink writes outputs to a topic through the transport. It keeps no
// state between Writes, so concurrent Writes are safe.
type TopicSink struct {
	tr    transport.Transport
	topic string
}

var _ Sink = (*TopicSink)(nil)

// TopicSinkOptions configures NewTopicSink.
type TopicSinkOptions struct {
	Topic string
	// Create makes the topic if it does not exist, with Partitions
	// partitions (<= 0: the transport's default, 1 unless configured).
	Create     bool
	Partitions int32
}

// newTopicSinkFromOptions reads the WITH options:
//
//	topic             required
//	topic.create      'true' (default) creates the topic if missing
//	topic.partitions  partitions of a created topic; default: the transport's
func newTopicSinkFromOptions(opts map[string]string, env Env) (Sink, error) {
	so, err := parseTopicSinkOptions(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	return NewTopicSink(ctx, env, so)
}

func parseTopicSinkOptions(opts map[string]string) (TopicSinkOptions, error) {
	o := newOptions("topic", opts, "topic", "topic.create", "topic.partitions")
	so := TopicSinkOptions{
		Topic:      o.required("topic"),
		Create:     o.bool("topic.create", true),
		Partitions: int32(o.int("topic.partitions", 0, 1, math.MaxInt32)),
	}
	return so, o.check()
}

// NewTopicSink checks the topic exists, creating it if asked to.
func NewTopicSink(ctx context.Context, env Env, o TopicSinkOptions) (*TopicSink, error) {
	if env.Transport == nil {
		return nil, errors.New("connector topic: no transport")
	}
	_, err := env.Transport.Topic(ctx, o.Topic)
	if errors.Is(err, transport.ErrTopicNotFound) && o.Create {
		err = env.Transport.CreateTopic(ctx, transport.TopicSpec{Name: o.Topic, Partitions: o.Partitions})
		if errors.Is(err, transport.ErrTopicExists) {
			err = nil // created meanwhile by someone else
		}
	}
	if err != nil {
		return nil, fmt.Errorf("connector topic: sink topic %q: %w", o.Topic, err)
	}
	return &TopicSink{tr: env.Transport, topic: o.Topic}, nil
}

// Write produces outputs and returns when they are durable. Output.Key
// is the record key, which picks the partition (Kafka's default
// partitioner; round-robin without a key).
func (s *TopicSink) Write(ctx context.Context, outputs []Output) error {
	if len(outputs) == 0 {
		return nil
	}
	recs := make([]transport.Record, len(outputs))
	ptrs := make([]*transport.Record, len(outputs))
	for i := range outputs {
		out := &outputs[i]
		recs[i] = transport.Record{
			Topic: s.topic, Partition: -1,
			Key: out.Key, Value: out.Value, Headers: out.Headers, Timestamp: out.Timestamp,
		}
		ptrs[i] = &recs[i]
	}
	err := s.tr.Produce(ctx, ptrs)
	if errors.Is(err, transport.ErrRecordTooLarge) {
		return s.writeEach(ctx, ptrs)
	}
	if err != nil {
		return fmt.Errorf("connector topic: writing to %q: %w", s.topic, err)
	}
	return nil
}

// writeEach writes records one at a time after a batch held a record
// larger than the topic allows: that record can never be written, so it
// is rejected (the runtime dead-letters it) and the others are written.
// Records written by the failed batch may be written twice
// (at-least-once).
func (s *TopicSink) writeEach(ctx context.Context, ptrs []*transport.Record) error {
	var rejected []Rejection
	for i, r := range ptrs {
		err := s.tr.Produce(ctx, []*transport.Record{r})
		switch {
		case errors.Is(err, transport.ErrRecordTooLarge):
			rejected = append(rejected, Rejection{Index: i, Err: fmt.Errorf("connector topic: record of %d bytes: %w", len(r.Key)+len(r.Value), err), Code: "record_too_large", Attempts: 1})
		case err != nil:
			return fmt.Errorf("connector topic: writing to %q: %w", s.topic, err)
		}
	}
	if len(rejected) > 0 {
		return &RejectedError{Rejected: rejected}
	}
	return nil
}

// Close does nothing: the transport belongs to the runtime.
func (s *TopicSink) Close(context.Context) error { return nil }

// Topic returns the topic the sink writes to (a runtime writing in a
// transaction produces there itself).
func (s *TopicSink) Topic() string { return s.topic }
