package server

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// TestSchemaRegistryServed: the node serves the registry API at the root
// of its HTTP address, keeps what was registered across a restart, and
// serves nothing there with schema_registry off.
func TestSchemaRegistryServed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const order = `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}`

	ts := startServer(t, dir, nil)
	cl, err := sr.NewClient(sr.URLs(ts.url))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.CreateSchema(ctx, "orders-value", sr.Schema{Schema: order})
	if err != nil || ss.ID != 1 || ss.Version != 1 {
		t.Fatalf("register: %+v, %v", ss, err)
	}
	// The node's own endpoints are still there.
	if resp, err := http.Get(ts.url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	ts.stop(t)

	ts = startServer(t, dir, nil)
	cl, _ = sr.NewClient(sr.URLs(ts.url))
	got, err := cl.SchemaByVersion(ctx, "orders-value", -1)
	if err != nil || got.ID != 1 || got.Schema.Schema != order {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	ts.stop(t)

	ts = startServer(t, dir, func(c *Config) { c.SchemaRegistry = false })
	resp, err := http.Get(ts.url + "/subjects")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/subjects with schema_registry off: %d", resp.StatusCode)
	}
}

func TestConfigSchemaRegistry(t *testing.T) {
	t.Parallel()
	if !DefaultConfig().SchemaRegistry {
		t.Error("schema_registry is off by default")
	}
	cfg := DefaultConfig()
	if err := cfg.LoadEnv([]string{"TIDE_SCHEMA_REGISTRY=false"}); err != nil || cfg.SchemaRegistry {
		t.Errorf("from the environment: %v, %v", cfg.SchemaRegistry, err)
	}
	s, ok := setting("schema_registry")
	if !ok || s.Flag() != "schema-registry" || s.Get(&cfg) != "false" {
		t.Fatalf("setting: %+v", s)
	}
	if err := s.Set(&cfg, "yes please"); err == nil || !strings.Contains(err.Error(), "schema_registry") {
		t.Errorf("bad value: %v", err)
	}
	if !strings.Contains(string(cfg.YAML()), "schema_registry: \"false\"") {
		t.Errorf("YAML:\n%s", cfg.YAML())
	}
}
