package expr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tide-data/tide/internal/sql/parser"
	"github.com/tide-data/tide/internal/sql/types"
)

// diffColumns is the row every differential expression sees, declared
// once for Tide (Column + value text) and once for Postgres (a CTE).
var diffColumns = []struct {
	name string
	kind types.Kind
	pg   string
	text string // "" with null
	null bool
}{
	{"i", types.KindInt4, "integer", "42", false},
	{"b", types.KindInt8, "bigint", "9000000000", false},
	{"s", types.KindInt2, "smallint", "7", false},
	{"f", types.KindFloat8, "double precision", "2.5", false},
	{"n", types.KindNumeric, "numeric", "123.450", false},
	{"t", types.KindText, "text", "Hello World", false},
	{"e", types.KindText, "text", "", false},
	{"nl", types.KindInt4, "integer", "", true},
	{"nt", types.KindText, "text", "", true},
	{"nb", types.KindBool, "boolean", "", true},
	{"ts", types.KindTimestamp, "timestamp", "2024-03-15 10:30:45.123456", false},
	{"tz", types.KindTimestampTZ, "timestamptz", "2024-03-15 10:30:45+00", false},
	{"d", types.KindDate, "date", "2024-02-29", false},
	{"iv", types.KindInterval, "interval", "1 day 02:03:04", false},
	{"j", types.KindJSON, "jsonb", `{"a": 1, "b": [1, 2, {"c": "x"}], "s": "str", "n": null, "f": 1.5}`, false},
	{"by", types.KindBytea, "bytea", `\x0102ff`, false},
	{"ok", types.KindBool, "boolean", "true", false},
	{"amount", types.KindInt8, "bigint", "150", false},
	{"status", types.KindText, "text", "ok", false},
	{"neg", types.KindInt4, "integer", "-7", false},
	{"big", types.KindInt4, "integer", "2147483647", false},
}

var kindOfOID = map[uint32]types.Kind{
	16: types.KindBool, 21: types.KindInt2, 23: types.KindInt4, 20: types.KindInt8, 701: types.KindFloat8,
	1700: types.KindNumeric, 25: types.KindText, 1043: types.KindText, 17: types.KindBytea, 1114: types.KindTimestamp,
	1184: types.KindTimestampTZ, 1082: types.KindDate, 1186: types.KindInterval, 3802: types.KindJSON, 705: types.KindText,
}

