package cdc

import (
	"context"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// Kafka refuses records without a key on a compacted topic, and a TRUNCATE
// is written as unkeyed records: on a compacted table topic, the capture
// skips truncates (skipped.operations = 't', as docs/CDC.md says) and
// goes on; without that, the write is refused and the capture retries,
// saying why.
func TestCaptureCompactedKafkaTopic(t *testing.T) {
	tr := kafkaTransport(t)
	db := newTestDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, qty int)`)
	db.exec(`INSERT INTO orders VALUES (1, 1)`)
	cfg := testConfig(db, tr, orders)
	cfg.Name = "compacted_" + db.name
	cfg.TopicPrefix = cfg.Name
	topic := TopicName(cfg.TopicPrefix, orders)
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: topic, Partitions: 3, Configs: map[string]string{"cleanup.policy": "compact"}}); err != nil {
		t.Fatal(err)
	}

	cfg.SkippedOperations = "t"
	c, stop := startCapture(t, cfg)
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	db.exec(`TRUNCATE orders`)
	db.exec(`INSERT INTO orders VALUES (2, 2)`)
	eventually(t, "the insert after the skipped truncate", func() bool { return replay(readChanges(t, tr, topic))[`{"id":2}`] != nil })
	stop()

	cfg.SkippedOperations = ""
	c, _ = startCapture(t, cfg)
	eventually(t, "streaming again", func() bool { return c.Status().State == "streaming" })
	db.exec(`TRUNCATE orders`)
	eventually(t, "the refused truncate reported", func() bool { return c.Status().Err != "" })
	t.Logf("a truncate on a compacted topic: %s", c.Status().Err)
}
