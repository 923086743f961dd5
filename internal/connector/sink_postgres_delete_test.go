package connector

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/types"
)

// pgChange is one output of a deletion test: an upsert of an order, or
// the deletion of its id.
type pgChange struct {
	id     int64
	status string // "" for a deletion
}

func upsertOf(id int64, status string) pgChange { return pgChange{id: id, status: status} }
func deletionOf(id int64) pgChange              { return pgChange{id: id} }

// changes turns changes into rows and outputs with origin offsets from
// first on. A deletion's row holds its key and, elsewhere, what the
// engine gives when it cannot compute a value (NULL) or values of
// another kind than their column's, which a deletion does not read.
func changes(t *testing.T, first int64, cs ...pgChange) ([]types.Row, []Output) {
	t.Helper()
	rows := make([]types.Row, len(cs))
	outs := origins(first, len(cs))
	for i, c := range cs {
		if c.status != "" {
			rows[i] = orderRow(t, c.id, c.status, "1")
			continue
		}
		rows[i] = types.Row{types.NewInt8(c.id), types.NewInt8(-1), types.Null(types.KindNull)}
		outs[i].Delete = true
	}
	return rows, outs
}

// TestPostgresSinkDeletes mixes upserts and deletions of the same keys
// in and across batches: the table ends as applying them in order would
// leave it, whether a batch goes by COPY, by upsert statements (split by
// batch.size) or row-isolating.
func TestPostgresSinkDeletes(t *testing.T) {
	p := newPGTest(t)
	s := p.sink(orderCols, map[string]string{"table": "orders", "primary-key": "id", "table.create": "true", "batch.size": "2"})
	ctx := testContext(t)
	table := func() string { return strings.Join(p.rows("SELECT id, status FROM orders ORDER BY id"), " ") }

	// New keys: the COPY path, its deletions first.
	rows, outs := changes(t, 0,
		upsertOf(1, "a"), upsertOf(2, "a"), deletionOf(2), // upsert then delete: gone
		deletionOf(3), upsertOf(3, "a"), // delete then upsert: there
		deletionOf(9), // not there: nothing to do, no error
		upsertOf(4, "a"), upsertOf(5, "a"))
	if err := s.WriteRows(ctx, rows, outs); err != nil {
		t.Fatal(err)
	}
	if got, want := table(), "1|a 3|a 4|a 5|a"; got != want {
		t.Fatalf("after the first batch: %s, want %s", got, want)
	}

	// Existing keys: COPY is refused and the batch is upserted, two
	// outputs a statement, so a key's outputs span statements.
	rows, outs = changes(t, 8,
		deletionOf(1), upsertOf(2, "b"),
		deletionOf(4), upsertOf(4, "b"), deletionOf(4),
		upsertOf(5, "b"), deletionOf(5), upsertOf(5, "c"),
		upsertOf(3, "b"), deletionOf(3), deletionOf(3))
	if err := s.WriteRows(ctx, rows, outs); err != nil {
		t.Fatal(err)
	}
	if got, want := table(), "2|b 5|c"; got != want {
		t.Fatalf("after the second batch: %s, want %s", got, want)
	}

	// A row the database refuses sends the batch row-isolating: the
	// other outputs still apply in order.
	p.exec("ALTER TABLE orders ADD CHECK (status <> 'bad')")
	rows, outs = changes(t, 19,
		upsertOf(6, "d"), deletionOf(6), upsertOf(7, "bad"), deletionOf(2), upsertOf(2, "d"), deletionOf(5))
	err := s.WriteRows(ctx, rows, outs)
	var rej *RejectedError
	if !errors.As(err, &rej) || len(rej.Rejected) != 1 || rej.Rejected[0].Index != 2 || rej.Rejected[0].Code != "23514" {
		t.Fatalf("write with a refused row: %v, want output 2 rejected with 23514", err)
	}
	if got, want := table(), "2|d"; got != want {
		t.Fatalf("after the isolated batch: %s, want %s", got, want)
	}
	if got := p.one("SELECT last_offset FROM tide_sink_offsets"); got != "24" {
		t.Errorf("last offset %s, want 24", got)
	}
}

