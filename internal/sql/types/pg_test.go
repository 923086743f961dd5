package types

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// connectPostgres connects to the Postgres named by TIDE_TEST_POSTGRES_URL.
// Without it the test is skipped loudly, or fails under CI=true.
func connectPostgres(t *testing.T) *pgx.Conn {
	t.Helper()
	url := os.Getenv("TIDE_TEST_POSTGRES_URL")
	if url == "" {
		msg := "TIDE_TEST_POSTGRES_URL is not set: the differential test against PostgreSQL did NOT run " +
			"(start one with scripts/peers/postgres.sh and export TIDE_TEST_POSTGRES_URL=$(cat .tools/run/postgres/url))"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET DateStyle = 'ISO, MDY'"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// pgText evaluates query with one text argument in Postgres and returns
// its text result, whether it was NULL, and the SQLSTATE of an error.
func pgText(t *testing.T, conn *pgx.Conn, query string, args ...any) (text string, null bool, code string) {
	t.Helper()
	var s *string
	err := conn.QueryRow(context.Background(), query, args...).Scan(&s)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return "", false, pe.Code
		}
		t.Fatalf("%s: %v", query, err)
	}
	if s == nil {
		return "", true, ""
	}
	return *s, false, ""
}

var pgTypeOf = map[Kind]string{
	KindBool: "boolean", KindInt2: "smallint", KindInt4: "integer", KindInt8: "bigint",
	KindFloat8: "double precision", KindNumeric: "numeric", KindText: "text", KindBytea: "bytea",
	KindTimestamp: "timestamp", KindTimestampTZ: "timestamptz", KindDate: "date",
	KindInterval: "interval", KindJSON: "jsonb",
}

