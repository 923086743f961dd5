package types

import (
	"errors"
	"testing"
)

// Interval input compared with PostgreSQL 15.18 (IntervalStyle postgres):
// SELECT ('<in>'::interval <qualifier>)::text. want is Postgres' output,
// or "ERROR <sqlstate>".
type pgIntervalCase struct{ in, qual, want string }

func runPGIntervals(t *testing.T, cases []pgIntervalCase) {
	t.Helper()
	for _, c := range cases {
		v, err := ParseInterval(c.in, c.qual)
		got := ""
		if err != nil {
			got = "ERROR"
			if te := (*Error)(nil); errors.As(err, &te) {
				got += " " + te.Code
			}
		} else {
			got = v.String()
		}
		want := c.want
		if len(want) > 5 && want[:5] == "ERROR" && len(got) >= 5 && got[:5] == "ERROR" {
			continue // both refuse; the SQLSTATE is not compared here
		}
		if got != want {
			t.Errorf("ParseInterval(%q, %q) = %q, Postgres %q", c.in, c.qual, got, want)
		}
	}
}

// A fractional year is rounded to whole months (Postgres: rint), not
// truncated.
func TestIntervalFractionalYearsRound(t *testing.T) {
	runPGIntervals(t, []pgIntervalCase{
		{"0.3 years", "", "4 mons"},              // Postgres: 4 mons
		{"0.3 years", "year to month", "4 mons"}, // Postgres: 4 mons
		{"1.999999 years", "", "2 years"},        // Postgres: 2 years
		{"0.125 years", "", "2 mons"},            // Postgres: 2 mons
		{"-0.3 years", "", "-4 mons"},            // Postgres: -4 mons
		{"P0.3Y", "", "4 mons"},                  // Postgres: 4 mons
		{"1.999999 decades", "", "20 years"},     // Postgres: 20 years
	})
}

// A field's fraction is read from its digits, apart from the integer
// part, as Postgres does: '10.1 mons' is 10 mons 3 days (not 2 days
// 24:00:00), and large values keep their microseconds.
func TestIntervalFractionDigits(t *testing.T) {
	runPGIntervals(t, []pgIntervalCase{
		{"3.3 mons", "", "3 mons 9 days"},                 // Postgres: 3 mons 9 days
		{"10.1 mons", "", "10 mons 3 days"},               // Postgres: 10 mons 3 days
		{"10.1 mons", "day", "10 mons 3 days"},            // Postgres: 10 mons 3 days
		{"1000.3 mons", "", "83 years 4 mons 9 days"},     // Postgres: 83 years 4 mons 9 days
		{"1000000.1 days", "", "1000000 days 02:24:00"},   // Postgres: 1000000 days 02:24:00
		{"12345678.9 days", "", "12345678 days 21:36:00"}, // Postgres: 12345678 days 21:36:00
		{"1000000.1 weeks", "", "7000000 days 16:48:00"},  // Postgres: 7000000 days 16:48:00
		{"2000000000.5 hours", "", "2000000000:30:00"},    // Postgres: 2000000000:30:00
	})
}

// A time of more than 2^53 microseconds (~2.5 million hours) keeps its
// low digits: integer parts are added as integers.
func TestIntervalLargeTimePrecision(t *testing.T) {
	runPGIntervals(t, []pgIntervalCase{
		{"2600000:00:00.000001", "", "2600000:00:00.000001"},       // Postgres: 2600000:00:00.000001
		{"1000000000:00:00.123457", "", "1000000000:00:00.123457"}, // Postgres: 1000000000:00:00.123457
		{"1000000000:30:00.5", "", "1000000000:30:00.5"},           // Postgres: 1000000000:30:00.5
		{"2600000 hours 1 us", "", "2600000:00:00.000001"},         // Postgres: 2600000:00:00.000001
		{"1000000000 hours 59 minutes", "", "1000000000:59:00"},    // Postgres: 1000000000:59:00
	})
}

// An overflow is an error (Postgres: 22015 interval field value out of
// range), not a value wrapped around int64.
func TestIntervalOverflowRefused(t *testing.T) {
	runPGIntervals(t, []pgIntervalCase{
		{"3000000000:00", "", "ERROR 22015"},                                           // Tide: -2124095576:01:49.551616
		{"5124095576:00:00.000001", "", "ERROR 22015"},                                 // Tide: -00:01:49.551615
		{"2562047788 hours 1000000000 minutes", "", "ERROR 22015"},                     // Tide: -2545381121:21:49.551616
		{"99999999999999999999 hours 99999999999999999999 minutes", "", "ERROR 22015"}, // Tide: 00:00:00
		{"4611686018427387904 years", "", "ERROR 22015"},                               // Tide: 00:00:00
		{"1537228672809129301 years", "", "ERROR 22015"},                               // Tide: -85 years -4 mons
		{"PT2562047788H1000000000M", "", "ERROR 22015"},                                // Tide: -2545381121:21:49.551616
	})
}

// Valid times up to the int64 limit are accepted.
func TestIntervalNearLimit(t *testing.T) {
	runPGIntervals(t, []pgIntervalCase{
		{"2562047787 hours", "", "2562047787:00:00"},                // Postgres: 2562047787:00:00
		{"9223372036854775807 us", "", "2562047788:00:54.775807"},   // Postgres: 2562047788:00:54.775807
		{"-9223372036854775808 us", "", "-2562047788:00:54.775808"}, // Postgres: -2562047788:00:54.775808
	})
}

// The abbreviations of decades, centuries and millennia.
func TestIntervalLongUnitAbbreviations(t *testing.T) {
	runPGIntervals(t, []pgIntervalCase{
		{"1 mil", "", "1000 years"}, // Postgres: 1000 years
		{"1 c", "", "100 years"},    // Postgres: 100 years
		{"1 dec", "", "10 years"},   // Postgres: 10 years
	})
}
