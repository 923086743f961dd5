package cli

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

const (
	consumeReadBytes = 1 << 20
	// maxDecompressedBatch caps what one stored batch may decompress to.
	maxDecompressedBatch = 64 << 20
)

// errMaxReached stops consume once --max records are printed.
var errMaxReached = errors.New("max records printed")

type consumeOptions struct {
	partition int32     // -1: every partition
	offset    int64     // -1: not given
	fromTime  time.Time // zero: not given
	max       int64     // 0: no limit
	json      bool
	keySep    []byte // raw format: print key, keySep, value when the key is not null
	follow    bool
}

func newConsumeCommand(g *globals, e *env) *cobra.Command {
	var (
		opts          = consumeOptions{partition: -1, offset: -1}
		fromBeginning bool
		fromTime      string
		format        string
		keySep        string
		group         string
		s             = &serverFlags{}
	)
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print a topic's records",
		Long: `Print a topic's records to stdout, in offset order within each partition.

Where to start (one of):
  --from-beginning   the first stored offset of each partition (the default)
  --offset N         offset N of each partition read; N must lie between a
                     partition's start and end offsets (see topic describe)
  --from-time T      the first record with a timestamp at or after T (RFC 3339,
                     e.g. 2024-05-01T12:00:00Z); the end if there is none

Without --partition every partition is read: without --follow one after the
other, in partition order; with --follow all at once, records of different
partitions interleaved. Without --follow the command exits at the end of the
data; with it, it waits for new records until SIGINT or SIGTERM. Either way it
prints "consumed N records" to stderr and exits 0.

Formats:
  raw    each value on its own line (a null value as an empty line); with
         --key-sep SEP, keyed records print as key SEP value
  json   one object per line:
         {"partition":0,"offset":5,"key":"k","value":"v",
          "timestamp":"2024-05-01T12:00:00.123Z",
          "headers":[{"key":"h","value":"v"}]}
         A key or value is a JSON string if its bytes are valid UTF-8 and
         null if it is null; otherwise "key" or "value" is left out and
         "key_base64" or "value_base64" holds its bytes in standard base64.
         Exactly one of the two is present. The same holds for header values.
         Headers are a list because Kafka allows repeated header keys.
         A record without a timestamp (-1) has "timestamp":null.

A data directory is open by one process at a time, so --follow sees only
what is appended in this process; to follow a running server use --server.

With --server the records come from a server over the Kafka protocol, in
the same formats. Without --follow the command stops at the end offsets the
server reported when it started. It fails (exit 1) when the server sends
nothing for --timeout although records remain to be read.

With --group G (needs --server) the command reads as a member of consumer
group G: the group assigns the partitions (so --partition does not apply),
and each partition starts at the group's committed offset; --from-beginning,
--offset and --from-time apply only to partitions without one (Kafka's
auto.offset.reset). The command commits the offsets of the records it
printed: before it exits, and with --follow also every 5 seconds and when
the group takes partitions away. Several members share the partitions.`,
		Example: `  tide consume orders --max 10
  tide consume orders --partition 2 --offset 1500 --format json
  tide consume orders --from-time 2024-05-01T00:00:00Z --format json
  tide consume orders --server 127.0.0.1:9092 --group billing --follow`,
		Args: cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			flags := cmd.Flags()
			starts := 0
			for _, name := range []string{"from-beginning", "offset", "from-time"} {
				if flags.Changed(name) {
					starts++
				}
			}
			if starts > 1 {
				return usageErrorf("give one of --from-beginning, --offset and --from-time")
			}
			if flags.Changed("partition") && opts.partition < 0 {
				return usageErrorf("--partition %d: must not be negative", opts.partition)
			}
			if !flags.Changed("partition") {
				opts.partition = -1
			}
			if flags.Changed("offset") && opts.offset < 0 {
				return usageErrorf("--offset %d: must not be negative", opts.offset)
			}
			if !flags.Changed("offset") {
				opts.offset = -1
			}
			if flags.Changed("from-beginning") && !fromBeginning {
				return usageErrorf("--from-beginning=false: give --offset or --from-time instead")
			}
			if flags.Changed("from-time") {
				t, err := time.Parse(time.RFC3339, fromTime)
				if err != nil {
					return usageErrorf("--from-time %q: want RFC 3339, e.g. 2024-05-01T12:00:00Z", fromTime)
				}
				opts.fromTime = t
			}
			if opts.max < 0 {
				return usageErrorf("--max %d: must not be negative", opts.max)
			}
			switch format {
			case "raw":
			case "json":
				opts.json = true
			default:
				return usageErrorf("--format %q: want raw or json", format)
			}
			if flags.Changed("key-sep") {
				if opts.json {
					return usageErrorf("--key-sep applies to --format raw only")
				}
				if keySep == "" {
					return usageErrorf("--key-sep must not be empty")
				}
				opts.keySep = []byte(keySep)
			}
			server, err := s.useServer(cmd)
			switch {
			case err != nil:
				return err
			case flags.Changed("group") && group == "":
				return usageErrorf("--group must not be empty")
			case group != "" && !server:
				return usageErrorf("--group needs --server: consumer groups live on a server")
			case group != "" && flags.Changed("partition"):
				return usageErrorf("--partition does not apply with --group: the group assigns partitions")
			case server:
				return kafkaExit(consumeOverKafka(cmd.Context(), s, args[0], group, opts, e))
			}
			return withLog(g.dataDir, false, func(l *log.Log) error {
				t, err := l.Topic(args[0])
				if err != nil {
					return err
				}
				n, err := consume(cmd.Context(), t, opts, e.stdout)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "consumed %d records\n", n)
				return nil
			})
		}),
	}
	g.addDataDirFlag(cmd, e)
	s.addFlags(cmd, e)
	f := cmd.Flags()
	f.BoolVar(&fromBeginning, "from-beginning", true, "start at the first stored offset")
	f.Int64Var(&opts.offset, "offset", 0, "start at offset `N` of every partition read")
	f.StringVar(&fromTime, "from-time", "", "start at the first record timestamped at or after `T` (RFC 3339)")
	f.Int32Var(&opts.partition, "partition", 0, "read only partition `P`")
	f.Int64Var(&opts.max, "max", 0, "stop after `N` records (0: no limit)")
	f.StringVar(&format, "format", "raw", "output `format`: raw or json")
	f.StringVar(&keySep, "key-sep", "", "raw format: print keyed records as key `SEP` value")
	f.BoolVarP(&opts.follow, "follow", "f", false, "wait for new records instead of exiting at the end")
	f.StringVar(&group, "group", "", "with --server: read as a member of consumer group `G`, committing what is printed")
	return cmd
}

