// Package expr compiles SQL scalar expressions (package ast) over a row
// layout into closures evaluated per event, with PostgreSQL semantics.
//
// # Job and invariants
//
// Compile resolves names and types once: column references become row
// indexes, operators and functions are chosen by argument types, and
// implicit coercions are inserted. Nothing walks the syntax tree at
// evaluation. A compiled *Expr holds no mutable state; Eval is safe for
// concurrent use. Comparisons and integer/float arithmetic of columns and
// constants evaluate without allocating (BenchmarkEvalFilterProject).
//
// Constant subtrees are folded at compile time. A fold that fails (1/0)
// is not a compile error: the error is raised when, and only if, the
// expression is evaluated, so CASE WHEN false THEN 1/0 END is fine.
// Postgres raises such errors at plan time; Tide raises them per row.
// A literal that does not read as the type it must take ('abc' compared
// with an integer) is a compile error, as in Postgres.
//
// Errors: compile errors are *Error (position, Postgres' message, hint,
// SQLSTATE); evaluation errors are *types.Error. Code(err) gives either
// SQLSTATE.
//
// NULL: three-valued logic throughout. AND/OR follow Kleene's tables
// (FALSE AND NULL is FALSE, TRUE OR NULL is TRUE); comparisons with NULL
// are NULL; x IN (...) is NULL when x is NULL or no element matched and
// an element is NULL, so NOT IN with a NULL element is never TRUE; IS
// [NOT] DISTINCT FROM treats NULLs as equal; CASE evaluates only the
// chosen arm; COALESCE stops at the first non-NULL.
//
// # Coercion rules
//
//	from            implicitly to
//	smallint        integer, bigint, numeric, double precision
//	integer         bigint, numeric, double precision
//	bigint          numeric, double precision
//	numeric         double precision
//	date            timestamp, timestamptz
//	timestamp       timestamptz
//	'literal'       any type (read with types.ParseText at compile time)
//	NULL            any type
//
// Arithmetic between two number kinds happens in the wider (int2 + int2
// is smallint and overflows as one); integer / integer truncates; / and
// % by zero fail with 22012 for all number kinds; ^ of integers is double
// precision. Numeric results carry Postgres' scales (+ - max, * sum, /
// select_div_scale, sqrt/ln/log/exp/power at least 16 significant digits).
// Explicit casts cover every pair Postgres has among the supported kinds;
// double → integer rounds half to even (rint), numeric → integer half away
// from zero, double → numeric goes through 15 significant digits.
//
// The session time zone is UTC, always.
//
// # Functions
//
// string: length char_length character_length octet_length lower upper
// initcap substring substr strpos position btrim trim ltrim rtrim replace
// concat concat_ws left right lpad rpad repeat reverse split_part
// starts_with to_hex md5 sha256 ascii chr regexp_replace; math: abs ceil
// ceiling floor round trunc sqrt cbrt power pow exp ln log log10 mod sign
// pi degrees radians sin cos tan asin acos atan atan2 greatest least;
// date/time: now current_timestamp localtimestamp current_date (clock from
// CompileOptions.Now) date_trunc date_part EXTRACT to_timestamp make_date
// make_timestamp; json: -> ->> #> #>> || jsonb_typeof json_typeof
// jsonb_extract_path[_text] jsonb_array_length jsonb_build_object
// to_jsonb; conditional: COALESCE NULLIF GREATEST LEAST CASE; TRY_CAST.
//
// # Differences from Postgres
//
//   - Regular expressions are Go's RE2, not Postgres' ARE: no
//     backreferences, lookaround, \m \M \y; '.' matches newline as in
//     Postgres. Invalid patterns fail with 2201B. Constant patterns
//     compile once at compile time. regexp_match, SIMILAR TO and arrays
//     are not supported.
//   - lower/upper/initcap/ILIKE fold case with Unicode rules; a Postgres
//     database with the C collation folds ASCII only.
//   - json and jsonb are one kind, with jsonb's canonical text; jsonb
//     ordering (<, >) compares that text.
//   - cbrt and the transcendental functions use Go's math library; the
//     last digit of a double can differ from glibc's.
//   - now() reads the clock at each evaluation (Postgres: once per
//     transaction); with CompileOptions.Now it is deterministic.
//   - TRY_CAST (not in Postgres) returns NULL when the conversion, or
//     evaluating its operand, fails.
//   - Errors of constant subexpressions surface at evaluation, not at
//     compile time (see above).
//
// TestDifferentialPostgres evaluates several hundred expressions in Tide
// and in PostgreSQL 15 and compares text output, NULL-ness, type and
// SQLSTATE.
package expr
