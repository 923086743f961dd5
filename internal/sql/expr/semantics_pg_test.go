package expr

import (
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/types"
)

// Expressions whose results once differed from PostgreSQL 15's, checked
// against what Postgres returns (SET TimeZone = 'UTC', IntervalStyle =
// 'postgres', extra_float_digits = 1, DateStyle = 'ISO, MDY'); none needs a
// database.

type pgCase struct {
	expr string
	want string // text output; "NULL" for SQL NULL; "ERROR <sqlstate>" for an error
	kind types.Kind
}

// pgCaseCols are the columns the cases may use, with their one row.
var pgCaseCols = []struct {
	col  Column
	text string
}{
	{Column{Name: "s", Type: types.KindInt2}, "7"},
	{Column{Name: "zf", Type: types.KindFloat8}, "0"},
	{Column{Name: "iv", Type: types.KindInterval}, "1 day 02:03:04"},
	{Column{Name: "j", Type: types.KindJSON}, `{"a": 1, "f": 1.5}`},
}

func runPGCases(t *testing.T, cases []pgCase) {
	t.Helper()
	var cols []Column
	var row types.Row
	for _, c := range pgCaseCols {
		v, err := types.ParseText(c.col.Type, c.text)
		if err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c.col)
		row = append(row, v)
	}
	for _, tc := range cases {
		out, null, k, code, err := tideOutput(tc.expr, cols, row)
		var got string
		switch {
		case code != "":
			got = "ERROR " + code
		case err != nil:
			got = "ERROR " + err.Error()
		case null:
			got = "NULL"
		default:
			got = out
		}
		if got != tc.want {
			t.Errorf("%s = %.120q, Postgres %.120q", tc.expr, got, tc.want)
			continue
		}
		if tc.kind != 0 && code == "" && k != tc.kind {
			t.Errorf("%s: type %s, Postgres %s", tc.expr, k, tc.kind)
		}
	}
}

// In interval input a bare number just before an h:m[:s] time (or a number
// of hours) is a number of days; two bare numbers in a row are an error.
func TestIntervalDaysBeforeTime(t *testing.T) {
	runPGCases(t, []pgCase{
		{"interval '1 2:03:04'", "1 day 02:03:04", 0},       // Postgres: 1 day 02:03:04
		{"'3 4:05:06.5'::interval", "3 days 04:05:06.5", 0}, // Postgres: 3 days 04:05:06.5
		{"interval '-1 2:03:04'", "-1 days +02:03:04", 0},   // Postgres: -1 days +02:03:04
		{"interval '5 10:00'", "5 days 10:00:00", 0},        // Postgres: 5 days 10:00:00
		{"interval '1 2 hours'", "1 day 02:00:00", 0},       // Postgres: 1 day 02:00:00
		{"interval '2 3'", "ERROR 22007", 0},                // Postgres: invalid input syntax
		{"interval '1 2 minutes'", "ERROR 22007", 0},        // Postgres: invalid input syntax
	})
}

// SQL-standard interval literals: year-month 'Y-M', the field qualifiers
// DAY TO HOUR and MINUTE TO SECOND, and 'm:s.f' (always minutes and
// seconds).
func TestIntervalSQLStandard(t *testing.T) {
	runPGCases(t, []pgCase{
		{"interval '1-2'", "1 year 2 mons", 0},               // Postgres: 1 year 2 mons
		{"interval '-1-2'", "-1 years -2 mons", 0},           // Postgres: -1 years -2 mons
		{"interval '1-2' year to month", "1 year 2 mons", 0}, // Postgres: 1 year 2 mons
		{"interval '3 4' day to hour", "3 days 04:00:00", 0}, // Postgres: 3 days 04:00:00
		{"interval '1:30' minute to second", "00:01:30", 0},  // Postgres: 00:01:30
		{"interval '1:30'", "01:30:00", 0},                   // Postgres: 01:30:00
		{"interval '1:30.5'", "00:01:30.5", 0},               // Postgres: 00:01:30.5
	})
}

