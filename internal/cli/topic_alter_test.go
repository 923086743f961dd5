package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// tide topic alter grows a topic, on a data directory and over Kafka
// (CreatePartitions); shrinking, an unknown topic and a missing
// --partitions are bad input.
func TestTopicAlter(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	tide(t, "", "topic", "create", "orders", "--partitions", "2", "--data-dir", dir).ok(t)
	r := tide(t, "", "topic", "alter", "orders", "--partitions", "4", "--data-dir", dir).ok(t)
	if r.stderr != "topic orders now has 4 partitions\n" {
		t.Errorf("alter: stderr %q", r.stderr)
	}
	if r := tide(t, "", "topic", "describe", "orders", "--data-dir", dir).ok(t); !strings.Contains(r.stdout, "Partitions:  4") {
		t.Errorf("describe after alter:\n%s", r.stdout)
	}

	ts := startServer(t)
	ts.tide(t, "", "topic", "create", "events", "--partitions", "1").ok(t)
	r = ts.tide(t, "", "topic", "alter", "events", "--partitions", "3").ok(t)
	if r.stderr != "topic events now has 3 partitions\n" {
		t.Errorf("alter over Kafka: stderr %q", r.stderr)
	}
	if r := ts.tide(t, "", "topic", "describe", "events").ok(t); !strings.Contains(r.stdout, "Partitions:  3") {
		t.Errorf("describe over Kafka after alter:\n%s", r.stdout)
	}

	for _, c := range []struct {
		name string
		run  func() result
	}{
		{"fewer", func() result { return tide(t, "", "topic", "alter", "orders", "--partitions", "2", "--data-dir", dir) }},
		{"fewer over Kafka", func() result { return ts.tide(t, "", "topic", "alter", "events", "--partitions", "2") }},
		{"unknown", func() result { return tide(t, "", "topic", "alter", "nope", "--partitions", "2", "--data-dir", dir) }},
		{"unknown over Kafka", func() result { return ts.tide(t, "", "topic", "alter", "nope", "--partitions", "2") }},
		{"no --partitions", func() result { return tide(t, "", "topic", "alter", "orders", "--data-dir", dir) }},
	} {
		if r := c.run(); r.code != ExitUsage || !strings.HasPrefix(r.stderr, "tide: ") {
			t.Errorf("%s: exit %d, stderr %q", c.name, r.code, r.stderr)
		}
	}
}

// Internal topics keep their partition count, as Kafka's kafka-topics
// refuses for __consumer_offsets: groups are placed by a hash modulo the
// offsets topic's partitions, and the catalog relies on its one
// partition's order. On a data directory and over Kafka alike.
func TestTopicAlterRefusesInternalTopics(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	tide(t, "", "topic", "create", "orders", "--partitions", "1", "--data-dir", dir).ok(t)
	ts := startServer(t)
	for _, c := range []struct {
		name string
		run  func() result
	}{
		{"data directory", func() result {
			return tide(t, "", "topic", "alter", "__consumer_offsets", "--partitions", "8", "--data-dir", dir)
		}},
		{"over Kafka", func() result { return ts.tide(t, "", "topic", "alter", "__tide_catalog", "--partitions", "2") }},
	} {
		if r := c.run(); r.code != ExitUsage || !strings.Contains(r.stderr, "internal topic") {
			t.Errorf("%s: exit %d, stderr %q", c.name, r.code, r.stderr)
		}
	}
	if r := ts.tide(t, "", "topic", "describe", "__tide_catalog").ok(t); !strings.Contains(r.stdout, "Partitions:  1") {
		t.Errorf("__tide_catalog after a refused alter:\n%s", r.stdout)
	}
}
