package kafka

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/record"
)

// recorder is an Observer that remembers everything.
type recorder struct {
	mu       sync.Mutex
	accepted int
	served   map[string]int
	elapsed  map[string]time.Duration
	errs     map[[2]string]int
}

func newRecorder() *recorder {
	return &recorder{served: map[string]int{}, elapsed: map[string]time.Duration{}, errs: map[[2]string]int{}}
}

func (r *recorder) ConnectionAccepted() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.accepted++
}

func (r *recorder) RequestServed(api string, elapsed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.served[api]++
	r.elapsed[api] += elapsed
}

func (r *recorder) ResponseError(api, code string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs[[2]string{api, code}]++
}

func (r *recorder) snapshot() (int, map[string]int, map[[2]string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted, maps.Clone(r.served), maps.Clone(r.errs)
}

// The observer hears of every connection, every request by name (each
// exactly once, also a produce with acks=0) and every error code in the
// responses, one per failed partition.
func TestObserver(t *testing.T) {
	rec := newRecorder()
	ts := startServer(t, t.TempDir(), func(c *Config) { c.Observer = rec; c.AutoCreateTopics = false })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := ts.log.CreateTopic("events", 2, nil); err != nil {
		t.Fatal(err)
	}
	cl := ts.client()
	if err := cl.Ping(ctx); err != nil { // the connection and ApiVersions
		t.Fatal(err)
	}
	_, before, _ := rec.snapshot()

	produce := func(parts ...int32) {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "events"
		for _, p := range parts {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition = p
			rp.Records = testBatch(t, "v")
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		// To the broker itself: the client would refuse unknown partitions.
		if _, err := cl.Broker(1).Request(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 1)    // fine
	produce(0, 7, 9) // two unknown partitions
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "missing"
	lt.Partitions = append(lt.Partitions, kmsg.NewListOffsetsRequestTopicPartition())
	lo.Topics = append(lo.Topics, lt)
	if _, err := cl.Broker(1).Request(ctx, lo); err != nil {
		t.Fatal(err)
	}

	accepted, served, errs := rec.snapshot()
	if accepted < 1 {
		t.Errorf("%d connections accepted", accepted)
	}
	if n := served["Produce"] - before["Produce"]; n != 2 {
		t.Errorf("%d produce requests served, want 2 (%v)", n, served)
	}
	if n := served["ListOffsets"] - before["ListOffsets"]; n != 1 {
		t.Errorf("%d list offsets requests served, want 1", n)
	}
	if served["ApiVersions"] < 1 {
		t.Errorf("ApiVersions not counted: %v", served)
	}
	want := map[[2]string]int{
		{"Produce", "UNKNOWN_TOPIC_OR_PARTITION"}:     2,
		{"ListOffsets", "UNKNOWN_TOPIC_OR_PARTITION"}: 1,
	}
	if !maps.Equal(errs, want) {
		t.Errorf("errors %v, want %v", errs, want)
	}
	rec.mu.Lock()
	if rec.elapsed["Produce"] <= 0 {
		t.Errorf("produce took no time: %v", rec.elapsed)
	}
	rec.mu.Unlock()

	// acks=0: no response, still served once.
	noAcks := ts.client(kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	if err := noAcks.ProduceSync(ctx, &kgo.Record{Topic: "events", Partition: 0, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { _, s, _ := rec.snapshot(); return s["Produce"]-before["Produce"] == 3 })
}

func testBatch(t *testing.T, value string) []byte {
	t.Helper()
	b, err := record.AppendBatch(nil, []record.Record{{Value: []byte(value)}}, record.BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// responseErrors finds every error code of every response the listener
// serves: each response is filled by reflection, one element in every
// list, a distinct code in every ErrorCode field, and the walk must report
// them all.
func TestResponseErrorsComplete(t *testing.T) {
	for _, key := range slices.Sorted(maps.Keys(apis)) {
		resp := kmsg.ResponseForKey(key)
		var want []int16
		next := int16(1)
		fillErrorCodes(reflect.ValueOf(resp).Elem(), &next, &want, 0)
		if len(want) == 0 {
			t.Errorf("%s: the response has no ErrorCode field; the filler missed it", kmsg.NameForKey(key))
			continue
		}
		var got []int16
		responseErrors(resp, func(code int16) { got = append(got, code) })
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: responseErrors found codes %v, the response holds %v", kmsg.NameForKey(key), got, want)
		}
	}
	if name := errorName(kerr.UnknownTopicOrPartition.Code); name != "UNKNOWN_TOPIC_OR_PARTITION" {
		t.Errorf("errorName = %q", name)
	}
	if name := errorName(32000); name != "UNKNOWN_SERVER_ERROR" {
		t.Errorf("errorName of an unknown code = %q", name)
	}
}

func fillErrorCodes(v reflect.Value, next *int16, codes *[]int16, depth int) {
	if depth > 8 {
		return
	}
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		switch {
		case sf.Name == "ErrorCode" && f.Kind() == reflect.Int16:
			f.SetInt(int64(*next))
			*codes = append(*codes, *next)
			*next++
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
			fillErrorCodes(f.Index(0), next, codes, depth+1)
		case f.Kind() == reflect.Struct:
			fillErrorCodes(f, next, codes, depth+1)
		}
	}
}
