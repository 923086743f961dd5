package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	// defaultMaxMessageBytes is Kafka's default max.message.bytes, used
	// when the server does not say the topic's.
	defaultMaxMessageBytes = 1000012
	// maxProduceBufferBytes bounds the records handed to the client but not
	// yet acknowledged; past it reading stops (backpressure).
	maxProduceBufferBytes = 32 << 20
)

// produceOverKafka produces the lines of stdin to topic on the server, as
// runProduce does to a data directory.
func produceOverKafka(ctx context.Context, s *serverFlags, topic string, e *env, opts produceOptions) error {
	maxBatch, err := checkProduceTarget(ctx, s, topic, opts.partition)
	if err != nil {
		return err
	}
	kopts := []kgo.Opt{
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent: the default
		kgo.ProducerBatchMaxBytes(maxBatch),
		kgo.MaxBufferedBytes(max(maxProduceBufferBytes, 2*int(maxBatch))),
	}
	if opts.partition >= 0 {
		kopts = append(kopts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	// Otherwise the default partitioner: murmur2 of a key as Kafka's (and
	// the data-directory mode's), sticky batches for records without one.
	cl, err := s.connect(ctx, kopts...)
	if err != nil {
		return err
	}
	// Records taken from the input are produced even after a signal:
	// canceling their context would drop them from the client's buffer.
	// Only the watchdog cancels it.
	produceCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	p := &kafkaProducer{
		cl:           cl,
		topic:        topic,
		opts:         opts,
		maxBatch:     int(maxBatch),
		timeout:      s.timeout,
		produceCtx:   produceCtx,
		firstFailure: newFirstFailure(),
	}
	stop := make(chan struct{})
	var watchdog sync.WaitGroup
	watchdog.Go(func() { p.watch(stop, cancel) })
	perr := p.run(ctx, e.stdin)
	// Flush returns once every record is acknowledged or failed, or the
	// watchdog gives up; Close then fails what is left.
	_ = cl.Flush(produceCtx)
	close(stop)
	watchdog.Wait()
	cl.Close()
	n := p.acked.Load()
	failure := p.failure()
	switch {
	case failure != nil:
		return fmt.Errorf("%w; %d records acknowledged", errors.Join(failure, perr), n)
	case errors.Is(perr, errInterrupted):
		return &exitError{code: ExitInterrupted, err: fmt.Errorf("%w; %d records acknowledged", perr, n)}
	case perr != nil:
		return fmt.Errorf("%w; %d records acknowledged", perr, n)
	}
	fmt.Fprintf(e.stderr, "produced %d records\n", n)
	return nil
}

// checkProduceTarget checks that the topic (and partition, if one is
// given) exists, and returns the topic's max.message.bytes.
func checkProduceTarget(ctx context.Context, s *serverFlags, topic string, partition int32) (int32, error) {
	adm, err := s.connectAdmin(ctx)
	if err != nil {
		return 0, err
	}
	defer adm.Close()
	partitions, err := adm.topicPartitions(ctx, topic)
	if err != nil {
		return 0, err
	}
	if partition >= 0 && !slices.Contains(partitions, partition) {
		return 0, unknownPartition(topic, partition)
	}
	var configs kadm.ResourceConfigs
	err = adm.do(ctx, "describe configuration of topic "+topic, func(ctx context.Context) (err error) {
		configs, err = adm.DescribeTopicConfigs(ctx, topic)
		return err
	})
	if err != nil {
		return 0, err
	}
	maxBatch := int32(defaultMaxMessageBytes)
	for _, rc := range configs {
		// A resource error (say, not authorized to describe) leaves
		// Kafka's default; the server still enforces its limit.
		for _, c := range rc.Configs {
			if c.Key == "max.message.bytes" && c.Value != nil {
				if v, err := strconv.ParseInt(*c.Value, 10, 32); err == nil {
					maxBatch = int32(v)
				}
			}
		}
	}
	// The client refuses limits outside [512, 1 GiB].
	return min(max(maxBatch, 512), 1<<30), nil
}

var _ lineAdder = (*kafkaProducer)(nil)

// kafkaProducer hands the lines of its input to a Kafka client as
// records. One goroutine (run) reads and produces; the client calls
// promise, serially, as records are acknowledged or fail.
type kafkaProducer struct {
	cl         *kgo.Client
	topic      string
	opts       produceOptions
	maxBatch   int
	timeout    time.Duration
	produceCtx context.Context
	lines      int64

	acked    atomic.Int64
	promised atomic.Int64 // acknowledged or failed
	firstFailure
}

// run reads in to its end (or a failure, or ctx's end) and hands every
// line to the client; it does not wait for acknowledgements.
func (p *kafkaProducer) run(ctx context.Context, in io.Reader) error {
	chunks := make(chan chunk, 4)
	free := make(chan []byte, 8)
	done := make(chan struct{})
	defer close(done)
	// As in producer.run, readInput may outlive run.
	go readInput(in, chunks, free, done)

	var partial []byte // a line split across chunks
	for {
		select {
		case <-ctx.Done():
			partial, err := drain(p, chunks, partial)
			switch {
			case err != nil:
				return err
			case len(partial) > 0:
				return fmt.Errorf("%w (an unfinished last line of %d bytes was not produced)", errInterrupted, len(partial))
			}
			return errInterrupted
		case <-p.failed:
			return nil // the caller reports the failure
		case c, ok := <-chunks:
			var err error
			switch {
			case !ok: // end of input
				if len(partial) > 0 {
					return p.add(partial)
				}
				return nil
			case c.err != nil:
				return fmt.Errorf("read stdin: %w", c.err)
			}
			partial, err = p.addLines(partial, c.data)
			select {
			case free <- c.data:
			default:
			}
			if err != nil {
				// Bad input: every line before it is produced, none after.
				return err
			}
		}
	}
}

func (p *kafkaProducer) addLines(partial, data []byte) ([]byte, error) {
	return splitLines(partial, data, p.maxBatch, p.add, func() error { return p.tooLarge(p.lines + 1) })
}

// add produces one line (without its '\n'), with the same rules as the
// data-directory producer: one trailing '\r' removed, the key before the
// first --key-sep. It copies the line.
func (p *kafkaProducer) add(line []byte) error {
	p.lines++
	key, value := splitLine(line, p.opts.keySep)
	if singleRecordBatchSize(key, value) > p.maxBatch {
		return p.tooLarge(p.lines)
	}
	// One allocation for both; value is never nil, so that an empty line
	// is an empty value, not a null one.
	buf := make([]byte, len(key)+len(value))
	r := &kgo.Record{Value: buf[len(key):]}
	copy(r.Value, value)
	if key != nil {
		r.Key = buf[:len(key):len(key)]
		copy(r.Key, key)
	}
	if p.opts.partition >= 0 {
		r.Partition = p.opts.partition
	}
	// Blocks while the client's buffer is full.
	p.cl.Produce(p.produceCtx, r, p.promise)
	return nil
}

func (p *kafkaProducer) promise(r *kgo.Record, err error) {
	p.promised.Add(1)
	if err == nil {
		p.acked.Add(1)
		return
	}
	p.fail(fmt.Errorf("produce to %s-%d: %w", r.Topic, r.Partition, err))
}

// watch fails the producer, and cancels the records' context, once
// records have waited --timeout without the client reporting any
// outcome: the server is gone or stuck. (The client's own
// RecordDeliveryTimeout cannot be used: it never fails a record that was
// sent without an answer, as the server may have stored it, and it would
// fail records that merely queue behind a slow but working server.)
func (p *kafkaProducer) watch(stop <-chan struct{}, cancel context.CancelFunc) {
	tick := time.NewTicker(min(p.timeout/4, time.Second))
	defer tick.Stop()
	last, since := p.promised.Load(), time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			if n := p.promised.Load(); n != last || p.cl.BufferedProduceRecords() == 0 {
				last, since = n, now
				continue
			}
			if now.Sub(since) >= p.timeout {
				// First the failure, so that it is the one reported.
				p.fail(fmt.Errorf("no acknowledgement from the server within --timeout %s", p.timeout))
				cancel()
				return
			}
		}
	}
}

func (p *kafkaProducer) tooLarge(line int64) error {
	return &answerError{err: kerr.MessageTooLarge, message: fmt.Sprintf(
		"line %d does not fit in a batch of max.message.bytes=%d (topic %s)", line, p.maxBatch, p.topic)}
}
