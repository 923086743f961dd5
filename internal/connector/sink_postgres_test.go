package connector

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/types"
)

// pgTest is a throw-away schema in the test cluster
// (TIDE_TEST_POSTGRES_URL, started by scripts/peers/postgres.sh): the
// sink's URL sets search_path to it, so its tables, the progress tables
// included, are the test's own.
type pgTest struct {
	t      testing.TB
	url    string // with search_path set to schema
	schema string
	conn   *pgx.Conn // the test's own connection, search_path set too
}

func newPGTest(t testing.TB) *pgTest {
	t.Helper()
	base := os.Getenv("TIDE_TEST_POSTGRES_URL")
	if base == "" {
		msg := "TIDE_TEST_POSTGRES_URL is not set: start a throw-away PostgreSQL with scripts/peers/postgres.sh and source its environment (. /tmp/envs.sh)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING the postgres sink tests: " + msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	schema := fmt.Sprintf("t_%s_%d", strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(t.Name())), time.Now().UnixNano()%1e9)
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", base, err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		_ = admin.Close(ctx)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", schema)
	u.RawQuery = q.Encode()
	p := &pgTest{t: t, url: u.String(), schema: schema}
	if p.conn, err = pgx.Connect(ctx, p.url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.conn.Close(context.Background()) })
	return p
}

func (p *pgTest) exec(sql string, args ...any) {
	p.t.Helper()
	if _, err := p.conn.Exec(context.Background(), sql, args...); err != nil {
		p.t.Fatalf("%s: %v", sql, err)
	}
}

