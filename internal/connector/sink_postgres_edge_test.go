package connector

import (
	"errors"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/types"
)

// Tide's 'infinity' and '-infinity' timestamps and dates are stored as
// Postgres' own, by COPY and by the upsert.
func TestPostgresSinkInfinity(t *testing.T) {
	for _, create := range []bool{true, false} {
		name := "copy"
		if !create {
			name = "insert"
		}
		t.Run(name, func(t *testing.T) {
			p := newPGTest(t)
			cols := []format.Column{
				{Name: "id", Type: types.KindInt8},
				{Name: "ts", Type: types.KindTimestamp},
				{Name: "tz", Type: types.KindTimestampTZ},
				{Name: "d", Type: types.KindDate},
			}
			opts := map[string]string{"table": "inf", "primary-key": "id", "table.create": "true"}
			if !create { // a table whose column types differ: INSERT only
				p.exec(`CREATE TABLE inf (id numeric PRIMARY KEY, ts timestamp, tz timestamptz, d date)`)
				opts["table.create"] = "false"
			}
			s := p.sink(cols, opts)
			parse := func(k types.Kind, text string) types.Value {
				v, err := types.ParseText(k, text)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			rows := []types.Row{
				{types.NewInt8(1), parse(types.KindTimestamp, "infinity"), parse(types.KindTimestampTZ, "-infinity"), parse(types.KindDate, "infinity")},
				{types.NewInt8(2), parse(types.KindTimestamp, "-infinity"), parse(types.KindTimestampTZ, "infinity"), parse(types.KindDate, "-infinity")},
			}
			err := s.WriteRows(testContext(t), rows, origins(0, 2))
			var rej *RejectedError
			if errors.As(err, &rej) {
				for _, r := range rej.Rejected {
					t.Errorf("row %d rejected: %s %v", r.Index, r.Code, r.Err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(p.rows("SELECT id, ts, tz, d FROM inf ORDER BY id"), " ")
			if want := "1|infinity|-infinity|infinity 2|-infinity|infinity|-infinity"; got != want {
				t.Errorf("table %q, want %q", got, want)
			}
		})
	}
}

// An output column of untyped NULLs (SELECT …, NULL AS note) goes into an
// existing table whose column is not text: NULLs, not a type error the
// pipeline would retry for ever.
func TestPostgresSinkNullColumnIntoTypedTable(t *testing.T) {
	p := newPGTest(t)
	p.exec(`CREATE TABLE notes (id bigint PRIMARY KEY, note integer)`)
	cols := []format.Column{{Name: "id", Type: types.KindInt8}, {Name: "note", Type: types.KindNull}}
	s := p.sink(cols, map[string]string{"table": "notes", "primary-key": "id", "retry.max-attempts": "1"})
	err := s.WriteRows(testContext(t), []types.Row{{types.NewInt8(1), types.Null(types.KindNull)}}, origins(0, 1))
	if err != nil {
		t.Errorf("write of a NULL into an integer column: %v", err)
	}
}
