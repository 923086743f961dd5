package connector

import (
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/cdc"
)

func TestParseCaptureOptions(t *testing.T) {
	co, err := ParseCaptureOptions("Shop-1", "id", map[string]string{"dsn": "postgres://db/shop", "tables": `orders, Sales."Big Orders"`}, Env{})
	if err != nil {
		t.Fatal(err)
	}
	c := co.Config
	if c.Slot != "tide_shop_1" || c.Publication != "tide_shop_1" || c.TopicPrefix != "Shop-1" || c.Snapshot != cdc.SnapshotInitial ||
		c.TopicPartitions != 1 || c.Heartbeat != 10*time.Second || co.DropSlot {
		t.Errorf("defaults: %+v drop %v", c, co.DropSlot)
	}
	if len(c.Tables) != 2 || c.Tables[0] != (cdc.TableName{Schema: "public", Name: "orders"}) || c.Tables[1] != (cdc.TableName{Schema: "sales", Name: "Big Orders"}) {
		t.Errorf("tables %v", c.Tables)
	}
	if co.Read.Topic != "" {
		t.Errorf("a source of two tables reads topic %q", co.Read.Topic)
	}
	one, err := ParseCaptureOptions("s", "id", map[string]string{"dsn": "x", "tables": "public.orders", "topic_prefix": "pg",
		"heartbeat.interval": "0", "slot.drop": "true", "snapshot": "never", "topic.partitions": "4",
		"skipped.operations": "t, d", "tombstones.on.delete": "false"}, Env{})
	if err != nil {
		t.Fatal(err)
	}
	if one.Read.Topic != "pg.public.orders" || one.Config.Heartbeat != 0 || !one.DropSlot || one.Config.Snapshot != cdc.SnapshotNever || one.Config.TopicPartitions != 4 ||
		one.Config.SkippedOperations != "td" || !one.Config.NoTombstones {
		t.Errorf("options: %+v", one)
	}

	bad := []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"tables": "t"}, "'dsn' is required"},
		{map[string]string{"dsn": "x"}, "'tables' is required"},
		{map[string]string{"dsn": "x", "tables": "a.b.c"}, "not 3 names"},
		{map[string]string{"dsn": "x", "tables": "a, a"}, "listed twice"},
		{map[string]string{"dsn": "x", "tables": "t", "slot": "Bad-Slot"}, "not a valid slot name"},
		{map[string]string{"dsn": "x", "tables": "t", "snapshot": "sometimes"}, "'snapshot' must be one of"},
		{map[string]string{"dsn": "x", "tables": "t", "heartbeat.interval": "soon"}, "'heartbeat.interval'"},
		{map[string]string{"dsn": "x", "tables": "t", "tabels": "t"}, "unknown option 'tabels'"},
		{map[string]string{"dsn": "x", "tables": "t", "skipped.operations": "t,x"}, "'skipped.operations' lists operations"},
	}
	for _, b := range bad {
		if _, err := ParseCaptureOptions("s", "id", b.opts, Env{}); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%v: error %v, want it to say %q", b.opts, err, b.want)
		}
	}
	if err := CheckSource(PostgresCDC, nil, map[string]string{"dsn": "x", "tables": "t"}); err != nil {
		t.Errorf("CheckSource: %v", err)
	}
}
