// Package types holds the SQL types and the runtime Value of Tide's
// engine, with Postgres semantics: integers of three widths that error
// on overflow, double precision, arbitrary-precision numeric (apd),
// text, bytea, timestamp and timestamptz (microseconds), date (days),
// interval (months, days, microseconds, as Postgres keeps them), and json
// (kept as its text).
//
// A Value is a small struct passed by value; NULL is the zero Value of
// any type. A Row is a slice of Values laid out as the planner decided.
//
// # Invariants
//
//   - Values are immutable; strings, bytes and *apd.Decimal inside are
//     never modified after construction, so Values are shared freely
//     between goroutines.
//   - Timestamps are microseconds since 1970-01-01 00:00:00; a
//     timestamptz is that instant in UTC. 'infinity' and '-infinity' are
//     math.MaxInt64 and math.MinInt64 (dates: MaxInt32, MinInt32).
//   - A numeric never has a positive exponent (its scale, the digits
//     after the point, is -Exponent or 0) and is never negative zero.
//   - JSON read by ParseText is in jsonb's canonical form (keys sorted
//     shorter-first, last duplicate wins, numbers as numeric, ", " and
//     ": " separators), so equal documents have equal text. NewJSON takes
//     its text as given.
//
// # Text
//
// ParseText is Postgres' input function of each type (the cast
// 'text'::type) and AppendText its output function (what psql shows),
// with the session settings Tide always uses: TimeZone UTC, DateStyle
// ISO, IntervalStyle postgres, extra_float_digits 1. Errors are *Error
// with Postgres' SQLSTATE and message; TestTextInOutAgainstPostgres checks
// both against a real PostgreSQL.
//
// # Differences from Postgres
//
//   - "real"/"float4" are double precision; varchar(n), char(n) are text
//     (char(n) is not blank-padded).
//   - Date/time input takes numeric forms only (ISO 8601, RFC 3339,
//     'YYYY-MM-DD HH:MM:SS[.f][zone]', YYYYMMDD, MM/DD/YYYY, BC/AD);
//     month names, 'now'/'today', and named time zones (other than
//     UTC/GMT/Z) are rejected. Timestamps stop at 294247 AD (int64 microseconds since
//     1970) instead of 294276 AD.
//   - jsonb values compare with Postgres' jsonb ordering, but group (GROUP
//     BY, DISTINCT) by their canonical text: 1 and 1.0 are two groups.
package types
