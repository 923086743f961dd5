package expr

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tide-data/tide/internal/sql/types"
)

// aggColumn is a column of generated values for the aggregate tests.
type aggColumn struct {
	pg   string
	kind types.Kind
	gen  func(r *rand.Rand) string
}

var aggColumns = []aggColumn{
	{"smallint", types.KindInt2, func(r *rand.Rand) string { return fmt.Sprint(r.IntN(200) - 100) }},
	{"integer", types.KindInt4, func(r *rand.Rand) string { return fmt.Sprint(r.Int32() / 4) }},
	{"bigint", types.KindInt8, func(r *rand.Rand) string { return fmt.Sprint(r.Int64N(1<<62) - 1<<61) }},
	{"double precision", types.KindFloat8, func(r *rand.Rand) string { return fmt.Sprint(r.NormFloat64() * 1000) }},
	{"numeric", types.KindNumeric, func(r *rand.Rand) string {
		return fmt.Sprintf("%d.%0*d", r.IntN(100000)-50000, r.IntN(4)+1, r.IntN(10))
	}},
	{"interval", types.KindInterval, func(r *rand.Rand) string {
		return fmt.Sprintf("%d days %d:%02d:%02d.%d", r.IntN(40)-20, r.IntN(48), r.IntN(60), r.IntN(60), r.IntN(1000))
	}},
	{"text", types.KindText, func(r *rand.Rand) string { return []string{"a", "b", "ab", "B", "é", ""}[r.IntN(6)] }},
	{"timestamptz", types.KindTimestampTZ, func(r *rand.Rand) string {
		return fmt.Sprintf("2026-%02d-%02d %02d:00:00.%06d+00", r.IntN(12)+1, r.IntN(28)+1, r.IntN(24), r.IntN(1000000))
	}},
}