// TestTextInOutAgainstPostgres reads each text as its kind in Tide and in
// Postgres and compares the text output or the SQLSTATE.
func TestTextInOutAgainstPostgres(t *testing.T) {
	conn := connectPostgres(t)
	cases := []struct {
		k Kind
		s string
	}{
		{KindBool, "true"}, {KindBool, " t "}, {KindBool, "yes"}, {KindBool, "on"}, {KindBool, "of"}, {KindBool, "1"},
		{KindBool, "0"}, {KindBool, "n"}, {KindBool, "o"}, {KindBool, "maybe"}, {KindBool, ""}, {KindBool, "FALSE"},
		{KindInt4, " 42 "}, {KindInt4, "-2147483648"}, {KindInt4, "2147483648"}, {KindInt4, "abc"}, {KindInt4, ""},
		{KindInt4, "+7"}, {KindInt4, "1.5"}, {KindInt4, "1_000"}, {KindInt2, "32767"}, {KindInt2, "32768"},
		{KindInt8, "9223372036854775807"}, {KindInt8, "-9223372036854775808"}, {KindInt8, "9223372036854775808"},
		{KindInt8, "99999999999999999999999"},
		{KindFloat8, "1.5"}, {KindFloat8, " NaN"}, {KindFloat8, "-Infinity"}, {KindFloat8, "inf"}, {KindFloat8, "1e400"},
		{KindFloat8, "1e-400"}, {KindFloat8, "0.1"}, {KindFloat8, "1e15"}, {KindFloat8, "123456789012345"},
		{KindFloat8, "1e-5"}, {KindFloat8, "0.0001"}, {KindFloat8, "-0"}, {KindFloat8, "3.141592653589793"},
		{KindFloat8, "1e100"}, {KindFloat8, "12345678901234567890"}, {KindFloat8, "abc"}, {KindFloat8, "5e-324"},
		{KindFloat8, "1.7976931348623157e308"}, {KindFloat8, ".5"}, {KindFloat8, "5."},
		{KindNumeric, "1.50"}, {KindNumeric, "-0.000"}, {KindNumeric, "1e2"}, {KindNumeric, "1.50e1"}, {KindNumeric, "NaN"},
		{KindNumeric, "Infinity"}, {KindNumeric, "-inf"}, {KindNumeric, ".5"}, {KindNumeric, "5."}, {KindNumeric, "1e-3"},
		{KindNumeric, "abc"}, {KindNumeric, " 12.3400 "}, {KindNumeric, "1e"}, {KindNumeric, "123456789012345678901234567890.123"},
		{KindText, "héllo"}, {KindBytea, `\x0102ff`}, {KindBytea, `\xAB`}, {KindBytea, `\x0`}, {KindBytea, `\xzz`},
		{KindBytea, `abc`}, {KindBytea, `a\\b\001`}, {KindBytea, `a\q`}, {KindBytea, ``}, {KindBytea, `\x`},
		{KindTimestamp, "2024-01-02 03:04:05.123456"}, {KindTimestamp, "2024-01-02T03:04:05"}, {KindTimestamp, "2024-01-02"},
		{KindTimestamp, "2024-01-02 03:04:05+05"}, {KindTimestamp, "2024-01-02T03:04:05Z"}, {KindTimestamp, "2024-02-30"},
		{KindTimestamp, "2024-13-01"}, {KindTimestamp, "garbage"}, {KindTimestamp, "infinity"}, {KindTimestamp, "-infinity"},
		{KindTimestamp, "epoch"}, {KindTimestamp, "2024-01-02 03:04:05.1234567"}, {KindTimestamp, "2024-01-02 24:00:00"},
		{KindTimestamp, "0001-01-01 00:00:00 BC"}, {KindTimestamp, "1999-12-31 23:59:59.999999"}, {KindTimestamp, "20240102"},
		{KindTimestamp, "2024-01-02 03:04"}, {KindTimestamp, "1900-01-01 00:00:00"}, {KindTimestamp, "2024-1-2 3:4:5"},
		{KindTimestampTZ, "2024-01-02 03:04:05+05"}, {KindTimestampTZ, "2024-01-02T03:04:05Z"},
		{KindTimestampTZ, "2024-01-02T03:04:05.5-07:30"}, {KindTimestampTZ, "2024-01-02 03:04:05"},
		{KindTimestampTZ, "2024-01-02 03:04:05 UTC"}, {KindTimestampTZ, "2024-01-02 03:04:05+0530"},
		{KindTimestampTZ, "1969-12-31 23:59:59.5+00"}, {KindTimestampTZ, "infinity"},
		{KindDate, "2024-01-02"}, {KindDate, "2024-01-02 03:04:05"}, {KindDate, "2024-02-29"}, {KindDate, "2023-02-29"},
		{KindDate, "0044-03-15 BC"}, {KindDate, "epoch"}, {KindDate, "-infinity"}, {KindDate, "nope"},
		{KindInterval, "1 hour"}, {KindInterval, "1 day 02:00:00"}, {KindInterval, "P1DT2H"}, {KindInterval, "-1 mon"},
		{KindInterval, "1 year 2 mons 3 days 04:05:06.789"}, {KindInterval, "@ 1 hour ago"}, {KindInterval, "-1 day 2 hours"},
		{KindInterval, "1.5 hours"}, {KindInterval, "1.5 days"}, {KindInterval, "1.5 years"}, {KindInterval, "1.7 mons"},
		{KindInterval, "02:00:00"}, {KindInterval, "-02:30"}, {KindInterval, "5"}, {KindInterval, "1 week"},
		{KindInterval, "P1Y2M3DT4H5M6S"}, {KindInterval, "PT0.5S"}, {KindInterval, "0"}, {KindInterval, "1 fortnight"},
		{KindInterval, "1 day -02:00:00"}, {KindInterval, "-1 days +02:00:00"}, {KindInterval, "100 hours"},
		{KindInterval, "1 millisecond"}, {KindInterval, "3 microseconds"}, {KindInterval, "1 century"}, {KindInterval, ""},
		{KindInterval, "1 mon 1 day 1 hour ago"}, {KindInterval, "2 years -1 mons"}, {KindInterval, "P2W"},
		{KindJSON, `{"b":1, "a":[1e2, 1.0], "aa": "x\u00e9\n", "a":2}`}, {KindJSON, `[1, "x", null, true]`},
		{KindJSON, `"str"`}, {KindJSON, `{`}, {KindJSON, ` 12.50 `}, {KindJSON, `{"a":{"c":1,"b":2}}`}, {KindJSON, `"\u0000"`},
		{KindJSON, `"tab\there"`}, {KindJSON, `-0`}, {KindJSON, `1E-2`},
	}
	for _, c := range cases {
		want, _, wantCode := pgText(t, conn, "SELECT $1::text::"+pgTypeOf[c.k]+"::text", c.s)
		v, err := ParseText(c.k, c.s)
		if err != nil {
			var te *Error
			if !errors.As(err, &te) {
				t.Errorf("ParseText(%s, %q): error %v is not a *types.Error", c.k, c.s, err)
				continue
			}
			if te.Code != wantCode {
				t.Errorf("ParseText(%s, %q): error %s %q, Postgres: %q (code %q)", c.k, c.s, te.Code, te.Message, want, wantCode)
			}
			continue
		}
		if wantCode != "" {
			t.Errorf("ParseText(%s, %q) = %s, Postgres fails with %s", c.k, c.s, v, wantCode)
			continue
		}
		if c.k == KindBool {
			want = want[:1] // bool::text is 'true'; the text output is 't'
		}
		if got := v.String(); got != want {
			t.Errorf("ParseText(%s, %q) = %q, Postgres %q", c.k, c.s, got, want)
		}
	}
}
