package view

import (
	"context"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded/embeddedtest"
)

func openTable(t *testing.T, kv ...string) (transport.Transport, *Table) {
	t.Helper()
	tr := embeddedtest.New(t)
	ctx := context.Background()
	const topic = "__tide.view.v"
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: topic, Partitions: 1, Configs: map[string]string{"cleanup.policy": "compact"}}); err != nil {
		t.Fatal(err)
	}
	if len(kv) > 0 {
		produce(t, tr, topic, kv...)
	}
	tab, err := Open(ctx, tr, topic, "reader-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr, tab
}

// A subscription to a table already closed (its view dropped or
// re-created between the lookup and Subscribe) ends at once instead of
// waiting for ever for changes that will not come.
func TestSubscribeClosedTable(t *testing.T) {
	_, tab := openTable(t, "a", "1")
	if err := tab.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, sub := tab.Subscribe(10)
	select {
	case _, open := <-sub.Changes():
		if open {
			t.Fatal("a change from a closed table")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a subscription to a closed table never ended")
	}
	sub.Close() // and closing it again is harmless
}

// A record the reader gets again (a consumer that restarts from the
// earliest offset: the reader's group never commits) changes neither the
// rows nor the subscribers: each change is applied once, in order.
func TestTableIgnoresRedelivery(t *testing.T) {
	_, tab := openTable(t, "a", "1", "a", "2")
	defer tab.Close(context.Background())
	_, sub := tab.Subscribe(10)
	defer sub.Close()
	tab.apply(&transport.Record{Key: []byte("a"), Value: []byte("1"), Offset: 0})
	tab.apply(&transport.Record{Key: []byte("a"), Value: []byte("2"), Offset: 1})
	if got := rowsString(tab.Rows(nil, 0)); got != "a=2 " {
		t.Fatalf("rows after a redelivery: %q", got)
	}
	select {
	case ch := <-sub.Changes():
		t.Fatalf("a redelivered record reached the subscriber: %+v", ch)
	default:
	}
}
