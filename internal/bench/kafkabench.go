package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaOptions configures a Kafka-protocol benchmark: the same franz-go
// workload against Tide's listener and, in the same run, against a peer
// (Apache Kafka) as the baseline.
type KafkaOptions struct {
	// Targets maps a name ("tide", "kafka") to a bootstrap address.
	Targets     []KafkaTarget
	RecordSizes []int
	Partitions  int
	Producers   int
	Duration    time.Duration
	Progress    func(KafkaResult)
}

// KafkaTarget is one broker under test.
type KafkaTarget struct {
	Name      string
	Bootstrap string
	// PID, when set, is the broker's process on this machine: its CPU time
	// is read from /proc during each phase, so brokers can be compared by
	// CPU spent per record even when the client saturates the machine.
	PID int
}

// DefaultKafkaOptions are the settings: 100 B and 1 KiB records,
// acks=-1, 6 partitions, 4 producers.
func DefaultKafkaOptions() KafkaOptions {
	return KafkaOptions{RecordSizes: []int{100, 1024}, Partitions: 6, Producers: 4, Duration: 5 * time.Second}
}

// KafkaResult is one target's figures for one record size.
type KafkaResult struct {
	Target         string  `json:"target"`
	RecordBytes    int     `json:"record_bytes"`
	ProduceRecords float64 `json:"produce_records_per_sec"`
	ProduceMB      float64 `json:"produce_mb_per_sec"`
	ConsumeRecords float64 `json:"consume_records_per_sec"`
	ConsumeMB      float64 `json:"consume_mb_per_sec"`
	HalfLoadRate   float64 `json:"half_load_records_per_sec"`
	// ProduceCPU and ConsumeCPU are the broker's CPU microseconds per
	// record in each phase; zero without a PID.
	ProduceCPU float64       `json:"produce_cpu_us_per_record,omitempty"`
	ConsumeCPU float64       `json:"consume_cpu_us_per_record,omitempty"`
	P50        time.Duration `json:"half_load_p50_ns"`
	P99        time.Duration `json:"half_load_p99_ns"`
}

// RunKafka runs, for every record size and target in turn: producers at
// full speed, one consumer reading it all back, then producers paced at
// half the measured rate for produce latency.
func RunKafka(ctx context.Context, opts KafkaOptions) ([]KafkaResult, error) {
	if len(opts.Targets) == 0 {
		return nil, errors.New("bench: no targets")
	}
	var out []KafkaResult
	for _, size := range opts.RecordSizes {
		for _, target := range opts.Targets {
			res, err := runKafkaTarget(ctx, target, size, opts)
			if err != nil {
				return out, fmt.Errorf("bench: %s, %d B records: %w", target.Name, size, err)
			}
			out = append(out, res)
			if opts.Progress != nil {
				opts.Progress(res)
			}
		}
	}
	return out, nil
}

func runKafkaTarget(ctx context.Context, target KafkaTarget, size int, opts KafkaOptions) (KafkaResult, error) {
	res := KafkaResult{Target: target.Name, RecordBytes: size}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(target.Bootstrap))
	if err != nil {
		return res, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	topic := fmt.Sprintf("bench-%d-%d", size, time.Now().UnixNano())
	if r, err := adm.CreateTopic(ctx, int32(opts.Partitions), 1, nil, topic); err != nil || r.Err != nil {
		return res, errors.Join(err, r.Err)
	}
	defer func() { _, _ = adm.DeleteTopics(context.Background(), topic) }()

	// Values are windows into a random pool, so no two neighbours repeat and
	// nothing compresses: the bytes that reach the disk are the bytes sent.
	pool := randomBytes(size + 64<<10)
	cpu := cpuMeter(target.PID)
	produced, elapsed, _, err := produceFor(ctx, target.Bootstrap, topic, pool, size, opts.Producers, opts.Duration, 0)
	if err != nil {
		return res, err
	}
	res.ProduceCPU = cpu() / float64(max(produced, 1))
	res.ProduceRecords = float64(produced) / elapsed.Seconds()
	res.ProduceMB = res.ProduceRecords * float64(size) / 1e6

	cpu = cpuMeter(target.PID)
	consumed, celapsed, err := consumeAll(ctx, target.Bootstrap, topic, produced)
	if err != nil {
		return res, err
	}
	res.ConsumeCPU = cpu() / float64(max(consumed, 1))
	res.ConsumeRecords = float64(consumed) / celapsed.Seconds()
	res.ConsumeMB = res.ConsumeRecords * float64(size) / 1e6

	res.HalfLoadRate = res.ProduceRecords / 2
	_, _, lat, err := produceFor(ctx, target.Bootstrap, topic, pool, size, opts.Producers, opts.Duration, res.HalfLoadRate)
	if err != nil {
		return res, err
	}
	res.P50, res.P99 = lat.percentile(50), lat.percentile(99)
	return res, nil
}

