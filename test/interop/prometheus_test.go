package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// envPrometheusBin is the Prometheus server binary (Debian package
// prometheus; scripts/peers/up.sh prints it).
const envPrometheusBin = "TIDE_TEST_PROMETHEUS_BIN"

// Issue 8: a real Prometheus server scrapes Tide and a PromQL query returns
// the lag. Tide serves a topic of 10 records and a group committed at 3;
// Prometheus, configured to scrape Tide's /metrics every second, answers
// tide_consumer_lag_records{group=…} with 7 (summed over the partition
// series), and 0 once the group commits the end.
func TestPrometheusScrapesLag(t *testing.T) {
	bin := os.Getenv(envPrometheusBin)
	if bin == "" {
		if path, err := exec.LookPath("prometheus"); err == nil {
			bin = path
		} else {
			peerMissing(t, "%s is not set and prometheus is not on PATH (Debian package prometheus)", envPrometheusBin)
		}
	}
	p := startTide(t)
	c := &cluster{name: "tide", bootstrap: p.Bootstrap(), tide: p}
	adm := newAdmin(t, c)
	topic := createTopic(t, adm, 1, nil)
	group := uniqueName(t, "g")

	ctx := testContext(t, 2*time.Minute)
	cl := newClient(t, c)
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(offset int64) {
		t.Helper()
		var offsets kadm.Offsets
		offsets.AddOffset(topic, 0, offset, -1)
		resp, err := adm.CommitOffsets(ctx, group, offsets)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit %s at %d: %v", group, offset, err)
		}
	}
	commit(3)

	prom := startPrometheus(t, bin, p.httpAddr)
	query := fmt.Sprintf(`sum(tide_consumer_lag_records{group=%q})`, group)
	waitPromQL(t, prom, query, 7)
	// The series carry the group, topic and partition.
	series := promQuery(t, ctx, prom, fmt.Sprintf(`tide_consumer_lag_records{group=%q}`, group))
	if len(series) != 1 || series[0].Metric["topic"] != topic || series[0].Metric["partition"] != "0" || series[0].Metric["job"] != "tide" {
		t.Errorf("series %+v", series)
	}
	if v := promQuery(t, ctx, prom, fmt.Sprintf(`tide_consumer_lag_seconds{group=%q}`, group)); len(v) != 1 || v[0].value(t) < 0 {
		t.Errorf("tide_consumer_lag_seconds: %+v", v)
	}
	commit(10)
	waitPromQL(t, prom, query, 0)
}

// promServer is a Prometheus child process owned by one test.
type promServer struct {
	addr    string
	logPath string
}

// startPrometheus runs bin with a config that scrapes target every second,
// its own storage in a temporary directory and a free port, and waits until
// it is ready. It is stopped when the test ends, and its log printed if the
// test failed.
func startPrometheus(t *testing.T, bin, target string) *promServer {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	body := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tide
    metrics_path: /metrics
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(config, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	ps := &promServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))), logPath: filepath.Join(dir, "prometheus.log")}
	logFile, err := os.Create(ps.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+ps.addr,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(ps.logPath)
			t.Logf("prometheus log (%s):\n%s", ps.logPath, tail(string(b), 40))
		}
	})
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("http://" + ps.addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return ps
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(ps.logPath)
			t.Fatalf("prometheus exited before it was ready:\n%s", tail(string(b), 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus was not ready at %s within 30s", ps.addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// promSample is one series of an instant query's vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [unix time, "value"]
}

func (s promSample) value(t *testing.T) float64 {
	t.Helper()
	text, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		t.Fatalf("sample value %v: %v", s.Value, err)
	}
	return v
}

// promQueryErr runs an instant query on Prometheus' HTTP API.
func promQueryErr(ctx context.Context, ps *promServer, query string) ([]promSample, error) {
	u := "http://" + ps.addr + "/api/v1/query?query=" + url.QueryEscape(query)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", resp.Status, err, b)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: %s: %s", query, r.Status, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result type %s", query, r.Data.ResultType)
	}
	return r.Data.Result, nil
}

func promQuery(t *testing.T, ctx context.Context, ps *promServer, query string) []promSample {
	t.Helper()
	res, err := promQueryErr(ctx, ps, query)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// waitPromQL polls query until its one sample equals want, saying what
// Prometheus thinks of its target while it does not.
func waitPromQL(t *testing.T, ps *promServer, query string, want float64) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("PromQL %s = %v", query, want), func(ctx context.Context) (bool, string) {
		res, err := promQueryErr(ctx, ps, query)
		if err != nil {
			return false, err.Error()
		}
		if len(res) == 1 {
			text, _ := res[0].Value[1].(string)
			if v, err := strconv.ParseFloat(text, 64); err == nil && v == want {
				return true, ""
			}
		}
		up, err := promQueryErr(ctx, ps, `up{job="tide"}`)
		if err != nil {
			up = nil
		}
		return false, fmt.Sprintf("result %+v; up %+v", res, up)
	})
}
