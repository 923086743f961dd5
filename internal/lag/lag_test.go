package lag

import (
	"context"
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
		if err := c.Commit(ctx, []transport.PartitionOffset{{TopicPartition: transport.TopicPartition{Topic: "orders"}, Offset: offset}}); err != nil {
			t.Fatal(err)
		}
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
