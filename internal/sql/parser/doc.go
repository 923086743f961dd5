// Package parser turns Tide's SQL text into the syntax tree of package
// ast: a hand-written lexer and recursive-descent parser for a
// Postgres-flavoured dialect with streaming extensions.
//
// # Why hand-written
//
// The dialect carries extensions no stock grammar has: watermark
// declarations, the window table functions TUMBLE, HOP and SESSION with
// TABLE and DESCRIPTOR arguments, KEY BY, and later MATCH_RECOGNIZE. A
// hand-written parser grows them without forking a generated grammar. It
// also gives precise line:column errors that say what was found and what
// was expected, with hints for common mistakes, which generated LALR
// parsers make hard. pg_query_go would bring Postgres's own parser, but
// needs cgo and would still have to be forked for the extensions. And it
// keeps the dependency graph small: this package imports only ast.
//
// # Grammar
//
//	script      = [statement] {";" [statement]}
//	statement   = create_source | create_sink | create_view | drop | show | describe | explain | select
//	create_source = CREATE SOURCE [IF NOT EXISTS] name
//	                "(" column {"," column} ["," WATERMARK FOR name AS expr] ")" with
//	column      = name type [NOT NULL | NULL]
//	create_sink = CREATE SINK [IF NOT EXISTS] name ["(" name {"," name} ")"] with AS select
//	create_view = CREATE MATERIALIZED VIEW [IF NOT EXISTS] name ["(" name {"," name} ")"] [with] AS select
//	with        = WITH "(" option {"," option} ")"
//	option      = (name {"." name} | string) "=" (string | ["-"] number | TRUE | FALSE | name {"." name})
//	drop        = DROP (SOURCE | SINK | MATERIALIZED VIEW) [IF EXISTS] name
//	show        = SHOW (SOURCES | SINKS | TOPICS | PIPELINES | VIEWS)
//	describe    = (DESCRIBE | DESC) name
//	explain     = EXPLAIN (select | create_sink)
//	select      = SELECT [DISTINCT | ALL] item {"," item} [FROM from] [WHERE expr]
//	              [GROUP BY expr {"," expr}] [HAVING expr] [KEY BY expr]
//	item        = "*" | name "." "*" | expr [[AS] alias]
//	from        = join {"," join}                      -- a comma is a CROSS JOIN
//	join        = primary {[INNER | LEFT [OUTER] | RIGHT [OUTER] | FULL [OUTER] | CROSS] JOIN primary [ON expr]}
//	primary     = name [[AS] alias]
//	            | name "(" [arg {"," arg}] ")" [[AS] alias]   -- TUMBLE, HOP, SESSION, ...
//	            | "(" select ")" [[AS] alias]
//	            | "(" from ")"
//	arg         = [name "=>"] (TABLE name | TABLE "(" query ")" | DESCRIPTOR "(" name {"," name} ")" | expr)
//
// Expressions follow Postgres's precedence, lowest first:
//
//	OR                                  left
//	AND                                 left
//	NOT                                 right (prefix)
//	IS [NOT] NULL|TRUE|FALSE|UNKNOWN, IS [NOT] DISTINCT FROM, ISNULL, NOTNULL
//	< > = <= >= <> !=                   non-associative
//	[NOT] BETWEEN [SYMMETRIC], [NOT] IN, [NOT] LIKE|ILIKE [ESCAPE], [NOT] SIMILAR TO
//	|| -> ->> #> #>> #- ~ ~* !~ !~* @> <@ & | # << >>   left
//	+ -                                 left
//	* / %                               left
//	^                                   left
//	unary + - ~                         right (prefix)
//	::type                              left (postfix)
//	primaries: literals, typed literals (TIMESTAMP '...', INTERVAL '5' MINUTE,
//	DATE, TIME, TIMESTAMPTZ, JSON, JSONB), [table.]column, function calls with
//	DISTINCT, * and FILTER (WHERE ...), CAST, TRY_CAST, CASE, EXTRACT,
//	POSITION, SUBSTRING, TRIM, OVERLAY, CURRENT_TIMESTAMP and kin, (expr).
//
// # Lexical rules
//
// As in Postgres: unquoted identifiers fold to lower case, "quoted" ones
// keep their case; only a short list of keywords is reserved (see
// ast.IsReserved), so words like key, source, format, value or timestamp
// are fine column names. Strings are '...' (a quote doubled inside), E'...'
// with backslash escapes, or $tag$...$tag$; literals separated by
// whitespace holding a newline are concatenated. Comments are -- to end of
// line and /* ... */, which nest. Operators are scanned greedily as
// Postgres does, so a=-1 is a = -1.
//
// # Errors
//
// Every error is an *Error at the line:column (1-based, columns in runes)
// of the offending token, saying what was found and what was expected,
// with a HINT for likely mistakes: a misspelled keyword, a missing comma,
// a misplaced clause, == for =, a double-quoted value in WITH. Parsing
// stops at the first error. The parser never panics on any input; nesting
// deeper than a fixed limit is an error rather than a stack overflow.
//
// Parse, ParseOne and ParseExpr are safe for concurrent use; the returned
// trees belong to the caller.
package parser
