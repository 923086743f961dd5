package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

const (
	defaultProduceBatchBytes = 256 << 10
	// produceLinger is how long a record may wait for its batch to fill
	// before the batch is appended anyway, so that slow or interactive
	// input is stored promptly.
	produceLinger = 100 * time.Millisecond
	// maxPendingBytes bounds the records read but not yet in a batch, over
	// all partitions; past it every open batch is sealed.
	maxPendingBytes = 32 << 20
	// maxInFlightBytes bounds the batches built but not yet appended; past
	// it reading stops until appends catch up (backpressure).
	maxInFlightBytes = 64 << 20
	// maxAppendBytes bounds how many queued batches of one partition are
	// appended in one call (one write, one fsync). The topic's
	// segment.bytes bounds it too: the log decides to roll a segment per
	// call, so a larger call would overshoot the segment size.
	maxAppendBytes = 4 << 20
	readChunkBytes = 64 << 10
)

// errInterrupted reports a signal that stopped produce before the end of
// its input.
var errInterrupted = errors.New("interrupted before the end of input")

type produceOptions struct {
	keySep     []byte // nil: no keys
	partition  int32  // -1: chosen per record
	batchBytes int
}

func newProduceCommand(g *globals, e *env) *cobra.Command {
	var (
		keySep     string
		partition  int32
		batchBytes int
		s          = &serverFlags{}
	)
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Append lines from stdin to a topic, one record per line",
		Long: `Append the lines of stdin to a topic, one record value per line.

Lines end with '\n'; one trailing '\r' is removed, so files with CRLF line
ends produce the same records as with LF. Every line is a record, an empty
line an empty value; input that does not end with '\n' still produces its
last line. A line may be as long as the topic's max.message.bytes allows.

With --key-sep SEP the key is the part of the line before the first SEP and
the value the part after it. A line without SEP has a null key and the whole
line as its value.

A record goes to --partition if given; otherwise a keyed record goes where
Kafka's default partitioner (murmur2 of the key) puts it, so Tide and Kafka
clients agree, and unkeyed records fill one partition's batch at a time,
moving to the next partition with each batch (Kafka's sticky partitioner).
Records are batched (up to --batch-bytes, at most 100ms of waiting);
different partitions are appended concurrently, each in input order.
Record timestamps are the time each line was read.

The command exits 0 only once every record is durably appended and then
prints "produced N records" to stderr. On a failure it exits non-zero and
says how many records were durably appended; on SIGINT or SIGTERM it stops
reading, appends what it has read and exits 130.

With --server the records go to a server over the Kafka protocol, with an
idempotent producer and acks=all: "produced N records" then means every
record was acknowledged (durable on the server), and a failure says how many
were. Placement is the same (--partition, else murmur2 of the key, else
sticky batches); batching is the client's (--batch-bytes does not apply).
When records wait and the server acknowledges none for --timeout, the
command fails.`,
		Example: `  seq 1000 | tide produce numbers
  printf 'user1:login\nuser2:logout\n' | tide produce events --key-sep :`,
		Args: cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			opts := produceOptions{partition: -1, batchBytes: batchBytes}
			if cmd.Flags().Changed("key-sep") {
				if keySep == "" {
					return usageErrorf("--key-sep must not be empty")
				}
				opts.keySep = []byte(keySep)
			}
			if cmd.Flags().Changed("partition") {
				if partition < 0 {
					return usageErrorf("--partition %d: must not be negative", partition)
				}
				opts.partition = partition
			}
			if batchBytes < 1 {
				return usageErrorf("--batch-bytes %d: must be positive", batchBytes)
			}
			switch server, err := s.useServer(cmd); {
			case err != nil:
				return err
			case server:
				return kafkaExit(produceOverKafka(cmd.Context(), s, args[0], e, opts))
			}
			return runProduce(cmd.Context(), g.dataDir, args[0], e, opts)
		}),
	}
	g.addDataDirFlag(cmd, e)
	s.addFlags(cmd, e)
	cmd.Flags().StringVar(&keySep, "key-sep", "", "take the key from before the first `SEP` of each line")
	cmd.Flags().Int32Var(&partition, "partition", 0, "append every record to partition `P`")
	cmd.Flags().IntVar(&batchBytes, "batch-bytes", defaultProduceBatchBytes, "largest batch to build, in `bytes`; capped by the topic's max.message.bytes (data directory only)")
	return cmd
}

