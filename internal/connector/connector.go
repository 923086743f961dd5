package connector

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// Origin says where a message came from, for dead-letter headers.
type Origin struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Message is one input event, undecoded. The runtime owns it once Read
// returns it.
type Message struct {
	Key       []byte
	Value     []byte
	Headers   []transport.Header
	Timestamp time.Time
	Origin    Origin
}

// Batch is a run of messages from one source partition, in order. Ack
// must be called once every output derived from the batch is durable (or
// dead-lettered durably); batches of one partition are acknowledged in
// the order Read returned them. Ack never blocks for long: committing is
// the source's business (it may batch commits in time).
type Batch struct {
	Partition int32
	Messages  []Message
	Ack       func()
}

// Source produces batches. Read blocks until a batch is ready or ctx is
// done (then it returns ctx.Err()); io.EOF means the source is finished
// (a bounded datagen). Read is called by one goroutine; Close after the
// last Read returned, it commits what was acknowledged.
type Source interface {
	Read(ctx context.Context) (Batch, error)
	Close(ctx context.Context) error
}

// PartitionedSource is a Source that can tell how many partitions it has
// (the runtime starts one task per partition it sees).
type PartitionedSource interface {
	Source
	Partitions() int32
}

// Output is one encoded result record.
type Output struct {
	Key       []byte
	Value     []byte
	Headers   []transport.Header
	Timestamp time.Time
}

// Sink writes outputs. Write returns when every output is durable (or
// delivered, for a stdout sink), or with an error; on error none of the
// batch is considered written and the runtime retries it (at-least-once).
// Write may be called from several goroutines (one per task).
type Sink interface {
	Write(ctx context.Context, outputs []Output) error
	Close(ctx context.Context) error
}

// Env is what connectors get from the runtime.
type Env struct {
	Transport transport.Transport
	Logger    *slog.Logger
	// Group is the consumer group a topic source commits to (the
	// pipeline's name, prefixed).
	Group string
	// Now is the clock (tests inject one); nil means time.Now. It stamps
	// generated data (datagen); rate limits use the real clock.
	Now func() time.Time
	// Stdout is where the stdout sink writes; nil means os.Stdout.
	Stdout io.Writer
}

func (e Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}