// rows returns a query's rows, each value in its text form.
func (p *pgTest) rows(sql string) []string {
	p.t.Helper()
	rs, err := p.conn.Query(context.Background(), sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		p.t.Fatalf("%s: %v", sql, err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var fields []string
		for _, v := range rs.RawValues() {
			if v == nil {
				fields = append(fields, "NULL")
			} else {
				fields = append(fields, string(v))
			}
		}
		out = append(out, strings.Join(fields, "|"))
	}
	if err := rs.Err(); err != nil {
		p.t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func (p *pgTest) one(sql string) string {
	p.t.Helper()
	r := p.rows(sql)
	if len(r) != 1 {
		p.t.Fatalf("%s: %d rows, want 1: %v", sql, len(r), r)
	}
	return r[0]
}

// sink returns a postgres sink over cols writing to table, closed when
// the test ends.
func (p *pgTest) sink(cols []format.Column, opts map[string]string) *PostgresSink {
	p.t.Helper()
	all := map[string]string{"url": p.url}
	for k, v := range opts {
		all[k] = v
	}
	s, err := NewSink("postgres", all, Env{Columns: cols, Group: "tide-sink-test-1", Pipeline: "test"})
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s.(*PostgresSink)
}

var orderCols = []format.Column{
	{Name: "id", Type: types.KindInt8},
	{Name: "status", Type: types.KindText},
	{Name: "amount", Type: types.KindNumeric},
}

func orderRow(t *testing.T, id int64, status, amount string) types.Row {
	t.Helper()
	d, err := types.ParseNumeric(amount)
	if err != nil {
		t.Fatal(err)
	}
	return types.Row{types.NewInt8(id), types.NewText(status), types.NewNumeric(d)}
}

// origins returns outputs with origin offsets from first on, one
// partition of topic "orders".
func origins(first int64, n int) []Output {
	outs := make([]Output, n)
	for i := range outs {
		outs[i].Origin = Origin{Topic: "orders", Partition: 0, Offset: first + int64(i)}
	}
	return outs
}

func TestPostgresSinkUpsert(t *testing.T) {
	p := newPGTest(t)
	s := p.sink(orderCols, map[string]string{"table": "orders", "primary-key": "id", "table.create": "true", "batch.size": "3"})
	ctx := testContext(t)
	rows := []types.Row{
		orderRow(t, 1, "new", "10.50"), orderRow(t, 2, "new", "20"), orderRow(t, 3, "new", "1e-3"),
		orderRow(t, 1, "paid", "10.50"), // the same key again in one batch: the last wins
		orderRow(t, 4, "new", "4"),
	}
	if err := s.WriteRows(ctx, rows, origins(0, len(rows))); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteRows(ctx, []types.Row{orderRow(t, 2, "shipped", "20.00"), orderRow(t, 5, "new", "5")}, origins(5, 2)); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(p.rows("SELECT id, status, amount FROM orders ORDER BY id"), "\n")
	want := "1|paid|10.50\n2|shipped|20.00\n3|new|0.001\n4|new|4\n5|new|5"
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
	if got := p.one("SELECT sink_id, topic, partition, sink, last_offset FROM tide_sink_offsets"); got != "tide-sink-test-1|orders|0|test|6" {
		t.Errorf("progress row %s", got)
	}
	if got := p.one("SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'orders'"); got != "id bigint, status text, amount numeric" {
		t.Errorf("created table: %s", got)
	}
}

func TestPostgresSinkTypes(t *testing.T) {
	p := newPGTest(t)
	cols := []format.Column{
		{Name: "id", Type: types.KindInt4},
		{Name: "b", Type: types.KindBool},
		{Name: "i2", Type: types.KindInt2},
		{Name: "i8", Type: types.KindInt8},
		{Name: "f", Type: types.KindFloat8},
		{Name: "n", Type: types.KindNumeric},
		{Name: "t", Type: types.KindText},
		{Name: "Mixed Case", Type: types.KindText},
		{Name: "by", Type: types.KindBytea},
		{Name: "ts", Type: types.KindTimestamp},
		{Name: "tz", Type: types.KindTimestampTZ},
		{Name: "d", Type: types.KindDate},
		{Name: "iv", Type: types.KindInterval},
		{Name: "j", Type: types.KindJSON},
		{Name: "nothing", Type: types.KindNull},
	}
	s := p.sink(cols, map[string]string{"table": p.schema + ".every_type", "primary-key": "id", "table.create": "true"})
	parse := func(k types.Kind, text string) types.Value {
		v, err := types.ParseText(k, text)
		if err != nil {
			t.Fatalf("%s %q: %v", k, text, err)
		}
		return v
	}
	full := types.Row{
		types.NewInt4(1), types.NewBool(true), types.NewInt(types.KindInt2, -32768), types.NewInt8(1 << 62),
		types.NewFloat8(0.1), parse(types.KindNumeric, "-123456789012345678901234567890.000000000001"),
		types.NewText("héllo, \"world\"\n"), types.NewText(""), types.NewBytea([]byte{0, 1, 0xfe, 0xff}),
		parse(types.KindTimestamp, "2024-02-29 23:59:59.123456"), parse(types.KindTimestampTZ, "1999-12-31 23:00:00+02"),
		parse(types.KindDate, "0044-03-15 BC"), parse(types.KindInterval, "1 year 2 mons -3 days 04:05:06.000007"),
		parse(types.KindJSON, `{"b": [1, 2.50, null], "a": "x"}`), types.Null(types.KindNull),
	}
	nulls := types.Row{types.NewInt4(2)}
	for _, c := range cols[1:] {
		nulls = append(nulls, types.Null(c.Type))
	}
	// Values of another kind than the column's are converted.
	other := types.Row{
		types.NewInt8(3), types.Null(types.KindBool), types.NewInt4(7), types.NewInt4(8), types.NewInt8(9),
		types.NewFloat8(2.5), types.NewInt8(42), types.Null(types.KindNull), types.NewBytea(nil),
		types.Null(types.KindTimestamp), types.NewTimestamp(0), types.Null(types.KindDate), types.Null(types.KindInterval),
		types.NewText(`[1,2]`), types.NewText("x"),
	}
	if err := s.WriteRows(testContext(t), []types.Row{full, nulls, other}, origins(0, 3)); err != nil {
		t.Fatal(err)
	}
	p.exec("SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; SET DateStyle = 'ISO, MDY'; SET extra_float_digits = 1")
	got := p.rows(`SELECT id, b, i2, i8, f, n, t, "Mixed Case", by, ts, tz, d, iv, j, nothing FROM every_type ORDER BY id`)
	want := []string{
		"1|t|-32768|4611686018427387904|0.1|-123456789012345678901234567890.000000000001|héllo, \"world\"\n||\\x0001feff|2024-02-29 23:59:59.123456|1999-12-31 21:00:00+00|0044-03-15 BC|1 year 2 mons -3 days +04:05:06.000007|{\"a\": \"x\", \"b\": [1, 2.50, null]}|NULL",
		"2|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
		"3|NULL|7|8|9|2.5|42|NULL|\\x|NULL|1970-01-01 00:00:00+00|NULL|NULL|[1, 2]|x",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows (COPY):\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Again, as updates: the COPY is refused (the keys exist) and the
	// upsert writes the same values.
	p.exec("UPDATE every_type SET t = 'changed', b = NOT b")
	if err := s.WriteRows(testContext(t), []types.Row{full, nulls, other}, origins(3, 3)); err != nil {
		t.Fatal(err)
	}
	got = p.rows(`SELECT id, b, i2, i8, f, n, t, "Mixed Case", by, ts, tz, d, iv, j, nothing FROM every_type ORDER BY id`)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows (upsert):\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantTypes := "id integer, b boolean, i2 smallint, i8 bigint, f double precision, n numeric, t text, Mixed Case text, by bytea, " +
		"ts timestamp without time zone, tz timestamp with time zone, d date, iv interval, j jsonb, nothing text"
	if got := p.one("SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'every_type'"); got != wantTypes {
		t.Errorf("created table:\n%s\nwant:\n%s", got, wantTypes)
	}
}

// TestPostgresSinkSkipsApplied replays a batch, as the runtime does after
// a crash, and checks the applied rows are not applied again: a trigger
// counts every application of a row.
func TestPostgresSinkSkipsApplied(t *testing.T) {
	p := newPGTest(t)
	p.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, status text, amount numeric CHECK (amount >= 0), applied int NOT NULL DEFAULT 1)`)
	p.exec(`CREATE FUNCTION count_applied() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.applied := OLD.applied + 1; RETURN NEW; END $$`)
	p.exec(`CREATE TRIGGER count_applied BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION count_applied()`)
	s := p.sink(orderCols, map[string]string{"table": "orders", "primary-key": "id"})
	ctx := testContext(t)
	first := make([]types.Row, 10)
	for i := range first {
		first[i] = orderRow(t, int64(i), "new", "1")
	}
	first[4] = orderRow(t, 4, "new", "-1") // refused by the CHECK
	err := s.WriteRows(ctx, first, origins(100, 10))
	var rej *RejectedError
	if !errors.As(err, &rej) || len(rej.Rejected) != 1 || rej.Rejected[0].Index != 4 || rej.Rejected[0].Code != "23514" {
		t.Fatalf("first write: %v, want row 4 rejected with 23514", err)
	}

	// The replay: the same ten inputs (with other values, to see which
	// land) and five new ones.
	replay := make([]types.Row, 15)
	for i := range replay {
		replay[i] = orderRow(t, int64(i), "replayed", "2")
	}
	replay[4] = orderRow(t, 4, "new", "-1")
	err = s.WriteRows(ctx, replay, origins(100, 15))
	if !errors.As(err, &rej) || len(rej.Rejected) != 1 || rej.Rejected[0].Index != 4 || rej.Rejected[0].Code != "23514" {
		t.Fatalf("replay: %v, want row 4 reported rejected again", err)
	}
	got := p.rows("SELECT status, count(*), max(applied) FROM orders GROUP BY status ORDER BY status")
	if want := []string{"new|9|1", "replayed|5|1"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("table %v, want %v", got, want)
	}
	if got := p.one("SELECT last_offset FROM tide_sink_offsets"); got != "114" {
		t.Errorf("last offset %s, want 114", got)
	}
	if got := p.one(`SELECT "offset", code FROM tide_sink_rejections`); got != "104|23514" {
		t.Errorf("stored rejection %s", got)
	}
	// Another sink identity (a re-created sink) starts over.
	s2, err := NewSink("postgres", map[string]string{"url": p.url, "table": "orders", "primary-key": "id"},
		Env{Columns: orderCols, Group: "tide-sink-test-2", Pipeline: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close(ctx)
	if err := s2.(RowSink).WriteRows(ctx, replay[:1], origins(100, 1)); err != nil {
		t.Fatal(err)
	}
	if got := p.one("SELECT status, applied FROM orders WHERE id = 0"); got != "replayed|2" {
		t.Errorf("row 0 after a new sink wrote it: %s", got)
	}
}

func TestPostgresSinkRejectsBadRows(t *testing.T) {
	p := newPGTest(t)
	p.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, status varchar(8) NOT NULL, amount numeric(6,2) CHECK (amount >= 0))`)
	s := p.sink(orderCols, map[string]string{"table": "orders", "primary-key": "id", "batch.size": "64"})
	rows := make([]types.Row, 200)
	for i := range rows {
		rows[i] = orderRow(t, int64(i), "ok", "1.5")
	}
	bad := map[int]string{
		3:   "23514", // check
		77:  "22001", // too long for varchar(8)
		78:  "23502", // not null
		150: "22003", // numeric(6,2) overflow
	}
	rows[3] = orderRow(t, 3, "ok", "-5")
	rows[77] = orderRow(t, 77, "much too long", "1")
	rows[78] = types.Row{types.NewInt8(78), types.Null(types.KindText), types.Null(types.KindNumeric)}
	rows[150] = orderRow(t, 150, "ok", "123456")
	err := s.WriteRows(testContext(t), rows, origins(0, len(rows)))
	var rej *RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("write: %v, want a *RejectedError", err)
	}
	got := map[int]string{}
	for _, r := range rej.Rejected {
		got[r.Index] = r.Code
		if !strings.Contains(r.Err.Error(), "SQLSTATE "+r.Code) || r.Attempts != 1 {
			t.Errorf("rejection %d: %v, attempts %d", r.Index, r.Err, r.Attempts)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(bad) {
		t.Errorf("rejected %v, want %v", got, bad)
	}
	if n := p.one("SELECT count(*) FROM orders"); n != "196" {
		t.Errorf("%s rows landed, want 196", n)
	}
	if n := p.one("SELECT count(*) FROM tide_sink_rejections"); n != "4" {
		t.Errorf("%s rejections stored, want 4", n)
	}
}

// TestPostgresSinkRetriesLostConnection kills the sink's connections
// between writes and in the middle of one (pg_terminate_backend): the
// write is tried again on a new connection and lands once.
func TestPostgresSinkRetriesLostConnection(t *testing.T) {
	p := newPGTest(t)
	p.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, status text, amount numeric)`)
	s := p.sink(orderCols, map[string]string{"table": "orders", "primary-key": "id", "retry.backoff": "10ms"})
	ctx := testContext(t)
	if err := s.WriteRows(ctx, []types.Row{orderRow(t, 1, "a", "1")}, origins(0, 1)); err != nil {
		t.Fatal(err)
	}
	kill := func() int {
		var n int
		err := p.conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, p.schema).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := kill(); n != 1 {
		t.Fatalf("terminated %d connections, want the sink's one", n)
	}
	if err := s.WriteRows(ctx, []types.Row{orderRow(t, 2, "b", "2")}, origins(1, 1)); err != nil {
		t.Fatalf("write after the connection was killed: %v", err)
	}
	// Mid-transaction: a lock held by the test makes the write wait, and
	// its connection is killed while it waits.
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT * FROM tide_sink_offsets FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.WriteRows(ctx, []types.Row{orderRow(t, 3, "c", "3")}, origins(2, 1)) }()
	eventually(t, "the sink waiting for the lock", func() bool {
		var n int
		_ = tx.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, p.schema).Scan(&n)
		return n == 1
	})
	var killed int
	if err := tx.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, p.schema).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate: %d, %v", killed, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("write whose connection was killed mid-transaction: %v", err)
	}
	if got := strings.Join(p.rows("SELECT id, status FROM orders ORDER BY id"), " "); got != "1|a 2|b 3|c" {
		t.Errorf("table %s", got)
	}
	if got := p.one("SELECT last_offset FROM tide_sink_offsets"); got != "2" {
		t.Errorf("last offset %s", got)
	}
}

// TestPostgresSinkWriteJSON covers Write, for callers with encoded
// outputs: values are JSON objects of the columns.
func TestPostgresSinkWriteJSON(t *testing.T) {
	p := newPGTest(t)
	s := p.sink(orderCols, map[string]string{"table": "orders", "primary-key": "id", "table.create": "true"})
	outs := origins(0, 3)
	outs[0].Value = []byte(`{"id": 1, "status": "paid", "amount": 9.99}`)
	outs[1].Value = []byte(`{"id": "not a number"}`)
	outs[2].Value = []byte(`{"id": 2, "amount": 1e2}`)
	err := s.Write(testContext(t), outs)
	var rej *RejectedError
	if !errors.As(err, &rej) || len(rej.Rejected) != 1 || rej.Rejected[0].Index != 1 || rej.Rejected[0].Code != "22P02" {
		t.Fatalf("write: %v, want output 1 rejected with 22P02", err)
	}
	if got := strings.Join(p.rows("SELECT id, status, amount FROM orders ORDER BY id"), " "); got != "1|paid|9.99 2|NULL|100" {
		t.Errorf("table %s", got)
	}
}

func TestPostgresSinkOptions(t *testing.T) {
	for _, c := range []struct {
		opts map[string]string
		cols []format.Column
		want string
	}{
		{map[string]string{"url": "postgres://x/y", "table": "t"}, nil, "option 'primary-key' is required"},
		{map[string]string{"url": "postgres://x/y", "table": "t", "primary-key": "id", "batch.size": "0"}, nil, "'batch.size' must be an integer from 1"},
		{map[string]string{"url": "postgres://x/y", "table": "t", "primary-key": "id", "tabel.create": "true"}, nil, "unknown option 'tabel.create'"},
		{map[string]string{"url": "postgres://x/y", "table": "t", "primary-key": "nope"}, orderCols, `primary-key column "nope" is not an output column (outputs: id, status, amount)`},
		{map[string]string{"url": "::bad", "table": "t", "primary-key": "id"}, nil, "option 'url'"},
	} {
		_, err := NewSink("postgres", c.opts, Env{Columns: c.cols})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error with %q", c.opts, err, c.want)
		}
	}
	// Checking options does not connect.
	if err := CheckSink("postgres", map[string]string{"url": "postgres://nobody@127.0.0.1:1/none", "table": "t", "primary-key": "id"}); err != nil {
		t.Errorf("CheckSink: %v", err)
	}
}

// TestPostgresSinkNumericCopy checks the binary numeric encoding of the
// COPY path against Postgres' own reading of the same text.
func TestPostgresSinkNumericCopy(t *testing.T) {
	p := newPGTest(t)
	cols := []format.Column{{Name: "id", Type: types.KindInt8}, {Name: "n", Type: types.KindNumeric}, {Name: "t", Type: types.KindText}}
	s := p.sink(cols, map[string]string{"table": "nums", "primary-key": "id", "table.create": "true"})
	texts := []string{"0", "-0", "0.0", "0.000", "1", "-1", "10000", "9999", "99999999", "100000000", "0.0001", "0.00001",
		"1e-20", "-1.5e-7", "12345678.9", "1e30", "-1e30", "123.456", "0.5", "3.14159265358979323846264338327950288",
		"1000000.0001", "1e4", "1.0e4", "100e-2", "NaN", "Infinity", "-Infinity", "7.00", "-0.0000001000"}
	for i := 0; i < 300; i++ { // and numbers of every shape
		texts = append(texts, fmt.Sprintf("%de%d", (i*7919)%1000003-500000, i%41-25))
	}
	rows := make([]types.Row, len(texts))
	for i, text := range texts {
		d, err := types.ParseNumeric(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		rows[i] = types.Row{types.NewInt8(int64(i)), types.NewNumeric(d), types.NewText(types.NewNumeric(d).String())}
	}
	if err := s.WriteRows(testContext(t), rows, origins(0, len(rows))); err != nil {
		t.Fatal(err)
	}
	for _, bad := range p.rows(`SELECT t, n FROM nums WHERE n::text <> t::numeric::text`) {
		t.Errorf("numeric written as (Tide's text | Postgres' reading of the binary): %s", bad)
	}
	if n := p.one("SELECT count(*) FROM nums"); n != fmt.Sprint(len(texts)) {
		t.Errorf("%s rows, want %d", n, len(texts))
	}
}