func runProduce(ctx context.Context, dataDir, topic string, e *env, opts produceOptions) error {
	l, err := openLog(dataDir, false)
	if err != nil {
		return err
	}
	t, err := l.Topic(topic)
	if err == nil && opts.partition >= 0 {
		_, err = t.Partition(opts.partition)
	}
	if err != nil {
		_ = l.Close() // nothing was written; the error that matters is err
		return err
	}

	p := newProducer(t, opts)
	perr := p.run(ctx, e.stdin)
	n := p.appended()
	// Close fsyncs every partition, which is what makes the records
	// durable when the topic's fsync mode is not "always".
	cerr := l.Close()
	durable := "durably"
	if cerr != nil {
		perr = errors.Join(perr, fmt.Errorf("close data directory: %w", cerr))
		if t.Config().Fsync != log.FsyncAlways {
			durable = "not known to be durably"
		}
	}
	switch {
	case errors.Is(perr, errInterrupted) && cerr == nil:
		return &exitError{code: ExitInterrupted, err: fmt.Errorf("%w; %d records %s appended", perr, n, durable)}
	case perr != nil:
		return fmt.Errorf("%w; %d records %s appended", perr, n, durable)
	}
	fmt.Fprintf(e.stderr, "produced %d records\n", n)
	return nil
}

// producer turns lines into batches and appends them. One goroutine (run)
// reads and batches; one appender goroutine per partition, started on
// first use and stopped by finish, appends that partition's batches in
// order.
type producer struct {
	topic      *log.Topic
	partitions []*log.Partition
	opts       produceOptions
	// maxBatch is the largest batch the topic accepts, target the size at
	// which a batch is sealed.
	maxBatch, target int
	// maxAppend is how many bytes of queued batches one Append may take.
	maxAppend int
	sticky    int32 // partition for unkeyed records

	pending      []*pendingBatch // by partition, nil until used
	open         []int32         // partitions with pending records
	pendingBytes int
	lines        int64
	scratch      []record.Record

	inFlight  *byteBudget
	appenders []chan *outBatch // by partition, nil until used
	wg        sync.WaitGroup

	mu struct {
		sync.Mutex
		appended int64
	}
	firstFailure
}

// pendingBatch holds the records of one partition's next batch: keys and
// values back to back in arena.
type pendingBatch struct {
	arena   []byte
	records []pendingRecord
	size    int       // upper bound of the encoded batch size
	first   time.Time // when the first record was read
	isOpen  bool      // listed in producer.open
}

type pendingRecord struct {
	keyLen, valueLen int32 // -1 for null
	timestamp        int64
}

// The buffers of pending batches go back to these pools when a batch is
// sealed, so that memory follows the records pending (bounded by
// maxPendingBytes), not the number of partitions ever written.
var (
	arenaPool   = sync.Pool{New: func() any { return new([]byte) }}
	recordsPool = sync.Pool{New: func() any { return new([]pendingRecord) }}
)

type outBatch struct {
	data    []byte
	records int64
}

func newProducer(t *log.Topic, opts produceOptions) *producer {
	cfg := t.Config()
	maxBatch := int(cfg.MaxMessageBytes)
	n := t.NumPartitions()
	return &producer{
		topic:        t,
		partitions:   t.Partitions(),
		opts:         opts,
		maxBatch:     maxBatch,
		target:       min(opts.batchBytes, maxBatch),
		maxAppend:    int(min(maxAppendBytes, cfg.SegmentBytes)),
		sticky:       rand.Int32N(n),
		pending:      make([]*pendingBatch, n),
		appenders:    make([]chan *outBatch, n),
		inFlight:     newByteBudget(maxInFlightBytes),
		firstFailure: newFirstFailure(),
	}
}

type chunk struct {
	data []byte
	err  error
}

