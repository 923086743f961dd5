package view

import (
	"context"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded/embeddedtest"
)

// openIndexed opens an indexed table over records whose value is
// "pk:payload", kept under pk.
func openIndexed(t *testing.T, recs ...*transport.Record) *Table {
	t.Helper()
	tr := embeddedtest.New(t)
	ctx := context.Background()
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "tab", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.Topic = "tab"
	}
	if err := tr.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	tab, err := OpenIndexed(ctx, tr, "tab", "reader-1", nil, func(_, value []byte) (string, error) {
		pk, _, _ := strings.Cut(string(value), ":")
		return pk, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tab.Close(context.Background()) })
	return tab
}

func rec(key, value string) *transport.Record {
	r := &transport.Record{Value: []byte(value)}
	if key != "" {
		r.Key = []byte(key)
	}
	if value == "" {
		r.Value = nil
	}
	return r
}

// Records without a key (rows POSTed to an http source without a key
// field, a topic of plain rows) are rows under their primary keys like
// any other: one keyless record does not take away another's row.
func TestIndexedKeylessRecords(t *testing.T) {
	tab := openIndexed(t, rec("", "1:a"), rec("", "2:b"), rec("", "3:c"), rec("", "2:b2"))
	if got := rowsString(tab.Rows(nil, 0)); got != "1=1:a 2=2:b2 3=3:c " {
		t.Fatalf("rows of keyless records: %q", got)
	}
}

// A record key's deletion, or its move to another primary key, takes
// away only a row that record key gave last: not one another record key
// has written since under the same primary key.
func TestIndexedRowOfAnotherRecordKey(t *testing.T) {
	tab := openIndexed(t,
		rec("k1", "5:from-k1"), rec("k2", "5:from-k2"), rec("k1", ""), // k2's row 5 stays
		rec("k3", "6:from-k3"), rec("k4", "6:from-k4"), rec("k3", "7:k3-moved"), // k4's row 6 stays
		rec("k5", "8:from-k5"), rec("k5", ""), // k5's own row goes
		rec("k6", "9:from-k6"), rec("k6", "10:k6-moved"), // k6's row moves
	)
	if got := rowsString(tab.Rows(nil, 0)); got != "10=10:k6-moved 5=5:from-k2 6=6:from-k4 7=7:k3-moved " {
		t.Fatalf("rows: %q", got)
	}
}
