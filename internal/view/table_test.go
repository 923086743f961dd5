package view

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded/embeddedtest"
)

func produce(t *testing.T, tr transport.Transport, topic string, kv ...string) {
	t.Helper()
	var recs []*transport.Record
	for i := 0; i < len(kv); i += 2 {
		r := &transport.Record{Topic: topic, Partition: 0, Key: []byte(kv[i])}
		if kv[i+1] != "" {
			r.Value = []byte(kv[i+1])
		}
		recs = append(recs, r)
	}
	if err := tr.Produce(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

func rowsString(rows []Row) string {
	s := ""
	for _, r := range rows {
		s += r.Key + "=" + string(r.Value) + " "
	}
	return s
}

// A Table holds the topic's latest value per key, deletes on records
// without a value, follows what arrives after Open, and gives a
// subscriber a snapshot and then every change in order, once.
func TestTable(t *testing.T) {
	tr := embeddedtest.New(t)
	ctx := context.Background()
	const topic = "__tide.view.v"
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: topic, Partitions: 1, Configs: map[string]string{"cleanup.policy": "compact"}}); err != nil {
		t.Fatal(err)
	}
	produce(t, tr, topic, "b", "1", "a", "1", "b", "2", "c", "1", "c", "")
	tab, err := Open(ctx, tr, topic, "reader-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := tab.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	if got := rowsString(tab.Rows(nil, 0)); got != "a=1 b=2 " {
		t.Fatalf("rows after open: %q", got)
	}
	key := "b"
	if got := rowsString(tab.Rows(&key, 0)); got != "b=2 " {
		t.Fatalf("row b: %q", got)
	}
	if got := rowsString(tab.Rows(nil, 1)); got != "a=1 " {
		t.Fatalf("limit 1: %q", got)
	}
	snap, sub := tab.Subscribe(100)
	defer sub.Close()
	if got := rowsString(snap); got != "a=1 b=2 " {
		t.Fatalf("snapshot: %q", got)
	}
	produce(t, tr, topic, "a", "2", "d", "1", "b", "")
	var got []string
	for len(got) < 3 {
		select {
		case ch := <-sub.Changes():
			got = append(got, fmt.Sprintf("%s=%s", ch.Key, ch.Value))
		case <-time.After(10 * time.Second):
			t.Fatalf("changes so far: %v", got)
		}
	}
	if fmt.Sprint(got) != "[a=2 d=1 b=]" {
		t.Fatalf("changes: %v", got)
	}
	if rows := rowsString(tab.Rows(nil, 0)); rows != "a=2 d=1 " {
		t.Fatalf("rows after the changes: %q", rows)
	}

	// A subscriber that does not read is dropped once its buffer is full.
	_, slow := tab.Subscribe(2)
	for i := range 5 {
		produce(t, tr, topic, "k", fmt.Sprint(i))
	}
	deadline := time.Now().Add(10 * time.Second)
	for slow.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !errors.Is(slow.Err(), ErrSlowSubscriber) {
		t.Fatalf("slow subscriber: %v", slow.Err())
	}
	n := 0
	for range slow.Changes() {
		n++
	}
	if n != 2 {
		t.Fatalf("the slow subscriber got %d changes before it was dropped, want its buffer's 2", n)
	}
}
