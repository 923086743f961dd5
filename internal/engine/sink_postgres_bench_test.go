package engine

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tide-data/tide/internal/transport"
)

// BenchmarkPostgresPipeline measures a pipeline into Postgres the way a
// user runs one: b.N order rows (JSON, about 150 bytes) wait in a topic of
// four partitions (written beforehand, not timed); the time runs from
// CREATE SINK (connector 'postgres': upserts by primary key, exactly once
// through the offsets it stores with the rows)
// until the table holds every row. In the same run the ceiling: one plain
// binary COPY of the same rows into an identical empty table. Reported:
// rows/s, copy-rows/s and their ratio (issue 5's target: >= 0.60).
// Postgres runs on the same cores as the pipeline.
//
//	. /tmp/peers.env && go test -run '^$' -bench PostgresPipeline -benchtime 200000x ./internal/engine/
func BenchmarkPostgresPipeline(b *testing.B) {
	db, dsn := testDatabase(b, "engine_bench", "the postgres pipeline benchmark", "")
	const table = `(id bigint PRIMARY KEY, customer text, amount numeric, currency text, paid boolean, created timestamptz)`
	ctx := context.Background()
	for _, name := range []string{"orders_sink", "orders_copy"} {
		if _, err := db.Exec(ctx, "CREATE TABLE "+name+" "+table); err != nil {
			b.Fatal(err)
		}
	}
	n := openNode(b, b.TempDir())
	defer n.close(b)
	e := openEngineWith(b, n, func(cfg *Config) { cfg.StateDir = b.TempDir() })
	defer closeEngine(b, e)
	mustExec(b, e, `CREATE SOURCE orders (id bigint, customer text, amount numeric, currency text, paid boolean, created timestamptz)
		WITH (connector = 'topic', topic = 'orders', topic.partitions = '4')`)
	if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: "orders", Partitions: 4}); err != nil {
		b.Fatal(err)
	}
	rows := b.N
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	copyRows := make([][]any, rows)
	var batch []*transport.Record
	for i := range rows {
		amount := int64(1000 + i%100000)
		at := created.Add(time.Duration(i) * time.Millisecond)
		batch = append(batch, &transport.Record{Topic: "orders", Partition: int32(i % 4), Key: fmt.Appendf(nil, "%d", i),
			Value: fmt.Appendf(nil, `{"id":%d,"customer":"customer-%06d","amount":%d.%02d,"currency":"EUR","paid":%t,"created":"%s"}`,
				i, i%100000, amount/100, amount%100, i%3 == 0, at.Format(time.RFC3339Nano))})
		copyRows[i] = []any{int64(i), fmt.Sprintf("customer-%06d", i%100000), pgtype.Numeric{Int: big.NewInt(amount), Exp: -2, Valid: true}, "EUR", i%3 == 0, at}
		if len(batch) == 5000 || i == rows-1 {
			if err := n.tr.Produce(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}

	b.ResetTimer()
	start := time.Now()
	mustExec(b, e, `CREATE SINK pg WITH (connector = 'postgres', url = '`+dsn+`', table = 'orders_sink', 'primary-key' = 'id')
		AS SELECT * FROM orders`)
	// Done when the offsets the sink stores with its rows (one row per
	// source partition, written in the rows' transaction) account for
	// every input: polling count(*) instead would scan the growing table
	// fifty times a second on the cores the pipeline and Postgres share.
	for {
		var applied int64
		err := db.QueryRow(ctx, "SELECT coalesce(sum(last_offset + 1), 0)::bigint FROM tide_sink_offsets").Scan(&applied)
		if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "42P01" {
			err = nil // the sink's first write creates the table
		}
		if err != nil {
			b.Fatal(err)
		}
		if applied == int64(rows) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	sinkTime := time.Since(start)
	var got int64
	if err := db.QueryRow(ctx, "SELECT count(*) FROM orders_sink").Scan(&got); err != nil || got != int64(rows) {
		b.Fatalf("orders_sink holds %d rows (%v), want %d", got, err, rows)
	}
	b.StopTimer()

	start = time.Now()
	cols := []string{"id", "customer", "amount", "currency", "paid", "created"}
	copied, err := db.CopyFrom(ctx, pgx.Identifier{"orders_copy"}, cols, pgx.CopyFromRows(copyRows))
	if err != nil || copied != int64(rows) {
		b.Fatalf("copy: %d rows, %v", copied, err)
	}
	copyTime := time.Since(start)
	sinkRate, copyRate := float64(rows)/sinkTime.Seconds(), float64(rows)/copyTime.Seconds()
	b.ReportMetric(sinkRate, "rows/s")
	b.ReportMetric(copyRate, "copy-rows/s")
	b.ReportMetric(sinkRate/copyRate, "ratio")
}