// run reads in to its end (or a failure, or ctx's end), appends every
// record read, and returns once every append has finished.
func (p *producer) run(ctx context.Context, in io.Reader) error {
	chunks := make(chan chunk, 4)
	free := make(chan []byte, 8)
	done := make(chan struct{})
	defer close(done)
	// readInput may outlive run: a Read blocked on a terminal or pipe
	// cannot be interrupted portably. It stops at its next chunk once done
	// is closed, and at the latest when the process exits.
	go readInput(in, chunks, free, done)

	ticker := time.NewTicker(produceLinger / 2)
	defer ticker.Stop()
	var partial []byte // a line split across chunks
	for {
		select {
		case <-ctx.Done():
			// Whatever was taken from the input is appended: the chunks
			// already read, but not an unfinished last line, which the
			// writer may not have finished.
			var err error
			partial, err = drain(p, chunks, partial)
			p.sealAll()
			p.finish()
			if ferr := p.failure(); ferr != nil {
				return ferr
			}
			if err != nil {
				return err
			}
			if len(partial) > 0 {
				return fmt.Errorf("%w (an unfinished last line of %d bytes was not appended)", errInterrupted, len(partial))
			}
			return errInterrupted
		case <-p.failed:
			p.finish()
			return p.failure()
		case now := <-ticker.C:
			p.sealOlderThan(now.Add(-produceLinger))
		case c, ok := <-chunks:
			var err error
			switch {
			case !ok: // end of input
				if len(partial) > 0 {
					err = p.add(partial)
				}
				p.sealAll()
				p.finish()
				return errors.Join(p.failure(), err)
			case c.err != nil:
				// Store what was read before the failure: it was taken
				// from the input and would otherwise be lost silently.
				p.sealAll()
				p.finish()
				return errors.Join(p.failure(), fmt.Errorf("read stdin: %w", c.err))
			}
			partial, err = p.addLines(partial, c.data)
			select {
			case free <- c.data:
			default:
			}
			if err != nil {
				// Bad input: append every line before it, none after, so
				// that the count printed says where to resume.
				p.sealAll()
				p.finish()
				return errors.Join(p.failure(), err)
			}
		}
	}
}

// lineAdder takes the lines of produce's input.
type lineAdder interface {
	// addLines adds the complete lines of data, partial holding the start
	// of the first one, and returns the start of an unfinished last line.
	addLines(partial, data []byte) ([]byte, error)
	// add adds one line without its '\n'.
	add(line []byte) error
}

var _ lineAdder = (*producer)(nil)

// drain adds the lines of the chunks already read, without waiting for
// more.
func drain(p lineAdder, chunks <-chan chunk, partial []byte) ([]byte, error) {
	for {
		select {
		case c, ok := <-chunks:
			if !ok && len(partial) > 0 { // the input ended: the line is whole
				return nil, p.add(partial)
			}
			if !ok || c.err != nil {
				// The reader's error is reported by its owner; here the
				// input simply ends.
				return partial, nil //nolint:nilerr // c.err is handled by the caller that owns the reader
			}
			var err error
			if partial, err = p.addLines(partial, c.data); err != nil {
				return partial, err
			}
		default:
			return partial, nil
		}
	}
}

func readInput(in io.Reader, out chan<- chunk, free chan []byte, done <-chan struct{}) {
	defer close(out)
	for {
		var buf []byte
		select {
		case buf = <-free:
		default:
			buf = make([]byte, readChunkBytes)
		}
		n, err := in.Read(buf[:cap(buf)])
		if n > 0 {
			select {
			case out <- chunk{data: buf[:n]}:
			case <-done:
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				select {
				case out <- chunk{err: err}:
				case <-done:
				}
			}
			return
		}
	}
}

// addLines adds the complete lines of data, partial holding the start of
// the first one, and returns the start of an unfinished last line.
func (p *producer) addLines(partial, data []byte) ([]byte, error) {
	return splitLines(partial, data, p.maxBatch, p.add, func() error { return p.tooLarge(p.lines + 1) })
}

// splitLines calls add with each complete line of data (without its
// '\n'), partial holding the start of the first one, and returns the start
// of an unfinished last line. An unfinished line longer than maxLine
// fails with tooLong before more of it is buffered.
func splitLines(partial, data []byte, maxLine int, add func(line []byte) error, tooLong func() error) ([]byte, error) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(partial)+len(data) > maxLine {
				// No record can hold it; stop before buffering more.
				return partial, tooLong()
			}
			return append(partial, data...), nil
		}
		line := data[:i]
		if len(partial) > 0 {
			partial = append(partial, line...)
			line = partial
		}
		if err := add(line); err != nil {
			return partial, err
		}
		partial = partial[:0]
		data = data[i+1:]
	}
	return partial, nil
}