// produceFor runs producers for d, each with its own client (acks=-1,
// idempotent, no compression, franz-go defaults otherwise; no linger when
// paced, for latency), sending values
// of size bytes cut from pool. With rate > 0 the producers
// together send about rate records/s, paced every millisecond, and every
// record's latency (Produce call to acknowledgement) is sampled.
func produceFor(ctx context.Context, bootstrap, topic string, pool []byte, size, producers int, d time.Duration, rate float64) (int64, time.Duration, *latencies, error) {
	var (
		acked   atomic.Int64
		errMu   sync.Mutex
		firstEr error
		wg      sync.WaitGroup
		lats    = make([]*latencies, producers)
		latMu   = make([]sync.Mutex, producers)
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range producers {
		opts := []kgo.Opt{kgo.SeedBrokers(bootstrap), kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression())}
		if rate > 0 {
			// franz-go lingers 10 ms by default to fill batches; for latency
			// that would measure the client's wait, not the broker's.
			opts = append(opts, kgo.ProducerLinger(0))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return 0, 0, nil, err
		}
		lats[w] = newLatencies(200_000)
		wg.Go(func() {
			defer cl.Close()
			perTick := rate / float64(producers) / 1000 // records per millisecond
			owed := 0.0
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				n := 1
				if rate > 0 {
					<-tick.C
					owed += perTick
					n = int(owed)
					owed -= float64(n)
				}
				for range n {
					sent := time.Now()
					off := int(sent.UnixNano() % int64(len(pool)-size))
					cl.Produce(ctx, &kgo.Record{Value: pool[off : off+size]}, func(_ *kgo.Record, err error) {
						if err != nil {
							errMu.Lock()
							firstEr = cmpOr(firstEr, err)
							errMu.Unlock()
							return
						}
						acked.Add(1)
						if rate > 0 {
							latMu[w].Lock()
							lats[w].add(time.Since(sent))
							latMu[w].Unlock()
						}
					})
				}
			}
			if err := cl.Flush(context.Background()); err != nil {
				errMu.Lock()
				firstEr = cmpOr(firstEr, err)
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	return acked.Load(), time.Since(start), mergeLatencies(lats), firstEr
}

// consumeAll reads n records of topic from the start with one client.
func consumeAll(ctx context.Context, bootstrap, topic string, n int64) (int64, time.Duration, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	var got int64
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return got, time.Since(start), fmt.Errorf("consumed %d of %d: %w", got, n, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = cmpOr(ferr, err) })
		if ferr != nil {
			return got, time.Since(start), ferr
		}
		got += int64(fs.NumRecords())
	}
	return got, time.Since(start), nil
}

// cpuMeter starts measuring a process's CPU time (user and system, all
// threads); the returned function gives the microseconds used since. It
// measures nothing (returns 0) without a pid or a readable /proc.
func cpuMeter(pid int) func() float64 {
	if pid <= 0 {
		return func() float64 { return 0 }
	}
	start := processCPU(pid)
	return func() float64 { return (processCPU(pid) - start).Seconds() * 1e6 }
}

// processCPU reads utime+stime from /proc/<pid>/stat.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

// WriteKafkaReport prints results as a table, then each target's ratio to
// the first target of the same record size.
func WriteKafkaReport(w io.Writer, results []KafkaResult) error {
	if _, err := fmt.Fprintf(w, "%-8s %8s %14s %10s %14s %10s %10s %10s\n",
		"target", "record", "produce rec/s", "MB/s", "consume rec/s", "MB/s", "p50@half", "p99@half"); err != nil {
		return err
	}
	for _, r := range results {
		if _, err := fmt.Fprintf(w, "%-8s %8s %14.0f %10.1f %14.0f %10.1f %10s %10s\n", r.Target, sizeName(r.RecordBytes),
			r.ProduceRecords, r.ProduceMB, r.ConsumeRecords, r.ConsumeMB, formatLatency(r.P50), formatLatency(r.P99)); err != nil {
			return err
		}
	}
	for _, r := range results {
		if r.ProduceCPU == 0 && r.ConsumeCPU == 0 {
			continue
		}
		if _, err := fmt.Fprintf(w, "%s broker CPU per record, %s: produce %.2f µs, consume %.2f µs\n",
			r.Target, sizeName(r.RecordBytes), r.ProduceCPU, r.ConsumeCPU); err != nil {
			return err
		}
	}
	base := map[int]KafkaResult{}
	for _, r := range results {
		if b, ok := base[r.RecordBytes]; !ok {
			base[r.RecordBytes] = r
		} else {
			if _, err := fmt.Fprintf(w, "%s vs %s, %s records: produce %.2fx, consume %.2fx\n", b.Target, r.Target,
				sizeName(r.RecordBytes), b.ProduceRecords/r.ProduceRecords, b.ConsumeRecords/r.ConsumeRecords); err != nil {
				return err
			}
			if b.ConsumeCPU > 0 && r.ConsumeCPU > 0 {
				if _, err := fmt.Fprintf(w, "%s vs %s, %s records: broker CPU per record %.2fx less to produce, %.2fx less to consume\n",
					b.Target, r.Target, sizeName(r.RecordBytes), r.ProduceCPU/b.ProduceCPU, r.ConsumeCPU/b.ConsumeCPU); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