// consume prints the records of t that opts select to w and returns how
// many it printed. It ends at the end of the data, or with --follow when
// ctx ends; both are a clean stop, as is reaching opts.max.
func consume(ctx context.Context, t *log.Topic, opts consumeOptions, w io.Writer) (int64, error) {
	partitions := t.Partitions()
	if opts.partition >= 0 {
		p, err := t.Partition(opts.partition)
		if err != nil {
			return 0, err
		}
		partitions = []*log.Partition{p}
	}
	// Find every start first, so that a bad --offset fails before any output.
	starts := make([]int64, len(partitions))
	for i, p := range partitions {
		start, err := startOffset(p, opts)
		if err != nil {
			return 0, err
		}
		starts[i] = start
	}

	pr := &printer{w: bufio.NewWriterSize(w, 64<<10), opts: opts}
	var err error
	if opts.follow {
		err = followAll(ctx, partitions, starts, pr)
	} else {
		for i, p := range partitions {
			if err = readPartition(ctx, p, starts[i], pr, false); err != nil {
				break
			}
		}
	}
	if errors.Is(err, errMaxReached) || errors.Is(err, context.Canceled) {
		err = nil
	}
	if ferr := pr.flush(); err == nil {
		err = ferr
	}
	return pr.count(), err
}

func startOffset(p *log.Partition, opts consumeOptions) (int64, error) {
	o := p.Offsets()
	switch {
	case opts.offset >= 0:
		if opts.offset < o.LogStart || opts.offset > o.HighWatermark {
			return 0, fmt.Errorf("%w: offset %d is not in [%d, %d] of partition %s", log.ErrOffsetOutOfRange, opts.offset, o.LogStart, o.HighWatermark, p)
		}
		return opts.offset, nil
	case !opts.fromTime.IsZero():
		offset, _, err := p.OffsetForTime(opts.fromTime.UnixMilli())
		if err != nil {
			return 0, fmt.Errorf("find offset for time in %s: %w", p, err)
		}
		if offset < 0 { // every record is older
			return o.HighWatermark, nil
		}
		return offset, nil
	}
	return o.LogStart, nil
}