// Every aggregate over every column type, with and without DISTINCT,
// over seeded groups with NULLs and duplicates (and no rows at all),
// against PostgreSQL: the same text, NULL-ness, result type and error.
// Half-way through each group the state goes through AppendState and
// LoadState, as a restored task's does.
func TestAggregatesDifferentialPostgres(t *testing.T) {
	conn := connectPostgres(t)
	r := rand.New(rand.NewPCG(7, 11))
	checked := 0
	for _, col := range aggColumns {
		for group := range 6 {
			n := []int{0, 1, 3, 10, 40, 7}[group]
			var texts []*string // nil: NULL
			for range n {
				switch {
				case r.IntN(6) == 0:
					texts = append(texts, nil)
				case len(texts) > 0 && r.IntN(4) == 0:
					texts = append(texts, texts[r.IntN(len(texts))]) // a duplicate
				default:
					s := col.gen(r)
					texts = append(texts, &s)
				}
			}
			for _, name := range []string{"count", "sum", "avg", "min", "max"} {
				for _, distinct := range []bool{false, true} {
					agg, err := NewAggregate(name, false, distinct, col.kind)
					call := name + "(" + map[bool]string{true: "DISTINCT ", false: ""}[distinct] + "v)"
					want, wantNull, wantOID, wantCode := pgAggregate(t, conn, col.pg, texts, call)
					if err != nil {
						if wantCode == "" || Code(err) != wantCode {
							t.Errorf("%s over %s: Tide refuses (%v), Postgres answers %q (%s)", call, col.pg, err, want, wantCode)
						}
						continue
					}
					got, err := runAggregate(&agg, col.kind, texts)
					checked++
					switch {
					case err != nil || wantCode != "":
						if Code(err) != wantCode {
							t.Errorf("%s over %s %s: Tide %v, Postgres code %q", call, col.pg, show(texts), err, wantCode)
						}
					case got.IsNull() != wantNull || (!wantNull && got.String() != want):
						t.Errorf("%s over %s %s: Tide %v, Postgres %q (NULL %v)", call, col.pg, show(texts), got, want, wantNull)
					case kindOfOID[wantOID] != agg.Result:
						t.Errorf("%s over %s: type %s, Postgres %s", call, col.pg, agg.Result, kindOfOID[wantOID])
					}
				}
			}
		}
	}
	// count(*) counts rows, NULLs included.
	star, err := NewAggregate("count", true, false, types.KindNull)
	if err != nil {
		t.Fatal(err)
	}
	acc := star.NewAccumulator()
	for range 3 {
		if err := acc.Add(types.Null(types.KindInt4)); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := acc.Result(); v.Int() != 3 {
		t.Errorf("count(*) of 3 NULL rows: %v", v)
	}
	t.Logf("%d aggregate calls agree with PostgreSQL", checked)
}

// runAggregate folds texts (nil: NULL) into a, saving and restoring its
// state half-way.
func runAggregate(a *Aggregate, k types.Kind, texts []*string) (types.Value, error) {
	acc := a.NewAccumulator()
	for i, s := range texts {
		if i == len(texts)/2 {
			state := acc.AppendState(nil)
			acc = a.NewAccumulator()
			if err := acc.LoadState(state); err != nil {
				return types.Value{}, err
			}
		}
		v := types.Null(k)
		if s != nil {
			var err error
			if v, err = types.ParseText(k, *s); err != nil {
				return types.Value{}, err
			}
		}
		if err := acc.Add(v); err != nil {
			return types.Value{}, err
		}
	}
	return acc.Result()
}

// pgAggregate runs call over the values in PostgreSQL: its text, NULL-ness,
// type OID and SQLSTATE.
func pgAggregate(t *testing.T, conn *pgx.Conn, pgType string, texts []*string, call string) (string, bool, uint32, string) {
	t.Helper()
	var rows []string
	for _, s := range texts {
		if s == nil {
			rows = append(rows, "(NULL::"+pgType+")")
		} else {
			rows = append(rows, "('"+strings.ReplaceAll(*s, "'", "''")+"'::"+pgType+")")
		}
	}
	from := "(SELECT NULL::" + pgType + " AS v WHERE false) r"
	if len(rows) > 0 {
		from = "(VALUES " + strings.Join(rows, ", ") + ") r(v)"
	}
	return pgQuery(t, conn, "SELECT "+call+" FROM "+from)
}

func show(texts []*string) string {
	var b strings.Builder
	for i, s := range texts {
		if i > 0 {
			b.WriteString(", ")
		}
		if s == nil {
			b.WriteString("NULL")
		} else {
			fmt.Fprintf(&b, "%q", *s)
		}
	}
	return "[" + b.String() + "]"
}

// FuzzAggregateState: a state that does not decode is an error, never a
// panic, and one that does gives a result.
func FuzzAggregateState(f *testing.F) {
	sum, _ := NewAggregate("sum", false, true, types.KindNumeric)
	acc := sum.NewAccumulator()
	for _, s := range []string{"1.5", "2", "1.50"} {
		v, _ := types.ParseText(types.KindNumeric, s)
		_ = acc.Add(v)
	}
	f.Add(acc.AppendState(nil), uint8(AggSum), true)
	f.Add([]byte{}, uint8(AggMax), false)
	f.Fuzz(func(t *testing.T, state []byte, fn uint8, distinct bool) {
		a, err := NewAggregate([]string{"count", "sum", "avg", "min", "max"}[fn%5], false, distinct, types.KindNumeric)
		if err != nil {
			t.Fatal(err)
		}
		acc := a.NewAccumulator()
		if acc.LoadState(state) == nil {
			_, _ = acc.Result()
			_ = acc.AppendState(nil)
		}
	})
}

// Merging two accumulators gives what one accumulator of all the values
// gives (doubles up to rounding: addition order changes).
func TestAggregateMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, col := range aggColumns {
		for _, name := range []string{"count", "sum", "avg", "min", "max"} {
			for _, distinct := range []bool{false, true} {
				agg, err := NewAggregate(name, false, distinct, col.kind)
				if err != nil {
					continue
				}
				for range 20 {
					var vals []types.Value
					for range r.IntN(12) {
						v := types.Null(col.kind)
						if r.IntN(5) > 0 {
							v, _ = types.ParseText(col.kind, col.gen(r))
						}
						vals = append(vals, v)
					}
					split := 0
					if len(vals) > 0 {
						split = r.IntN(len(vals) + 1)
					}
					whole, left, right := agg.NewAccumulator(), agg.NewAccumulator(), agg.NewAccumulator()
					for i, v := range vals {
						_ = whole.Add(v)
						if i < split {
							_ = left.Add(v)
						} else {
							_ = right.Add(v)
						}
					}
					if err := left.Merge(right); err != nil {
						t.Fatal(err)
					}
					w, err1 := whole.Result()
					m, err2 := left.Result()
					if (err1 == nil) != (err2 == nil) {
						t.Fatalf("%s: errors %v / %v", name, err1, err2)
					}
					if w.String() == m.String() {
						continue
					}
					if col.kind == types.KindFloat8 && !distinct {
						if d := w.Float() - m.Float(); d < 1e-9*max(1, abs(w.Float())) && d > -1e-9*max(1, abs(w.Float())) {
							continue
						}
					}
					t.Errorf("%s(distinct %v) over %s: whole %v, merged %v", name, distinct, col.pg, w, m)
				}
			}
		}
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
