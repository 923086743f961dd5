package interop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// envLong makes the backpressure test run its burst for the full
// minute instead of the default scaled-down 20 s.
const envLong = "TIDE_TEST_LONG"

// Issue 5's backpressure promise, end to end with the real binary: a
// webhook sink that stops answering pauses its pipeline; the log absorbs
// a burst of HTTP ingestion that the sink cannot take at all (its capacity
// during the stall is zero, so any burst is more than ten times it); the
// server's memory stays under 512 MiB; ingestion answers 429 with
// Retry-After at its in-flight limit; and once the receiver recovers,
// every event that ingestion acknowledged with a 200 reaches it, with no
// duplicates other than requests in flight at the recovery.
//
// The issue asks for a minute of burst; the default run bursts for 8 s,
// so that the test stays within about 30 s on a 2-core machine, where the
// drain takes as long as the burst. TIDE_TEST_LONG=1 runs the minute, and
// a minute of 60-byte events; docs/BENCHMARKS.md records both.
//
//   - default: the default configuration (64 MiB in flight, fsync=always,
//     4 partitions); 32 clients post 2 MiB NDJSON bodies of 10,000 events
//     of 200 bytes, enough to reach the in-flight limit; the receiver holds
//     every request without answering (a hung service), so the sink's
//     attempts time out and are retried. With a fast disk the log takes
//     the burst; 429s come from the clients' concurrency.
//   - inflight-limit: ingest_max_inflight_bytes = 64 KiB, so that 429s
//     show within a second with 20 KB bodies; the receiver answers 503
//     with Retry-After (an overloaded service); the sink sends one event
//     per request, and the receiver checks each Idempotency-Key against
//     the event's position.
//
// The receiver deduplicates on the input position (_partition, _offset:
// what the sink's Idempotency-Key carries, which batched requests do not
// have) and on the event id.
func TestBackpressureStalledWebhook(t *testing.T) {
	if os.Getenv(envTideBin) == "" {
		peerMissing(t, "%s is not set", envTideBin)
	}
	long := os.Getenv(envLong) != ""
	burst := 8 * time.Second
	if long {
		burst = time.Minute
	}
	t.Run("default", func(t *testing.T) {
		runBackpressure(t, bpScenario{burst: burst, stall: stallHang, producers: 32, batch: 10_000, note: 140,
			sinkOptions: ", batch = 'true'"})
	})
	if long {
		// Small events: their records, not their bytes, are most of the
		// memory a request holds (what ingestion's limit once missed).
		t.Run("small-events", func(t *testing.T) {
			runBackpressure(t, bpScenario{burst: burst, stall: stallHang, producers: 32, batch: 30_000, note: 0,
				sinkOptions: ", batch = 'true'"})
		})
	}
	t.Run("inflight-limit", func(t *testing.T) {
		runBackpressure(t, bpScenario{
			flags: []string{"--ingest-max-inflight-bytes", strconv.Itoa(64 << 10)},
			burst: 2 * time.Second, stall: stall503, producers: 4, batch: 100, note: 140, want429: true,
			// Enough attempts to outlast the stall at one a second.
			sinkOptions: ", max.attempts = '100'",
		})
	})
}

// How the receiver behaves while stalled.
const (
	stallHang = "hang" // hold the request without answering until recovery
	stall503  = "503"  // answer 503 with Retry-After: 1
)

type bpScenario struct {
	flags       []string // extra tide serve flags
	burst       time.Duration
	stall       string
	producers   int
	batch       int // events per ingest request
	note        int // filler bytes per event: 140 makes events of about 200 bytes
	want429     bool
	sinkOptions string // appended to the sink's WITH options
}

// rssLimit is issue 5's memory target for the server.
const rssLimit = 512 << 20

