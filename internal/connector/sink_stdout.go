package connector

import (
	"context"
	"io"
	"os"
	"sync"
)

// stdoutSink writes one line per output to Env.Stdout: the value, or with
// 'print.key'='true' the key, a tab and the value. Concurrent Writes are
// serialized and each Write's lines reach the writer in one call, so the
// lines of one batch stay together.
type stdoutSink struct {
	printKey bool
	mu       struct {
		sync.Mutex
		w   io.Writer
		buf []byte
	}
}

var _ Sink = (*stdoutSink)(nil)

// NewStdout returns a stdout sink. Options: 'print.key' ('false').
func NewStdout(opts map[string]string, env Env) (Sink, error) {
	o := newOptions("stdout", opts, "print.key")
	s := &stdoutSink{printKey: o.bool("print.key", false)}
	if err := o.check(); err != nil {
		return nil, err
	}
	s.mu.w = env.Stdout
	if s.mu.w == nil {
		s.mu.w = os.Stdout
	}
	return s, nil
}

// Write prints outputs; it returns once the writer has them.
func (s *stdoutSink) Write(_ context.Context, outputs []Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := s.mu.buf[:0]
	for i := range outputs {
		if s.printKey {
			buf = append(buf, outputs[i].Key...)
			buf = append(buf, '\t')
		}
		buf = append(buf, outputs[i].Value...)
		buf = append(buf, '\n')
	}
	s.mu.buf = buf
	_, err := s.mu.w.Write(buf)
	return err
}

// Close does nothing: the writer belongs to the caller.
func (s *stdoutSink) Close(context.Context) error { return nil }
