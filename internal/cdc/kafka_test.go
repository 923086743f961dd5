package cdc

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/kafkatransport"
)

// kafkaTransport connects to the test Kafka cluster (TIDE_TEST_KAFKA_BOOTSTRAP).
func kafkaTransport(t *testing.T) transport.Transport {
	t.Helper()
	bootstrap := os.Getenv("TIDE_TEST_KAFKA_BOOTSTRAP")
	if bootstrap == "" {
		msg := "TIDE_TEST_KAFKA_BOOTSTRAP is not set: scripts/peers/up.sh starts Apache Kafka and prints it"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING the capture on Kafka: " + msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := kafkatransport.New(ctx, kafkatransport.Config{Brokers: strings.Split(bootstrap, ",")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// The capture on an Apache Kafka cluster instead of the embedded log:
// snapshot, stream, stop, changes while stopped, resume.
func TestCaptureOnKafka(t *testing.T) {
	tr := kafkaTransport(t)
	db := newTestDB(t)
	db.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, customer text, qty int)`)
	db.exec(`INSERT INTO orders SELECT g, 'c', g FROM generate_series(1, 50) g`)
	cfg := testConfig(db, tr, orders)
	cfg.Name = "kafka_" + db.name // the state topic is the cluster's, shared by every run
	cfg.TopicPrefix = cfg.Name
	topic := TopicName(cfg.TopicPrefix, orders)
	c, stop := startCapture(t, cfg)
	eventually(t, "streaming", func() bool { return c.Status().State == "streaming" })
	db.exec(`UPDATE orders SET qty = 0 WHERE id <= 10`)
	eventually(t, "the updates", func() bool { return replay(readChanges(t, tr, topic))[`{"id":10}`]["qty"] == float64(0) })
	stop()
	db.exec(`DELETE FROM orders WHERE id = 1`)
	db.exec(`INSERT INTO orders VALUES (51, 'n', 51)`)
	_, stop = startCapture(t, cfg)
	want := project(db.tableState("orders"), "id", "qty")
	eventually(t, "the changes made while stopped", func() bool {
		return sameState(t, project(replay(readChanges(t, tr, topic)), "id", "qty"), want)
	})
	stop()
	seen := map[string]bool{}
	for _, ch := range readChanges(t, tr, topic) {
		if k := fmt.Sprintf("%d:%s", ch.Partition, ch.Position); seen[k] {
			t.Errorf("position %s written twice", k)
		} else {
			seen[k] = true
		}
	}
}
