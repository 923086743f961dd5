package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pgCluster is a PostgreSQL cluster of the test's own (scripts/peers/
// postgres.sh on a free port), so that the test may restart it without
// disturbing other tests.
type pgCluster struct {
	t   *testing.T
	dir string
	url string
}

func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	if _, err := exec.LookPath("runuser"); err != nil && os.Getuid() == 0 {
		peerMissing(t, "runuser is missing")
	}
	// Not t.TempDir: its parent is private to root, and the cluster runs
	// as the postgres user.
	dir, err := os.MkdirTemp("", "tide-cdc-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{t: t, dir: dir}
	t.Cleanup(func() {
		_ = exec.Command(filepath.Join(repoRoot(t), "scripts/peers/postgres.sh"), "stop", dir).Run()
		_ = os.RemoveAll(dir)
	})
	out, err := exec.Command(filepath.Join(repoRoot(t), "scripts/peers/postgres.sh"), "start", dir).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "binaries") {
			peerMissing(t, "PostgreSQL: %s", out)
		}
		t.Fatalf("starting PostgreSQL: %v\n%s", err, out)
	}
	c.url = strings.TrimSpace(string(out[strings.LastIndex(strings.TrimSpace(string(out)), "\n")+1:]))
	return c
}

func (c *pgCluster) restart() {
	c.t.Helper()
	if out, err := exec.Command(filepath.Join(repoRoot(c.t), "scripts/peers/postgres.sh"), "restart", c.dir).CombinedOutput(); err != nil {
		c.t.Fatalf("restarting PostgreSQL: %v\n%s", err, out)
	}
}

// cdcWriters change the accounts table until stopped: updates, inserts and
// deletes in small transactions, reconnecting when the server restarts.
type cdcWriters struct {
	url     string
	nextID  atomic.Int64
	commits atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
}

func (w *cdcWriters) start(n int, maxID int64) {
	w.stop = make(chan struct{})
	w.nextID.Store(maxID)
	for i := range n {
		w.wg.Go(func() { w.run(int64(i), maxID) })
	}
}

func (w *cdcWriters) run(seed, maxID int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	for {
		select {
		case <-w.stop:
			return
		case <-time.After(2 * time.Millisecond):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if conn == nil {
			var err error
			if conn, err = pgx.Connect(ctx, w.url); err != nil {
				cancel()
				conn = nil
				time.Sleep(100 * time.Millisecond)
				continue
			}
		}
		tx, err := conn.Begin(ctx)
		if err == nil {
			for range 1 + rng.IntN(3) {
				id := 1 + rng.Int64N(maxID)
				switch r := rng.IntN(10); {
				case r < 7:
					_, err = tx.Exec(ctx, `UPDATE accounts SET balance = balance + $2, note = $3 WHERE id = $1`, id, rng.IntN(100), "u"+strconv.Itoa(rng.IntN(1000)))
				case r < 9:
					_, err = tx.Exec(ctx, `INSERT INTO accounts VALUES ($1, $2, 'new')`, w.nextID.Add(1), rng.IntN(100))
				default:
					_, err = tx.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, id)
				}
				if err != nil {
					break
				}
			}
			if err == nil {
				err = tx.Commit(ctx)
			} else {
				_ = tx.Rollback(ctx)
			}
		}
		cancel()
		if err == nil {
			w.commits.Add(1)
		} else if conn.IsClosed() || strings.Contains(err.Error(), "conn") || strings.Contains(err.Error(), "terminat") {
			_ = conn.Close(context.Background())
			conn = nil
		}
	}
}

func (w *cdcWriters) halt() {
	close(w.stop)
	w.wg.Wait()
}

