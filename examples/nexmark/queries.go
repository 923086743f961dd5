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
var Queries = []string{"q0", "q1", "q2", "q3", "q5", "q7", "q8"}

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

// closesByWatermark are the files whose last pipeline completes its
// results by the watermark of a topic another of their pipelines writes.
var closesByWatermark = map[string]bool{"q5": true}

var (
	lastTopicSource = regexp.MustCompile(`CREATE SOURCE IF NOT EXISTS \w+ \([^;]*?\) WITH \(connector = 'topic', topic = '\w+'`)
	createdSinkName = regexp.MustCompile(`CREATE SINK (\w+)`)
)

// Stages splits a query file's text into the parts to run one after the
// other on a bounded input. Most files are one part. A file whose last
// pipeline completes its results by the watermark of a topic the first
// pipelines write (q5) is two: that topic's source is read as bounded
// (scan.bounded.mode = 'latest-offset') and started once the first
// part's sinks have finished, so that its end closes the last windows as
// the end of the generator closes the first pipeline's.
func Stages(query, text string) []string {
	if !closesByWatermark[query] {
		return []string{text}
	}
	all := lastTopicSource.FindAllStringIndex(text, -1)
	if len(all) == 0 {
		return []string{text}
	}
	at := all[len(all)-1]
	second := text[at[0]:at[1]] + ", scan.bounded.mode = 'latest-offset'" + text[at[1]:]
	return []string{text[:at[0]], second}
}

// Sinks returns the names of the sinks a part of a query file creates.
func Sinks(text string) []string {
	var out []string
	for _, m := range createdSinkName.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}
