package connector

import (
	"context"
	"sync/atomic"
)

// Blackhole is the blackhole sink: it discards outputs and counts them,
// for benchmarks and dry runs. It is safe for concurrent use.
type Blackhole struct {
	records, bytes atomic.Int64
}

var _ Sink = (*Blackhole)(nil)

// NewBlackhole returns a blackhole sink; it takes no options.
func NewBlackhole(opts map[string]string, _ Env) (Sink, error) {
	if err := newOptions("blackhole", opts).check(); err != nil {
		return nil, err
	}
	return &Blackhole{}, nil
}

// Write counts outputs and drops them.
func (b *Blackhole) Write(_ context.Context, outputs []Output) error {
	n := 0
	for i := range outputs {
		n += len(outputs[i].Key) + len(outputs[i].Value)
	}
	b.records.Add(int64(len(outputs)))
	b.bytes.Add(int64(n))
	return nil
}

// Records returns how many outputs were written.
func (b *Blackhole) Records() int64 { return b.records.Load() }

// Bytes returns the bytes of keys and values written.
func (b *Blackhole) Bytes() int64 { return b.bytes.Load() }

// Close does nothing.
func (b *Blackhole) Close(context.Context) error { return nil }