// diffExprs are evaluated by Tide and by PostgreSQL; the text output,
// NULL-ness, result type and error SQLSTATE must agree.
var diffExprs = strings.Split(strings.TrimSpace(`
1 + 2
i + 1
i - b
s + s
s * 10000
i * 100000000
big + 1
b * 9000000000
-i
-(-2147483647 - 1)
- big
7 / 2
-7 / 2
7 % 3
-7 % 3
7 % -3
i / 0
i % 0
f / 0
n / 0
1.0 / 0
2 ^ 10
2.0 ^ 10
2 ^ 0.5
(-8) ^ (1.0/3)
0 ^ (-1)
i / 5
f * 2
f + i
f - n
n + 1
n * 2
n * n
n / 3
1 / 3.0
10 / 4.0
1.0 / 7
100.0 / 3
123456789.123 / 7
2 / 3::numeric
n - 0.0001
n % 7
1e3
1.5e-3 * 2
0.1 + 0.2
0.1::float8 + 0.2::float8
1e308::float8 * 10
3.0::float8 / 7
1/3::float8
i::float8 / 7
i = 42
i <> 42
i < b
i >= 42.0
f > 2
f = 2.5
n = 123.45
n > 100
t = 'Hello World'
t < 'Z'
t > 'hello'
nl = 1
nl IS NULL
nl IS NOT NULL
i IS NULL
nl = nl
nl IS DISTINCT FROM 1
nl IS NOT DISTINCT FROM NULL
i IS DISTINCT FROM 42
i IS DISTINCT FROM 43
NULL IS DISTINCT FROM NULL
true AND NULL
false AND NULL
true OR NULL
false OR NULL
NULL AND NULL
NOT NULL
NOT ok
ok AND nb
ok OR nb
nb IS UNKNOWN
nb IS NOT TRUE
ok IS TRUE
ok IS NOT FALSE
nb IS FALSE
amount > 100 AND status = 'ok'
amount > 200 OR status <> 'ok'
i IN (1, 2, 42)
i IN (1, 2, 3)
i IN (1, NULL, 42)
i IN (1, NULL)
i NOT IN (1, 2)
i NOT IN (1, NULL)
i NOT IN (42, NULL)
nl IN (1, 2)
nl NOT IN (1, 2)
t IN ('a', 'Hello World')
i IN (42.0, 1)
f IN (2.5, 3)
i BETWEEN 1 AND 100
i BETWEEN 100 AND 1
i BETWEEN SYMMETRIC 100 AND 1
i NOT BETWEEN 1 AND 10
nl BETWEEN 1 AND 2
i BETWEEN nl AND 10
i BETWEEN nl AND 100
CASE WHEN i > 40 THEN 'big' ELSE 'small' END
CASE WHEN i > 50 THEN 'big' END
CASE i WHEN 1 THEN 'one' WHEN 42 THEN 'answer' ELSE 'other' END
CASE nl WHEN 1 THEN 'one' ELSE 'other' END
CASE WHEN nb THEN 1 WHEN ok THEN 2 END
CASE WHEN i > 0 THEN 1 ELSE 2.5 END
CASE WHEN false THEN 1/0 ELSE 3 END
CASE WHEN i = 0 THEN i / 0 ELSE i END
COALESCE(nl, 5)
COALESCE(nl, nl, i)
COALESCE(nt, 'x')
COALESCE(NULL, 1.5, i)
COALESCE(nl)
NULLIF(i, 42)
NULLIF(i, 41)
NULLIF(nl, 1)
NULLIF('a', 'a')
GREATEST(1, 5, 3)
GREATEST(i, nl, 50)
LEAST(i, 2.5)
LEAST(nl, nl)
GREATEST('apple', 'banana')
i::text
f::text
n::text
ok::text
ts::text
tz::text
d::text
iv::text
j::text
by::text
'42'::int
' 42 '::integer
'abc'::int
'3000000000'::int
'3000000000'::bigint
'1.5'::numeric
'1e3'::float8
'NaN'::float8
'-Infinity'::double precision
'true'::boolean
'yes'::bool
'maybe'::boolean
'2024-01-02'::date
'2024-01-02 03:04:05'::timestamp
'2024-01-02T03:04:05Z'::timestamptz
'2024-01-02 03:04:05+02'::timestamptz
'1 hour'::interval
'P1DT2H'::interval
'\x0102'::bytea
'{"b":2,"a":1}'::jsonb
'{bad'::jsonb
2.5::int
3.5::int
-2.5::int
(-2.5)::int
2.5::float8::int
3.5::float8::int
(-2.5)::float8::int
1e10::int
1e10::float8::int
32768::smallint
i::smallint
b::int
i::bigint
i::numeric
i::float8
f::numeric
0.1::float8::numeric
(1/3::float8)::numeric
n::float8
n::int
123.456::numeric(5,2)
123.455::numeric(5,2)
-123.455::numeric(5,2)
1234.5::numeric(5,2)
n::numeric(10,1)
'hello'::varchar(3)
t::varchar(5)
ok::int
1::boolean
0::boolean
d::timestamp
d::timestamptz
ts::date
tz::date
ts::timestamptz
tz::timestamp
'2024-01-02'::date::text
CAST(i AS text)
CAST('1.50' AS numeric)
t || '!'
t || i
i || t
t || nl
t || nt
'a' || 'b'
'a' || 1
by || '\x03'::bytea
t LIKE 'Hello%'
t LIKE 'hello%'
t ILIKE 'hello%'
t NOT LIKE '%World'
t LIKE 'H_llo W_rld'
t LIKE '%o W%'
'100%' LIKE '100\%'
'100x' LIKE '100\%'
'a_b' LIKE 'a#_b' ESCAPE '#'
'axb' LIKE 'a#_b' ESCAPE '#'
nt LIKE 'a'
t LIKE nt
e LIKE '%'
e LIKE '_'
'abc' LIKE 'a%c%'
t ~ 'W.rld'
t ~ '^hello'
t ~* '^hello'
t !~ 'xyz'
t !~* 'WORLD'
'abc' ~ 'a(b'
regexp_replace(t, 'o', '0')
regexp_replace(t, 'o', '0', 'g')
regexp_replace(t, 'O', '0', 'gi')
regexp_replace(t, '(\w+) (\w+)', '\2 \1')
regexp_replace('abc', 'b', '[\&]')
regexp_replace(nt, 'a', 'b')
length(t)
length('héllo')
char_length(t)
octet_length('héllo')
octet_length(by)
length(by)
lower(t)
upper(t)
initcap('hello wORLD foo-bar')
substring(t, 1, 5)
substring(t, 7)
substring(t, 0, 3)
substring(t, -2, 5)
substring(t, 3, -1)
substr(t, 2, 3)
substring('héllo', 2, 2)
strpos(t, 'World')
strpos(t, 'xyz')
position('lo' IN t)
position('xyz' IN t)
btrim('  abc  ')
btrim('xxabcxx', 'x')
ltrim('  abc  ')
rtrim('  abc  ')
ltrim('xxabc', 'x')
rtrim('abcyy', 'y')
replace(t, 'l', 'L')
replace(t, '', 'x')
concat('a', 1, NULL, 'b')
concat(t, i, f, ok)
concat_ws(', ', 'a', NULL, 'b', 1)
concat_ws(NULL, 'a', 'b')
left(t, 5)
left(t, -6)
right(t, 5)
right(t, -6)
lpad('abc', 6)
lpad('abc', 6, 'xy')
lpad('abcdef', 3)
rpad('abc', 6, 'xy')
rpad('abc', 2)
repeat('ab', 3)
repeat('ab', 0)
reverse(t)
split_part('a,b,c', ',', 2)
split_part('a,b,c', ',', 5)
split_part('a,b,c', ',', -1)
split_part('a,b,c', ',', 0)
starts_with(t, 'Hell')
starts_with(t, 'hell')
to_hex(255)
to_hex(-1)
to_hex(b)
md5('abc')
md5(t)
sha256('abc'::bytea)
sha256(by)
ascii('A')
ascii('')
chr(65)
chr(233)
chr(0)
abs(-5)
abs(neg)
abs(-2.5)
abs(f)
abs(-2147483647 - 1)
ceil(2.1)
ceil(-2.1)
ceil(f)
ceiling(n)
floor(2.9)
floor(-2.1)
floor(f)
round(2.5)
round(3.5)
round(-2.5)
round(f)
round(2.5::float8)
round(3.5::float8)
round(n, 1)
round(n, -1)
round(1234.5678, 2)
round(1234.5678, -2)
trunc(2.9)
trunc(-2.9)
trunc(n, 1)
trunc(f)
sqrt(16)
sqrt(2)
sqrt(2.0)
sqrt(n)
sqrt(-1)
sqrt(-1.0)
cbrt(8)
power(2, 10)
power(2.0, 10)
pow(f, 2)
exp(1)
exp(1.0)
ln(10)
ln(10.0)
ln(0)
ln(-1)
log(100)
log(100.0)
log(2, 8)
log(2.0, 8.0)
mod(7, 3)
mod(-7, 3)
mod(n, 10)
mod(7, 0)
sign(-3)
sign(0.0)
sign(n)
pi()
degrees(pi())
radians(180)
sin(0)
cos(0)
atan2(1, 1)
greatest(1, 2.5, f)
ts + interval '1 day'
ts + '1 hour'
ts - interval '1 month'
tz + interval '2 hours'
d + 1
d - 1
1 + d
d + interval '1 month'
d - interval '1 day'
d - '2024-01-01'::date
ts - '2024-03-14 08:00:00'::timestamp
tz - '2024-03-15 00:00:00+00'::timestamptz
'2024-01-31'::date + interval '1 month'
'2024-03-31 00:00:00'::timestamp - interval '1 month'
'2023-01-31'::timestamp + interval '1 month'
iv + interval '1 hour'
iv - interval '2 days'
iv * 2
iv * 1.5
2 * iv
iv / 2
interval '1 month' * 1.5
interval '1 day' / 3
interval '1 day' / 0
-iv
ts > '2024-01-01'
ts < '2024-01-01'
d = '2024-02-29'
d < ts
tz = ts
d BETWEEN '2024-01-01' AND '2024-12-31'
iv > interval '1 day'
interval '1 month' = interval '30 days'
interval '1 day' = interval '24 hours'
date_trunc('hour', ts)
date_trunc('day', ts)
date_trunc('month', ts)
date_trunc('year', ts)
date_trunc('week', ts)
date_trunc('quarter', ts)
date_trunc('minute', tz)
date_trunc('second', ts)
date_trunc('milliseconds', ts)
date_trunc('decade', ts)
date_trunc('century', ts)
date_trunc('bogus', ts)
EXTRACT(year FROM ts)
EXTRACT(month FROM ts)
EXTRACT(day FROM ts)
EXTRACT(hour FROM ts)
EXTRACT(minute FROM ts)
EXTRACT(second FROM ts)
EXTRACT(milliseconds FROM ts)
EXTRACT(microseconds FROM ts)
EXTRACT(epoch FROM ts)
EXTRACT(epoch FROM tz)
EXTRACT(epoch FROM d)
EXTRACT(dow FROM ts)
EXTRACT(isodow FROM ts)
EXTRACT(doy FROM ts)
EXTRACT(week FROM ts)
EXTRACT(quarter FROM ts)
EXTRACT(decade FROM ts)
EXTRACT(century FROM ts)
EXTRACT(millennium FROM ts)
EXTRACT(isoyear FROM d)
EXTRACT(year FROM d)
EXTRACT(dow FROM d)
EXTRACT(hour FROM d)
EXTRACT(epoch FROM iv)
EXTRACT(hour FROM iv)
EXTRACT(minute FROM iv)
EXTRACT(second FROM iv)
EXTRACT(day FROM iv)
EXTRACT(month FROM interval '14 months')
EXTRACT(year FROM interval '14 months')
EXTRACT(epoch FROM interval '1 year 1 month')
date_part('year', ts)
date_part('epoch', tz)
date_part('second', ts)
date_part('dow', d)
to_timestamp(0)
to_timestamp(1700000000.5)
to_timestamp(f)
make_date(2024, 2, 29)
make_date(2023, 2, 29)
make_timestamp(2024, 1, 2, 3, 4, 5.5)
j -> 'a'
j -> 'b'
j -> 'b' -> 2
j -> 'b' -> -1
j -> 'b' -> 5
j ->> 's'
j -> 's'
j ->> 'a'
j ->> 'n'
j -> 'n'
j ->> 'missing'
j -> 'b' ->> 0
j #> '{b,2}'
j #>> '{b,2,c}'
j #>> '{b,0}'
j #> '{}'
j #>> '{x,y}'
(j ->> 'a')::int + 1
(j ->> 'f')::numeric * 2
(j -> 'a')::int
(j -> 'f')::numeric
(j -> 's')::int
jsonb_typeof(j)
jsonb_typeof(j -> 'b')
jsonb_typeof(j -> 'n')
jsonb_typeof(j -> 's')
jsonb_typeof('1'::jsonb)
jsonb_extract_path_text(j, 'b', '2', 'c')
jsonb_extract_path(j, 'b')
jsonb_array_length(j -> 'b')
jsonb_build_object('a', 1, 'b', 'x', 'c', NULL)
jsonb_build_object('k', i, 'ok', ok)
to_jsonb(t)
to_jsonb(i)
to_jsonb(ts)
'{"a":1}'::jsonb || '{"b":2}'::jsonb
j = '{"a": 1}'::jsonb
'[1,2]'::jsonb = '[1, 2]'::jsonb
i & 15
i | 1
i # 3
1 << 4
i >> 1
~i
t + 1
i + 'abc'
ok + 1
length(i)
nosuchfunc(1)
nosuchcol + 1
i AND true
abs('x')
`), "\n")

