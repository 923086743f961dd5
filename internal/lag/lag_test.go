package lag

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded/embeddedtest"
)

// A group that committed 4 of 10 records lags 6, as old as the fifth
// record; one that committed all lags nothing; a topic's deletion leaves
// no lag behind.
func TestMeasure(t *testing.T) {
	ctx := context.Background()
	tr := embeddedtest.New(t)
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "orders", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []*transport.Record
	for i := range 10 {
		recs = append(recs, &transport.Record{Topic: "orders", Partition: 0, Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	if err := tr.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	commit := func(group string, offset int64) {
		t.Helper()
		c, err := tr.NewConsumer(ctx, transport.ConsumerOptions{Group: group, Topics: []string{"orders"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		commitSoon(t, c, offset)
	}
	commit("behind", 4)
	commit("current", 10)
	now := base.Add(time.Minute)
	groups, err := Measure(ctx, tr, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	behind, ok := Find(groups, "behind")
	if !ok || behind.Records != 6 || behind.Age != 56*time.Second || len(behind.Partitions) != 1 || !behind.Partitions[0].AgeKnown {
		t.Errorf("behind: %+v", behind)
	}
	current, ok := Find(groups, "current")
	if !ok || current.Records != 0 || current.Age != 0 {
		t.Errorf("current: %+v", current)
	}
	if _, ok := Find(groups, "nobody"); ok {
		t.Error("found a group that does not exist")
	}
}

// A monitor shares a measurement for its TTL; Refresh measures at once
// and later snapshots share that.
func TestMonitorRefresh(t *testing.T) {
	ctx := context.Background()
	tr := embeddedtest.New(t)
	if err := tr.CreateTopic(ctx, transport.TopicSpec{Name: "orders", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Produce(ctx, []*transport.Record{{Topic: "orders", Value: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	commit := func(offset int64) {
		t.Helper()
		c, err := tr.NewConsumer(ctx, transport.ConsumerOptions{Group: "g", Topics: []string{"orders"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		commitSoon(t, c, offset)
	}
	records := func(groups []Group) int64 {
		g, _ := Find(groups, "g")
		return g.Records
	}
	commit(0)
	m := NewMonitor(tr, time.Hour, Options{})
	first, err := m.Snapshot(ctx)
	if err != nil || records(first) != 1 {
		t.Fatalf("first snapshot: %v, %+v", err, first)
	}
	commit(1)
	if again, _ := m.Snapshot(ctx); records(again) != 1 {
		t.Error("a snapshot within the TTL measured again")
	}
	if fresh, err := m.Refresh(ctx); err != nil || records(fresh) != 0 {
		t.Errorf("Refresh: %v, %+v", err, fresh)
	}
	if shared, _ := m.Snapshot(ctx); records(shared) != 0 {
		t.Error("a snapshot after Refresh did not share its measurement")
	}
}

// commitSoon commits offset of orders[0], retried for a while: a commit
// racing the new consumer's join is refused with ILLEGAL_GENERATION.
func commitSoon(t *testing.T, c transport.Consumer, offset int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Commit(context.Background(), []transport.PartitionOffset{{TopicPartition: transport.TopicPartition{Topic: "orders"}, Offset: offset}})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// slowGroups is a transport whose Groups blocks until release is closed
// (a slow cluster), or the caller's context ends.
type slowGroups struct {
	transport.Transport
	entered chan struct{}
	release chan struct{}
}

func (s *slowGroups) Groups(ctx context.Context) ([]transport.GroupOffsets, error) {
	s.entered <- struct{}{}
	select {
	case <-s.release:
		return s.Transport.Groups(ctx)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// While a measurement is slow (a Kafka cluster in trouble), a scrape
// waiting for it gives up when its own context ends instead of holding
// the whole /metrics answer; and a measurement cut short by its caller's
// context is not shared with later callers as if the cluster had failed.
func TestMonitorSlowMeasurement(t *testing.T) {
	tr := &slowGroups{Transport: embeddedtest.New(t), entered: make(chan struct{}, 10), release: make(chan struct{})}
	m := NewMonitor(tr, time.Hour, Options{})

	refreshed := make(chan error, 1)
	go func() {
		_, err := m.Refresh(context.Background())
		refreshed <- err
	}()
	<-tr.entered // the refresh is measuring

	scrape := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := m.Snapshot(ctx)
		scrape <- err
	}()
	select {
	case err := <-scrape:
		if err == nil {
			t.Error("a snapshot that gave up waiting returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Error("a snapshot waited for a slow measurement past its context")
	}
	close(tr.release)
	if err := <-refreshed; err != nil {
		t.Fatal(err)
	}

	// A caller whose context ends mid-measurement: its error is its own.
	m = NewMonitor(tr, time.Hour, Options{})
	tr.release = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-tr.entered; cancel() }()
	if _, err := m.Snapshot(ctx); err == nil {
		t.Fatal("a canceled measurement returned no error")
	}
	close(tr.release)
	go func() { <-tr.entered }()
	if _, err := m.Snapshot(context.Background()); err != nil {
		t.Errorf("the next snapshot shares the canceled caller's error: %v", err)
	}
}

// failingReads is a transport whose record reads fail (a partition
// leader down while the group coordinator answers).
type failingReads struct{ transport.Transport }

func (failingReads) ReadAt(context.Context, transport.TopicPartition, int64, int) ([]*transport.Record, error) {
	return nil, errors.New("leader not available")
}

// A lagging partition whose oldest record cannot be read leaves the
// group's age unknown (a lower bound), not 0 and known.
func TestMeasureUnreadAge(t *testing.T) {
	ctx := context.Background()
	inner := embeddedtest.New(t)
	if err := inner.CreateTopic(ctx, transport.TopicSpec{Name: "orders", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := inner.Produce(ctx, []*transport.Record{{Topic: "orders", Value: []byte("a")}, {Topic: "orders", Value: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	c, err := inner.NewConsumer(ctx, transport.ConsumerOptions{Group: "g", Topics: []string{"orders"}})
	if err != nil {
		t.Fatal(err)
	}
	commitSoon(t, c, 1)
	_ = c.Close(ctx)
	if groups, err := Measure(ctx, inner, Options{}); err != nil {
		t.Fatal(err)
	} else if g, _ := Find(groups, "g"); !g.AgeKnown || g.Records != 1 {
		t.Errorf("readable: %+v", g)
	}
	groups, err := Measure(ctx, failingReads{inner}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := Find(groups, "g")
	if g.AgeKnown || g.Records != 1 || g.Partitions[0].AgeKnown {
		t.Errorf("unreadable: %+v", g)
	}
}

// A pipeline reading through several groups lags as all of them: their
// partitions, records summed, the greatest age, known only if every age
// is; named after the first group found.
func TestFindAll(t *testing.T) {
	groups := []Group{
		{Group: "a", Partitions: []Partition{{Records: 3}}, Records: 3, Age: time.Second, AgeKnown: true},
		{Group: "a.right", Partitions: []Partition{{Records: 1}, {Records: 3}}, Records: 4, Age: 5 * time.Second, AgeKnown: false},
		{Group: "b", Records: 1, Age: 2 * time.Second, AgeKnown: true},
	}
	g, ok := FindAll(groups, "a", "a.right", "missing")
	if !ok || g.Group != "a" || len(g.Partitions) != 3 || g.Records != 7 || g.Age != 5*time.Second || g.AgeKnown {
		t.Fatalf("FindAll(a, a.right, missing) = %+v, %v", g, ok)
	}
	if g, ok := FindAll(groups, "missing", "b"); !ok || g.Group != "b" || g.Records != 1 || !g.AgeKnown {
		t.Fatalf("FindAll(missing, b) = %+v, %v", g, ok)
	}
	if _, ok := FindAll(groups, "missing"); ok {
		t.Fatal("FindAll of no group found reports one")
	}
}
