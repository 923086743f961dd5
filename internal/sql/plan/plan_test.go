package plan

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/parser"
	"github.com/tide-data/tide/internal/sql/types"
)

// The connector lists analysis is given: fixed here, so that the tests
// do not depend on the connector registry.
var (
	sourceConnectors = []string{"datagen", "topic"}
	sinkConnectors   = []string{"blackhole", "stdout", "topic"}
)

var testOptions = Options{Compile: expr.CompileOptions{Now: func() time.Time {
	return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
}}}

// testSources are what sinks in these tests read.
const testSources = `
CREATE SOURCE orders (
    id bigint NOT NULL,
    customer text,
    amount numeric(10, 2),
    tags json,
    payload bytea,
    placed_at timestamptz,
    WATERMARK FOR placed_at AS placed_at - INTERVAL '5' SECOND
) WITH (connector = 'topic', topic = 'orders', format = 'json');
CREATE SOURCE clicks (user_id bigint, url text) WITH (connector = 'datagen', seed = '7');
CREATE SOURCE customers (name text, tier text, since date) WITH (connector = 'topic', topic = 'customers', 'primary-key' = 'name');
CREATE SOURCE readings (
    sensor text, region text, value double precision, ok boolean, ts timestamp, at timestamp,
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (connector = 'datagen');
CREATE SOURCE visits (page text, seen timestamptz) WITH (connector = 'datagen');
CREATE SOURCE payments (
    order_id integer, amount numeric, paid_at timestamptz,
    WATERMARK FOR paid_at AS paid_at - INTERVAL '2' SECOND
) WITH (connector = 'topic', topic = 'payments');
`

func parseOne(t *testing.T, sql string) ast.Statement {
	t.Helper()
	stmt, err := parser.ParseOne(sql)
	if err != nil {
		t.Fatalf("parse %q: %v", sql, err)
	}
	return stmt
}

func analyzeSource(t *testing.T, sql string) (*Source, error) {
	t.Helper()
	stmt, ok := parseOne(t, sql).(*ast.CreateSource)
	if !ok {
		t.Fatalf("%q is not a CREATE SOURCE", sql)
	}
	return AnalyzeSource(stmt, sourceConnectors, testOptions)
}

// catalogOf analyzes testSources into a lookup function for AnalyzeSink.
func catalogOf(t *testing.T, sql string) func(string) (*Source, bool) {
	t.Helper()
	stmts, err := parser.Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]*Source{}
	for _, s := range stmts {
		src, err := AnalyzeSource(s.(*ast.CreateSource), sourceConnectors, testOptions)
		if err != nil {
			t.Fatalf("test source: %v", err)
		}
		sources[src.Name] = src
	}
	return func(name string) (*Source, bool) {
		s, ok := sources[name]
		return s, ok
	}
}

func analyzeSink(t *testing.T, sql string) (*Pipeline, error) {
	t.Helper()
	stmt, ok := parseOne(t, sql).(*ast.CreateSink)
	if !ok {
		t.Fatalf("%q is not a CREATE SINK", sql)
	}
	return AnalyzeSink(stmt, catalogOf(t, testSources), sinkConnectors, testOptions)
}

// errorCase is an analysis that must fail: the message (and hint, if
// given) must contain the texts, at the position given as "line:col"
// (empty: any position); unsupported says whether it names a feature the
// runtime lacks rather than a mistake.
type errorCase struct {
	name, sql        string
	msg, hint, pos   string
	unsupported      bool
	compileErrorOnly bool // an *expr.Error from the expression compiler, not a *plan.Error
}

func checkError(t *testing.T, c errorCase, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: analysis succeeded, want an error containing %q", c.sql, c.msg)
	}
	var pos ast.Pos
	var msg, hint string
	if c.compileErrorOnly {
		var xe *expr.Error
		if !errors.As(err, &xe) {
			t.Fatalf("error %v (%T), want an *expr.Error", err, err)
		}
		pos, msg, hint = xe.Pos, xe.Msg, xe.Hint
	} else {
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatalf("error %v (%T), want a *plan.Error", err, err)
		}
		pos, msg, hint = pe.Pos, pe.Msg, pe.Hint
		if pe.Unsupported != c.unsupported || errors.Is(err, ErrNotSupported) != c.unsupported {
			t.Errorf("Unsupported = %v, errors.Is(ErrNotSupported) = %v; want %v", pe.Unsupported, errors.Is(err, ErrNotSupported), c.unsupported)
		}
		if !strings.HasPrefix(pe.Error(), "line "+pos.String()+": "+msg) {
			t.Errorf("Error() = %q, want it to start with the position and message", pe.Error())
		}
	}
	if !strings.Contains(msg, c.msg) {
		t.Errorf("message %q lacks %q", msg, c.msg)
	}
	if !strings.Contains(hint, c.hint) {
		t.Errorf("hint %q lacks %q", hint, c.hint)
	}
	if c.pos != "" && pos.String() != c.pos {
		t.Errorf("position %s, want %s", pos, c.pos)
	}
}

func TestAnalyzeSourceErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []errorCase{
		{name: "duplicate column", sql: "CREATE SOURCE s (a int, b text, a bigint) WITH (connector = 'datagen')",
			msg: `column "a" specified more than once`, pos: "1:33"},
		{name: "reserved source name", sql: "CREATE SOURCE _s (a int) WITH (connector = 'datagen')",
			msg: `invalid source name "_s"`, hint: "reserved", pos: "1:1"},
		{name: "reserved column name", sql: "CREATE SOURCE s (a int, _offset bigint) WITH (connector = 'datagen')",
			msg: `column name "_offset" is reserved`, hint: "_key, _topic, _partition, _offset and _timestamp", pos: "1:25"},
		{name: "unknown type", sql: "CREATE SOURCE s (a int,\n  b uuid) WITH (connector = 'datagen')",
			msg: `type "uuid" is not supported`, pos: "2:5"},
		{name: "array type", sql: "CREATE SOURCE s (a int, tags text[]) WITH (connector = 'datagen')",
			msg: "array types are not supported yet: text[]", hint: "declare the column as json", pos: "1:30", unsupported: true},
		{name: "watermark on a missing column", sql: "CREATE SOURCE s (a int, WATERMARK FOR ts AS ts) WITH (connector = 'datagen')",
			msg: `watermark column "ts" is not a column of s`, pos: "1:25"},
		{name: "watermark on a non-timestamp column", sql: "CREATE SOURCE s (a int, WATERMARK FOR a AS a) WITH (connector = 'datagen')",
			msg: `watermark column "a" must be a timestamp, not integer`, hint: "timestamp or timestamptz", pos: "1:25"},
		{name: "watermark expression of the wrong type", sql: "CREATE SOURCE s (ts timestamp, WATERMARK FOR ts AS extract(hour FROM ts)) WITH (connector = 'datagen')",
			msg: "watermark expression must be a timestamp, not numeric", pos: "1:52"},
		{name: "watermark expression that does not compile", sql: "CREATE SOURCE s (ts timestamp, WATERMARK FOR ts AS ts - nope) WITH (connector = 'datagen')",
			msg: `column "nope" does not exist`, compileErrorOnly: true},
		{name: "no connector", sql: "CREATE SOURCE s (a int) WITH (topic = 'x')",
			msg: "the source has no connector", hint: "available: datagen, topic", pos: "1:1"},
		{name: "unknown connector", sql: "CREATE SOURCE s (a int) WITH (connector = 'kafka', topic = 'x')",
			msg: `unknown source connector "kafka"`, hint: "available: datagen, topic", pos: "1:43"},
		{name: "sink-only connector", sql: "CREATE SOURCE s (a int) WITH (connector = 'stdout')",
			msg: `unknown source connector "stdout"`, hint: "available: datagen, topic"},
		{name: "option given twice", sql: "CREATE SOURCE s (a int) WITH (connector = 'topic', topic = 'x', TOPIC = 'y')",
			msg: `option "topic" given twice`, pos: "1:65"},
		{name: "connector given twice", sql: "CREATE SOURCE s (a int) WITH (connector = 'topic', connector = 'datagen')",
			msg: `option "connector" given twice`, pos: "1:52"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := analyzeSource(t, c.sql)
			checkError(t, c, err)
		})
	}
}