func runBackpressure(t *testing.T, sc bpScenario) {
	p := startTide(t, sc.flags...)
	c := &cluster{name: "tide", bootstrap: p.Bootstrap(), tide: p}
	adm := newAdmin(t, c)
	rcv := newReceiver(t, sc.stall, sc.producers)

	const topic = "orders"
	p.SQL(fmt.Sprintf(`CREATE SOURCE orders (id bigint, customer text, amount double precision, note text)
			WITH (connector = 'http', topic = '%s', topic.partitions = '4');
		CREATE SINK hook WITH (connector = 'http', url = '%s'%s)
			AS SELECT id, _partition AS p, _offset AS o FROM orders;`, topic, rcv.srv.URL, sc.sinkOptions))

	mem := watchMemory(t, p.cmd.Process.Pid)
	lag := watchLag(t, adm, topic, "tide-sink-hook-")

	// The burst: producers POST NDJSON batches as fast as they can; a 429
	// is retried with the same events after 50 ms (sooner than its
	// Retry-After, to keep the pressure on).
	url := "http://" + p.httpAddr + "/v1/topics/" + topic + "/records"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: sc.producers}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	prods := make([]*bpProducer, sc.producers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range prods {
		prods[i] = &bpProducer{id: i, client: client, url: url, batch: sc.batch, note: sc.note}
		wg.Go(func() { prods[i].run(stop) })
	}
	start := time.Now()
	time.Sleep(sc.burst)
	close(stop)
	wg.Wait()
	burstTook := time.Since(start)
	burstPeak := mem.peakNow()

	var accepted, r429, r503, noRetryAfter int64
	for _, pr := range prods {
		if pr.err != nil {
			t.Fatalf("producer %d: %v", pr.id, pr.err)
		}
		accepted += pr.acceptedCount()
		r429 += pr.tooMany
		r503 += pr.unavailable
		noRetryAfter += pr.noRetryAfter
	}
	if noRetryAfter > 0 {
		t.Errorf("%d answers 429/503 without Retry-After", noRetryAfter)
	}
	if sc.want429 && r429 == 0 {
		t.Errorf("no 429 with ingest_max_inflight_bytes at 64 KiB and %d producers", sc.producers)
	}
	if rcv.delivered.Load() != 0 {
		t.Fatalf("the receiver accepted %d events while stalled", rcv.delivered.Load())
	}
	atBurstEnd := lag.now(t)
	t.Logf("burst of %v: %d events accepted (%.0f/s), %d answers 429, %d 503; log end %d, committed %d, lag %d",
		burstTook.Round(time.Millisecond), accepted, float64(accepted)/burstTook.Seconds(), r429, r503,
		atBurstEnd.end, atBurstEnd.committed, atBurstEnd.lag)
	// Nothing was delivered, so nothing may be committed: the lag is all
	// of the log, which holds at least every accepted event.
	if atBurstEnd.committed != 0 || atBurstEnd.lag < accepted {
		t.Errorf("at the burst's end: committed %d, lag %d, want 0 and >= %d accepted", atBurstEnd.committed, atBurstEnd.lag, accepted)
	}
	// Ingestion accepts again once its writes drain.
	if sc.want429 {
		final := &bpProducer{id: len(prods), client: client, url: url, batch: sc.batch, note: sc.note}
		if err := final.postUntilAccepted(10 * time.Second); err != nil {
			t.Fatalf("after the burst: %v", err)
		}
		prods = append(prods, final)
		accepted += final.acceptedCount()
	}

	// Recovery: every accepted event arrives; the pipeline catches up.
	recoveredAt := time.Now()
	rcv.recover()
	waitFor(t, 3*time.Minute, "every accepted event delivered", func(context.Context) (bool, string) {
		if got := rcv.delivered.Load(); got < accepted {
			return false, fmt.Sprintf("%d of %d accepted events delivered", got, accepted)
		}
		missing, sample := rcv.missing(prods)
		return missing == 0, fmt.Sprintf("%d of %d accepted events not delivered (e.g. %s); receiver got %d",
			missing, accepted, sample, rcv.delivered.Load())
	})
	drained := time.Since(recoveredAt)
	waitFor(t, 30*time.Second, "the pipeline's committed offsets at the log end", func(ctx context.Context) (bool, string) {
		l, err := readLag(ctx, adm, topic, "tide-sink-hook-")
		if err != nil {
			return false, err.Error()
		}
		return l.lag == 0, fmt.Sprintf("lag %d (end %d, committed %d)", l.lag, l.end, l.committed)
	})
	peakLag := lag.stop()
	rss, hwm := mem.stop(t)

	// Deliveries beyond one per input position.
	st := rcv.stats(prods)
	t.Logf("recovered: %d events delivered in %v (%.0f/s), %d requests stalled (%d abandoned by the sink); "+
		"%d positions delivered more than once, %d unknown, %d ids not accepted (of 503'd requests: %d)",
		st.positions, drained.Round(time.Millisecond), float64(st.positions)/drained.Seconds(),
		rcv.stalled.Load(), rcv.abandoned.Load(), st.duplicates, st.unknown, st.unaccepted, st.unacceptedOf503)
	t.Logf("server memory: peak VmRSS %.1f MiB (sampled every 100 ms; %.1f MiB during the burst), VmHWM %.1f MiB; peak lag %d records",
		float64(rss)/(1<<20), float64(burstPeak)/(1<<20), float64(hwm)/(1<<20), peakLag)
	if hwm > rssLimit {
		t.Errorf("server's peak RSS %.1f MiB is over the %d MiB bound", float64(hwm)/(1<<20), rssLimit>>20)
	}
	if st.unknown > 0 {
		t.Errorf("%d delivered events were never sent", st.unknown)
	}
	if st.unaccepted > st.unacceptedOf503 {
		t.Errorf("%d delivered events were refused by ingestion (429), so should not exist", st.unaccepted-st.unacceptedOf503)
	}
	// At-least-once: the sink sends a request again when it did not see
	// the answer to the last attempt. In a run without crashes, that can
	// only be a request the receiver held until it recovered, whose
	// attempt timed out just as it was answered.
	if st.unexplained > 0 {
		t.Errorf("%d duplicate deliveries of events in no request held at recovery", st.unexplained)
	}
	if st.badKey > 0 {
		t.Errorf("%d deliveries with a bad Idempotency-Key", st.badKey)
	}
	// Nothing went to the dead-letter topic.
	ctx := testContext(t, 15*time.Second)
	if ends, err := adm.ListEndOffsets(ctx, "hook.dlq"); err == nil {
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil && o.Offset > 0 {
				t.Errorf("dead-letter topic hook.dlq[%d] has %d records", o.Partition, o.Offset)
			}
		})
	}
}

