package parser

import (
	"flag"
	"math/rand/v2"
	"strings"
	"testing"
)

// vocabulary is what TestRandomTokens builds statements from: keywords,
// names that are keywords elsewhere, literals, operators and punctuation.
// Byte-level fuzzing rarely assembles such words; this finds round-trip
// bugs in how they combine.
var vocabulary = strings.Fields(`
SELECT FROM WHERE GROUP BY HAVING KEY AS DISTINCT ALL JOIN LEFT RIGHT FULL INNER OUTER CROSS ON
CREATE SOURCE SINK WITH WATERMARK FOR IF NOT EXISTS DROP SHOW DESCRIBE EXPLAIN SOURCES
AND OR IS NULL TRUE FALSE UNKNOWN ISNULL NOTNULL IN BETWEEN SYMMETRIC LIKE ILIKE SIMILAR TO ESCAPE
CASE WHEN THEN ELSE END CAST TRY_CAST EXTRACT POSITION SUBSTRING TRIM BOTH LEADING OVERLAY PLACING
FILTER CURRENT_TIMESTAMP LOCALTIME TABLE DESCRIPTOR TUMBLE HOP SESSION
OVER PARTITION ORDER ASC DESC NULLS FIRST LAST ROW_NUMBER RANK
TIMESTAMP DATE TIME INTERVAL JSON ZONE MINUTE DAY SECOND YEAR MONTH
int integer text double precision varchar character varying numeric float timestamptz
a b t x key value topic format e left right count coalesce
"a" "Key" "select" "if" "" 'x' 'it''s' E'\n' $$d$$ 1 0.5 1e3 .5
+ - * / % ^ = <> != < > <= >= || -> ->> ~ !~* @> :: => ( ) ( ) , , . ; [ ]
`)

var (
	randomN    = flag.Int("random.n", 40000, "inputs TestRandomTokens tries")
	randomSeed = flag.Uint64("random.seed", 1, "seed of TestRandomTokens")
)

func TestRandomTokens(t *testing.T) {
	rng := rand.New(rand.NewPCG(*randomSeed, 2))
	prefixes := []string{"SELECT ", "SELECT a FROM ", "SELECT a FROM t WHERE ", "CREATE SOURCE s (", "CREATE SINK s WITH (a = 1) AS SELECT ", ""}
	parsed := 0
	for range *randomN {
		var b strings.Builder
		b.WriteString(prefixes[rng.IntN(len(prefixes))])
		for range 1 + rng.IntN(8) {
			b.WriteString(vocabulary[rng.IntN(len(vocabulary))])
			b.WriteByte(' ')
		}
		src := b.String()
		if _, err := Parse(src); err == nil {
			parsed++
		}
		if err := checkRoundTrip(src, false); err != nil {
			t.Fatal(err)
		}
		if err := checkRoundTrip(src, true); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d inputs parsed", parsed)
}
