package connector

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/transport"
)

// Origin says where a message came from, for dead-letter headers.
type Origin struct {
	Topic     string
	Partition int32
	Offset    int64
	// Input names the pipeline input that read it when that is a UNION
	// ALL's later query reading a topic an earlier one reads ("union1"):
	// a sink that remembers what it applied by origin (postgres) or names
	// a delivery by it (http) tells the two apart by Stream.
	Input string
}

// Stream is the topic, qualified by the input when not the first
// ("orders#union2").
func (o Origin) Stream() string {
	if o.Input == "" {
		return o.Topic
	}
	return o.Topic + "#" + o.Input
}

// Message is one input event, undecoded. The runtime owns it once Read
// returns it, until it acknowledges its batch.
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
// the source's business (it may batch commits in time). Once Ack is
// called the runtime keeps no reference to the batch's messages or their
// bytes, so a source may reuse that memory (the nexmark source does).
type Batch struct {
	Partition int32
	Messages  []Message
	Ack       func()
	// Release, if set, gives the batch up unacknowledged (the pipeline is
	// being abandoned): its records, and every later one of the partition,
	// will be read again, and the source stops waiting for it. After a
	// Release no later batch of the partition is acknowledged.
	Release func()
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

// Output is one encoded result record. Origin is the input record it was
// derived from: a sink that stores offsets with its writes (postgres) uses
// it to skip what it applied before a crash.
//
// Delete marks the deletion of a row an updating result gave the sink
// before (a group that left HAVING, an outer join's NULL-padded row
// replaced by its pair, a top-N position that emptied): Value is nil, so
// a sink of records writes a tombstone of Key; a RowSink gets the row's
// values (see RowSink).
type Output struct {
	Key       []byte
	Value     []byte
	Headers   []transport.Header
	Timestamp time.Time
	Origin    Origin
	Delete    bool
}

// Sink writes outputs. Write returns when every output is durable (or
// delivered, for a stdout sink), or with an error; on error none of the
// batch is considered written and the runtime retries it (at-least-once).
// The exception is a *RejectedError: the outputs it names can never be
// written (the database refused the row, the webhook answered 400, the
// attempts ran out) and every other output of the batch is written; the
// runtime dead-letters the rejected ones and moves on. Write may be called
// from several goroutines (one per task); it must not keep references to
// outputs after it returns.
type Sink interface {
	Write(ctx context.Context, outputs []Output) error
	Close(ctx context.Context) error
}

// RowSink is a Sink that takes typed rows rather than encoded values, as
// a database sink wants: the runtime detects it and calls WriteRows
// instead of Write, skipping the output format (its 'format' option is
// then not used). rows[i] holds the values of outputs[i], in the order of
// Env.Columns (a value's kind may differ from its column's: a NULL, an
// integer of another width); outputs[i].Value is nil, and the other
// fields (Key, Origin, ...) are as for Write. For a deletion
// (outputs[i].Delete) rows[i] holds the deleted row's output values as
// far as the engine still knows them: the group keys of a group that
// left the result, the partition columns and row number of a top-N
// position; values it cannot compute are NULL. A sink deletes by its own
// key columns, in order with the batch's other outputs of the same key.
// Everything Write promises holds: durable on return, a *RejectedError
// naming outputs by index, concurrent calls, no references kept after
// return.
type RowSink interface {
	Sink
	WriteRows(ctx context.Context, rows []types.Row, outputs []Output) error
}

// Rejection is one output a sink gave up on.
type Rejection struct {
	Index    int    // into the outputs given to Write
	Err      error  // why: the database's or the receiver's error
	Code     string // a machine code for the dead-letter header, e.g. a SQLSTATE or "http_400"
	Attempts int    // how many times the sink tried
}

// RejectedError reports outputs a sink will never write; see Sink.
type RejectedError struct {
	Rejected []Rejection
}

func (e *RejectedError) Error() string {
	if len(e.Rejected) == 0 {
		return "connector: no outputs rejected"
	}
	return fmt.Sprintf("connector: %d outputs rejected, the first: %v", len(e.Rejected), e.Rejected[0].Err)
}

// Env is what connectors get from the runtime.
type Env struct {
	Transport transport.Transport
	Logger    *slog.Logger
	// Group is the consumer group a topic source commits to (the
	// pipeline's name, prefixed).
	Group string
	// Source is the name of the source being read (postgres-cdc derives
	// its default topic prefix from it).
	Source string
	// Pipeline is the sink's name (sinks that keep their own progress,
	// like postgres, key it by this).
	Pipeline string
	// Part names the part of a sink whose UNION ALL runs each query as a
	// pipeline of its own ("union1", ...) that this sink writes for;
	// empty for the sink's own. Several parts write one sink at once: a
	// sink with files of its own keeps each part's apart.
	Part string
	// Now is the clock (tests inject one); nil means time.Now. It stamps
	// generated data (datagen); rate limits use the real clock.
	Now func() time.Time
	// Stdout is where the stdout sink writes; nil means os.Stdout.
	Stdout io.Writer
	// Columns are a sink's output columns (names and SQL types), for
	// sinks that map them to a schema of their own (postgres); nil when
	// unknown (CheckSink) and for sources.
	Columns []format.Column
	// ExternalCommit tells a topic source that the runtime commits its
	// offsets (in its transactions): see TopicSourceOptions.ExternalCommit.
	ExternalCommit bool
	// OnAssigned, if set, is called by a topic source with the partitions
	// newly assigned to it, before their committed offsets are read and
	// any of their records returned: a runtime writing transactions takes
	// the partitions' transactional ids there, so a dead owner's open
	// transaction is aborted at once rather than at its timeout (until
	// then it holds back the group's offsets and read_committed readers).
	OnAssigned func(ctx context.Context, partitions []int32)
}

func (e Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}