// bpProducer posts NDJSON batches of events with ids producer*1e9 + seq.
type bpProducer struct {
	id     int
	client *http.Client
	url    string
	batch  int // events per request
	note   int // filler bytes per event

	// Written by run, read after it returns.
	next         int    // the next seq
	accepted     []bool // per seq: its request got a 200
	in503        []bool // per seq: its request got a 503 (it may have been written)
	tooMany      int64
	unavailable  int64
	noRetryAfter int64
	err          error
}

const bpIDBase = 1_000_000_000

func (pr *bpProducer) body() []byte {
	note := strings.Repeat("x", pr.note)
	b := make([]byte, 0, pr.batch*(pr.note+64))
	for seq := pr.next; seq < pr.next+pr.batch; seq++ {
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, int64(pr.id)*bpIDBase+int64(seq), 10)
		b = append(b, `,"customer":"c-`...)
		b = strconv.AppendInt(b, int64(seq%997), 10)
		b = append(b, `","amount":`...)
		b = strconv.AppendInt(b, int64(seq%1000), 10)
		b = append(b, `.5,"note":"`...)
		b = append(b, note...)
		b = append(b, "\"}\n"...)
	}
	return b
}

// post sends one batch, retried while it is answered 429 and stop is
// open. It reports false when it should stop.
func (pr *bpProducer) post(stop <-chan struct{}) bool {
	body := pr.body()
	for {
		resp, err := pr.client.Post(pr.url, "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			pr.err = err
			return false
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			pr.mark(&pr.accepted)
			return true
		case http.StatusServiceUnavailable:
			pr.unavailable++
			if resp.Header.Get("Retry-After") == "" {
				pr.noRetryAfter++
			}
			pr.mark(&pr.in503)
			return true
		case http.StatusTooManyRequests:
			pr.tooMany++
			if resp.Header.Get("Retry-After") == "" {
				pr.noRetryAfter++
			}
		default:
			pr.err = fmt.Errorf("POST: %s: %s", resp.Status, msg)
			return false
		}
		select {
		case <-stop:
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (pr *bpProducer) mark(set *[]bool) {
	for len(*set) < pr.next+pr.batch {
		*set = append(*set, false)
	}
	for seq := pr.next; seq < pr.next+pr.batch; seq++ {
		(*set)[seq] = true
	}
	pr.next += pr.batch
}

func (pr *bpProducer) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		if !pr.post(stop) {
			return
		}
	}
}

// postUntilAccepted posts one batch until it is accepted or d passes.
func (pr *bpProducer) postUntilAccepted(d time.Duration) error {
	stop := make(chan struct{})
	timer := time.AfterFunc(d, func() { close(stop) })
	defer timer.Stop()
	for pr.acceptedCount() == 0 {
		if !pr.post(stop) {
			if pr.err != nil {
				return pr.err
			}
			return fmt.Errorf("no batch accepted within %v (%d answers 429)", d, pr.tooMany)
		}
	}
	return nil
}

func (pr *bpProducer) acceptedCount() int64 {
	var n int64
	for _, ok := range pr.accepted {
		if ok {
			n++
		}
	}
	return n
}

// receiver is the webhook: stalled until recover, then it answers 200 and
// records what it got.
type receiver struct {
	srv       *httptest.Server
	stall     string
	recovered chan struct{}
	once      sync.Once

	stalled   atomic.Int64 // requests that met the stall
	abandoned atomic.Int64 // held requests whose client gave up
	delivered atomic.Int64 // events accepted, duplicates included

	mu struct {
		sync.Mutex
		ids    [][]uint8          // per producer, per seq: deliveries
		byPos  map[int32][]uint8  // per partition, per offset: deliveries
		held   map[int32][]uint8  // per partition, per offset: in a request held at recovery
		badKey int                // Idempotency-Key (when sent) not matching
		other  map[int64]struct{} // ids of no producer
	}
}

func newReceiver(t *testing.T, stall string, producers int) *receiver {
	r := &receiver{stall: stall, recovered: make(chan struct{})}
	r.mu.ids = make([][]uint8, producers+1)
	r.mu.byPos = map[int32][]uint8{}
	r.mu.held = map[int32][]uint8{}
	r.mu.other = map[int64]struct{}{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.recover() // release held requests
		r.srv.Close()
	})
	return r
}