// ceil/floor of a numeric rounds away from zero however small its
// magnitude.
func TestNumericCeilFloorSmall(t *testing.T) {
	runPGCases(t, []pgCase{
		{"ceil(0.01)", "1", types.KindNumeric},       // Postgres: 1
		{"ceil(0.001)", "1", types.KindNumeric},      // Postgres: 1
		{"ceiling(1e-20)", "1", types.KindNumeric},   // Postgres: 1
		{"ceil(-0.01)", "0", types.KindNumeric},      // Postgres: 0
		{"floor(-0.01)", "-1", types.KindNumeric},    // Postgres: -1
		{"floor(-0.5e-30)", "-1", types.KindNumeric}, // Postgres: -1
		{"floor(0.01)", "0", types.KindNumeric},      // Postgres: 0
		{"ceil(0.5)", "1", types.KindNumeric},        // Postgres: 1
		{"round(0.001, 1)", "0.0", 0},                // Postgres: 0.0
		{"ceil(0.001::numeric(10,3))", "1", 0},       // Postgres: 1
	})
}

// Unary minus keeps its operand's type (smallint stays smallint and
// overflows at -(-32768)) and negates a float zero to -0, as float8um.
func TestUnaryMinus(t *testing.T) {
	runPGCases(t, []pgCase{
		{"-s", "-7", types.KindInt2},                           // Postgres: -7 (smallint)
		{"-(32767::smallint)", "-32767", types.KindInt2},       // Postgres: -32767
		{"-((-32768)::smallint)", "ERROR 22003", 0},            // Postgres: smallint out of range
		{"-(0.0::float8)", "-0", types.KindFloat8},             // Postgres: -0
		{"-zf", "-0", types.KindFloat8},                        // Postgres: -0
		{"-(-(0.0::float8))", "0", types.KindFloat8},           // Postgres: 0
		{"atan2(-(0.0::float8), -1)", "-3.141592653589793", 0}, // Postgres: -3.141592653589793
	})
}

// A minus sign is folded into a number literal before it is typed
// (Postgres' doNegate): -2147483648 is an integer, -9223372036854775808
// a bigint, so overflow errors surface as they do in Postgres.
func TestNegativeLiteralType(t *testing.T) {
	runPGCases(t, []pgCase{
		{"-2147483648", "-2147483648", types.KindInt4},                   // Postgres: integer
		{"-2147483648 * 2", "ERROR 22003", 0},                            // Postgres: integer out of range
		{"-2147483648 - 1", "ERROR 22003", 0},                            // Postgres: integer out of range
		{"to_hex(-2147483648)", "80000000", 0},                           // Postgres: 80000000
		{"-9223372036854775808", "-9223372036854775808", types.KindInt8}, // Postgres: bigint
		{"-9223372036854775808 - 1", "ERROR 22003", 0},                   // Postgres: bigint out of range
		{"abs(-9223372036854775808)", "ERROR 22003", 0},                  // Postgres: bigint out of range
		{"-2147483649", "-2147483649", types.KindInt8},                   // Postgres: bigint
		{"-0.0", "0.0", types.KindNumeric},                               // Postgres: 0.0
	})
}