func TestAnalyzeSource(t *testing.T) {
	t.Parallel()
	src, err := analyzeSource(t, `CREATE SOURCE clicks (
		user_id bigint NOT NULL, url varchar, ts timestamp,
		WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
	) WITH (CONNECTOR = 'topic', Topic = 'it''s', format = 'json')`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Column{{Name: "user_id", Type: types.KindInt8, NotNull: true}, {Name: "url", Type: types.KindText}, {Name: "ts", Type: types.KindTimestamp}}
	if len(src.Columns) != len(want) {
		t.Fatalf("columns %+v, want %+v", src.Columns, want)
	}
	for i := range want {
		if src.Columns[i] != want[i] {
			t.Errorf("column %d = %+v, want %+v", i, src.Columns[i], want[i])
		}
	}
	if src.Watermark == nil || src.Watermark.Column != 2 || src.Watermark.Text != "ts - INTERVAL '5' SECOND" || src.Watermark.Expr.Type() != types.KindTimestamp {
		t.Errorf("watermark %+v", src.Watermark)
	}
	// Option keys are case-insensitive; values are kept as written.
	if src.Connector != "topic" || len(src.Options) != 2 || src.Options["topic"] != "it's" || src.Options["format"] != "json" {
		t.Errorf("connector %q, options %v", src.Connector, src.Options)
	}
	if got := SortedOptions(src.Options); strings.Join(got, ", ") != "format = 'json', topic = 'it''s'" {
		t.Errorf("SortedOptions = %q", got)
	}
	// The row layout: declared columns, then the metadata columns.
	row := src.RowColumns()
	if len(row) != 3+NumMetadata || row[3].Name != ColKey || row[4].Name != ColTopic || row[5].Name != ColPartition ||
		row[6].Name != ColOffset || row[7].Name != ColTimestamp || row[7].Type != types.KindTimestampTZ {
		t.Errorf("RowColumns = %+v", row)
	}
	if len(src.Columns) != 3 {
		t.Errorf("RowColumns changed the declared columns: %+v", src.Columns)
	}
	// A column merely starting with _ is fine; only the metadata names are reserved.
	if _, err := analyzeSource(t, "CREATE SOURCE s (_id int) WITH (connector = 'datagen')"); err != nil {
		t.Errorf("column _id: %v", err)
	}
}

func TestAnalyzeSinkErrors(t *testing.T) {
	t.Parallel()
	const with = "CREATE SINK k WITH (connector = 'stdout') AS "
	for _, c := range []errorCase{
		{name: "reserved sink name", sql: "CREATE SINK _k WITH (connector = 'stdout') AS SELECT id FROM orders",
			msg: `invalid sink name "_k"`, hint: "reserved"},
		{name: "unknown source", sql: with + "SELECT id FROM nowhere",
			msg: `source "nowhere" does not exist`, hint: "SHOW SOURCES", pos: "1:61"},
		{name: "no FROM", sql: with + "SELECT 1",
			msg: "a sink's query needs FROM source", pos: "1:46"},
		{name: "distinct", sql: with + "SELECT DISTINCT customer FROM orders",
			msg: "SELECT DISTINCT is not supported yet", hint: "GROUP BY", pos: "1:46", unsupported: true},
		{name: "streams without an equality", sql: with + "SELECT o.id FROM orders o JOIN clicks c ON o.id < c.user_id",
			msg: "a join between two streams needs an equality between them in ON", hint: "a.key = b.key", pos: "1:89"},
		{name: "top-N over an aggregated stream join, with a clock", sql: with + "SELECT * FROM (SELECT n, ROW_NUMBER() OVER (ORDER BY n) AS r FROM (SELECT count(*) AS n, now() AS at FROM orders o JOIN clicks c ON o.id = c.user_id)) WHERE r <= 1",
			msg: "now() in a top-N over a GROUP BY without a window is not supported", unsupported: true},
		{name: "full join without bounds", sql: with + "SELECT o.id FROM orders o FULL JOIN clicks c ON o.id = c.user_id",
			msg: "a FULL JOIN without a time bound is an updating result: each left or right row", hint: "BETWEEN"},
		{name: "right join without a lower bound", sql: with + "SELECT o.id FROM orders o RIGHT JOIN visits v ON o.customer = v.page AND v.seen <= o.placed_at",
			msg: "a RIGHT JOIN without a time bound is an updating result", hint: "BETWEEN"},
		{name: "full join with a table", sql: with + "SELECT o.id FROM orders o FULL JOIN customers c ON o.customer = c.name",
			msg: "FULL JOIN of a stream with a table is not supported yet", unsupported: true},
		{name: "aggregating subquery under DISTINCT", sql: with + "SELECT DISTINCT n FROM (SELECT count(*) AS n FROM orders) q",
			msg: "subqueries in FROM that aggregate, key or use DISTINCT are not supported here", unsupported: true},
		{name: "column the subquery does not select", sql: with + "SELECT amount FROM (SELECT id FROM orders) q",
			msg: `column "amount" does not exist`, hint: "select it there too"},
		{name: "subquery under another alias", sql: with + "SELECT o.id FROM (SELECT id FROM orders) q",
			msg: `missing FROM-clause entry for table "o"`},
		{name: "ambiguous subquery column", sql: with + "SELECT id FROM (SELECT id, amount AS id FROM orders) q",
			msg: `column reference "id" is ambiguous`},
		{name: "aggregate in WHERE", sql: with + "SELECT id FROM orders WHERE max(amount) > 1",
			msg: "aggregate functions are not allowed in WHERE", pos: "1:74"},
		{name: "aggregate in KEY BY without aggregation", sql: with + "SELECT id FROM orders KEY BY max(id)",
			msg: "aggregate functions are not allowed in KEY BY", pos: "1:75"},
		{name: "column list too short", sql: "CREATE SINK k (a) WITH (connector = 'stdout') AS SELECT id, customer FROM orders",
			msg: "sink k names 1 columns but its query has 2", pos: "1:1"},
		{name: "column list too long", sql: "CREATE SINK k (a, b, c) WITH (connector = 'stdout') AS SELECT * FROM clicks",
			msg: "sink k names 3 columns but its query has 2"},
		{name: "duplicate output names", sql: with + "SELECT id, customer AS id FROM orders",
			msg: `output column "id" appears more than once`, hint: "give one of them an alias: expr AS other_name"},
		{name: "duplicate output names from a star", sql: with + "SELECT *, url FROM clicks",
			msg: `output column "url" appears more than once`, hint: "alias"},
		{name: "duplicate unnamed expressions", sql: with + "SELECT id + 1, id + 2 FROM orders",
			msg: `output column "?column?" appears more than once`},
		{name: "duplicate names from the column list", sql: "CREATE SINK k (a, a) WITH (connector = 'stdout') AS SELECT * FROM clicks",
			msg: `output column "a" appears more than once`},
		{name: "star of another table", sql: with + "SELECT clicks.* FROM orders",
			msg: `missing FROM-clause entry for table "clicks"`, pos: "1:53"},
		{name: "star of the table's name under an alias", sql: with + "SELECT orders.* FROM orders o",
			msg: `missing FROM-clause entry for table "orders"`},
		{name: "unknown column", sql: with + "SELECT idd FROM orders",
			msg: `column "idd" does not exist`, pos: "1:53", compileErrorOnly: true},
		{name: "WHERE not boolean", sql: with + "SELECT id FROM orders WHERE amount",
			msg: "argument of WHERE must be type boolean", compileErrorOnly: true},
		{name: "KEY BY that does not compile", sql: with + "SELECT id FROM orders KEY BY nope",
			msg: `column "nope" does not exist`, compileErrorOnly: true},
		{name: "unknown sink connector", sql: "CREATE SINK k WITH (connector = 'datagen') AS SELECT id FROM orders",
			msg: `unknown sink connector "datagen"`, hint: "available: blackhole, stdout, topic"},
		{name: "sink without connector", sql: "CREATE SINK k WITH (topic = 'x') AS SELECT id FROM orders",
			msg: "the sink has no connector", hint: "add WITH (connector = '...'); available: blackhole, stdout, topic"},
		{name: "sink option given twice", sql: "CREATE SINK k WITH (connector = 'topic', topic = 'a', topic = 'b') AS SELECT id FROM orders",
			msg: `option "topic" given twice`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := analyzeSink(t, c.sql)
			checkError(t, c, err)
		})
	}
}

