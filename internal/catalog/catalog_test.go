package catalog

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded/embeddedtest"
)

// openNode opens an embedded log, coordinator and transport in dir.
func openNode(t *testing.T, dir string) *embeddedtest.Node { return embeddedtest.Open(t, dir) }

func open(t *testing.T, tr transport.Transport, worker string) *Catalog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Open(ctx, tr, Options{WorkerID: worker})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func entry(name, id string) Entry {
	return Entry{Kind: ast.KindSource, Name: name, SQL: "CREATE SOURCE " + name + " (a int) WITH (connector = 'datagen')",
		Created: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), ID: id}
}

func put(t *testing.T, c *Catalog, e Entry) {
	t.Helper()
	if err := c.Put(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func del(t *testing.T, c *Catalog, name string) {
	t.Helper()
	if err := c.Delete(context.Background(), name); err != nil {
		t.Fatal(err)
	}
}

// names returns the names of c's entries, in Entries order.
func names(c *Catalog) []string {
	var out []string
	for _, e := range c.Entries() {
		out = append(out, e.Name)
	}
	return out
}

// watcher runs c.Watch and records the changes it reports. Stop it
// before closing the catalog (defer w.stop after defer closeCatalog).
type watcher struct {
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	seen   []Change
}

func watch(t *testing.T, c *Catalog) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{cancel: cancel, done: make(chan error, 1)}
	go func() {
		w.done <- c.Watch(ctx, func(ch Change) {
			w.mu.Lock()
			w.seen = append(w.seen, ch)
			w.mu.Unlock()
		})
	}()
	return w
}

func (w *watcher) stop(t *testing.T) {
	w.cancel()
	if err := <-w.done; err != nil {
		t.Errorf("Watch: %v", err)
	}
	w.done <- nil // a second stop returns at once
}

func (w *watcher) changes() []Change {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.seen)
}