// topicState reads a CDC topic to its end and replays it by key; it also
// reports streamed positions seen twice in one partition.
func topicState(t *testing.T, c *cluster, topic string) (state map[string]string, records int, dups []string) {
	t.Helper()
	ctx := testContext(t, 3*time.Minute)
	adm := newAdmin(t, c)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	cl := newClient(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
	state = map[string]string{}
	seen := map[string]bool{}
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v (%d partitions unread)", topic, err, len(remaining))
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch %s: %v", topic, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
			records++
			for _, h := range r.Headers {
				if h.Key == "tide.cdc.position" && !strings.HasPrefix(string(h.Value), "0/") {
					k := fmt.Sprintf("%d:%s", r.Partition, h.Value)
					if seen[k] {
						dups = append(dups, k)
					}
					seen[k] = true
				}
			}
			if r.Key == nil {
				return // a truncate
			}
			if r.Value == nil {
				delete(state, string(r.Key))
				return
			}
			var v struct {
				Op    string `json:"op"`
				After *struct {
					Balance int64  `json:"balance"`
					Note    string `json:"note"`
				} `json:"after"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("%s/%d@%d: %v", topic, r.Partition, r.Offset, err)
			}
			if v.Op == "d" || v.After == nil {
				delete(state, string(r.Key))
				return
			}
			state[string(r.Key)] = fmt.Sprintf("%d|%s", v.After.Balance, v.After.Note)
		})
	}
	return state, records, dups
}

func tableState(t *testing.T, ctx context.Context, db *pgx.Conn) map[string]string {
	t.Helper()
	rows, err := db.Query(ctx, `SELECT id, balance, note FROM accounts`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var (
			id, balance int64
			note        string
		)
		if err := rows.Scan(&id, &balance, &note); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf(`{"id":%d}`, id)] = fmt.Sprintf("%d|%s", balance, note)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// captureState is the capture column of SHOW SOURCES for a source.
func captureState(p *tideProc, source string) string {
	for _, r := range p.SQL("SHOW SOURCES") {
		for _, row := range r.Rows {
			if len(row) > 0 && row[0] == source {
				return row[len(row)-1]
			}
		}
	}
	return ""
}

// A million-row snapshot taken while writers keep changing the table,
// Tide SIGKILLed during the snapshot and again mid-stream, PostgreSQL
// restarted mid-stream: afterwards the topic, replayed, is the table —
// every row, every value — and no streamed change is written twice.
func TestCDCSurvivesKillsAndPostgresRestart(t *testing.T) {
	rows := int64(1_000_000)
	if s := os.Getenv("TIDE_TEST_CDC_ROWS"); s != "" {
		rows, _ = strconv.ParseInt(s, 10, 64)
	}
	pg := startPGCluster(t)
	ctx := testContext(t, 8*time.Minute)
	db, err := pgx.Connect(ctx, pg.url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	pgExec(t, ctx, db, `CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, note text NOT NULL)`)
	started := time.Now()
	pgExec(t, ctx, db, fmt.Sprintf(`INSERT INTO accounts SELECT g, g, md5(g::text) || repeat('.', 40) FROM generate_series(1, %d) g`, rows))
	t.Logf("loaded %d rows in %v", rows, time.Since(started).Round(time.Millisecond))

	p := startTide(t)
	c := &cluster{name: "tide", bootstrap: p.Bootstrap(), tide: p}
	w := &cdcWriters{url: pg.url}
	w.start(2, rows)
	defer func() {
		select {
		case <-w.stop:
		default:
			w.halt()
		}
	}()
	p.SQL(fmt.Sprintf(`CREATE SOURCE bank WITH (connector = 'postgres-cdc', dsn = '%s', tables = 'accounts',
		'topic.partitions' = '4', 'heartbeat.interval' = '1s')`, pg.url))
	const topic = "bank.public.accounts"

	// Kill 1: in the middle of the snapshot.
	adm := newAdmin(t, c)
	waitFor(t, 2*time.Minute, "the snapshot to be under way", func(ctx context.Context) (bool, string) {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return false, err.Error()
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n >= rows/5, fmt.Sprintf("%d records", n)
	})
	p.Kill()
	t.Logf("killed during the snapshot after %d writer commits", w.commits.Load())
	p.Restart()
	waitFor(t, 4*time.Minute, "streaming after the snapshot", func(context.Context) (bool, string) {
		s := captureState(p, "bank")
		return strings.HasPrefix(s, "streaming"), s
	})

	// Kill 2: mid-stream.
	time.Sleep(2 * time.Second)
	p.Kill()
	t.Logf("killed mid-stream after %d writer commits", w.commits.Load())
	p.Restart()
	time.Sleep(2 * time.Second)

	// PostgreSQL restarted mid-stream: the capture reconnects and resumes.
	pg.restart()
	t.Logf("restarted PostgreSQL after %d writer commits", w.commits.Load())
	waitFor(t, 2*time.Minute, "streaming after the Postgres restart", func(context.Context) (bool, string) {
		s := captureState(p, "bank")
		return strings.HasPrefix(s, "streaming") && !strings.Contains(s, "error"), s
	})
	time.Sleep(2 * time.Second)
	w.halt()
	commits := w.commits.Load()
	if commits < 100 {
		t.Fatalf("the writers committed only %d transactions: the test did not change the table while capturing", commits)
	}

	if _, err := db.Exec(ctx, `SELECT 1`); err != nil { // the connection died with the restart
		if db, err = pgx.Connect(ctx, pg.url); err != nil {
			t.Fatal(err)
		}
	}
	want := tableState(t, ctx, db)
	var (
		got     map[string]string
		records int
		dups    []string
	)
	waitFor(t, 2*time.Minute, "the topic to replay to the table", func(context.Context) (bool, string) {
		got, records, dups = topicState(t, c, topic)
		diff := 0
		for k, v := range want {
			if got[k] != v {
				diff++
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				diff++
			}
		}
		return diff == 0, fmt.Sprintf("%d keys differ (%d in the table, %d in the topic)", diff, len(want), len(got))
	})
	if len(dups) > 0 {
		t.Errorf("%d streamed changes written twice, e.g. %v", len(dups), dups[:min(5, len(dups))])
	}
	t.Logf("%d writer transactions; the topic holds %d records and replays to the table's %d rows", commits, records, len(want))
}