func TestAnalyzeSink(t *testing.T) {
	t.Parallel()
	p, err := analyzeSink(t, `CREATE SINK big WITH (connector = 'topic', topic = 'big', format = 'json', dlq.topic = 'bad')
		AS SELECT o.*, _key, amount * 2 AS doubled FROM orders AS o WHERE amount > 100 KEY BY customer || '-' || id`)
	if err != nil {
		t.Fatal(err)
	}
	var names, kinds []string
	for _, o := range p.Outputs {
		names = append(names, o.Name)
		kinds = append(kinds, o.Type.String())
	}
	if got := strings.Join(names, ","); got != "id,customer,amount,tags,payload,placed_at,_key,doubled" {
		t.Errorf("output names %s", got)
	}
	if got := strings.Join(kinds, ","); got != "bigint,text,numeric,jsonb,bytea,timestamp with time zone,bytea,numeric" {
		t.Errorf("output types %s", got)
	}
	if p.Source.Name != "orders" || p.Filter == nil || p.FilterText != "amount > 100" {
		t.Errorf("source %s, filter %q", p.Source.Name, p.FilterText)
	}
	if p.Key == nil || p.Key.Type() != types.KindText || p.KeyText != "customer || '-' || id" {
		t.Errorf("key %q", p.KeyText)
	}
	if p.Connector != "topic" || len(p.Options) != 3 || p.Options["dlq.topic"] != "bad" {
		t.Errorf("connector %q, options %v", p.Connector, p.Options)
	}
	// A column list renames the outputs, in order.
	p, err = analyzeSink(t, "CREATE SINK k (who, page) WITH (connector = 'stdout') AS SELECT * FROM clicks")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Outputs) != 2 || p.Outputs[0].Name != "who" || p.Outputs[1].Name != "page" || p.Outputs[0].Text != "user_id" {
		t.Errorf("renamed outputs %+v", p.Outputs)
	}
	// Without WHERE and KEY BY: every record passes, the input key stays.
	if p.Filter != nil || p.Key != nil {
		t.Errorf("filter %v, key %v, want none", p.Filter, p.Key)
	}
}