// TestPostgresSinkDeletesExactlyOnce replays batches with deletions, as
// the runtime does after a crash: what was applied is skipped (a row
// the replay would delete again stays), the new outputs apply.
func TestPostgresSinkDeletesExactlyOnce(t *testing.T) {
	p := newPGTest(t)
	p.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, status text, amount numeric)`)
	s := p.sink(orderCols, map[string]string{"table": "orders", "primary-key": "id"})
	ctx := testContext(t)
	rows, outs := changes(t, 100, upsertOf(1, "a"), upsertOf(2, "a"), upsertOf(3, "a"), deletionOf(2))
	if err := s.WriteRows(ctx, rows, outs); err != nil {
		t.Fatal(err)
	}
	// Someone writes key 2 again behind the sink's back; the replay of
	// the batch that deleted it must not delete it a second time.
	p.exec("INSERT INTO orders VALUES (2, 'outside', 0)")
	rows, outs = changes(t, 100, upsertOf(1, "replayed"), upsertOf(2, "replayed"), upsertOf(3, "replayed"), deletionOf(2),
		deletionOf(3), upsertOf(4, "new"))
	if err := s.WriteRows(ctx, rows, outs); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(p.rows("SELECT id, status FROM orders ORDER BY id"), " "), "1|a 2|outside 4|new"; got != want {
		t.Errorf("table %s, want %s", got, want)
	}
	if got := p.one("SELECT last_offset FROM tide_sink_offsets"); got != "105" {
		t.Errorf("last offset %s, want 105", got)
	}
	// A replay of only what was applied changes nothing.
	rows, outs = changes(t, 104, deletionOf(1), deletionOf(4))
	if err := s.WriteRows(ctx, rows, outs); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(p.rows("SELECT id, status FROM orders ORDER BY id"), " "), "1|a 2|outside 4|new"; got != want {
		t.Errorf("table after a replay of applied deletions %s, want %s", got, want)
	}
}

// TestPostgresSinkDeletesCompositeKey deletes by a key of several
// columns, a numeric one spelled differently from the row's (1.0 is
// 1.00 in Postgres, and in the batch's ordering too).
func TestPostgresSinkDeletesCompositeKey(t *testing.T) {
	p := newPGTest(t)
	cols := []format.Column{{Name: "region", Type: types.KindText}, {Name: "n", Type: types.KindNumeric}, {Name: "v", Type: types.KindInt8}}
	s := p.sink(cols, map[string]string{"table": "regions", "primary-key": "region, n", "table.create": "true"})
	ctx := testContext(t)
	row := func(region, n string, v int64) types.Row {
		d, err := types.ParseNumeric(n)
		if err != nil {
			t.Fatal(err)
		}
		return types.Row{types.NewText(region), types.NewNumeric(d), types.NewInt8(v)}
	}
	rows := []types.Row{row("eu", "1.0", 1), row("us", "1.0", 2), row("eu", "2", 3), row("eu", "1.00", 0), row("eu", "2", 4)}
	outs := origins(0, len(rows))
	outs[3].Delete = true // ("eu", 1.00): the first row's key
	if err := s.WriteRows(ctx, rows, outs); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(p.rows("SELECT region, n, v FROM regions ORDER BY region, n"), " "), "eu|2|4 us|1.0|2"; got != want {
		t.Errorf("table %s, want %s", got, want)
	}
	rows = []types.Row{row("us", "1", 0), row("eu", "2.000", 0)}
	outs = origins(5, 2)
	outs[0].Delete, outs[1].Delete = true, true
	if err := s.WriteRows(ctx, rows, outs); err != nil {
		t.Fatal(err)
	}
	if got := p.rows("SELECT region, n, v FROM regions"); len(got) != 0 {
		t.Errorf("table %v, want empty", got)
	}
}

// TestPostgresSinkDeleteRefused: a deletion a foreign key refuses is
// rejected (dead-lettered by the runtime) and the batch's other outputs
// land, from the COPY path as from the upsert path.
func TestPostgresSinkDeleteRefused(t *testing.T) {
	p := newPGTest(t)
	p.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, status text, amount numeric)`)
	p.exec(`INSERT INTO orders VALUES (1, 'a', 1)`)
	p.exec(`CREATE TABLE lines (order_id bigint REFERENCES orders ON DELETE RESTRICT)`)
	p.exec(`INSERT INTO lines VALUES (1)`)
	s := p.sink(orderCols, map[string]string{"table": "orders", "primary-key": "id"})
	rows, outs := changes(t, 0, upsertOf(2, "b"), deletionOf(1), upsertOf(3, "c"), deletionOf(3))
	err := s.WriteRows(testContext(t), rows, outs)
	var rej *RejectedError
	if !errors.As(err, &rej) || len(rej.Rejected) != 1 || rej.Rejected[0].Index != 1 || rej.Rejected[0].Code != "23503" {
		t.Fatalf("write: %v, want output 1 rejected with 23503", err)
	}
	if got, want := strings.Join(p.rows("SELECT id, status FROM orders ORDER BY id"), " "), "1|a 2|b"; got != want {
		t.Errorf("table %s, want %s", got, want)
	}
}

