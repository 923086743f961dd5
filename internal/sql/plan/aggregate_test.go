package plan

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/eventtime"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/expr"
	"github.com/tide-data/tide/internal/sql/types"
)

const sink = "CREATE SINK k WITH (connector = 'stdout') AS "

func mustAnalyze(t *testing.T, sql string) *Pipeline {
	t.Helper()
	p, err := analyzeSink(t, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return p
}

// columnsText prints a row layout as "name type, ...".
func columnsText(cols []Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c.Name + " " + c.Type.String()
	}
	return strings.Join(parts, ", ")
}

// evalAll evaluates the outputs over row, printing "name=value, ...".
func evalAll(t *testing.T, outs []Output, row types.Row) string {
	t.Helper()
	parts := make([]string, len(outs))
	for i, o := range outs {
		v, err := o.Expr.Eval(row)
		if err != nil {
			t.Fatalf("output %s: %v", o.Name, err)
		}
		parts[i] = o.Name + "=" + v.String()
	}
	return strings.Join(parts, ", ")
}

func parse(t *testing.T, k types.Kind, s string) types.Value {
	t.Helper()
	v, err := types.ParseText(k, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestWindowedAggregation checks a TUMBLE aggregation end to end: the
// window, the keys and aggregates over the input row, and the outputs,
// HAVING and layout over the aggregated row.
func TestWindowedAggregation(t *testing.T) {
	t.Parallel()
	p := mustAnalyze(t, sink+`SELECT o.customer AS who, window_start, count(*) AS n, sum(amount) / count(*) AS mean, window_end - window_start AS span
		FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE, INTERVAL '10' SECOND) AS o
		WHERE amount > 0
		GROUP BY window_start, customer, o.window_end, o.customer
		HAVING max(o.amount) > 10 AND count(*) > 1`)
	a := p.Aggregation
	if a == nil || p.Updating() {
		t.Fatalf("aggregation %+v, updating %v", a, p.Updating())
	}
	if *a.Window != (eventtime.Spec{Kind: eventtime.Tumble, Size: 60_000_000, Offset: 10_000_000}) {
		t.Errorf("window %+v", *a.Window)
	}
	if a.WindowText != "TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE, INTERVAL '10' SECOND)" {
		t.Errorf("window text %q", a.WindowText)
	}
	if a.Time != 5 || a.TimeType != types.KindTimestampTZ {
		t.Errorf("time column %d of %s, want 5 (placed_at)", a.Time, a.TimeType)
	}
	// Keys: customer once (o.customer is the same), named by the select item.
	if len(a.Keys) != 1 || a.Keys[0].Name != "who" || a.Keys[0].Text != "customer" || a.Keys[0].Type != types.KindText {
		t.Errorf("keys %+v", a.Keys)
	}
	var aggs []string
	for _, c := range a.Aggs {
		aggs = append(aggs, fmt.Sprintf("%s:%s", c.Text, c.Agg.Result))
	}
	if got := strings.Join(aggs, ", "); got != "count(*):bigint, sum(amount):numeric, max(o.amount):numeric" {
		t.Errorf("aggs %s", got)
	}
	if a.Aggs[0].Arg != nil || a.Aggs[1].Arg == nil || !a.Aggs[0].Agg.Star {
		t.Errorf("count(*) has an argument, or sum none")
	}
	want := "who text, window_start timestamp with time zone, window_end timestamp with time zone, _agg1 bigint, _agg2 numeric, _agg3 numeric"
	if got := columnsText(a.RowColumns()); got != want {
		t.Errorf("RowColumns:\n got %s\nwant %s", got, want)
	}
	if p.Key != nil {
		t.Errorf("key %q, want the group's", p.KeyText)
	}

	// Over the input row: the filter, the key, the aggregate arguments.
	in := make(types.Row, len(p.Source.RowColumns()))
	for i, c := range p.Source.RowColumns() {
		in[i] = types.Null(c.Type)
	}
	in[1], in[2] = types.NewText("ada"), parse(t, types.KindNumeric, "12.50")
	if v, _ := p.Filter.Eval(in); !v.Bool() {
		t.Errorf("filter rejects amount 12.50")
	}
	if v, _ := a.Keys[0].Expr.Eval(in); v.String() != "ada" {
		t.Errorf("key = %s", v)
	}
	if v, _ := a.Aggs[1].Arg.Eval(in); v.String() != "12.50" {
		t.Errorf("sum's argument = %s", v)
	}

	// Over the aggregated row: outputs and HAVING.
	start := time.Date(2026, 1, 2, 3, 4, 10, 0, time.UTC).UnixMicro()
	row := types.Row{types.NewText("ada"), types.NewTimestampTZ(start), types.NewTimestampTZ(start + 60_000_000),
		types.NewInt8(4), parse(t, types.KindNumeric, "50.00"), parse(t, types.KindNumeric, "20.00")}
	if got, want := evalAll(t, p.Outputs, row), "who=ada, window_start=2026-01-02 03:04:10+00, n=4, mean=12.5000000000000000, span=00:01:00"; got != want {
		t.Errorf("outputs:\n got %s\nwant %s", got, want)
	}
	if v, _ := a.Having.Eval(row); !v.Bool() || a.HavingText != "(max(o.amount) > 10) AND (count(*) > 1)" {
		t.Errorf("having %q = %s", a.HavingText, v)
	}
	row[5] = parse(t, types.KindNumeric, "9")
	if v, _ := a.Having.Eval(row); v.Bool() {
		t.Errorf("having passes max 9")
	}
}

// TestUpdatingAggregation checks a GROUP BY without a window.
func TestUpdatingAggregation(t *testing.T) {
	t.Parallel()
	p := mustAnalyze(t, sink+`SELECT lower(customer), count(DISTINCT id), avg(amount) AS mean, max(placed_at)
		FROM orders GROUP BY lower(customer), id % 4 KEY BY lower(customer)`)
	a := p.Aggregation
	if a == nil || a.Window != nil || a.Time != -1 || !p.Updating() {
		t.Fatalf("aggregation %+v", a)
	}
	want := "lower text, _group2 bigint, _agg1 bigint, _agg2 numeric, _agg3 timestamp with time zone"
	if got := columnsText(a.RowColumns()); got != want {
		t.Errorf("RowColumns:\n got %s\nwant %s", got, want)
	}
	if !a.Aggs[0].Agg.Distinct || a.Aggs[0].Agg.Func != expr.AggCount || a.Aggs[2].Agg.Func != expr.AggMax {
		t.Errorf("aggs %+v", a.Aggs)
	}
	var names []string
	for _, o := range p.Outputs {
		names = append(names, o.Name+" "+o.Type.String())
	}
	if got := strings.Join(names, ", "); got != "lower text, count bigint, mean numeric, max timestamp with time zone" {
		t.Errorf("outputs %s", got)
	}
	row := types.Row{types.NewText("ada"), types.NewInt8(3), types.NewInt8(2), parse(t, types.KindNumeric, "1.5"), types.NewTimestampTZ(0)}
	if v, _ := p.Key.Eval(row); v.String() != "ada" {
		t.Errorf("key = %s", v)
	}
	// Plain references copy a column of the aggregated row.
	if i, ok := p.Outputs[1].Expr.Column(); !ok || i != 2 {
		t.Errorf("count(DISTINCT id) reads column %d, %v", i, ok)
	}
}

// TestGroupByResolution checks how GROUP BY items name their
// expressions: positions, output names, input columns first, and
// structural matches in the select list.
func TestGroupByResolution(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ query, keys, columns string }{
		{"SELECT customer, count(*) FROM orders GROUP BY 1", "customer", "customer text, _agg1 bigint"},
		{"SELECT upper(customer) AS who, count(*) FROM orders GROUP BY who", "upper(customer)", "who text, _agg1 bigint"},
		// An unaliased output is named as Postgres names it, and GROUP BY finds it so.
		{"SELECT upper(customer), count(*) FROM orders GROUP BY upper", "upper(customer)", "upper text, _agg1 bigint"},
		// An input column wins over an output name.
		{"SELECT upper(customer) AS customer, count(*) FROM orders GROUP BY customer", "customer", "customer text, _agg1 bigint"},
		// Repeats, qualified or not, are one key.
		{"SELECT o.id FROM orders o GROUP BY id, o.id, 1", "id", "id bigint"},
		{"SELECT count(*) FROM orders GROUP BY lower(customer), upper(customer), lower(tags ->> 'a'), id + 1",
			"lower(customer), upper(customer), lower(tags ->> 'a'), id + 1", "lower text, upper text, lower_2 text, _group4 bigint, _agg1 bigint"},
		// A grouped column may be used in expressions; a constant needs no grouping.
		{"SELECT lower(url) || '!' AS shout, 'x' AS tag, user_id + 1 FROM clicks GROUP BY url, user_id", "url, user_id", "url text, user_id bigint"},
		{"SELECT count(*) FROM orders HAVING count(*) > 1", "", "_agg1 bigint"},
		// The name of a metadata column, and of a window column outside a window.
		{"SELECT _partition, count(*) AS window_start FROM orders GROUP BY _partition", "_partition", "_partition integer, _agg1 bigint"},
	} {
		p, err := analyzeSink(t, sink+c.query)
		if err != nil {
			t.Errorf("%s: %v", c.query, err)
			continue
		}
		var keys []string
		for _, k := range p.Aggregation.Keys {
			keys = append(keys, k.Text)
		}
		if got := strings.Join(keys, ", "); got != c.keys {
			t.Errorf("%s: keys %q, want %q", c.query, got, c.keys)
		}
		if got := columnsText(p.Aggregation.RowColumns()); got != c.columns {
			t.Errorf("%s: row %q, want %q", c.query, got, c.columns)
		}
	}
}

// TestWindowArguments checks the three window functions' arguments,
// positional and named, and the specs they give.
func TestWindowArguments(t *testing.T) {
	t.Parallel()
	const minute = 60_000_000
	for from, want := range map[string]eventtime.Spec{
		"TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE)":                                                        {Kind: eventtime.Tumble, Size: minute},
		`TUMBLE(TABLE readings, DESCRIPTOR(ts), size => INTERVAL '1' MINUTE, "offset" => INTERVAL '-1' SECOND)`:              {Kind: eventtime.Tumble, Size: minute, Offset: -1_000_000},
		"TUMBLE(TABLE readings, DESCRIPTOR(ts), '1 day')":                                                                    {Kind: eventtime.Tumble, Size: 24 * 60 * minute},
		"TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '1' DAY + INTERVAL '1' HOUR)":                                       {Kind: eventtime.Tumble, Size: 25 * 60 * minute},
		"HOP(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '1' MINUTE)":                                     {Kind: eventtime.Hop, Slide: 10_000_000, Size: minute},
		"HOP(size => INTERVAL '1' MINUTE, slide => INTERVAL '15' SECOND, timecol => DESCRIPTOR(ts), data => TABLE readings)": {Kind: eventtime.Hop, Slide: 15_000_000, Size: minute},
		"SESSION(TABLE readings, DESCRIPTOR(ts), INTERVAL '30' SECOND)":                                                      {Kind: eventtime.Session, Gap: 30_000_000},
		"SESSION(TABLE readings, timecol => DESCRIPTOR(ts), gap => INTERVAL '90' SECOND)":                                    {Kind: eventtime.Session, Gap: 90_000_000},
	} {
		p, err := analyzeSink(t, sink+"SELECT count(*) FROM "+from+" GROUP BY window_start, window_end")
		if err != nil {
			t.Errorf("%s: %v", from, err)
			continue
		}
		if got := *p.Aggregation.Window; got != want {
			t.Errorf("%s: spec %+v, want %+v", from, got, want)
		}
		if got := columnsText(p.Aggregation.RowColumns()); got != "window_start timestamp without time zone, window_end timestamp without time zone, _agg1 bigint" {
			t.Errorf("%s: row %s", from, got)
		}
	}
}

func TestAggregationErrors(t *testing.T) {
	t.Parallel()
	tumble := "TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE)"
	for _, c := range []errorCase{
		// Grouping, as Postgres checks it.
		{name: "ungrouped column", sql: sink + "SELECT customer, id, count(*) FROM orders GROUP BY customer",
			msg: `column "orders.id" must appear in the GROUP BY clause or be used in an aggregate function`, pos: "1:63"},
		{name: "ungrouped column under an alias", sql: sink + "SELECT o.id + 1, count(*) FROM orders AS o",
			msg: `column "o.id" must appear in the GROUP BY clause or be used in an aggregate function`, pos: "1:53"},
		{name: "ungrouped column beside a grouped expression", sql: sink + "SELECT url, count(*) FROM clicks GROUP BY lower(url)",
			msg: `column "clicks.url" must appear in the GROUP BY clause`, pos: "1:53"},
		{name: "ungrouped column in HAVING", sql: sink + "SELECT customer FROM orders GROUP BY customer HAVING amount > 1",
			msg: `column "orders.amount" must appear in the GROUP BY clause`, pos: "1:99"},
		{name: "ungrouped column in KEY BY", sql: sink + "SELECT customer FROM orders GROUP BY customer KEY BY id",
			msg: `column "orders.id" must appear in the GROUP BY clause`, pos: "1:99"},
		{name: "star with GROUP BY", sql: sink + "SELECT * FROM clicks GROUP BY url",
			msg: `column "clicks.user_id" must appear in the GROUP BY clause`, pos: "1:53"},
		{name: "unknown column in an aggregation", sql: sink + "SELECT nope, count(*) FROM orders",
			msg: `column "nope" does not exist`, pos: "1:53", compileErrorOnly: true},
		{name: "unknown column in GROUP BY", sql: sink + "SELECT count(*) FROM orders GROUP BY nope",
			msg: `column "nope" does not exist`, compileErrorOnly: true},
		{name: "GROUP BY position out of range", sql: sink + "SELECT customer, count(*) FROM orders GROUP BY 3",
			msg: "GROUP BY position 3 is not in select list", pos: "1:93"},
		{name: "GROUP BY position 0", sql: sink + "SELECT customer FROM orders GROUP BY 0",
			msg: "GROUP BY position 0 is not in select list"},
		{name: "GROUP BY negative position", sql: sink + "SELECT customer FROM orders GROUP BY -1",
			msg: "GROUP BY position -1 is not in select list"},
		{name: "GROUP BY string constant", sql: sink + "SELECT count(*) FROM orders GROUP BY 'customer'",
			msg: "non-integer constant in GROUP BY", pos: "1:83"},
		{name: "GROUP BY non-integer number", sql: sink + "SELECT count(*) FROM orders GROUP BY 1.5",
			msg: "non-integer constant in GROUP BY"},
		{name: "GROUP BY an ambiguous output name", sql: sink + "SELECT lower(url) AS u, upper(url) AS u FROM clicks GROUP BY u",
			msg: `GROUP BY "u" is ambiguous`},
		{name: "GROUP BY position of an aggregate", sql: sink + "SELECT count(*) FROM orders GROUP BY 1",
			msg: "aggregate functions are not allowed in GROUP BY", pos: "1:53"},
		{name: "aggregate in GROUP BY", sql: sink + "SELECT count(*) FROM orders GROUP BY max(id)",
			msg: "aggregate functions are not allowed in GROUP BY", pos: "1:83"},
		{name: "HAVING not boolean", sql: sink + "SELECT customer FROM orders GROUP BY customer HAVING count(*)",
			msg: "argument of HAVING must be type boolean, not type bigint", compileErrorOnly: true},

		// Aggregate calls.
		{name: "nested aggregates", sql: sink + "SELECT sum(count(*)) FROM orders",
			msg: "aggregate function calls cannot be nested", pos: "1:57"},
		{name: "aggregate not run yet", sql: sink + "SELECT string_agg(url, ',') FROM clicks",
			msg: "aggregate function string_agg is not supported yet", hint: "count, sum, avg, min and max", pos: "1:53", unsupported: true},
		{name: "aggregate FILTER", sql: sink + "SELECT count(*) FILTER (WHERE amount > 0) FROM orders",
			msg: "aggregate FILTER (WHERE ...) is not supported yet", hint: "CASE WHEN", unsupported: true},
		{name: "count()", sql: sink + "SELECT count() FROM orders",
			msg: "count(*) must be used to call a parameterless aggregate function", compileErrorOnly: true},
		{name: "two arguments", sql: sink + "SELECT sum(id, amount) FROM orders",
			msg: "function sum(bigint, numeric) does not exist", compileErrorOnly: true},
		{name: "argument type", sql: sink + "SELECT sum(customer) FROM orders",
			msg: "function sum(text) does not exist; sum takes numbers and intervals", pos: "1:53", compileErrorOnly: true},
		{name: "star of another aggregate", sql: sink + "SELECT max(*) FROM orders",
			msg: "max(*) is not allowed; only count(*)", compileErrorOnly: true},
		{name: "aggregate in the KEY BY of an updating aggregation", sql: sink + "SELECT customer, count(*) FROM orders GROUP BY customer KEY BY count(*)",
			msg: "KEY BY of an updating aggregation cannot use aggregate functions", hint: "leave KEY BY out", pos: "1:109"},

		// Windows.
		{name: "window without window_end", sql: sink + "SELECT count(*) FROM " + tumble + " GROUP BY window_start, customer",
			msg: "GROUP BY must contain window_start and window_end to aggregate over TUMBLE windows", hint: "GROUP BY window_start, window_end", pos: "1:141"},
		{name: "window without GROUP BY", sql: sink + "SELECT count(*) FROM " + tumble,
			msg: "GROUP BY must contain window_start and window_end", pos: "1:67"},
		{name: "window without aggregation", sql: sink + "SELECT customer FROM " + tumble,
			msg: "window table function TUMBLE without GROUP BY is not supported yet", hint: "GROUP BY window_start, window_end", pos: "1:67", unsupported: true},
		{name: "window column in WHERE", sql: sink + "SELECT count(*) FROM " + tumble + " w WHERE w.window_start > now() GROUP BY window_start, window_end",
			msg: "window_start is not allowed in WHERE", hint: "HAVING", pos: "1:140"},
		{name: "expression of a window column in GROUP BY", sql: sink + "SELECT count(*) FROM " + tumble + " GROUP BY window_start, window_end, date_trunc('hour', window_end)",
			msg: "GROUP BY expressions of window_end are not supported", unsupported: true},
		{name: "window column in an aggregate", sql: sink + "SELECT max(window_end) FROM " + tumble + " GROUP BY window_start, window_end",
			msg: "window_end in an aggregate's argument is not supported", unsupported: true},
		{name: "window column without a window", sql: sink + "SELECT window_start, count(*) FROM orders GROUP BY 1",
			msg: `column "window_start" does not exist`, compileErrorOnly: true},
		{name: "window column of another table", sql: sink + "SELECT x.window_start, count(*) FROM " + tumble + " GROUP BY window_start, window_end",
			msg: `column "x.window_start" does not exist`, compileErrorOnly: true},
		{name: "unknown table function", sql: sink + "SELECT count(*) FROM generate_series(1, 10)",
			msg: "table function generate_series does not exist", hint: "TUMBLE, HOP and SESSION", pos: "1:67"},
		{name: "unknown window source", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE nowhere, DESCRIPTOR(ts), INTERVAL '1' MINUTE)",
			msg: `source "nowhere" does not exist`, pos: "1:80"},
		{name: "data not a table", sql: sink + "SELECT count(*) FROM TUMBLE(orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE)",
			msg: "the data argument of TUMBLE must be TABLE source", hint: "TUMBLE(TABLE source, DESCRIPTOR(time_column), size [, offset])", pos: "1:74"},
		{name: "missing size", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at))",
			msg: "TUMBLE is missing its size argument", pos: "1:67"},
		{name: "HOP without its size", sql: sink + "SELECT count(*) FROM HOP(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE)",
			msg: "HOP is missing its size argument", hint: "HOP(TABLE source, DESCRIPTOR(time_column), slide, size [, offset])"},
		{name: "too many arguments", sql: sink + "SELECT count(*) FROM SESSION(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE, INTERVAL '1' MINUTE)",
			msg: "too many arguments for SESSION", pos: "1:133"},
		{name: "unknown argument name", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), width => INTERVAL '1' MINUTE)",
			msg: `TUMBLE has no argument named "width"`, pos: "1:111"},
		{name: "positional after named", sql: sink + "SELECT count(*) FROM TUMBLE(data => TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE)",
			msg: "positional argument cannot follow named argument"},
		{name: "argument twice", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE, size => INTERVAL '2' MINUTE)",
			msg: `argument "size" of TUMBLE given more than once`},
		{name: "descriptor of two columns", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at, id), INTERVAL '1' MINUTE)",
			msg: "must be DESCRIPTOR(time_column), naming one column"},
		{name: "descriptor not given", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, placed_at, INTERVAL '1' MINUTE)",
			msg: "the timecol argument of TUMBLE must be DESCRIPTOR(time_column)"},
		{name: "unknown time column", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' MINUTE)",
			msg: `column "ts" does not exist in orders`, pos: "1:88"},
		{name: "time column not a timestamp", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(id), INTERVAL '1' MINUTE)",
			msg: `time column "id" of TUMBLE must be a timestamp, not bigint`},
		{name: "time column without a watermark", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE visits, DESCRIPTOR(seen), INTERVAL '1' MINUTE)",
			msg: `time column "seen" of TUMBLE has no watermark`, hint: "declare WATERMARK FOR seen AS seen - INTERVAL '5' SECOND in the source"},
		{name: "record timestamp beside a watermark", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE)",
			msg: `time column "_timestamp" of TUMBLE is not the watermark column of orders`, hint: "window by DESCRIPTOR(placed_at)"},
		{name: "size from a column", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE * id)",
			msg: "TUMBLE size must be a constant", hint: "INTERVAL '1' MINUTE", pos: "1:133"},
		{name: "size not an interval", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), 60)",
			msg: "TUMBLE size must be an interval, not integer", pos: "1:111"},
		{name: "size that does not read", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), 'soon')",
			msg: "invalid input syntax for type interval", compileErrorOnly: true},
		{name: "NULL size", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), CAST(NULL AS interval))",
			msg: "TUMBLE size must not be NULL"},
		{name: "size in months", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MONTH)",
			msg: "TUMBLE size cannot be in months or years", hint: "INTERVAL '30' DAY"},
		{name: "zero size", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '0' SECOND)",
			msg: "TUMBLE size must be positive"},
		{name: "negative gap", sql: sink + "SELECT count(*) FROM SESSION(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '-1' MINUTE)",
			msg: "SESSION gap must be positive"},
		{name: "size that fails to evaluate", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE / 0)",
			msg: "TUMBLE size: division by zero"},
		{name: "aggregate in a window argument", sql: sink + "SELECT count(*) FROM TUMBLE(TABLE orders, DESCRIPTOR(placed_at), max(INTERVAL '1' MINUTE))",
			msg: "aggregate functions are not allowed in functions in FROM"},
		{name: "HOP over too many windows", sql: sink + "SELECT count(*) FROM HOP(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' SECOND, INTERVAL '1' DAY)",
			msg: "HOP with a size 86400 times its slide", pos: "1:67"},
		{name: "window join without a key", sql: sink + "SELECT count(*) FROM " + tumble + " JOIN clicks ON true",
			msg: "a join between two streams needs an equality between them"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := analyzeSink(t, c.sql)
			checkError(t, c, err)
		})
	}
}