func pgOutput(t *testing.T, conn *pgx.Conn, cte, expr string) (text string, null bool, oid uint32, code string) {
	t.Helper()
	return pgQuery(t, conn, cte+" SELECT ("+expr+") FROM r")
}

// pgQuery runs a one-row, one-column query: its text, NULL-ness, type OID
// and SQLSTATE.
func pgQuery(t *testing.T, conn *pgx.Conn, query string) (text string, null bool, oid uint32, code string) {
	t.Helper()
	expr := query
	rows, err := conn.Query(context.Background(), query, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return "", false, 0, pe.Code
		}
		t.Fatalf("%s: %v", expr, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				return "", false, 0, pe.Code
			}
			t.Fatalf("%s: %v", expr, err)
		}
		t.Fatalf("%s: no row", expr)
	}
	raw := rows.RawValues()[0]
	oid = rows.FieldDescriptions()[0].DataTypeOID
	rows.Close()
	if err := rows.Err(); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return "", false, 0, pe.Code
		}
	}
	if raw == nil {
		return "", true, oid, ""
	}
	return string(raw), false, oid, ""
}

// TestDifferentialPostgres evaluates every expression of diffExprs in
// Tide and in PostgreSQL and compares text output, NULL-ness, result
// type and SQLSTATE.
func TestDifferentialPostgres(t *testing.T) {
	conn := connectPostgres(t)
	var cols []Column
	var row types.Row
	var names, vals []string
	for _, c := range diffColumns {
		cols = append(cols, Column{Name: c.name, Type: c.kind})
		names = append(names, c.name)
		if c.null {
			row = append(row, types.Null(c.kind))
			vals = append(vals, "NULL::"+c.pg)
			continue
		}
		v, err := types.ParseText(c.kind, c.text)
		if err != nil {
			t.Fatal(err)
		}
		row = append(row, v)
		vals = append(vals, "'"+strings.ReplaceAll(c.text, "'", "''")+"'::"+c.pg)
	}
	cte := "WITH r(" + strings.Join(names, ", ") + ") AS (SELECT " + strings.Join(vals, ", ") + ")"
	pass, fail := 0, 0
	for _, src := range diffExprs {
		src = strings.TrimSpace(src)
		if src == "" {
			continue
		}
		want, wantNull, oid, wantCode := pgOutput(t, conn, cte, src)
		got, gotNull, gotKind, gotCode, err := tideOutput(src, cols, row)
		if err != nil && gotCode == "" {
			t.Errorf("%s: %v", src, err)
			fail++
			continue
		}
		var problem string
		switch {
		case wantCode != "" || gotCode != "":
			if wantCode != gotCode {
				problem = fmt.Sprintf("SQLSTATE %q (%v), Postgres %q", gotCode, err, wantCode)
			}
		case wantNull != gotNull:
			problem = fmt.Sprintf("NULL %v (%q), Postgres NULL %v (%q)", gotNull, got, wantNull, want)
		case got != want:
			problem = fmt.Sprintf("%q, Postgres %q", got, want)
		default:
			if pk, ok := kindOfOID[oid]; ok && pk != gotKind && (pk != types.KindText || gotKind != types.KindNull) {
				problem = fmt.Sprintf("type %s, Postgres %s", gotKind, pk)
			}
		}
		if problem != "" {
			t.Errorf("%s: %s", src, problem)
			fail++
			continue
		}
		pass++
	}
	t.Logf("differential: %d expressions, %d agree with PostgreSQL, %d differ", pass+fail, pass, fail)
}

func tideOutput(src string, cols []Column, row types.Row) (out string, null bool, k types.Kind, code string, err error) {
	x, err := parser.ParseExpr(src)
	if err != nil {
		return "", false, 0, "", fmt.Errorf("parse: %w", err)
	}
	e, err := Compile(x, cols)
	if err != nil {
		return "", false, 0, Code(err), err
	}
	v, err := e.Eval(row)
	if err != nil {
		return "", false, e.Type(), Code(err), err
	}
	if v.IsNull() {
		return "", true, e.Type(), "", nil
	}
	return v.String(), false, e.Type(), "", nil
}