func (p *producer) tooLarge(line int64) error {
	return fmt.Errorf("%w: line %d does not fit in a batch of max.message.bytes=%d (topic %s)",
		log.ErrMessageTooLarge, line, p.maxBatch, p.topic.Name())
}

// splitLine applies produce's input rules, the same with and without
// --server: one trailing '\r' is dropped, and with a key separator the key
// is what comes before its first occurrence; a line without it has a null
// key and is all value.
func splitLine(line, keySep []byte) (key, value []byte) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if keySep != nil {
		if k, v, ok := bytes.Cut(line, keySep); ok {
			return k, v
		}
	}
	return nil, line
}

// add turns one line (without its '\n') into a record of the right
// partition's pending batch. It copies the line.
func (p *producer) add(line []byte) error {
	p.lines++
	key, value := splitLine(line, p.opts.keySep)
	if singleRecordBatchSize(key, value) > p.maxBatch {
		return p.tooLarge(p.lines)
	}

	partition := p.partitionFor(key)
	pb := p.pending[partition]
	if pb == nil {
		pb = &pendingBatch{size: record.BatchHeaderSize}
		p.pending[partition] = pb
	}
	bound := recordSizeBound(key, value)
	if len(pb.records) > 0 && pb.size+bound > p.target {
		p.seal(partition)
	}
	now := time.Now()
	if len(pb.records) == 0 {
		pb.first = now
		if pb.arena == nil {
			pb.arena = (*arenaPool.Get().(*[]byte))[:0]
			pb.records = (*recordsPool.Get().(*[]pendingRecord))[:0]
		}
		if !pb.isOpen {
			pb.isOpen = true
			p.open = append(p.open, partition)
		}
	}
	rec := pendingRecord{keyLen: -1, valueLen: int32(len(value)), timestamp: now.UnixMilli()}
	if key != nil {
		rec.keyLen = int32(len(key))
		pb.arena = append(pb.arena, key...)
	}
	pb.arena = append(pb.arena, value...)
	pb.records = append(pb.records, rec)
	pb.size += bound
	p.pendingBytes += bound
	switch {
	case pb.size >= p.target:
		p.seal(partition)
	case p.pendingBytes > maxPendingBytes:
		p.sealAll()
	}
	return nil
}

func (p *producer) partitionFor(key []byte) int32 {
	switch {
	case p.opts.partition >= 0:
		return p.opts.partition
	case key != nil:
		return record.PartitionForKey(key, int32(len(p.partitions)))
	}
	return p.sticky
}

// recordSizeBound is at least the encoded size of a record holding key and
// value in any batch of this producer: length, attributes, timestamp delta
// (up to 10 bytes), offset delta, key and value lengths (5 bytes each at
// most) and an empty header count.
func recordSizeBound(key, value []byte) int {
	return 5 + 1 + 10 + 5 + 5 + len(key) + 5 + len(value) + 1
}

// singleRecordBatchSize is the exact size of a batch holding only this
// record, which is how large a line may be.
func singleRecordBatchSize(key, value []byte) int {
	body := 1 + 1 + 1 + varbytesLen(key) + varbytesLen(value) + 1
	return record.BatchHeaderSize + varintLen(int64(body)) + body
}

func varbytesLen(b []byte) int {
	if b == nil {
		return 1
	}
	return varintLen(int64(len(b))) + len(b)
}

func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

var emptyBytes = []byte{}

