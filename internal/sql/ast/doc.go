// Package ast defines the syntax tree of Tide's SQL dialect: Postgres-
// flavoured statements and expressions with streaming extensions
// (watermark declarations, window table functions). The parser produces
// it; the planner binds and compiles it. Every node carries the position
// of its first token, so errors found after parsing still point at
// line:column.
//
// Identifiers are stored folded to lower case unless they were quoted, as
// Postgres does; keywords never appear as strings in the tree except
// where noted (operator names, type names, show targets).
package ast
