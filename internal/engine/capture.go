package engine

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tide-data/tide/internal/catalog"
	"github.com/tide-data/tide/internal/cdc"
	"github.com/tide-data/tide/internal/connector"
	"github.com/tide-data/tide/internal/sql/plan"
	"github.com/tide-data/tide/internal/transport"
)

// captureRun runs a capturing source (postgres-cdc) on the one worker that
// its lease elects: the consumer group tide-cdc-<source> on the
// one-partition StateTopic. The member holding partition 0 runs the
// capture; a worker that dies loses the partition at its session
// timeout and another takes over from the slot's acknowledged position.
// The slot itself admits one reader, so a worker that lost its lease but
// has not noticed yet cannot stream alongside the new one.
type captureRun struct {
	opts    connector.CaptureOptions
	capture *cdc.Capture
	logger  *slog.Logger
	cancel  context.CancelFunc
	done    chan struct{}

	mu      sync.Mutex
	leading bool // this worker holds the lease
}

func (e *Engine) startCapture(entry catalog.Entry, def *plan.Source) (*captureRun, error) {
	_, _, rest := splitFormatOptions(def.Options)
	logger := e.logger.With("source", entry.Name)
	opts, err := connector.ParseCaptureOptions(entry.Name, entry.ID, rest, connector.Env{Transport: e.cfg.Transport, Logger: logger})
	if err != nil {
		return nil, err
	}
	capture, err := cdc.New(opts.Config)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &captureRun{opts: opts, capture: capture, logger: logger, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.lead(ctx, e.cfg.Transport, entry.Name)
	}()
	return r, nil
}

// lead joins the lease group and runs the capture while it holds the
// lease, rejoining after errors until ctx is done.
func (r *captureRun) lead(ctx context.Context, t transport.Transport, name string) {
	b := newBackoff()
	for ctx.Err() == nil {
		err := r.leadOnce(ctx, t, name)
		if ctx.Err() != nil {
			return
		}
		r.logger.Warn("engine: capture lease lost; rejoining", "err", err)
		if !b.wait(ctx) {
			return
		}
	}
}

func (r *captureRun) leadOnce(ctx context.Context, t transport.Transport, name string) error {
	if err := cdc.EnsureStateTopic(ctx, t); err != nil {
		return err
	}
	var (
		stop    context.CancelFunc
		stopped chan struct{}
	)
	release := func() {
		if stop != nil {
			stop()
			<-stopped
			stop = nil
			r.mu.Lock()
			r.leading = false
			r.mu.Unlock()
			r.logger.Info("engine: capture stopped on this worker (lease released)")
		}
	}
	c, err := t.NewConsumer(ctx, transport.ConsumerOptions{
		Group:  "tide-cdc-" + name,
		Topics: []string{cdc.StateTopic},
		Start:  transport.StartLatest,
		OnAssigned: func(_ context.Context, parts []transport.TopicPartition) {
			lease := slices.Contains(parts, transport.TopicPartition{Topic: cdc.StateTopic, Partition: 0})
			if !lease || stop != nil {
				return
			}
			var runCtx context.Context
			runCtx, stop = context.WithCancel(ctx)
			stopped = make(chan struct{})
			r.mu.Lock()
			r.leading = true
			r.mu.Unlock()
			r.logger.Info("engine: this worker runs the capture")
			go func() {
				defer close(stopped)
				_ = r.capture.Run(runCtx)
			}()
		},
		OnRevoked: func(context.Context, []transport.TopicPartition) { release() },
	})
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Close(closeCtx)
		release()
	}()
	for {
		// The records (other sources' progress) are not ours to read:
		// polling keeps the membership alive and runs the callbacks.
		if _, err := c.Poll(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// captureTopics are the topics a capturing source writes.
func captureTopics(c cdc.Config) []string {
	topics := make([]string, 0, len(c.Tables)+1)
	for _, t := range c.Tables {
		topics = append(topics, cdc.TopicName(c.TopicPrefix, t))
	}
	if c.TransactionMetadata {
		topics = append(topics, cdc.TransactionTopic(c.TopicPrefix))
	}
	return topics
}

// captureConflict names a source already capturing into one of the topics
// opts would write, and that topic. Two captures into one topic would
// take each other's records for their own (positions, a snapshot's
// leftovers to delete).
func (e *Engine) captureConflict(opts connector.CaptureOptions) (source, topic string) {
	mine := captureTopics(opts.Config)
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, src := range e.mu.sources {
		if src.capture == nil {
			continue
		}
		for _, t := range captureTopics(src.capture.opts.Config) {
			if slices.Contains(mine, t) {
				return name, t
			}
		}
	}
	return "", ""
}

// stop ends the capture here (and its lease).
func (r *captureRun) stop() {
	r.cancel()
	<-r.done
}

// status says what the capture is doing on this worker.
func (r *captureRun) status() string {
	r.mu.Lock()
	leading := r.leading
	r.mu.Unlock()
	if !leading {
		return "standby (another worker captures)"
	}
	st := r.capture.Status()
	s := st.State
	switch st.State {
	case "snapshot":
		s += " of " + st.SnapshotTable + ", " + itoa(st.SnapshotRows) + " rows"
	case "streaming":
		s += " at " + st.FlushLSN + ", " + itoa(st.Changes) + " changes"
	}
	if st.Err != "" {
		s += "; last error: " + st.Err
	}
	return s
}

// dropCaptured removes what a dropped capturing source made in its
// database, when it asked for that (slot.drop).
func (e *Engine) dropCaptured(ctx context.Context, r *captureRun) error {
	if r == nil || !r.opts.DropSlot {
		return nil
	}
	if err := cdc.Drop(ctx, r.opts.Config); err != nil {
		return errors.Join(errors.New("the source is dropped, but its replication slot is not"), err)
	}
	return nil
}