// TestOutputNames checks that unaliased outputs are named as Postgres
// names them, except that ->/->> with a constant key take the key's name.
func TestOutputNames(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string]string{
		"customer":                           "customer",
		"o.customer":                         "customer",
		"upper(customer)":                    "upper",
		"coalesce(customer, 'x')":            "coalesce",
		"customer::varchar":                  "customer",
		"CAST(amount AS double precision)":   "amount",
		"tags ->> 'channel'":                 "channel",
		"tags -> 'channel'":                  "channel",
		"tags -> 0":                          "?column?",
		"extract(hour FROM placed_at)":       "extract",
		"CASE WHEN id > 1 THEN 1 ELSE 0 END": "case",
		"id + 1":                             "?column?",
		"'literal'":                          "?column?",
		"id IS NULL":                         "?column?",
		"_partition":                         "_partition",
		"amount AS total":                    "total",
	} {
		p, err := analyzeSink(t, "CREATE SINK k WITH (connector = 'stdout') AS SELECT "+expr+" FROM orders o")
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if got := p.Outputs[0].Name; got != want {
			t.Errorf("SELECT %s: output named %q, want %q", expr, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	cases := []struct{ key, value, want string }{
		{"hmac.secret", "s3cr3t", Redacted},
		{"hmac.secret.env", "HOOK_SECRET", "HOOK_SECRET"},
		{"password", "pw", Redacted},
		{"auth.token", "abc", Redacted},
		{"url", "postgres://tide:pw@db:5432/shop?sslmode=disable", "postgres://tide:****@db:5432/shop?sslmode=disable"},
		{"url", "postgres://tide@db:5432/shop", "postgres://tide@db:5432/shop"},
		{"url", "https://hooks.example.com/x", "https://hooks.example.com/x"},
		{"topic", "orders", "orders"},
		{"dsn", "host=db user=tide password=pw dbname=shop", "host=db user=tide password=**** dbname=shop"},
		{"dsn", "password = 'a b\\' c' host=db", "password = **** host=db"},
		{"dsn", "host=db dbname=nopassword", "host=db dbname=nopassword"},
	}
	for _, c := range cases {
		if got := Redact(c.key, c.value); got != c.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", c.key, c.value, got, c.want)
		}
	}
	if got := SortedOptions(map[string]string{"url": "postgres://u:p@h/d", "hmac.secret": "x"}); got[0] != "hmac.secret = '****'" || got[1] != "url = 'postgres://u:****@h/d'" {
		t.Errorf("SortedOptions = %q", got)
	}
}

// The outer WHERE of a subquery is not evaluated on rows the inner one
// drops, NULL included: 10 / amount never runs on amount 0 or NULL.
func TestSubqueryWhereGuardsOuter(t *testing.T) {
	lookup := catalogOf(t, testSources)
	sink, err := parser.ParseOne(`CREATE SINK s WITH (connector = 'stdout') AS
		SELECT id FROM (SELECT id, amount FROM orders WHERE amount <> 0) q WHERE 10 / amount > 1`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := AnalyzeSink(sink.(*ast.CreateSink), lookup, sinkConnectors, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	row := make(types.Row, len(p.Source.RowColumns()))
	for i, c := range p.Source.RowColumns() {
		row[i] = types.Null(c.Type)
	}
	amount := slices.IndexFunc(p.Source.Columns, func(c Column) bool { return c.Name == "amount" })
	for _, v := range []types.Value{types.Null(types.KindNumeric), types.NewInt8(0)} {
		row[amount] = v
		got, err := p.Filter.Eval(row)
		if err != nil || got.IsNull() || got.Bool() {
			t.Errorf("amount %v: filter %v, %v; want false without an error", v, got, err)
		}
	}
}