func (r *receiver) recover() { r.once.Do(func() { close(r.recovered) }) }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	// The body first: once it is read, the server watches the connection,
	// so a held request whose client gave up is noticed.
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	events, err := parseHookEvents(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	held := false
	select {
	case <-r.recovered:
	default:
		r.stalled.Add(1)
		if r.stall == stall503 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "stalled", http.StatusServiceUnavailable)
			return
		}
		select {
		case <-r.recovered:
			held = true
		case <-req.Context().Done():
		}
	}
	if req.Context().Err() != nil {
		r.abandoned.Add(1)
		return
	}
	key := req.Header.Get("Idempotency-Key")
	r.mu.Lock()
	for _, e := range events {
		if key != "" && (len(events) != 1 || key != fmt.Sprintf("orders/%d/%d", e.p, e.o)) {
			r.mu.badKey++
		}
		if g, seq := e.id/bpIDBase, int(e.id%bpIDBase); e.id >= 0 && int(g) < len(r.mu.ids) {
			r.mu.ids[g] = incr(r.mu.ids[g], seq)
		} else {
			r.mu.other[e.id] = struct{}{}
		}
		r.mu.byPos[e.p] = incr(r.mu.byPos[e.p], int(e.o))
		if held {
			r.mu.held[e.p] = incr(r.mu.held[e.p], int(e.o))
		}
	}
	r.mu.Unlock()
	r.delivered.Add(int64(len(events)))
	w.WriteHeader(http.StatusOK)
}