// jsonb compares with Postgres' jsonb ordering: numbers by value, null <
// string < number < boolean < array < object, arrays and objects by size
// first, then element by element.
func TestJSONBComparison(t *testing.T) {
	runPGCases(t, []pgCase{
		{`'1'::jsonb = '1.0'::jsonb`, "t", 0},                             // Postgres: t
		{`'{"a":1}'::jsonb = '{"a":1.0}'::jsonb`, "t", 0},                 // Postgres: t
		{`j -> 'f' = '1.50'::jsonb`, "t", 0},                              // Postgres: t
		{`'1.0'::jsonb IN ('1'::jsonb)`, "t", 0},                          // Postgres: t
		{`'{"a":1}'::jsonb IS DISTINCT FROM '{"a":1.00}'::jsonb`, "f", 0}, // Postgres: f
		{`'10'::jsonb > '9'::jsonb`, "t", 0},                              // Postgres: t
		{`'null'::jsonb < '1'::jsonb`, "t", 0},                            // Postgres: t
		{`'"b"'::jsonb < '1'::jsonb`, "t", 0},                             // Postgres: t
		{`'true'::jsonb > '1'::jsonb`, "t", 0},                            // Postgres: t
		{`'[2]'::jsonb > '[1, 2]'::jsonb`, "f", 0},                        // Postgres: f
		{`'[1, "a"]'::jsonb < '[1, 2]'::jsonb`, "t", 0},                   // Postgres: t
		{`'{"a":1,"b":2}'::jsonb > '{"c":1}'::jsonb`, "t", 0},             // Postgres: t
		{`'{"b":1}'::jsonb > '{"a":2}'::jsonb`, "t", 0},                   // Postgres: t
		{`'{}'::jsonb > '[1, 2, 3]'::jsonb`, "t", 0},                      // Postgres: t
		{`'[1]'::jsonb > '1'::jsonb`, "t", 0},                             // Postgres: t
		{`greatest('2'::jsonb, '10'::jsonb)`, "10", 0},                    // Postgres: 10
	})
}

// exp(numeric): exp(-Infinity) is 0, and the result scale follows the
// result's decimal weight however large |x| is.
func TestNumericExp(t *testing.T) {
	runPGCases(t, []pgCase{
		{"exp('-Infinity'::numeric)", "0", types.KindNumeric},                     // Postgres: 0
		{"exp('Infinity'::numeric)", "Infinity", types.KindNumeric},               // Postgres: Infinity
		{"exp(1.0)", "2.7182818284590452", types.KindNumeric},                     // Postgres: 2.7182818284590452
		{"exp(-1000.0)", "0." + strings.Repeat("0", 434) + "5075958897549457", 0}, // Postgres: 0.<434 zeros>5075958897549457
		// Postgres: the exact 435-digit integer part, scale 1.
		{"exp(1000.0)", "197007111401704699388887935224332312531693798532384578995280299138506385078244119347497807656302688993096381798752022693598298173054461289923262783660152825232320535169584566756192271567602788071422466826314006855168508653497941660316045367817938092905299728580132869945856470286534375900456564355589156220422320260518826112288638358372248724725214506150418881937494100871264232248436315760560377439930623959705844189509050047074217568.2", 0},
		{"exp(6000.0)", "ERROR 22003", 0},                     // Postgres: value overflows numeric format
		{"exp(-6000.0)", "0." + strings.Repeat("0", 1000), 0}, // Postgres: 0 at scale 1000
	})
}

// log10 has a numeric overload, like log(numeric).
func TestLog10Numeric(t *testing.T) {
	runPGCases(t, []pgCase{
		{"log10(1000.0)", "3.0000000000000000", types.KindNumeric}, // Postgres: 3.0000000000000000 (numeric)
		{"log10(2.0)", "0.3010299956639812", types.KindNumeric},    // Postgres: 0.3010299956639812 (numeric)
		{"log10(100)", "2", types.KindFloat8},                      // Postgres: 2 (double precision)
	})
}

// to_jsonb(double precision) is a jsonb number, in numeric's form.
func TestToJSONBFloat(t *testing.T) {
	runPGCases(t, []pgCase{
		{"to_jsonb(1e20::float8)", "100000000000000000000", 0},            // Postgres: 100000000000000000000
		{"to_jsonb(1e-7::float8)", "0.0000001", 0},                        // Postgres: 0.0000001
		{"to_jsonb(123456789012345678::float8)", "123456789012345680", 0}, // Postgres: 123456789012345680
		{"to_jsonb('-0'::float8)", "0", 0},                                // Postgres: 0
		{"to_jsonb('NaN'::float8)", `"NaN"`, 0},                           // Postgres: "NaN"
		{"to_jsonb(1e20::float8) = jsonb_build_object('a', 1e20::float8) -> 'a'", "t", 0},
	})
}