// seal encodes partition's pending records as one batch and queues it for
// its appender, waiting while too many bytes are in flight.
func (p *producer) seal(partition int32) {
	pb := p.pending[partition]
	if pb == nil || len(pb.records) == 0 {
		return
	}
	recs := p.scratch[:0]
	pos := 0
	slice := func(length int32) []byte {
		n := int(length)
		switch n {
		case -1:
			return nil
		case 0:
			return emptyBytes // not arena[pos:pos], which is nil while arena is
		}
		b := pb.arena[pos : pos+n : pos+n]
		pos += n
		return b
	}
	for _, r := range pb.records {
		key := slice(r.keyLen)
		value := slice(r.valueLen)
		recs = append(recs, record.Record{Timestamp: r.timestamp, Key: key, Value: value})
	}
	data, err := record.AppendBatch(make([]byte, 0, pb.size), recs, record.BatchOptions{})
	clear(recs)
	p.scratch = recs[:0]
	if err != nil {
		// Cannot happen: the records are few enough and the options fixed.
		panic(fmt.Sprintf("cli: encode batch: %v", err))
	}
	b := &outBatch{data: data, records: int64(len(pb.records))}
	p.pendingBytes -= pb.size
	arena, records := pb.arena[:0], pb.records[:0]
	arenaPool.Put(&arena)
	recordsPool.Put(&records)
	pb.arena, pb.records, pb.size = nil, nil, record.BatchHeaderSize
	if partition == p.sticky {
		p.sticky = (p.sticky + 1) % int32(len(p.partitions))
	}

	p.inFlight.acquire(len(data))
	ch := p.appenders[partition]
	if ch == nil {
		ch = make(chan *outBatch, 16)
		p.appenders[partition] = ch
		part := p.partitions[partition]
		p.wg.Go(func() { p.appendLoop(part, ch) })
	}
	ch <- b
}

func (p *producer) sealAll() {
	for _, partition := range p.open {
		p.seal(partition)
		p.pending[partition].isOpen = false
	}
	p.open = p.open[:0]
}

// sealOlderThan seals the batches whose first record was read before
// cutoff.
func (p *producer) sealOlderThan(cutoff time.Time) {
	kept := p.open[:0]
	for _, partition := range p.open {
		pb := p.pending[partition]
		if len(pb.records) > 0 && pb.first.Before(cutoff) {
			p.seal(partition)
		}
		if len(pb.records) > 0 {
			kept = append(kept, partition)
		} else {
			pb.isOpen = false
		}
	}
	p.open = kept
}

// finish stops the appenders once they have drained their queues.
func (p *producer) finish() {
	for i, ch := range p.appenders {
		if ch != nil {
			close(ch)
			p.appenders[i] = nil
		}
	}
	p.wg.Wait()
}

// appendLoop appends one partition's batches in the order queued. Batches
// that are already waiting are appended together, in one write and one
// fsync. After any append failure it appends nothing more but keeps
// draining, so that seal never blocks.
func (p *producer) appendLoop(part *log.Partition, ch <-chan *outBatch) {
	for b := range ch {
		data, records := b.data, b.records
		coalesced := false
		for len(data) < p.maxAppend {
			next, ok := tryReceive(ch)
			if !ok {
				break
			}
			if !coalesced {
				// A fresh buffer each time: one kept per partition would
				// pin up to maxAppend bytes for each of thousands.
				data = append(make([]byte, 0, 2*len(data)), data...)
				coalesced = true
			}
			data = append(data, next.data...)
			records += next.records
		}
		if p.failure() == nil {
			if _, err := part.Append(data); err != nil {
				p.fail(fmt.Errorf("append to %s: %w", part, err))
			} else {
				p.mu.Lock()
				p.mu.appended += records
				p.mu.Unlock()
			}
		}
		p.inFlight.release(len(data))
	}
}

// tryReceive returns the next queued batch without waiting for one.
func tryReceive(ch <-chan *outBatch) (*outBatch, bool) {
	select {
	case b, ok := <-ch:
		return b, ok
	default:
		return nil, false
	}
}

func (p *producer) appended() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.appended
}

// byteBudget bounds the bytes in flight. A request larger than the whole
// budget waits until nothing else is in flight.
type byteBudget struct {
	max int
	mu  struct {
		sync.Mutex
		cond  sync.Cond
		inUse int
	}
}

func newByteBudget(n int) *byteBudget {
	b := &byteBudget{max: n}
	b.mu.cond.L = &b.mu.Mutex
	return b
}

func (b *byteBudget) acquire(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.mu.inUse > 0 && b.mu.inUse+n > b.max {
		b.mu.cond.Wait()
	}
	b.mu.inUse += n
}

func (b *byteBudget) release(n int) {
	b.mu.Lock()
	b.mu.inUse -= n
	b.mu.Unlock()
	b.mu.cond.Broadcast()
}
