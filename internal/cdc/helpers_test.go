package cdc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded/embeddedtest"
)

// testDB is a throw-away database in the test cluster
// (TIDE_TEST_POSTGRES_URL, started by scripts/peers/postgres.sh with
// wal_level = logical). Its slots are dropped with it.
type testDB struct {
	t    testing.TB
	name string
	dsn  string
	conn *pgx.Conn
}

func newTestDB(t testing.TB) *testDB {
	t.Helper()
	base := os.Getenv("TIDE_TEST_POSTGRES_URL")
	if base == "" {
		msg := "TIDE_TEST_POSTGRES_URL is not set: start a throw-away PostgreSQL with scripts/peers/postgres.sh and export what it prints"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING the Postgres CDC tests: " + msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := fmt.Sprintf("cdc_%s_%d", strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(t.Name())), time.Now().UnixNano()%1e9)
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", base, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The capture has stopped; its walsender may linger a moment.
		for range 50 {
			if _, err := admin.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, name); err != nil {
				t.Errorf("drop slots: %v", err)
			}
			var left int
			_ = admin.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE database = $1`, name).Scan(&left)
			if left == 0 {
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
	db := &testDB{t: t, name: name, dsn: u.String()}
	if db.conn, err = pgx.Connect(ctx, db.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.conn.Close(context.Background()) })
	return db
}

func (db *testDB) exec(sql string, args ...any) {
	db.t.Helper()
	if _, err := db.conn.Exec(context.Background(), sql, args...); err != nil {
		db.t.Fatalf("%s: %v", sql, err)
	}
}

// newEmbedded is an embedded transport in a temporary directory, closed
// when t ends.
func newEmbedded(t testing.TB) transport.Transport { return embeddedtest.New(t) }

// startCapture runs a capture until the test ends or stop is called.
func startCapture(t testing.TB, cfg Config) (c *Capture, stop func()) {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return c, stop
}

// change is a record of a CDC topic, decoded.
type change struct {
	Key       map[string]any
	Tombstone bool
	Op        string         `json:"op"`
	Before    map[string]any `json:"before"`
	After     map[string]any `json:"after"`
	Source    struct {
		Snapshot string `json:"snapshot"`
		Table    string `json:"table"`
		LSN      uint64 `json:"lsn"`
		TxID     uint64 `json:"txId"`
	} `json:"source"`
	Partition int32
	Position  string
}

// readChanges decodes every record of topic, partition by partition.
func readChanges(t testing.TB, tr transport.Transport, topic string) []change {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []change
	err := readAll(ctx, tr, topic, func(r *transport.Record) {
		var ch change
		if r.Value == nil {
			ch.Tombstone = true
		} else if err := json.Unmarshal(r.Value, &ch); err != nil {
			t.Fatalf("%s/%d@%d: %v: %s", topic, r.Partition, r.Offset, err, r.Value)
		}
		if r.Key != nil {
			if err := json.Unmarshal(r.Key, &ch.Key); err != nil {
				t.Fatalf("key %s: %v", r.Key, err)
			}
		}
		for _, h := range r.Headers {
			if h.Key == positionHeader {
				ch.Position = string(h.Value)
			}
		}
		ch.Partition = r.Partition
		out = append(out, ch)
	})
	if err != nil && !errors.Is(err, transport.ErrTopicNotFound) {
		t.Fatal(err)
	}
	return out
}

// replay applies changes as a compacted topic's reader would: the last
// value per key, deleted by a tombstone. Keys are their JSON.
func replay(changes []change) map[string]map[string]any {
	state := map[string]map[string]any{}
	for _, ch := range changes {
		k, _ := json.Marshal(ch.Key)
		switch {
		case ch.Tombstone, ch.Op == "d":
			delete(state, string(k))
		case ch.Op == "t":
			clear(state)
		default:
			state[string(k)] = ch.After
		}
	}
	return state
}

// tableState reads a table as JSON objects keyed like replay's result,
// by the integer key column id.
func (db *testDB) tableState(table string) map[string]map[string]any {
	db.t.Helper()
	rows, err := db.conn.Query(context.Background(), "SELECT id, to_jsonb(t)::text FROM "+table+" t")
	if err != nil {
		db.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]map[string]any{}
	for rows.Next() {
		var (
			id  int64
			doc string
		)
		if err := rows.Scan(&id, &doc); err != nil {
			db.t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(doc), &m); err != nil {
			db.t.Fatal(err)
		}
		out[fmt.Sprintf(`{"id":%d}`, id)] = m
	}
	if err := rows.Err(); err != nil {
		db.t.Fatal(err)
	}
	return out
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
