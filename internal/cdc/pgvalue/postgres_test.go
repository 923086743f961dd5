package pgvalue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// connectPostgres connects to the Postgres named by TIDE_TEST_POSTGRES_URL
// with the run-time parameters the package relies on. Without it the test
// is skipped loudly, or fails under CI=true.
func connectPostgres(t *testing.T) *pgx.Conn {
	t.Helper()
	url := os.Getenv("TIDE_TEST_POSTGRES_URL")
	if url == "" {
		msg := "TIDE_TEST_POSTGRES_URL is not set: the tests against PostgreSQL did NOT run " +
			"(start one with scripts/peers/postgres.sh and export TIDE_TEST_POSTGRES_URL=$(cat .tools/run/postgres/url))"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("TIDE_TEST_POSTGRES_URL: %v", err)
	}
	for k, v := range map[string]string{
		"DateStyle": "ISO, MDY", "IntervalStyle": "iso_8601", "TimeZone": "UTC",
		"extra_float_digits": "3", "bytea_output": "hex",
	} {
		cfg.RuntimeParams[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// oracle is how a column's JSON compares with Postgres' to_jsonb of it.
type oracle int

const (
	noOracle       oracle = iota // to_jsonb writes something else
	sameAsJSONB                  // the same JSON value
	sameInstant                  // the same instant: to_jsonb writes +00:00 for Z
	sameAsCastText               // the string is col::text (locale-dependent values)
)

// pgColumn is a column of TestPostgres' table: its type, the values of
// its first three rows (SQL), and their JSON ("" when only the oracle
// tells). The fourth row is all NULL.
type pgColumn struct {
	name, typ string
	values    [3]string
	want      [3]string
	oracle    oracle
}

var pgColumns = []pgColumn{
	{"b", "bool", [3]string{"true", "false", "true"}, [3]string{`true`, `false`, `true`}, sameAsJSONB},
	{"i2", "int2", [3]string{"0", "-32768", "32767"}, [3]string{`0`, `-32768`, `32767`}, sameAsJSONB},
	{"i4", "int4", [3]string{"42", "-2147483648", "2147483647"}, [3]string{`42`, `-2147483648`, `2147483647`}, sameAsJSONB},
	{"i8", "int8", [3]string{"1234567890123", "-9223372036854775808", "9223372036854775807"},
		[3]string{`1234567890123`, `-9223372036854775808`, `9223372036854775807`}, sameAsJSONB},
	{"o", "oid", [3]string{"1", "4294967295", "0"}, [3]string{`1`, `4294967295`, `0`}, noOracle},
	{"x", "xid", [3]string{"'1'", "'4294967295'", "'0'"}, [3]string{`1`, `4294967295`, `0`}, noOracle},
	{"f4", "float4", [3]string{"1.5", "'NaN'", "'-Infinity'"}, [3]string{`1.5`, `"NaN"`, `"-Infinity"`}, sameAsJSONB},
	{"f4b", "float4", [3]string{"3.4028235e38", "0.1", "-0"}, [3]string{`3.4028235e+38`, `0.1`, `-0`}, sameAsJSONB},
	{"f8", "float8", [3]string{"0.1", "'Infinity'", "1e-300"}, [3]string{`0.1`, `"Infinity"`, `1e-300`}, sameAsJSONB},
	{"f8b", "float8", [3]string{"1.2345678901234567e17", "-1.5", "'NaN'"}, [3]string{`1.2345678901234566e+17`, `-1.5`, `"NaN"`}, sameAsJSONB},
	{"n", "numeric", [3]string{"12.30", "'NaN'", "-123456789012345678901234567890.000000001"},
		[3]string{`"12.30"`, `"NaN"`, `"-123456789012345678901234567890.000000001"`}, noOracle},
	{"m", "money", [3]string{"1234.56", "-0.01", "0"}, [3]string{}, sameAsCastText},
	{"t", "text", [3]string{"'plain'", `E'tab\there\nnewline\r "quote" back\\slash \\N \\x41'`, "''"},
		[3]string{`"plain"`, `"tab\there\nnewline\r \"quote\" back\\slash \\N \\x41"`, `""`}, sameAsJSONB},
	{"vc", "varchar(40)", [3]string{"'ünïcødé 😀'", "'NULL'", `E'\x01\x7f'`},
		[3]string{`"ünïcødé 😀"`, `"NULL"`, `"\u0001` + "\x7f" + `"`}, sameAsJSONB},
	{"bc", "char(5)", [3]string{"'ab'", "'abcde'", "''"}, [3]string{`"ab   "`, `"abcde"`, `"     "`}, sameAsJSONB},
	{"nm", "name", [3]string{"'pg_class'", "'A Name'", "'x'"}, [3]string{`"pg_class"`, `"A Name"`, `"x"`}, sameAsJSONB},
	{"ch", `"char"`, [3]string{"'x'", "'\"'", "'\\'"}, [3]string{`"x"`, `"\""`, `"\\"`}, sameAsJSONB},
	{"u", "uuid", [3]string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"},
		[3]string{`"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`, `"00000000-0000-0000-0000-000000000000"`, `"ffffffff-ffff-ffff-ffff-ffffffffffff"`}, sameAsJSONB},
	{"e", "mood", [3]string{"'happy'", "'sad'", `'so so "ok"'`}, [3]string{`"happy"`, `"sad"`, `"so so \"ok\""`}, sameAsJSONB},
	{"pi", "posint", [3]string{"1", "2147483647", "7"}, [3]string{`1`, `2147483647`, `7`}, sameAsJSONB},
	{"ip", "inet", [3]string{"'192.168.0.1/24'", "'::1'", "'10.0.0.1'"}, [3]string{`"192.168.0.1/24"`, `"::1"`, `"10.0.0.1"`}, sameAsJSONB},
	{"cd", "cidr", [3]string{"'10.0.0.0/8'", "'2001:db8::/32'", "'192.168.1.0/24'"}, [3]string{`"10.0.0.0/8"`, `"2001:db8::/32"`, `"192.168.1.0/24"`}, sameAsJSONB},
	{"mac", "macaddr", [3]string{"'08:00:2b:01:02:03'", "'ff:ff:ff:ff:ff:ff'", "'00:00:00:00:00:00'"},
		[3]string{`"08:00:2b:01:02:03"`, `"ff:ff:ff:ff:ff:ff"`, `"00:00:00:00:00:00"`}, sameAsJSONB},
	{"xm", "xml", [3]string{`'<a href="x">y &amp; z</a>'`, "'<b/>'", "'text'"}, [3]string{`"<a href=\"x\">y &amp; z</a>"`, `"<b/>"`, `"text"`}, sameAsJSONB},
	{"bt", "bit(4)", [3]string{"B'1010'", "B'0000'", "B'1111'"}, [3]string{`"1010"`, `"0000"`, `"1111"`}, sameAsJSONB},
	{"vb", "varbit", [3]string{"B'1'", "B''", "B'10101'"}, [3]string{`"1"`, `""`, `"10101"`}, sameAsJSONB},
	{"tv", "tsvector", [3]string{"'a fat cat'", "''", `'it''s'`}, [3]string{`"'a' 'cat' 'fat'"`, `""`, `"'it''s'"`}, sameAsJSONB},
	{"j", "json", [3]string{`'{"a": [1, 2.50, "x"]}'`, "' [ ] '", `'"\u00e9"'`}, [3]string{`{"a": [1, 2.50, "x"]}`, ` [ ] `, `"\u00e9"`}, sameAsJSONB},
	{"jb", "jsonb", [3]string{`'{"b": 1, "a": {"c": [true, null]}}'`, "'[]'", `'"x\ny\u00e9"'`},
		[3]string{`{"a": {"c": [true, null]}, "b": 1}`, `[]`, `"x\nyé"`}, sameAsJSONB},
	{"by", "bytea", [3]string{`'\x'`, `'\x000102ff'`, `'\x5c6e'`}, [3]string{`""`, `"AAEC/w=="`, `"XG4="`}, noOracle},
	{"d", "date", [3]string{"'2026-11-26'", "'infinity'", "'0044-03-15 BC'"}, [3]string{`"2026-11-26"`, `"infinity"`, `"0044-03-15 BC"`}, sameAsJSONB},
	{"ts", "timestamp", [3]string{"'2026-11-26 05:48:19.123456'", "'-infinity'", "'0044-03-15 05:48:19 BC'"},
		[3]string{`"2026-11-26T05:48:19.123456"`, `"-infinity"`, `"0044-03-15T05:48:19 BC"`}, sameAsJSONB},
	{"tz", "timestamptz", [3]string{"'2026-11-26 05:48:19.123456+00'", "'2026-11-26 05:48:19+05:30'", "'infinity'"},
		[3]string{`"2026-11-26T05:48:19.123456Z"`, `"2026-11-26T00:18:19Z"`, `"infinity"`}, sameInstant},
	{"tz2", "timestamptz", [3]string{"'0044-03-15 05:48:19+05:30 BC'", "'1900-01-01 00:00:00+00:53:28'", "'2024-02-29 23:59:59.999999-10'"},
		[3]string{`"0044-03-15T00:18:19Z BC"`, `"1899-12-31T23:06:32Z"`, `"2024-03-01T09:59:59.999999Z"`}, noOracle},
	{"tm", "time", [3]string{"'05:48:19.123456'", "'24:00:00'", "'00:00:00'"}, [3]string{`"05:48:19.123456"`, `"24:00:00"`, `"00:00:00"`}, sameAsJSONB},
	{"ttz", "timetz", [3]string{"'05:48:19+02'", "'00:00:00-03:30'", "'23:59:59.5+00'"}, [3]string{`"05:48:19+02"`, `"00:00:00-03:30"`, `"23:59:59.5+00"`}, noOracle},
	{"iv", "interval", [3]string{"'1 year 2 months 3 days 4 hours 5 minutes 6.5 seconds'", "'0'", "'-1 day'"},
		[3]string{`"P1Y2M3DT4H5M6.5S"`, `"PT0S"`, `"P-1D"`}, sameAsJSONB},
	{"ia", "int[]", [3]string{"'{1,2,NULL}'", "'{}'", "'[0:1]={5,6}'"}, [3]string{`[1,2,null]`, `[]`, `[5,6]`}, sameAsJSONB},
	{"ta", "text[]", [3]string{
		`ARRAY['a b', 'c"d', E'e\\f', 'NULL', '', '{x}', 'a,b', ' lead', E'tab\t', 'ünï 😀', NULL]`, "'{}'", "ARRAY['null', 'Null', E'\\\\N']"},
		[3]string{`["a b","c\"d","e\\f","NULL","","{x}","a,b"," lead","tab\t","ünï 😀",null]`, `[]`, `["null","Null","\\N"]`}, sameAsJSONB},
	{"ia2", "int[][]", [3]string{"'{{1,2},{3,4}}'", "'{{NULL,2}}'", "'[0:1][1:2]={{1,2},{3,4}}'"},
		[3]string{`[[1,2],[3,4]]`, `[[null,2]]`, `[[1,2],[3,4]]`}, sameAsJSONB},
	{"ta2", "text[][]", [3]string{`'{{"a b",c},{NULL,"\""}}'`, `'{{"{","}"}}'`, `'{{x}}'`},
		[3]string{`[["a b","c"],[null,"\""]]`, `[["{","}"]]`, `[["x"]]`}, sameAsJSONB},
	{"ea", "mood[]", [3]string{`'{happy,"so so \"ok\""}'`, "'{}'", "'{NULL}'"}, [3]string{`["happy","so so \"ok\""]`, `[]`, `[null]`}, sameAsJSONB},
	{"pa", "posint[]", [3]string{"'{1,2}'", "'{NULL}'", "'{{3},{4}}'"}, [3]string{`[1,2]`, `[null]`, `[[3],[4]]`}, sameAsJSONB},
	{"il", "intlist", [3]string{"'{1,2}'", "'{}'", "'{{1},{2}}'"}, [3]string{`[1,2]`, `[]`, `[[1],[2]]`}, sameAsJSONB},
	{"jba", "jsonb[]", [3]string{`ARRAY['{"a": 1}'::jsonb, 'null', '[1, "x"]']`, "'{}'", `ARRAY['"q\"uote"'::jsonb, NULL]`},
		[3]string{`[{"a":1},null,[1,"x"]]`, `[]`, `["q\"uote",null]`}, sameAsJSONB},
	{"bya", "bytea[]", [3]string{`ARRAY['\x0102'::bytea, NULL]`, "'{}'", `ARRAY['\x'::bytea]`}, [3]string{`["AQI=",null]`, `[]`, `[""]`}, noOracle},
	{"tza", "timestamptz[]", [3]string{"ARRAY['2026-11-26 05:48:19+00'::timestamptz, '2026-11-26 05:48:19+05:30']", "'{}'", "'{infinity,NULL}'"},
		[3]string{`["2026-11-26T05:48:19Z","2026-11-26T00:18:19Z"]`, `[]`, `["infinity",null]`}, noOracle},
	{"na", "numeric[]", [3]string{"'{1.50,NaN}'", "'{}'", "'{-0.001,NULL}'"}, [3]string{`["1.50","NaN"]`, `[]`, `["-0.001",null]`}, noOracle},
	{"fa", "float8[]", [3]string{"'{1.5,NaN,Infinity,-Infinity}'", "'{0.1}'", "'{NULL}'"}, [3]string{`[1.5,"NaN","Infinity","-Infinity"]`, `[0.1]`, `[null]`}, sameAsJSONB},
	{"ba", "bool[]", [3]string{"'{t,f,NULL}'", "'{}'", "'{{t},{f}}'"}, [3]string{`[true,false,null]`, `[]`, `[[true],[false]]`}, sameAsJSONB},
	{"boxa", "box[]", [3]string{"ARRAY[box '(1,1),(0,0)', box '(3,3),(2,2)']", "'{}'", "ARRAY[NULL::box]"},
		[3]string{`["(1,1),(0,0)","(3,3),(2,2)"]`, `[]`, `[null]`}, sameAsJSONB},
	{"da", "date[]", [3]string{"'{2026-11-26,infinity}'", "'{}'", "'{NULL}'"}, [3]string{`["2026-11-26","infinity"]`, `[]`, `[null]`}, sameAsJSONB},
	{"pt", "point", [3]string{"'(1,2)'", "'(-1.5,0)'", "'(0,0)'"}, [3]string{`"(1,2)"`, `"(-1.5,0)"`, `"(0,0)"`}, sameAsJSONB},
	{"pr", "pair", [3]string{"ROW(1, 'x y')", "ROW(NULL, '')", `ROW(2, 'q"')`}, [3]string{`"(1,\"x y\")"`, `"(,\"\")"`, `"(2,\"q\"\"\")"`}, noOracle},
	{"pra", "pair[]", [3]string{"ARRAY[ROW(1, 'x y')::pair, NULL]", "'{}'", "ARRAY[ROW(NULL, NULL)::pair]"},
		[3]string{`["(1,\"x y\")",null]`, `[]`, `["(,)"]`}, noOracle},
	{"rg", "int4range", [3]string{"'[1,5)'", "'empty'", "'(,3]'"}, [3]string{`"[1,5)"`, `"empty"`, `"(,4)"`}, sameAsJSONB},
}

// TestPostgres writes values of every type into a table, reads them back
// with COPY TO in text format as snapshots do, and checks their JSON
// against what is expected and against Postgres' own to_jsonb.
func TestPostgres(t *testing.T) {
	conn := connectPostgres(t)
	ctx := context.Background()
	schema := fmt.Sprintf("pgvalue_test_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	if _, err := conn.Exec(ctx, "SET search_path = "+schema+", pg_catalog"); err != nil {
		t.Fatal(err)
	}
	for _, ddl := range []string{
		`CREATE TYPE mood AS ENUM ('happy', 'sad', 'so so "ok"')`,
		`CREATE DOMAIN posint AS int CHECK (VALUE > 0)`,
		`CREATE DOMAIN intlist AS int[]`,
		`CREATE TYPE pair AS (a int, b text)`,
	} {
		if _, err := conn.Exec(ctx, ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	var create, insert strings.Builder
	create.WriteString("CREATE TABLE vals (id int PRIMARY KEY")
	insert.WriteString("INSERT INTO vals VALUES ")
	for _, c := range pgColumns {
		fmt.Fprintf(&create, ", %s %s", c.name, c.typ)
	}
	for row := range 4 {
		if row > 0 {
			insert.WriteString(", ")
		}
		fmt.Fprintf(&insert, "(%d", row+1)
		for _, c := range pgColumns {
			v := "NULL"
			if row < 3 {
				v = c.values[row]
			}
			fmt.Fprintf(&insert, ", %s", v)
		}
		insert.WriteString(")")
	}
	for _, sql := range []string{create.String() + ")", insert.String()} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	// The columns' types as pgoutput's Relation message gives them: from
	// pg_attribute, so domains are their own types.
	oids := make([]uint32, len(pgColumns))
	for i, c := range pgColumns {
		err := conn.QueryRow(ctx, "SELECT atttypid FROM pg_attribute WHERE attrelid = 'vals'::regclass AND attname = $1", c.name).Scan(&oids[i])
		if err != nil {
			t.Fatalf("type of %s: %v", c.name, err)
		}
	}
	r := NewRegistry()
	q := &countingQuerier{conn: conn}
	if err := r.Resolve(ctx, q, oids...); err != nil {
		t.Fatal(err)
	}
	if q.queries != 1 {
		t.Errorf("Resolve ran %d queries, want 1", q.queries)
	}
	if err := r.Resolve(ctx, q, oids...); err != nil || q.queries != 1 {
		t.Errorf("Resolve of known types: %v, %d queries in all", err, q.queries)
	}

	// One COPY of the columns, then of the oracles' views of them.
	var sel []string
	for _, c := range pgColumns {
		sel = append(sel, c.name)
	}
	for _, c := range pgColumns {
		switch c.oracle {
		case sameAsJSONB, sameInstant:
			sel = append(sel, "to_jsonb("+c.name+")")
		case sameAsCastText:
			sel = append(sel, c.name+"::text")
		}
	}
	var out bytes.Buffer
	if _, err := conn.PgConn().CopyTo(ctx, &out, "COPY (SELECT "+strings.Join(sel, ", ")+" FROM vals ORDER BY id) TO STDOUT"); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != 4 {
		t.Fatalf("COPY gave %d rows, want 4:\n%s", len(lines), out.Bytes())
	}
	var fields [][]byte
	var nulls []bool
	var buf, dst []byte
	for row, line := range lines {
		var err error
		fields, nulls, buf, err = SplitCopyRow(line, fields[:0], nulls[:0], buf[:0])
		if err != nil {
			t.Fatalf("row %d %q: %v", row+1, line, err)
		}
		if len(fields) != len(sel) {
			t.Fatalf("row %d: %d fields for %d columns", row+1, len(fields), len(sel))
		}
		o := len(pgColumns) // the next oracle's field
		for i, c := range pgColumns {
			var got []byte
			if nulls[i] {
				got = []byte("null")
			} else if dst, err = r.AppendJSON(dst[:0], oids[i], fields[i]); err != nil {
				t.Errorf("row %d %s %s %q: %v", row+1, c.name, c.typ, fields[i], err)
				continue
			} else {
				got = dst
			}
			want := "null"
			if row < 3 {
				want = c.want[row]
			}
			if want != "" && !sameJSON(got, []byte(want)) {
				t.Errorf("row %d %s %s %q:\n got %s\nwant %s", row+1, c.name, c.typ, fields[i], got, want)
			}
			if c.oracle == noOracle {
				continue
			}
			view := o
			o++
			pg := fields[view]
			switch {
			case nulls[view]:
				pg = []byte("null")
			case c.oracle == sameAsCastText:
				pg = format2JSONString(pg)
			}
			ok := sameJSON(got, pg)
			if c.oracle == sameInstant {
				ok = sameInstants(got, pg)
			}
			if !ok {
				t.Errorf("row %d %s %s %q:\n got %s\nPostgres %s", row+1, c.name, c.typ, fields[i], got, pg)
			}
		}
	}
}

// countingQuerier counts the queries run through it.
type countingQuerier struct {
	conn    *pgx.Conn
	queries int
}

func (q *countingQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	q.queries++
	return q.conn.Query(ctx, sql, args...)
}

func format2JSONString(s []byte) []byte {
	b, _ := json.Marshal(string(s))
	return b
}

// sameJSON reports whether a and b are the same JSON value, numbers
// compared exactly.
func sameJSON(a, b []byte) bool {
	va, errA := decodeExact(a)
	vb, errB := decodeExact(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

// decodeExact decodes JSON with numbers as exact rationals' strings.
func decodeExact(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return normalizeNumbers(v), nil
}

func normalizeNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		r, ok := new(big.Rat).SetString(string(v))
		if !ok {
			return "bad number " + string(v)
		}
		return r.RatString()
	case []any:
		for i := range v {
			v[i] = normalizeNumbers(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = normalizeNumbers(v[k])
		}
	}
	return v
}

// sameInstants reports whether a and b are the same JSON string or
// strings of the same instant (RFC 3339), or arrays of them.
func sameInstants(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return sameInstantValues(va, vb)
}

func sameInstantValues(a, b any) bool {
	switch a := a.(type) {
	case string:
		b, ok := b.(string)
		if !ok {
			return false
		}
		ta, errA := time.Parse(time.RFC3339Nano, a)
		tb, errB := time.Parse(time.RFC3339Nano, b)
		if errA != nil || errB != nil {
			return a == b
		}
		return ta.Equal(tb)
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !sameInstantValues(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// TestBuiltinsMatchCatalog checks the table of built-in types against
// pg_type: names, categories, array types and delimiters.
func TestBuiltinsMatchCatalog(t *testing.T) {
	conn := connectPostgres(t)
	ctx := context.Background()
	for _, b := range builtins {
		var name, category, delim, arrayName, arrayCategory string
		var array, arrayElem uint32
		err := conn.QueryRow(ctx, `SELECT t.typname::text, t.typcategory::text, t.typdelim::text, t.typarray,
	a.typname::text, a.typcategory::text, a.typelem
FROM pg_type t JOIN pg_type a ON a.oid = t.typarray WHERE t.oid = $1`, b.oid).
			Scan(&name, &category, &delim, &array, &arrayName, &arrayCategory, &arrayElem)
		if errors.Is(err, pgx.ErrNoRows) {
			t.Logf("%s (%d) is not in this version's pg_type", b.name, b.oid)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		e := builtinEntries[b.oid]
		if name != b.name || category != string(b.category) || array != b.array || delim != string(e.typ.Delim) {
			t.Errorf("%d: pg_type has %s %s %q array %d; the table %s %c %q array %d",
				b.oid, name, category, delim, array, b.name, b.category, e.typ.Delim, b.array)
		}
		a := builtinEntries[b.array]
		if arrayName != a.typ.Name || arrayCategory != "A" || arrayElem != b.oid || a.delim != e.typ.Delim {
			t.Errorf("%d: pg_type has %s %s elem %d; the table %+v", b.array, arrayName, arrayCategory, arrayElem, a.typ)
		}
	}
}

// TestResolve checks what Resolve learns of user types, and that an OID
// pg_type does not hold stays unknown without an error.
func TestResolve(t *testing.T) {
	conn := connectPostgres(t)
	ctx := context.Background()
	schema := fmt.Sprintf("pgvalue_resolve_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema+"; CREATE TYPE "+schema+".mood AS ENUM ('a'); CREATE DOMAIN "+
		schema+".moods AS "+schema+".mood[]; CREATE DOMAIN "+schema+".big AS "+schema+".moods"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	var big, moods, mood, moodArray uint32
	err := conn.QueryRow(ctx, "SELECT $1::regtype::oid, $2::regtype::oid, $3::regtype::oid, $4::regtype::oid",
		schema+".big", schema+".moods", schema+".mood", schema+".mood[]").Scan(&big, &moods, &mood, &moodArray)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegistry()
	if err := r.Resolve(ctx, conn, big, 4_000_000_000); err != nil {
		t.Fatal(err)
	}
	for _, want := range []Type{
		{OID: big, Name: "big", Category: 'A', Base: moods, Delim: ','},
		{OID: moods, Name: "moods", Category: 'A', Base: moodArray, Delim: ','},
		{OID: moodArray, Name: "_mood", Category: 'A', Elem: mood, Delim: ','},
		{OID: mood, Name: "mood", Category: 'E', Delim: ','},
	} {
		if got, ok := r.Type(want.OID); !ok || got != want {
			t.Errorf("%s: %+v, %v; want %+v", want.Name, got, ok, want)
		}
	}
	if _, ok := r.Type(4_000_000_000); ok {
		t.Errorf("an OID pg_type does not hold is known")
	}
	if got, err := r.AppendJSON(nil, big, []byte("{a,NULL}")); err != nil || string(got) != `["a",null]` {
		t.Errorf("domain over a domain over mood[]: %s, %v", got, err)
	}
}
