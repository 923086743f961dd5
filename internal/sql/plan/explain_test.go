package plan

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/parser"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestExplainGolden analyzes each case of testdata/explain.sql (CREATE
// SINK statements over testSources, separated by lines holding "====")
// and compares the EXPLAIN text, or the analysis error, with
// testdata/explain.golden. go test ./internal/sql/plan -run Explain
// -update rewrites the golden file.
func TestExplainGolden(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "explain.sql"))
	if err != nil {
		t.Fatal(err)
	}
	lookup := catalogOf(t, testSources)
	var out strings.Builder
	for i, sql := range splitCases(string(data)) {
		if i > 0 {
			out.WriteString("====\n")
		}
		fmt.Fprintf(&out, "%s\n----\n", sql)
		stmt, err := parser.ParseOne(sql)
		if err != nil {
			t.Fatalf("case %d does not parse: %v", i+1, err)
		}
		sink, ok := stmt.(*ast.CreateSink)
		if !ok {
			t.Fatalf("case %d is a %T, want a CREATE SINK", i+1, stmt)
		}
		p, err := AnalyzeSink(sink, lookup, sinkConnectors, testOptions)
		if err != nil {
			kind := "error"
			if errors.Is(err, ErrNotSupported) {
				kind = "not supported"
			}
			fmt.Fprintf(&out, "%s: %s\n", kind, err)
			continue
		}
		out.WriteString(p.Explain())
	}
	golden := filepath.Join("testdata", "explain.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("EXPLAIN output differs from %s (run with -update to accept):\n%s", golden, firstDifference(string(want), got))
	}
}

func splitCases(data string) []string {
	var cases []string
	for c := range strings.SplitSeq(data, "\n====\n") {
		if c = strings.TrimSpace(c); c != "" {
			cases = append(cases, c)
		}
	}
	return cases
}

// firstDifference shows the first line where want and got differ.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, wl, gl)
		}
	}
	return ""
}