// TestPostgresSinkWriteJSONDeletes: Write deletes by a deletion's JSON
// value, and rejects a tombstone, which names no key columns.
func TestPostgresSinkWriteJSONDeletes(t *testing.T) {
	p := newPGTest(t)
	p.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, status text, amount numeric)`)
	p.exec(`INSERT INTO orders VALUES (1, 'a', 1), (2, 'b', 2)`)
	s := p.sink(orderCols, map[string]string{"table": "orders", "primary-key": "id"})
	outs := origins(0, 2)
	outs[0].Delete, outs[0].Value = true, []byte(`{"id": 1}`)
	outs[1].Delete, outs[1].Key = true, []byte("2")
	err := s.Write(testContext(t), outs)
	var rej *RejectedError
	if !errors.As(err, &rej) || len(rej.Rejected) != 1 || rej.Rejected[0].Index != 1 || !errors.Is(rej.Rejected[0].Err, errPGDeletionWithoutValues) {
		t.Fatalf("write: %v, want output 1 rejected for having no values", err)
	}
	if got := p.one("SELECT id FROM orders"); got != "2" {
		t.Errorf("table holds %s, want 2", got)
	}
}

// TestPostgresSinkLastPerKey checks the batch's ordering without a
// database: each key's last output is kept, a deletion's as an upsert's;
// numerics compare by value; keys with a NULL equal no other.
func TestPostgresSinkLastPerKey(t *testing.T) {
	cols := []format.Column{{Name: "k", Type: types.KindNumeric}, {Name: "v", Type: types.KindText}}
	s, err := NewPostgresSink(Env{Columns: cols}, PostgresSinkOptions{URL: "postgres://nobody@127.0.0.1:1/none", Table: "t", PrimaryKey: []string{"k"}})
	if err != nil {
		t.Fatal(err)
	}
	num := func(text string) types.Value {
		d, err := types.ParseNumeric(text)
		if err != nil {
			t.Fatal(err)
		}
		return types.NewNumeric(d)
	}
	rows := []types.Row{
		{num("1.0"), types.NewText("a")}, {types.Null(types.KindNumeric), types.NewText("b")}, {num("1.00"), types.NewText("c")},
		{types.Null(types.KindNumeric), types.NewText("d")}, {num("100"), types.NewText("e")}, {num("1e2"), types.NewText("f")},
		{num("0.000"), types.NewText("g")}, {num("0"), types.NewText("h")},
	}
	got := s.lastPerKey(rows, []int{0, 1, 2, 3, 4, 5, 6, 7})
	if want := []int{1, 2, 3, 5, 7}; !slices.Equal(got, want) {
		t.Errorf("lastPerKey = %v, want %v", got, want)
	}
}
