package parser

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// A select list inside TABLE (query) counts toward the nesting limit: a
// tree deeper than maxNesting there is refused, as anywhere else, so the
// Format text statements are persisted as always parses back.
func TestTableQueryNestingRoundTrip(t *testing.T) {
	casts := strings.Repeat("::int", 2000)
	for _, src := range []string{
		"SELECT 1" + casts + " AS x FROM t", // control: refused as too deeply nested
		"CREATE SINK s WITH (connector = 'stdout') AS SELECT count(*) FROM TUMBLE(TABLE (SELECT 1" + casts + " AS x, ts FROM t), DESCRIPTOR(ts), INTERVAL '1' MINUTE) GROUP BY window_start, window_end",
	} {
		if err := checkRoundTrip(src, false); err != nil {
			t.Errorf("%.80s...: %v", src, trunc(err))
		}
	}
}

func trunc(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = s[:150] + " ... " + s[len(s)-150:]
	}
	return s
}

// Random token strings inside TABLE (SELECT ...) of a window function,
// checked with the package's round-trip property.
func TestRandomTableQuery(t *testing.T) {
	rng := rand.New(rand.NewPCG(*randomSeed, 7))
	prefixes := []string{
		"SELECT a FROM TUMBLE(TABLE (SELECT ",
		"SELECT a FROM TUMBLE(TABLE (SELECT a FROM ",
		"SELECT a FROM HOP(data => TABLE (SELECT a FROM t WHERE ",
		"CREATE SINK s WITH (a = 1) AS SELECT * FROM SESSION(TABLE (SELECT * FROM (SELECT ",
		"SELECT a FROM TUMBLE(TABLE (",
		"SELECT a FROM TUMBLE(TABLE (SELECT a FROM t) ",
	}
	extra := []string{"TABLE (SELECT", "TABLE", "DESCRIPTOR(", ")", ")", "(SELECT", "UNION ALL", "KEY BY", "=>", "TUMBLE("}
	vocab := append(slices.Clone(vocabulary), extra...)
	parsed := 0
	for range 20000 {
		var b strings.Builder
		b.WriteString(prefixes[rng.IntN(len(prefixes))])
		for range 1 + rng.IntN(10) {
			b.WriteString(vocab[rng.IntN(len(vocab))])
			b.WriteByte(' ')
		}
		if rng.IntN(2) == 0 {
			b.WriteString("), DESCRIPTOR(a), INTERVAL '1' MINUTE)")
		}
		src := b.String()
		if _, err := Parse(src); err == nil {
			parsed++
		}
		if err := checkRoundTrip(src, false); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d parsed", parsed)
}