// waitForChange waits until w has reported a change of name.
func (w *watcher) waitForChange(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !slices.ContainsFunc(w.changes(), func(ch Change) bool { return ch.Name == name }) {
		if time.Now().After(deadline) {
			t.Fatalf("Watch did not report a change of %s; it reported %+v", name, w.changes())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func closeCatalog(t *testing.T, c *Catalog) {
	t.Helper()
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPutDeleteEntries(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.Close(t)
	c := open(t, n.Transport, "w1")
	defer closeCatalog(t, c)
	if got := c.Entries(); len(got) != 0 {
		t.Fatalf("a new catalog holds %v", got)
	}
	for _, name := range []string{"orders", "clicks", "big", "copy"} {
		put(t, c, entry(name, "id-"+name))
	}
	if got := names(c); !slices.Equal(got, []string{"orders", "clicks", "big", "copy"}) {
		t.Fatalf("Entries in order %v, want the order written", got)
	}
	if e, ok := c.Get("clicks"); !ok || e.ID != "id-clicks" || e.Kind != ast.KindSource || !e.Created.Equal(entry("x", "").Created) {
		t.Fatalf("Get(clicks) = %+v, %v", e, ok)
	}
	del(t, c, "clicks")
	if _, ok := c.Get("clicks"); ok {
		t.Fatal("Get finds a deleted entry")
	}
	// Re-creating a name moves it to the end: it was written last.
	put(t, c, entry("orders", "id-orders-2"))
	if got := names(c); !slices.Equal(got, []string{"big", "copy", "orders"}) {
		t.Fatalf("Entries after delete and re-put: %v", got)
	}
	if e, _ := c.Get("orders"); e.ID != "id-orders-2" {
		t.Fatalf("orders has ID %s, want the new one", e.ID)
	}
	// Deleting what does not exist writes a tombstone and changes nothing.
	del(t, c, "nothing")
	if got := names(c); !slices.Equal(got, []string{"big", "copy", "orders"}) {
		t.Fatalf("Entries after deleting a missing name: %v", got)
	}
}

// TestReopenLoadsEverything reopens the log the catalog lives in: every
// entry comes back, in order, and tombstones keep deleted names deleted.
func TestReopenLoadsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := openNode(t, dir)
	c := open(t, n.Transport, "w1")
	put(t, c, entry("a", "a1"))
	put(t, c, entry("b", "b1"))
	put(t, c, entry("c", "c1"))
	del(t, c, "b")
	put(t, c, entry("a", "a2"))
	del(t, c, "c")
	put(t, c, entry("d", "d1"))
	put(t, c, entry("c", "c2"))
	// An unreadable record (not JSON, or naming another key) is skipped.
	ctx := context.Background()
	if err := n.Transport.Produce(ctx, []*transport.Record{
		{Topic: Topic, Partition: 0, Key: []byte("junk"), Value: []byte("{not json")},
		{Topic: Topic, Partition: 0, Key: []byte("liar"), Value: []byte(`{"name":"other","id":"x"}`)},
	}); err != nil {
		t.Fatal(err)
	}
	want := []Entry{entry("a", "a2"), entry("d", "d1"), entry("c", "c2")}
	closeCatalog(t, c)
	n.Close(t)

	n = openNode(t, dir)
	defer n.Close(t)
	c = open(t, n.Transport, "w1")
	defer closeCatalog(t, c)
	got := c.Entries()
	if len(got) != len(want) {
		t.Fatalf("after reopening: %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].ID != want[i].ID || got[i].SQL != want[i].SQL || !got[i].Created.Equal(want[i].Created) {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, name := range []string{"b", "junk", "liar", "other"} {
		if _, ok := c.Get(name); ok {
			t.Errorf("%s is in the reopened catalog", name)
		}
	}
	// The catalog topic has one partition and is compacted.
	info, err := n.Transport.Topic(ctx, Topic)
	if err != nil {
		t.Fatal(err)
	}
	if info.Partitions != 1 {
		t.Errorf("%s has %d partitions, want 1", Topic, info.Partitions)
	}
}

// TestWatchSeesOtherWorkers runs two catalogs on one transport, as two
// workers sharing a cluster: each one's Watch reports what the other
// writes, never what it wrote itself.
func TestWatchSeesOtherWorkers(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.Close(t)
	c1 := open(t, n.Transport, "w1")
	defer closeCatalog(t, c1)
	put(t, c1, entry("before", "b1"))
	c2 := open(t, n.Transport, "w2")
	defer closeCatalog(t, c2)
	if e, ok := c2.Get("before"); !ok || e.ID != "b1" {
		t.Fatalf("a catalog opened later lacks what was written before: %+v %v", e, ok)
	}
	w1, w2 := watch(t, c1), watch(t, c2)
	defer w1.stop(t)
	defer w2.stop(t)

	put(t, c1, entry("one", "o1"))
	put(t, c2, entry("two", "t1"))
	del(t, c2, "before")
	w1.waitForChange(t, "two")
	w1.waitForChange(t, "before")
	w2.waitForChange(t, "one")
	// c1 wrote "one" before c2 wrote anything, so by now c2's Watch has
	// passed its own records too; and c1's has passed "one".
	put(t, c1, entry("marker", "m1"))
	w2.waitForChange(t, "marker")
	put(t, c2, entry("marker2", "m2"))
	w1.waitForChange(t, "marker2")

	check := func(w *watcher, want []Change) {
		t.Helper()
		got := w.changes()
		if len(got) != len(want) {
			t.Fatalf("Watch reported %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i].Name != want[i].Name || got[i].Deleted != want[i].Deleted || got[i].Entry.ID != want[i].Entry.ID {
				t.Errorf("change %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	}
	check(w1, []Change{{Name: "two", Entry: entry("two", "t1")}, {Name: "before", Deleted: true}, {Name: "marker2", Entry: entry("marker2", "m2")}})
	check(w2, []Change{{Name: "one", Entry: entry("one", "o1")}, {Name: "marker", Entry: entry("marker", "m1")}})
	for _, c := range []*Catalog{c1, c2} {
		if got := names(c); !slices.Equal(got, []string{"one", "two", "marker", "marker2"}) {
			t.Errorf("entries %v", got)
		}
	}
}

// TestStaleRecordsDoNotResurrect writes A (id1), drops it and writes A
// again (id2) through one catalog: the other ends with id2, and the
// writer's own Watch, reaching the old records after Put and Delete
// applied the newer ones, neither reports them nor brings id1 back.
func TestStaleRecordsDoNotResurrect(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.Close(t)
	c1, c2 := open(t, n.Transport, "w1"), open(t, n.Transport, "w2")
	defer closeCatalog(t, c1)
	defer closeCatalog(t, c2)

	put(t, c1, entry("A", "id1"))
	del(t, c1, "A")
	put(t, c1, entry("A", "id2"))
	// Watches start after the writes: c1's tail reads all three records
	// after Put and Delete already applied the last.
	w1, w2 := watch(t, c1), watch(t, c2)
	defer w1.stop(t)
	defer w2.stop(t)
	put(t, c2, entry("marker", "m"))
	w1.waitForChange(t, "marker")
	if got := w1.changes(); len(got) != 1 {
		t.Errorf("the writer's Watch reported %+v, want only the other worker's marker", got)
	}
	if e, ok := c1.Get("A"); !ok || e.ID != "id2" {
		t.Errorf("the writer holds A = %+v, %v; want id2", e, ok)
	}
	// The other worker follows every step, in order, and ends with id2.
	put(t, c1, entry("marker2", "m"))
	w2.waitForChange(t, "marker2")
	want := []Change{{Name: "A", Entry: entry("A", "id1")}, {Name: "A", Deleted: true}, {Name: "A", Entry: entry("A", "id2")}, {Name: "marker2", Entry: entry("marker2", "m")}}
	got := w2.changes()
	if len(got) != len(want) {
		t.Fatalf("the other worker's Watch reported %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Deleted != want[i].Deleted || got[i].Entry.ID != want[i].Entry.ID {
			t.Errorf("change %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if e, ok := c2.Get("A"); !ok || e.ID != "id2" {
		t.Errorf("the other worker holds A = %+v, %v; want id2", e, ok)
	}
}

// TestLastWriterWins has two workers write the same name: both end with
// the record that is later in the topic.
func TestLastWriterWins(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.Close(t)
	c1, c2 := open(t, n.Transport, "w1"), open(t, n.Transport, "w2")
	defer closeCatalog(t, c1)
	defer closeCatalog(t, c2)
	w1, w2 := watch(t, c1), watch(t, c2)
	defer w1.stop(t)
	defer w2.stop(t)
	put(t, c1, entry("x", "from-1"))
	put(t, c2, entry("x", "from-2"))
	put(t, c1, entry("m1", "m"))
	put(t, c2, entry("m2", "m"))
	w1.waitForChange(t, "m2")
	w2.waitForChange(t, "m1")
	for i, c := range []*Catalog{c1, c2} {
		if e, _ := c.Get("x"); e.ID != "from-2" {
			t.Errorf("catalog %d holds x = %s, want from-2 (the later record)", i+1, e.ID)
		}
	}
}

// TestWatchNeverReportsOwnWrites writes through a catalog whose Watch is
// running: however the tail and the writer race (the tail may read a
// record before Put returns), Watch reports none of them.
func TestWatchNeverReportsOwnWrites(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.Close(t)
	c1, c2 := open(t, n.Transport, "w1"), open(t, n.Transport, "w2")
	defer closeCatalog(t, c1)
	defer closeCatalog(t, c2)
	w1 := watch(t, c1)
	defer w1.stop(t)
	for i := range 200 {
		name := fmt.Sprintf("n%d", i%5)
		if i%3 == 2 {
			del(t, c1, name)
		} else {
			put(t, c1, entry(name, fmt.Sprintf("id%d", i)))
		}
	}
	put(t, c2, entry("marker", "m"))
	w1.waitForChange(t, "marker")
	if got := w1.changes(); len(got) != 1 {
		t.Errorf("Watch reported %d changes, want only the other worker's marker; first: %+v", len(got), got[0])
	}
}