// TestWindowColumnClash checks that a source column named like a window
// column is refused rather than shadowed.
func TestWindowColumnClash(t *testing.T) {
	t.Parallel()
	lookup := catalogOf(t, "CREATE SOURCE s (window_end timestamp, WATERMARK FOR window_end AS window_end) WITH (connector = 'datagen');")
	stmt := parseOne(t, sink+"SELECT count(*) FROM TUMBLE(TABLE s, DESCRIPTOR(window_end), INTERVAL '1' MINUTE) GROUP BY window_start, window_end")
	_, err := AnalyzeSink(stmt.(*ast.CreateSink), lookup, sinkConnectors, testOptions)
	checkError(t, errorCase{msg: "source s has a column window_end, which TUMBLE adds too"}, err)
	// Without a window the name is an ordinary column.
	stmt = parseOne(t, sink+"SELECT window_end, count(*) FROM s GROUP BY window_end")
	if _, err := AnalyzeSink(stmt.(*ast.CreateSink), lookup, sinkConnectors, testOptions); err != nil {
		t.Error(err)
	}
}

// TestWindowedKeys checks what a windowed aggregation's KEY BY and time
// column may be: its rows are emitted once, so an aggregate may key them.
func TestWindowedKeys(t *testing.T) {
	t.Parallel()
	p := mustAnalyze(t, sink+"SELECT url, count(*) FROM TUMBLE(TABLE clicks, DESCRIPTOR(_timestamp), INTERVAL '1' HOUR) GROUP BY url, window_start, window_end KEY BY url || count(*)")
	a := p.Aggregation
	if a.Time != len(p.Source.Columns)+4 || p.Source.RowColumns()[a.Time].Name != ColTimestamp || a.TimeType != types.KindTimestampTZ {
		t.Errorf("time column %d of %s, want _timestamp", a.Time, a.TimeType)
	}
	row := types.Row{types.NewText("/a"), types.NewTimestampTZ(0), types.NewTimestampTZ(3_600_000_000), types.NewInt8(7)}
	if v, err := p.Key.Eval(row); err != nil || v.String() != "/a7" {
		t.Errorf("key = %s, %v", v, err)
	}
}

// TestStatelessPipeline checks that a pipeline without aggregation keeps
// no Aggregation and is not updating.
func TestStatelessPipeline(t *testing.T) {
	t.Parallel()
	p := mustAnalyze(t, sink+"SELECT id FROM orders")
	if p.Aggregation != nil || p.Updating() {
		t.Errorf("aggregation %+v, updating %v", p.Aggregation, p.Updating())
	}
}
