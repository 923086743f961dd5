package interop

import (
	"encoding/json"
	"fmt"
	stdmaps "maps"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// viewTotals reads GET /v1/views/{view} of a worker as key -> total;
// false when the worker does not serve it (yet).
func viewTotals(t *testing.T, p *tideProc, name string) (map[string]int64, bool) {
	t.Helper()
	resp, err := http.Get("http://" + p.httpAddr + "/v1/views/" + name)
	if err != nil {
		t.Fatalf("GET /v1/views/%s: %v", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false
	}
	var doc struct {
		Rows []struct {
			Key string `json:"key"`
			Row struct {
				Total int64 `json:"total"`
			} `json:"row"`
		} `json:"rows"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, r := range doc.Rows {
		out[r.Key] = r.Row.Total
	}
	return out, true
}

// A materialized view on Apache Kafka with two workers: each serves the
// whole view (rows the other worker's tasks computed included), and when
// the worker that created it stops, the other goes on maintaining and
// serving it.
func TestViewOnKafkaServedByEveryWorker(t *testing.T) {
	bootstrap := os.Getenv(envKafkaBootstrap)
	if bootstrap == "" {
		peerMissing(t, "%s is not set: the view-on-Kafka test needs Apache Kafka", envKafkaBootstrap)
	}
	if os.Getenv(envTideBin) == "" {
		peerMissing(t, "%s is not set", envTideBin)
	}
	c := &cluster{name: "kafka", bootstrap: bootstrap}
	adm := newAdmin(t, c)
	in := createTopic(t, adm, 4, nil)
	suffix := strings.ReplaceAll(strings.TrimPrefix(uniqueName(t, "x"), "it-x-"), "-", "_")
	suffix = suffix[len(suffix)-8:]
	source, viewName := "payments_"+suffix, "spend_"+suffix

	w1 := startTide(t, "--kafka-brokers", bootstrap, "--worker-id", "v1-"+suffix)
	w2 := startTide(t, "--kafka-brokers", bootstrap, "--worker-id", "v2-"+suffix)
	w1.SQL(fmt.Sprintf(`CREATE SOURCE %s (account int, amount bigint) WITH (connector = 'topic', topic = '%s');
		CREATE MATERIALIZED VIEW %s WITH (delivery.guarantee = 'exactly_once') AS
			SELECT account, sum(amount) AS total FROM %s GROUP BY account;`, source, in, viewName, source))
	t.Cleanup(func() {
		if !t.Failed() {
			w2.SQL(fmt.Sprintf("DROP MATERIALIZED VIEW %s; DROP SOURCE %s", viewName, source))
		}
	})
	cl := newClient(t, c)
	ctx := testContext(t, 3*time.Minute)
	want := map[string]int64{}
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			account, amount := i%25, int64(i%7+1)
			want[fmt.Sprint(account)] += amount
			recs = append(recs, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "a%d", account),
				Value: fmt.Appendf(nil, `{"account":%d,"amount":%d}`, account, amount)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	served := func(p *tideProc, what string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			got, ok := viewTotals(t, p, viewName)
			if ok && stdmaps.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the view has %v, want %v", what, got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	produce(0, 2000)
	served(w1, "worker 1")
	served(w2, "worker 2")
	w1.Stop()
	produce(2000, 3000)
	served(w2, "worker 2 alone")
}