// followAll reads every partition concurrently until ctx ends, one of them
// fails or --max is reached; it owns and stops the goroutines it starts.
func followAll(ctx context.Context, partitions []*log.Partition, starts []int64, pr *printer) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i, p := range partitions {
		wg.Go(func() {
			if err := readPartition(ctx, p, starts[i], pr, true); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// readPartition prints p's records from offset on, to the end or, with
// follow, until ctx ends.
func readPartition(ctx context.Context, p *log.Partition, offset int64, pr *printer, follow bool) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := p.Read(offset, consumeReadBytes)
		if err != nil {
			return fmt.Errorf("read %s at offset %d: %w", p, offset, err)
		}
		if len(res.Batches) == 0 {
			if !follow {
				return nil
			}
			if err := p.Wait(ctx, offset); err != nil {
				return err
			}
			continue
		}
		for b := res.Batches; len(b) > 0; {
			h, err := record.ParseHeader(b)
			if err != nil {
				return fmt.Errorf("read %s at offset %d: %w", p, offset, err)
			}
			batch := b[:h.Size()]
			b = b[h.Size():]
			if h.Control() || h.LastOffset() < offset {
				// Transaction markers are not data; a batch wholly below
				// offset was read only because Read returns whole batches.
				offset = max(offset, h.LastOffset()+1)
				continue
			}
			_, recs, err := record.DecodeRecords(batch, maxDecompressedBatch)
			if err != nil {
				return fmt.Errorf("read %s at offset %d: %w", p, h.BaseOffset, err)
			}
			if err := pr.print(p.ID(), recs, offset); err != nil {
				return err
			}
			offset = h.LastOffset() + 1
		}
		if follow {
			if err := pr.flush(); err != nil {
				return err
			}
		}
	}
}

// printer formats records; it is safe for concurrent use, and each record
// is written whole.
type printer struct {
	opts consumeOptions
	mu   sync.Mutex
	w    *bufio.Writer
	n    int64
	line []byte
}

// print prints the records at or after from. It returns errMaxReached once
// opts.max records are printed.
func (pr *printer) print(partition int32, recs []record.Record, from int64) error {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for i := range recs {
		r := &recs[i]
		if r.Offset < from {
			continue
		}
		if pr.opts.max > 0 && pr.n >= pr.opts.max {
			return errMaxReached
		}
		if pr.opts.json {
			pr.line = appendJSONRecord(pr.line[:0], partition, r)
		} else {
			pr.line = appendRawRecord(pr.line[:0], r, pr.opts.keySep)
		}
		if _, err := pr.w.Write(pr.line); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		pr.n++
	}
	if pr.opts.max > 0 && pr.n >= pr.opts.max {
		return errMaxReached
	}
	return nil
}

func (pr *printer) flush() error {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if err := pr.w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func (pr *printer) count() int64 {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.n
}

func appendRawRecord(b []byte, r *record.Record, keySep []byte) []byte {
	if keySep != nil && r.Key != nil {
		b = append(b, r.Key...)
		b = append(b, keySep...)
	}
	b = append(b, r.Value...)
	return append(b, '\n')
}

// appendJSONRecord appends one line of the json format; see the consume
// command's help for the rules.
func appendJSONRecord(b []byte, partition int32, r *record.Record) []byte {
	b = append(b, `{"partition":`...)
	b = strconv.AppendInt(b, int64(partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	b = appendJSONBytesField(b, "key", r.Key)
	b = appendJSONBytesField(b, "value", r.Value)
	b = append(b, `,"timestamp":`...)
	if r.Timestamp < 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = time.UnixMilli(r.Timestamp).UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = append(b, `,"headers":[`...)
	for i, h := range r.Headers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = format.AppendJSONString(b, h.Key)
		b = appendJSONBytesField(b, "value", h.Value)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// appendJSONBytesField appends ,"name":"text" if v is valid UTF-8,
// ,"name":null if v is null, and ,"name_base64":"..." otherwise.
func appendJSONBytesField(b []byte, name string, v []byte) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	switch {
	case v == nil:
		return append(b, `":null`...)
	case utf8.Valid(v):
		b = append(b, '"', ':')
		return format.AppendJSONString(b, v)
	}
	b = append(b, `_base64":"`...)
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}
