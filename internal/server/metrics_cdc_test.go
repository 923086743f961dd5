package server

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// cdcTestDatabase creates a throw-away database in the test cluster
// (TIDE_TEST_POSTGRES_URL, wal_level = logical: scripts/peers/up.sh) and
// returns a connection to it and its URL. Without the cluster the test
// skips, loudly; under CI=true it fails.
func cdcTestDatabase(t *testing.T) (*pgx.Conn, string) {
	t.Helper()
	base := os.Getenv("TIDE_TEST_POSTGRES_URL")
	if base == "" {
		msg := "TIDE_TEST_POSTGRES_URL is not set: start the peers with scripts/peers/up.sh and export what it prints"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING the CDC metrics test: " + msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := fmt.Sprintf("server_cdc_%d", time.Now().UnixNano()%1e9)
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for range 50 { // a stopped capture's walsender may linger a moment
			_, _ = admin.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, name)
			var left int
			if _ = admin.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE database = $1`, name).Scan(&left); left == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database: %v", err)
		}
		_ = admin.Close(ctx)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn, u.String()
}

// A capturing source's lag is exported in retained WAL (its slot, read
// at most every 10 s) and in seconds, which are 0 once the capture has
// written what it received; the series go when the source is dropped.
func TestMetricsCDCLag(t *testing.T) {
	db, dsn := cdcTestDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.Exec(ctx, `CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders VALUES (0, 'first')`); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "", nil)
	source := fmt.Sprintf("shop_%d", time.Now().UnixNano()%1e6)
	slot := "tide_" + source
	ts.mustSQL(t, fmt.Sprintf(`CREATE SOURCE %s WITH (connector = 'postgres-cdc', dsn = '%s', tables = 'orders', 'slot.drop' = 'true')`, source, dsn))

	bySource := map[string]string{"source": source}
	bySlot := map[string]string{"source": source, "slot": slot}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("the capture's lag series", func() bool {
		m := scrape(t, ts.url)
		_, seconds := metricValue(m, "tide_cdc_lag_seconds", bySource)
		_, bytes := metricValue(m, "tide_cdc_slot_lag_bytes", bySlot)
		return seconds && bytes
	})
	cached := time.Now() // about when the slot was read, and cached
	m := scrape(t, ts.url)
	if v := value(m, "tide_cdc_slot_lag_bytes", bySlot); v < 0 {
		t.Errorf("slot lag %v bytes", v)
	}
	if v := value(m, "tide_cdc_lag_seconds", bySource); v < 0 {
		t.Errorf("lag %v seconds", v)
	}

	// Changes stream through; the capture catches up.
	first := scrape(t, ts.url)
	if _, err := db.Exec(ctx, `INSERT INTO orders SELECT g, repeat('x', 500) FROM generate_series(1, 200) g`); err != nil {
		t.Fatal(err)
	}
	topic := source + ".public.orders"
	waitFor("the changes in the topic", func() bool {
		st, err := ts.srv.Log().Topic(topic)
		if err != nil {
			return false
		}
		var n int64
		for _, p := range st.Partitions() {
			n += p.Offsets().HighWatermark
		}
		return n == 201
	})
	second := scrape(t, ts.url)
	if time.Since(cached) < slotCacheTTL-time.Second {
		// The slot is not queried again within its cache's life, though
		// the WAL has grown by the 200 rows.
		if a, b := value(first, "tide_cdc_slot_lag_bytes", bySlot), value(second, "tide_cdc_slot_lag_bytes", bySlot); a != b {
			t.Errorf("slot lag read again within %v: %v then %v", slotCacheTTL, a, b)
		}
	}
	waitFor("the lag in seconds back to 0", func() bool {
		v, ok := metricValue(scrape(t, ts.url), "tide_cdc_lag_seconds", bySource)
		return ok && v == 0
	})
	waitFor("the slot read again after its cache's life", func() bool {
		return value(scrape(t, ts.url), "tide_cdc_slot_lag_bytes", bySlot) != value(first, "tide_cdc_slot_lag_bytes", bySlot)
	})

	ts.mustSQL(t, `DROP SOURCE `+source)
	m = scrape(t, ts.url)
	if _, ok := metricValue(m, "tide_cdc_lag_seconds", bySource); ok {
		t.Error("tide_cdc_lag_seconds outlived its source")
	}
	if _, ok := metricValue(m, "tide_cdc_slot_lag_bytes", bySlot); ok {
		t.Error("tide_cdc_slot_lag_bytes outlived its source")
	}
}
