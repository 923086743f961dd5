package connector

import (
	"context"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/types"
)

// BenchmarkPostgresSink measures the postgres sink's rows/s (WriteRows of
// one partition's batches, each an exactly-once transaction: lock the
// progress row, upsert, store the offset) against the ceiling: one plain
// binary COPY of the same rows into an identical table (same columns,
// same primary key, empty), in the same run. Reported: rows/s,
// copy-rows/s and their ratio (issue 5's target: >= 0.60). b.N counts
// rows.
//
//	. /tmp/envs.sh && go test -run '^$' -bench PostgresSink -benchtime 200000x ./internal/connector/
func BenchmarkPostgresSink(b *testing.B) {
	for _, batch := range []int{5000, 1000, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchmarkPostgresSink(b, batch, false) })
	}
	// Every key exists: each batch is an upsert (INSERT ... ON CONFLICT DO
	// UPDATE), after one refused COPY.
	b.Run("batch=5000/updates", func(b *testing.B) { benchmarkPostgresSink(b, 5000, true) })
}

var benchCols = []format.Column{
	{Name: "id", Type: types.KindInt8},
	{Name: "customer", Type: types.KindText},
	{Name: "amount", Type: types.KindNumeric},
	{Name: "currency", Type: types.KindText},
	{Name: "paid", Type: types.KindBool},
	{Name: "created", Type: types.KindTimestampTZ},
}

const benchTable = `(id bigint PRIMARY KEY, customer text, amount numeric, currency text, paid boolean, created timestamptz)`

func benchRow(i int) types.Row {
	return types.Row{
		types.NewInt8(int64(i)),
		types.NewText(fmt.Sprintf("customer-%06d", i%100000)),
		types.NewNumeric(apd.New(int64(1000+i%100000), -2)),
		types.NewText("EUR"),
		types.NewBool(i%3 == 0),
		types.NewTimestampTZ(1_700_000_000_000_000 + int64(i)*1000),
	}
}

func benchmarkPostgresSink(b *testing.B, batch int, updates bool) {
	p := newPGTest(b)
	p.exec("CREATE TABLE orders " + benchTable)
	p.exec("CREATE TABLE orders_copy " + benchTable)
	s := p.sink(benchCols, map[string]string{"table": "orders", "primary-key": "id"})
	ctx := context.Background()
	n := b.N
	rows := make([]types.Row, n)
	copyRows := make([][]any, n)
	for i := range rows {
		rows[i] = benchRow(i)
		r := rows[i]
		copyRows[i] = []any{r[0].Int(), r[1].Text(), pgtype.Numeric{Int: big.NewInt(r[2].Decimal().Coeff.Int64()), Exp: r[2].Decimal().Exponent, Valid: true},
			r[3].Text(), r[4].Bool(), r[5].Time()}
	}
	outputs := origins(0, n)
	cols := []string{"id", "customer", "amount", "currency", "paid", "created"}
	if updates {
		if _, err := p.conn.CopyFrom(ctx, pgx.Identifier{"orders"}, cols, pgx.CopyFromRows(copyRows)); err != nil {
			b.Fatal(err)
		}
	}
	// Warm up: the progress tables, the prepared statement.
	if err := s.WriteRows(ctx, []types.Row{benchRow(-1)}, []Output{{Origin: Origin{Topic: "warm", Offset: 0}}}); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	start := time.Now()
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		if err := s.WriteRows(ctx, rows[lo:hi], outputs[lo:hi]); err != nil {
			b.Fatal(err)
		}
	}
	sinkTime := time.Since(start)
	b.StopTimer()

	start = time.Now()
	copied, err := p.conn.CopyFrom(ctx, pgx.Identifier{"orders_copy"}, cols, pgx.CopyFromRows(copyRows))
	if err != nil || copied != int64(n) {
		b.Fatalf("copy: %d rows, %v", copied, err)
	}
	copyTime := time.Since(start)
	if got := p.one("SELECT count(*) FROM orders WHERE id >= 0"); got != fmt.Sprint(n) {
		b.Fatalf("%s rows in the table, want %d", got, n)
	}
	sinkRate := float64(n) / sinkTime.Seconds()
	copyRate := float64(n) / copyTime.Seconds()
	b.ReportMetric(sinkRate, "rows/s")
	b.ReportMetric(copyRate, "copy-rows/s")
	b.ReportMetric(sinkRate/copyRate, "ratio")
}