// hookEvent is one output of the pipeline: SELECT id, _partition AS p,
// _offset AS o.
type hookEvent struct {
	id, o int64
	p     int32
}

// parseHookEvents reads NDJSON lines {"id":…,"p":…,"o":…} (a single
// event's body is one such line) without encoding/json, which would make
// the receiver the bottleneck of the drain.
func parseHookEvents(body []byte) ([]hookEvent, error) {
	var out []hookEvent
	for line := range bytes.Lines(body) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var e hookEvent
		for _, f := range [...]struct {
			name string
			dst  *int64
		}{{`"id":`, &e.id}, {`"p":`, nil}, {`"o":`, &e.o}} {
			i := bytes.Index(line, []byte(f.name))
			if i < 0 {
				return nil, fmt.Errorf("no %s in %q", f.name, line)
			}
			rest := line[i+len(f.name):]
			j := bytes.IndexAny(rest, ",}")
			if j < 0 {
				return nil, fmt.Errorf("bad %s in %q", f.name, line)
			}
			n, err := strconv.ParseInt(string(bytes.TrimSpace(rest[:j])), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("bad %s in %q: %w", f.name, line, err)
			}
			if f.dst != nil {
				*f.dst = n
			} else {
				e.p = int32(n)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// incr counts one more at s[i], growing s as needed.
func incr(s []uint8, i int) []uint8 {
	if i >= len(s) {
		s = append(s, make([]uint8, i+1-len(s)+len(s)/2)...)
	}
	if s[i] < 255 {
		s[i]++
	}
	return s
}

// missing counts accepted events not delivered, with an example.
func (r *receiver) missing(prods []*bpProducer) (n int64, sample string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for g, pr := range prods {
		ids := r.mu.ids[g]
		for seq, ok := range pr.accepted {
			if ok && (seq >= len(ids) || ids[seq] == 0) {
				if n == 0 {
					sample = strconv.FormatInt(int64(g)*bpIDBase+int64(seq), 10)
				}
				n++
			}
		}
	}
	return n, sample
}

type deliveryStats struct {
	positions       int64 // distinct input positions delivered
	duplicates      int64 // deliveries of a position beyond the first
	unexplained     int64 // of those, of positions in no request held at recovery
	unknown         int64 // ids no producer sent
	unaccepted      int64 // ids sent but not acknowledged with a 200
	unacceptedOf503 int64 // of those, ids of requests answered 503
	badKey          int
}

func (r *receiver) stats(prods []*bpProducer) deliveryStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := deliveryStats{unknown: int64(len(r.mu.other)), badKey: r.mu.badKey}
	for p, counts := range r.mu.byPos {
		held := r.mu.held[p]
		for o, n := range counts {
			if n > 0 {
				st.positions++
				st.duplicates += int64(n) - 1
				if n > 1 && (o >= len(held) || held[o] == 0) {
					st.unexplained += int64(n) - 1
				}
			}
		}
	}
	for g, pr := range prods {
		for seq, n := range r.mu.ids[g] {
			switch {
			case n == 0:
			case seq >= pr.next:
				st.unknown++
			case seq >= len(pr.accepted) || !pr.accepted[seq]:
				st.unaccepted++
				if seq < len(pr.in503) && pr.in503[seq] {
					st.unacceptedOf503++
				}
			}
		}
	}
	return st
}

// watchMemory samples /proc/<pid>/status every 100 ms until stop, which
// returns the largest VmRSS seen and the kernel's own peak, VmHWM.
func watchMemory(t *testing.T, pid int) *memoryWatchHandle {
	h := &memoryWatchHandle{pid: pid, done: make(chan struct{}), quit: make(chan struct{})}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, _, err := procMemory(pid); err == nil && rss > h.peak.Load() {
				h.peak.Store(rss)
			}
			select {
			case <-h.quit:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { h.halt() })
	return h
}

type memoryWatchHandle struct {
	pid        int
	peak       atomic.Int64
	done, quit chan struct{}
	once       sync.Once
}

func (h *memoryWatchHandle) halt() {
	h.once.Do(func() { close(h.quit) })
	<-h.done
}

// stop ends the sampling and returns the peak VmRSS sampled and VmHWM.
func (h *memoryWatchHandle) stop(t *testing.T) (rss, hwm int64) {
	h.halt()
	_, hwm, err := procMemory(h.pid)
	if err != nil {
		t.Fatalf("reading the server's memory: %v", err)
	}
	return h.peak.Load(), hwm
}

// peakNow is the largest VmRSS sampled so far.
func (h *memoryWatchHandle) peakNow() int64 { return h.peak.Load() }

// procMemory reads VmRSS and VmHWM, in bytes, from /proc/<pid>/status.
func procMemory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		name, v, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %q: %w", name, v, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("no VmRSS/VmHWM in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}

// lagReading is a pipeline's position against its topic, over partitions.
type lagReading struct {
	end, committed, lag int64
}

// readLag reads the committed offsets of the group whose name starts with
// groupPrefix, and the topic's end offsets, over the Kafka protocol.
func readLag(ctx context.Context, adm *kadm.Client, topic, groupPrefix string) (lagReading, error) {
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		return lagReading{}, err
	}
	group := ""
	for _, g := range groups.Groups() {
		if strings.HasPrefix(g, groupPrefix) {
			group = g
		}
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return lagReading{}, err
	}
	var committed kadm.OffsetResponses
	if group != "" {
		if committed, err = adm.FetchOffsets(ctx, group); err != nil {
			return lagReading{}, err
		}
	}
	var l lagReading
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = o.Err
			return
		}
		l.end += o.Offset
		c := int64(0)
		if r, ok := committed.Lookup(topic, o.Partition); ok && r.Err == nil && r.At >= 0 {
			c = r.At
		}
		l.committed += c
		l.lag += o.Offset - c
	})
	return l, lerr
}

