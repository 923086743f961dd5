// Package types holds the SQL types and the runtime Value of Tide's
// engine, with Postgres semantics: integers of three widths that error
// on overflow, double precision, arbitrary-precision numeric (apd),
// text, bytea, timestamp and timestamptz (microseconds), date (days),
// interval (months, days, microseconds, as Postgres keeps them), and json
// (kept as its text).
//
// A Value is a small struct passed by value; NULL is the zero Value of
// any type. A Row is a slice of Values laid out as the planner decided.
package types