// A lone UTF-16 surrogate escape is invalid JSON; a pair is one character.
func TestJSONLoneSurrogate(t *testing.T) {
	runPGCases(t, []pgCase{
		{`'"\ud83d"'::jsonb`, "ERROR 22P02", 0},       // Postgres: invalid input syntax for type json
		{`'"\udc00"'::jsonb`, "ERROR 22P02", 0},       // Postgres: invalid input syntax for type json
		{`'"\ud83d\u0041"'::jsonb`, "ERROR 22P02", 0}, // Postgres: invalid input syntax for type json
		{`'"\ud83d\ude00"'::jsonb`, `"😀"`, 0},         // Postgres: "😀"
		{`'"\\ud83d"'::jsonb`, `"\\ud83d"`, 0},        // Postgres: "\\ud83d" (an escaped backslash)
	})
}

// substring(text FROM pattern) is the regular-expression form: the first
// parenthesised subexpression's match, or the whole match; NULL without
// a match.
func TestSubstringRegex(t *testing.T) {
	runPGCases(t, []pgCase{
		{"substring('hello' from 'l+')", "ll", 0},          // Postgres: ll
		{"substring('abc123' from '[0-9]+')", "123", 0},    // Postgres: 123
		{"substring('abc123' from 'c(\\d)')", "1", 0},      // Postgres: 1
		{"substring('abc' from 'x')", "NULL", 0},           // Postgres: NULL
		{"substring('hello', 'l+')", "ll", types.KindText}, // Postgres: ll
		{"substring('hello' from 2)", "ello", 0},           // Postgres: ello
		{"substring('hello' from 2 for 2)", "el", 0},       // Postgres: el
	})
}

// An untyped NULL next to interval * or jsonb -> resolves as Postgres
// resolves it (to double precision / text) and yields NULL.
func TestUntypedNullOperand(t *testing.T) {
	runPGCases(t, []pgCase{
		{"iv * NULL", "NULL", types.KindInterval}, // Postgres: NULL (interval)
		{"NULL * iv", "NULL", types.KindInterval}, // Postgres: NULL (interval)
		{"iv / NULL", "NULL", types.KindInterval}, // Postgres: NULL (interval)
		{"iv * '2'", "2 days 04:06:08", 0},        // Postgres: 2 days 04:06:08
		{"j -> NULL", "NULL", types.KindJSON},     // Postgres: NULL (jsonb)
		{"j ->> NULL", "NULL", types.KindText},    // Postgres: NULL (text)
	})
}

// Smaller differences once found.
func TestMinorPGSemantics(t *testing.T) {
	runPGCases(t, []pgCase{
		{"sign('-0'::float8)", "0", 0},                                                                      // Postgres: 0
		{"EXTRACT(isoyear FROM '0044-03-15 BC'::date)", "-44", 0},                                           // Postgres: -44
		{"'0000-01-01'::date", "ERROR 22008", 0},                                                            // Postgres: date/time field value out of range
		{"1e-400::numeric::float8", "ERROR 22003", 0},                                                       // Postgres: out of range (underflow)
		{"NULLIF(1, 2.0)", "1", types.KindNumeric},                                                          // Postgres: 1, numeric
		{"NULLIF(1, 2::bigint)", "1", types.KindInt4},                                                       // Postgres: 1, integer
		{"to_timestamp(1.0000005)", "1970-01-01 00:00:01+00", 0},                                            // Postgres: 1970-01-01 00:00:01+00
		{"EXTRACT(julian FROM '2024-03-15 10:30:45.123456'::timestamp)", "2460385.43802226222222222222", 0}, // Postgres: scale 20
		{"'01/02/2024'::date", "2024-01-02", 0},                                                             // Postgres (DateStyle ISO, MDY): 2024-01-02
		{"(-1.0) ^ 'Infinity'::numeric", "1", 0},                                                            // Postgres: 1
	})
}
