package nexmarksql

import (
	"embed"
	"fmt"
	"regexp"
	"strings"
)

//go:embed q*.sql
var files embed.FS

// Queries are the queries this directory holds, in order.
var Queries = []string{"q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8"}

// Updating reports whether query's result updates: its sink gets a row
// per key anew whenever it changes, so how many rows it writes depends
// on when checkpoints fall, and only the last row of each key is the
// brute-force evaluation's (Expected).
func Updating(query string) bool { return query == "q4" }

// File returns query's file as it is in the repository.
func File(query string) (string, error) {
	b, err := files.ReadFile(query + ".sql")
	if err != nil {
		return "", fmt.Errorf("nexmark: no query %q (there are %s)", query, strings.Join(Queries, ", "))
	}
	return string(b), nil
}

// sinkSelect finds a file's CREATE SINK statement's query.
var sinkSelect = regexp.MustCompile(`(?is)CREATE\s+SINK\s+\w+\s+WITH\s*\(.*?\)\s+AS\s+(SELECT\b.*?);?\s*$`)

// Select returns query's SELECT, the part of its file a benchmark runs
// with sources and a sink of its own.
func Select(query string) (string, error) {
	text, err := File(query)
	if err != nil {
		return "", err
	}
	m := sinkSelect.FindStringSubmatch(text)
	if m == nil {
		return "", fmt.Errorf("nexmark: %s.sql has no CREATE SINK ... AS SELECT", query)
	}
	return m[1], nil
}
