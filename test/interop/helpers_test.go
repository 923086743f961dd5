package interop

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestMain says once, where anyone running go test -v sees it, which targets
// this run exercises.
func TestMain(m *testing.M) {
	var on []string
	if v := os.Getenv(envKafkaBootstrap); v != "" {
		on = append(on, "kafka at "+v)
	}
	if v := os.Getenv(envTideBin); v != "" {
		on = append(on, "tide from "+v)
	}
	if len(on) == 0 {
		fmt.Fprintf(os.Stderr, "interop: !!! NO TARGET: set %s and/or %s; every test will skip (CI=true: fail)\n",
			envKafkaBootstrap, envTideBin)
	} else {
		fmt.Fprintf(os.Stderr, "interop: targets: %s\n", strings.Join(on, "; "))
	}
	os.Exit(m.Run())
}

// testContext is t.Context bounded by d: every blocking call in a test has
// a deadline.
func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a franz-go client for c, closed when the test ends.
// TIDE_TEST_KGO_LOG=debug|info|warn sends the client's log to stderr.
func newClient(t *testing.T, c *cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(c.bootstrap),
		kgo.ClientID("tide-interop-franz"),
		kgo.RetryTimeout(20 * time.Second),
		// Kafka answers CreateTopics before its broker's metadata lists
		// the topic; under load a Metadata request just after may miss it.
		// kgo then waits MetadataMinAge (default 5 s) before asking again.
		kgo.MetadataMinAge(100 * time.Millisecond),
	}
	if lvl := os.Getenv("TIDE_TEST_KGO_LOG"); lvl != "" {
		level := map[string]kgo.LogLevel{"debug": kgo.LogLevelDebug, "info": kgo.LogLevelInfo, "warn": kgo.LogLevelWarn}[lvl]
		if level == kgo.LogLevelNone {
			level = kgo.LogLevelError
		}
		base = append(base, kgo.WithLogger(kgo.BasicLogger(os.Stderr, level, func() string {
			return time.Now().Format("15:04:05.000 ") + t.Name() + " "
		})))
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newAdmin returns an admin client for c, closed when the test ends.
func newAdmin(t *testing.T, c *cluster) *kadm.Client {
	t.Helper()
	adm := kadm.NewClient(newClient(t, c))
	adm.SetTimeoutMillis(15000)
	return adm
}

var unsafeNameChars = regexp.MustCompile(`[^a-zA-Z0-9-]+`)

// uniqueName returns a Kafka-legal name unique to this test run: the test's
// name, then random hex. Only letters, digits and '-' are used, as '.' and
// '_' collide in Kafka's metric names.
func uniqueName(t *testing.T, kind string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Trim(unsafeNameChars.ReplaceAllString(t.Name(), "-"), "-")
	if len(name) > 150 {
		name = name[len(name)-150:]
	}
	return fmt.Sprintf("it-%s-%s-%s", kind, name, hex.EncodeToString(b[:]))
}

// createTopic creates a fresh topic with the given partitions (replication
// factor 1) and configs, waits until every partition has a leader, and
// deletes it when the test ends.
func createTopic(t *testing.T, adm *kadm.Client, partitions int32, configs map[string]*string) string {
	t.Helper()
	topic := uniqueName(t, "t")
	ctx := testContext(t, 30*time.Second)
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		resp, err := adm.DeleteTopic(ctx, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) { // the test may have deleted it
			t.Logf("cleanup: delete topic %s: %v", topic, err)
		}
	})
	waitTopicReady(t, adm, topic, partitions)
	return topic
}

// waitTopicReady waits until metadata lists topic with n partitions, each
// with a leader.
func waitTopicReady(t *testing.T, adm *kadm.Client, topic string, n int32) {
	t.Helper()
	waitFor(t, 20*time.Second, "topic "+topic+" ready", func(ctx context.Context) (bool, string) {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return false, err.Error()
		}
		td, ok := md.Topics[topic]
		if !ok {
			return false, "not in metadata"
		}
		if td.Err != nil {
			return false, td.Err.Error()
		}
		if int32(len(td.Partitions)) != n {
			return false, fmt.Sprintf("%d partitions", len(td.Partitions))
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false, fmt.Sprintf("partition %d: leader %d, err %v", p.Partition, p.Leader, p.Err)
			}
		}
		return true, ""
	})
}

// waitFor polls cond until it holds or timeout passes, then fails t with
// the last reason cond gave.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (ok bool, why string)) {
	t.Helper()
	ctx := testContext(t, timeout)
	var why string
	for {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, w := cond(callCtx)
		cancel()
		if ok {
			return
		}
		why = w
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: not within %s; last: %s", what, timeout, why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pollN polls cl until it has returned n records or ctx ends; fetch errors
// fail the test.
func pollN(t *testing.T, ctx context.Context, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("polled %d of %d records before %v", len(recs), n, ctx.Err())
		}
		for _, e := range fs.Errors() {
			t.Fatalf("fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}

// request issues one raw request and fails t if it does not get a response.
func request[R kmsg.Response](t *testing.T, ctx context.Context, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatalf("%s request: %v", kmsg.NameForKey(req.Key()), err)
	}
	r, ok := resp.(R)
	if !ok {
		t.Fatalf("%s: response of type %T", kmsg.NameForKey(req.Key()), resp)
	}
	return r
}

// wantErrCode fails t unless code is the Kafka error want (0 = none).
func wantErrCode(t *testing.T, what string, code int16, want error) {
	t.Helper()
	got := kerr.ErrorForCode(code)
	if !errors.Is(got, want) && (got != nil || want != nil) {
		t.Errorf("%s: error %v (code %d), want %v (code %d)", what, got, code, want, codeOf(want))
	}
}

// wantErr fails t unless err is the Kafka error want (nil = none).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			t.Errorf("%s: error %v (code %d), want %v (code %d)", what, err, ke.Code, want, codeOf(want))
		} else {
			t.Errorf("%s: error %v, want %v (code %d)", what, err, want, codeOf(want))
		}
	}
}

func codeOf(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return 0
}
