package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
)

// fixedNow is the clock of golden tests: now() is deterministic.
var fixedNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// node is an embedded log, coordinator and transport in a directory that
// outlives it, so a test can reopen the same data.
type node struct {
	dir    string
	log    *log.Log
	groups *group.Coordinator
	tr     transport.Transport
}

func openNode(t testing.TB, dir string, opts ...embedded.Option) *node {
	t.Helper()
	l, err := log.Open(dir, log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	g, err := group.NewCoordinator(l, group.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{dir: dir, log: l, groups: g, tr: embedded.New(l, g, opts...)}
	return n
}

func (n *node) close(t testing.TB) {
	t.Helper()
	if err := errors.Join(n.tr.Close(), n.groups.Close(), n.log.Close()); err != nil {
		t.Fatal(err)
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("TIDE_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func openEngine(t testing.TB, n *node) *Engine {
	t.Helper()
	return openEngineWith(t, n, nil)
}

// openEngineWith opens an engine on n with the test configuration,
// changed by configure if not nil.
func openEngineWith(t testing.TB, n *node, configure func(*Config)) *Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := Config{Transport: n.tr, Logger: testLogger(), Now: func() time.Time { return fixedNow }, CommitInterval: 50 * time.Millisecond}
	if configure != nil {
		configure(&cfg)
	}
	e, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// syncBuffer is a bytes.Buffer safe for a sink writing while the test
// reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// execError runs sql, which must fail, and returns its *Error.
func execError(t *testing.T, e *Engine, sql string, opts ExecOptions) ([]Result, *Error) {
	t.Helper()
	res, err := e.Execute(context.Background(), sql, opts)
	var ee *Error
	if !errors.As(err, &ee) {
		t.Fatalf("%s\n-> %v (%T), want an *Error", sql, err, err)
	}
	return res, ee
}

// showRow returns the row of SHOW SINKS (or SOURCES) named name, as a map
// from column to value; nil if there is none.
func showRow(t *testing.T, e *Engine, what, name string) map[string]string {
	t.Helper()
	res := mustExec(t, e, "SHOW "+what)
	for _, row := range res[0].Rows {
		if row[0] == name {
			m := map[string]string{}
			for i, c := range res[0].Columns {
				m[c] = row[i]
			}
			return m
		}
	}
	return nil
}

func closeEngine(t testing.TB, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func mustExec(t testing.TB, e *Engine, sql string) []Result {
	t.Helper()
	res, err := e.Execute(context.Background(), sql, ExecOptions{})
	if err != nil {
		t.Fatalf("%s\n-> %v", sql, err)
	}
	return res
}

// readAll reads topic from the start until it holds at least want
// records or the deadline passes, and returns them ordered by partition
// and offset.
func readAll(t *testing.T, tr transport.Transport, topic string, want int) []*transport.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tr.NewConsumer(ctx, transport.ConsumerOptions{Group: "reader-" + topic + "-" + time.Now().Format("150405.000000000"), Topics: []string{topic}, Start: transport.StartEarliest})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(context.Background()) }()
	var out []*transport.Record
	for len(out) < want {
		recs, err := c.Poll(ctx)
		if err != nil {
			t.Fatalf("reading %s: got %d of %d records: %v", topic, len(out), want, err)
		}
		out = append(out, recs...)
	}
	sortRecords(out)
	return out
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testDatabase creates a throw-away database named prefix_<n> in the test
// cluster (TIDE_TEST_POSTGRES_URL), dropped with any replication slot left
// on it when the test ends, and returns a connection to it and its URL,
// with password in it if one is given. Without the cluster the test
// (what) is skipped loudly, or fails under CI=true.
func testDatabase(t testing.TB, prefix, what, password string) (*pgx.Conn, string) {
	t.Helper()
	base := os.Getenv("TIDE_TEST_POSTGRES_URL")
	if base == "" {
		msg := "TIDE_TEST_POSTGRES_URL is not set: start a throw-away PostgreSQL with scripts/peers/postgres.sh and export what it prints"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING " + what + ": " + msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano()%1e9)
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
		_, _ = admin.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, name)
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
	if password != "" {
		u.User = url.UserPassword(u.User.Username(), password)
	}
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn, u.String()
}
