package parser

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/ast"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// caseSeparator separates the cases of a testdata/*.sql file.
const caseSeparator = "===="

// goldenFiles lists the case files. Files named expr_*.sql hold
// expressions, parsed with ParseExpr; the others hold scripts, parsed with
// Parse.
func goldenFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden case files: %v", err)
	}
	return files
}

func isExprFile(path string) bool { return strings.HasPrefix(filepath.Base(path), "expr_") }

// readCases splits a case file at lines holding only "====".
func readCases(t testing.TB, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	var cur []string
	flush := func() {
		if c := strings.TrimSpace(strings.Join(cur, "\n")); c != "" {
			cases = append(cases, c)
		}
		cur = nil
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.TrimSpace(line) == caseSeparator {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return cases
}

// render is a case's golden output: for each statement its Format text
// and tree dump, or the error.
func render(src string, expr bool) string {
	var b strings.Builder
	if expr {
		e, err := ParseExpr(src)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		return ast.Format(e) + "\n" + dump(e)
	}
	stmts, err := Parse(src)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	if len(stmts) == 0 {
		return "(no statements)\n"
	}
	for i, s := range stmts {
		if i > 0 {
			b.WriteString("--\n")
		}
		b.WriteString(ast.Format(s) + "\n" + dump(s))
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	for _, path := range goldenFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			var out strings.Builder
			for i, c := range readCases(t, path) {
				fmt.Fprintf(&out, "==== %d\n%s\n----\n%s", i+1, c, render(c, isExprFile(path)))
			}
			golden := strings.TrimSuffix(path, ".sql") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got := out.String(); got != string(want) {
				t.Errorf("%s differs from the output (run go test -update and review the diff):\n%s", golden, firstDiff(string(want), got))
			}
		})
	}
}

// firstDiff shows the first differing line of two texts, with context.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return ""
}

// TestRoundTrip checks, for every golden case that parses, that the
// formatted text parses to a tree that formats identically, and that
// Split finds the same statements.
func TestRoundTrip(t *testing.T) {
	for _, path := range goldenFiles(t) {
		for _, c := range readCases(t, path) {
			if err := checkRoundTrip(c, isExprFile(path)); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
	}
}

// checkRoundTrip is the round-trip property, for the tests and the fuzzer.
// Input that does not parse is fine, provided the error is a well-formed
// *Error.
func checkRoundTrip(src string, expr bool) error {
	if expr {
		e, err := ParseExpr(src)
		if err != nil {
			return checkError(src, err)
		}
		text := ast.Format(e)
		e2, err := ParseExpr(text)
		if err != nil {
			return fmt.Errorf("input %q formats as %q, which does not parse: %w", src, text, err)
		}
		if text2 := ast.Format(e2); text2 != text {
			return fmt.Errorf("input %q formats as %q, which formats as %q", src, text, text2)
		}
		return nil
	}
	stmts, err := Parse(src)
	if err != nil {
		return checkError(src, err)
	}
	frags := Split(src)
	if len(frags) != len(stmts) {
		return fmt.Errorf("input %q: Split found %d statements, Parse %d", src, len(frags), len(stmts))
	}
	for i, s := range stmts {
		text := ast.Format(s)
		s2, err := ParseOne(text)
		if err != nil {
			return fmt.Errorf("input %q formats as %q, which does not parse: %w", src, text, err)
		}
		if text2 := ast.Format(s2); text2 != text {
			return fmt.Errorf("input %q formats as %q, which formats as %q", src, text, text2)
		}
		if frags[i].Pos != s.Position() {
			return fmt.Errorf("input %q: fragment %d starts at %v, the statement at %v", src, i, frags[i].Pos, s.Position())
		}
		s3, err := ParseOne(frags[i].Text)
		if err != nil {
			return fmt.Errorf("input %q: fragment %q does not parse: %w", src, frags[i].Text, err)
		}
		if text3 := ast.Format(s3); text3 != text {
			return fmt.Errorf("input %q: fragment %q formats as %q, not %q", src, frags[i].Text, text3, text)
		}
	}
	return nil
}

func checkError(src string, err error) error {
	var pe *Error
	if !errors.As(err, &pe) {
		return fmt.Errorf("input %q: error %w is a %T, not an *Error", src, err, err)
	}
	if pe.Pos.Line < 1 || pe.Pos.Col < 1 || pe.Pos.Offset < 0 || pe.Pos.Offset > len(src) || pe.Msg == "" {
		return fmt.Errorf("input %q: malformed error at %v (offset %d): %q", src, pe.Pos, pe.Pos.Offset, pe.Msg)
	}
	return nil
}

func FuzzParse(f *testing.F) {
	for _, path := range goldenFiles(f) {
		for _, c := range readCases(f, path) {
			f.Add(c)
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		if err := checkRoundTrip(src, false); err != nil {
			t.Fatal(err)
		}
		if err := checkRoundTrip(src, true); err != nil {
			t.Fatal(err)
		}
	})
}
