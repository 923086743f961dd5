package server

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func postRecords(t *testing.T, url, topic, contentType, body string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/topics/"+topic+"/records", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestIngestIntoHTTPSource: records POSTed to a topic feed the pipeline
// reading it through an 'http' source, and an idempotent request is
// replayed, not appended, after a restart on the same data directory.
func TestIngestIntoHTTPSource(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ts := startServer(t, dir, func(c *Config) { c.AutoCreateTopics = false })
	ts.mustSQL(t, `CREATE SOURCE web_orders (id bigint, amount integer) WITH (connector = 'http', topic = 'web_orders');
		CREATE SINK big_web WITH (connector = 'topic', topic = 'big_web') AS SELECT id FROM web_orders WHERE amount > 100;`)
	body := "{\"id\":1,\"amount\":50}\n{\"id\":2,\"amount\":500}\n"
	status, _, first := postRecords(t, ts.url, "web_orders", "application/x-ndjson", body, "Idempotency-Key", "order-batch-1")
	if status != 200 || first != `{"offsets":[{"partition":0,"offset":0},{"partition":0,"offset":1}]}`+"\n" {
		t.Fatalf("first post: %d %s", status, first)
	}
	if status, _, b := postRecords(t, ts.url, "not_declared", "application/json", `{}`); status != 404 || !strings.Contains(b, "unknown_topic") {
		t.Errorf("undeclared topic with auto-create off: %d %s", status, b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ends, err := ts.srv.transport.EndOffsets(context.Background(), "big_web")
		if err == nil && ends[0] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline did not write the big order: %v %v", ends, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.stop(t)

	ts2 := startServer(t, dir, func(c *Config) { c.AutoCreateTopics = false })
	status, hdr, again := postRecords(t, ts2.url, "web_orders", "application/x-ndjson", body, "Idempotency-Key", "order-batch-1")
	if status != 200 || again != first || hdr.Get("Idempotent-Replay") != "true" {
		t.Fatalf("repeat after restart: %d %v %s, want %s", status, hdr, again, first)
	}
	ends, err := ts2.srv.transport.EndOffsets(context.Background(), "web_orders")
	if err != nil || ends[0] != 2 {
		t.Fatalf("web_orders holds %v records (%v), want 2", ends, err)
	}
}

func TestIngestConfigMaps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "tide.yaml")
	yaml := "ingest_hmac_secrets:\n  hooks: 's3cret,with=comma'\n  github: abc\ningest_idempotency_fields: {orders: event_id}\ningest_timeout: 2s\nidempotency_window: 1h\nidempotency_max_keys: 5000\ningest_max_body_bytes: 1024\ningest_max_inflight_bytes: 4096\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if err := cfg.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.IngestHMACSecrets, map[string]string{"hooks": "s3cret,with=comma", "github": "abc"}) ||
		!reflect.DeepEqual(cfg.IngestIdempotencyFields, map[string]string{"orders": "event_id"}) ||
		cfg.IngestTimeout != 2*time.Second || cfg.IdempotencyWindow != time.Hour || cfg.IdempotencyMaxKeys != 5000 || cfg.IngestMaxBodyBytes != 1024 || cfg.IngestMaxInflightBytes != 4096 {
		t.Fatalf("loaded %+v", cfg)
	}
	out := filepath.Join(dir, "out.yaml")
	if err := os.WriteFile(out, cfg.YAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	back := DefaultConfig()
	if err := back.LoadFile(out); err != nil || !reflect.DeepEqual(back, cfg) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	env := DefaultConfig()
	if err := env.LoadEnv([]string{"TIDE_INGEST_HMAC_SECRETS=a=x, b=y", "TIDE_INGEST_HMAC_HEADER=X-Hub-Signature-256"}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(env.IngestHMACSecrets, map[string]string{"a": "x", "b": "y"}) || env.IngestHMACHeader != "X-Hub-Signature-256" {
		t.Fatalf("from the environment: %+v", env)
	}
	if err := env.LoadEnv([]string{"TIDE_INGEST_TIMEOUT=0s"}); err == nil {
		t.Error("a zero ingest_timeout accepted")
	}
}