// lagWatch samples a pipeline's lag every second.
type lagWatch struct {
	adm                *kadm.Client
	topic, groupPrefix string
	peak               atomic.Int64
	quit, done         chan struct{}
	once               sync.Once
}

func watchLag(t *testing.T, adm *kadm.Client, topic, groupPrefix string) *lagWatch {
	w := &lagWatch{adm: adm, topic: topic, groupPrefix: groupPrefix, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if l, err := readLag(ctx, adm, topic, groupPrefix); err == nil && l.lag > w.peak.Load() {
				w.peak.Store(l.lag)
			}
			cancel()
		}
	}()
	t.Cleanup(func() { w.stop() })
	return w
}

func (w *lagWatch) now(t *testing.T) lagReading {
	t.Helper()
	ctx := testContext(t, 10*time.Second)
	l, err := readLag(ctx, w.adm, w.topic, w.groupPrefix)
	if err != nil {
		t.Fatalf("reading the pipeline's lag: %v", err)
	}
	if l.lag > w.peak.Load() {
		w.peak.Store(l.lag)
	}
	return l
}

// stop ends the sampling and returns the largest lag seen.
func (w *lagWatch) stop() int64 {
	w.once.Do(func() { close(w.quit) })
	<-w.done
	return w.peak.Load()
}
