package connector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tide-data/tide/internal/cdc"
	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/transport"
)

// PostgresCDC is the change data capture connector's name.
const PostgresCDC = "postgres-cdc"

// cdcOptionKeys are the postgres-cdc source's options.
var cdcOptionKeys = []string{"dsn", "tables", "slot", "publication", "snapshot", "topic_prefix", "topic.partitions",
	"heartbeat.interval", "slot.drop", "batch.size", "transaction.metadata", "skipped.operations", "tombstones.on.delete", "scan.startup.mode", "commit.interval"}

// CaptureOptions is a postgres-cdc source read from its WITH options.
type CaptureOptions struct {
	Config cdc.Config
	// DropSlot: DROP SOURCE drops the slot (and the publication the
	// capture created) and forgets the source's progress.
	DropSlot bool
	// Read is how a pipeline reads the source: the topic of its one table.
	Read TopicSourceOptions
}

// IsCapture reports whether a source connector runs a capture of its own
// (besides being readable): postgres-cdc.
func IsCapture(kind string) bool { return kind == PostgresCDC }

// ParseCaptureOptions reads a postgres-cdc source's options; name is the
// source's, id its catalog entry's.
func ParseCaptureOptions(name, id string, opts map[string]string, env Env) (CaptureOptions, error) {
	o := newOptions(PostgresCDC, opts, cdcOptionKeys...)
	co := CaptureOptions{Config: cdc.Config{
		Name:            name,
		SourceID:        id,
		DSN:             o.required("dsn"),
		Slot:            o.str("slot", cdc.DefaultObjectName(name)),
		Publication:     o.str("publication", cdc.DefaultObjectName(name)),
		Snapshot:        cdc.SnapshotMode(o.oneOf("snapshot", "initial", "initial", "never")),
		TopicPrefix:     o.str("topic_prefix", name),
		TopicPartitions: int32(o.int("topic.partitions", 1, 1, math.MaxInt32)),
		BatchRecords:    int(o.int("batch.size", cdc.DefaultBatchRecords, 1, 1<<20)),
		Transport:       env.Transport,
		Logger:          env.Logger,
	}}
	co.Config.Heartbeat = 10 * time.Second
	if v, ok := o.lookup("heartbeat.interval"); ok {
		d, err := time.ParseDuration(v)
		if v == "0" {
			d, err = 0, nil
		}
		if err != nil || d < 0 {
			o.fail("option 'heartbeat.interval' must be a duration such as '10s', or '0' for none, not '%s'", v)
		}
		co.Config.Heartbeat = d
	}
	co.DropSlot = o.bool("slot.drop", false)
	co.Config.TransactionMetadata = o.bool("transaction.metadata", false)
	co.Config.NoTombstones = !o.bool("tombstones.on.delete", true)
	if v := o.str("skipped.operations", "none"); v != "none" {
		for op := range strings.SplitSeq(v, ",") {
			op = strings.TrimSpace(op)
			if op != "c" && op != "u" && op != "d" && op != "t" {
				o.fail("option 'skipped.operations' lists operations among c, u, d and t (or is 'none'), not '%s'", v)
				break
			}
			co.Config.SkippedOperations += op
		}
	}
	if list := o.required("tables"); list != "" {
		tables, err := cdc.ParseTables(list)
		if err != nil {
			o.fail("option 'tables': %v", err)
		}
		co.Config.Tables = tables
	}
	if co.Config.Slot != "" && !cdc.ValidSlotName(co.Config.Slot) {
		o.fail("option 'slot': '%s' is not a valid slot name (lower-case letters, digits and '_', at most 63)", co.Config.Slot)
	}
	read := map[string]string{"topic": "-", "topic.create": "false"}
	for _, k := range []string{"scan.startup.mode", "commit.interval"} {
		if v, ok := o.lookup(k); ok {
			read[k] = v
		}
	}
	var err error
	if co.Read, err = parseTopicSourceOptions(read); err != nil {
		o.fail("%v", err)
	}
	if len(co.Config.Tables) == 1 {
		co.Read.Topic = cdc.TopicName(co.Config.TopicPrefix, co.Config.Tables[0])
	} else {
		co.Read.Topic = ""
	}
	return co, o.check()
}

// newCDCSourceFromOptions is what a pipeline reading a postgres-cdc source
// gets: the topic its one table's changes go to (the capture itself runs
// apart, started by the engine when the source is created).
func newCDCSourceFromOptions(_ []format.Column, opts map[string]string, env Env) (Source, error) {
	co, err := ParseCaptureOptions(env.Source, "", opts, env)
	if err != nil {
		return nil, err
	}
	if env.Transport == nil {
		return checkedOnly{}, nil
	}
	if co.Read.Topic == "" {
		return nil, fmt.Errorf("connector %s: the source captures %d tables into %d topics; a pipeline reads one: "+
			"declare a topic source on the table's topic (<topic_prefix>.<schema>.<table>)", PostgresCDC, len(co.Config.Tables), len(co.Config.Tables))
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	// The capture creates the topic; until it has, create it the same way
	// so that the pipeline can start first.
	if err := env.Transport.CreateTopic(ctx, transport.TopicSpec{Name: co.Read.Topic, Partitions: co.Config.TopicPartitions}); err != nil &&
		!errors.Is(err, transport.ErrTopicExists) {
		return nil, err
	}
	return NewTopicSource(ctx, env, co.Read)
}
