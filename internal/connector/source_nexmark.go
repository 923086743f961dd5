package connector

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/nexmark"
	"github.com/tide-data/tide/internal/sql/types"
)

// Nexmark is the nexmark source: one table (person, auction or bid) of
// the Nexmark benchmark's event stream (internal/nexmark), as JSON
// objects with the source's declared columns.
//
// The stream is one sequence of numbered events; every source over it
// with the same seed sees the same events, each keeping its own table's,
// so three sources (person, auction, bid) are consistent with each other
// — a bid names auctions and people the other two produce. Event n goes
// to partition n % partitions; its origin offset is n, its record
// timestamp its dateTime. The rate counts every event number, whatever
// its table, so the three sources advance through event time together.
//
// Options:
//
//	table              person, auction or bid (required)
//	events-per-second  event numbers per second, all tables; 0 = unlimited (10000)
//	number-of-events   stop after this many event numbers: Read returns io.EOF (unbounded)
//	seed               the generator's seed (0)
//	partitions         (1)
//	first-event-rate   events per second of event time (10000)
//	base-time          the first event's time, RFC 3339 (when the source
//	                   starts, to the second: give it for timestamps that
//	                   are the same on every run)
//
// Columns are the table's fields, named as in the reference (dateTime,
// emailAddress, ...) or in snake case (date_time, email_address, ...);
// a source declares the ones it wants, of the types the fields have:
// bigint for ids, prices and categories, text for strings, timestamp
// (or timestamptz) for dateTime and expires.
type Nexmark struct {
	kind       nexmark.Kind
	cfg        nexmark.Config
	cols       []format.Column
	fields     []nexmarkField
	enc        format.Encoder
	pacer      pacer // events-per-second
	limit      int64 // event numbers; -1: unbounded
	partitions int32
	origin     string

	gens    []*nexmark.Generator
	next    []int64 // per partition, the next event number to look at
	turn    int32
	emitted int64 // event numbers passed, all partitions
	ev      nexmark.Event
	row     types.Row
	bufHint int
	// free holds acknowledged batches' memory for later ones: at a
	// million events a second, fresh batches were most of what a
	// benchmark's pipeline allocated.
	free chan *nexmarkBatch
}

// nexmarkBatch is the memory of one batch: its messages and the bytes of
// their values.
type nexmarkBatch struct {
	msgs   []Message
	buf    []byte
	starts []int
}

// nexmarkFreeBatches bounds the batches kept for reuse: enough for the
// ones in flight between Read and their acknowledgement.
const nexmarkFreeBatches = 16

// nexmarkField reads one column's value from an event.
type nexmarkField func(ev *nexmark.Event) types.Value

// nexmarkTables are each table's fields by normalized name (lower case,
// no underscores), with the value's kind.
var nexmarkTables = map[string]struct {
	kind   nexmark.Kind
	fields map[string]nexmarkFieldSpec
}{
	"person": {nexmark.KindPerson, map[string]nexmarkFieldSpec{
		"id":           intField(func(e *nexmark.Event) int64 { return e.Person.ID }),
		"name":         textField(func(e *nexmark.Event) string { return e.Person.Name }),
		"emailaddress": textField(func(e *nexmark.Event) string { return e.Person.EmailAddress }),
		"creditcard":   textField(func(e *nexmark.Event) string { return e.Person.CreditCard }),
		"city":         textField(func(e *nexmark.Event) string { return e.Person.City }),
		"state":        textField(func(e *nexmark.Event) string { return e.Person.State }),
		"datetime":     timeField(func(e *nexmark.Event) int64 { return e.Person.DateTime }),
		"extra":        textField(func(e *nexmark.Event) string { return e.Person.Extra }),
	}},
	"auction": {nexmark.KindAuction, map[string]nexmarkFieldSpec{
		"id":          intField(func(e *nexmark.Event) int64 { return e.Auction.ID }),
		"itemname":    textField(func(e *nexmark.Event) string { return e.Auction.ItemName }),
		"description": textField(func(e *nexmark.Event) string { return e.Auction.Description }),
		"initialbid":  intField(func(e *nexmark.Event) int64 { return e.Auction.InitialBid }),
		"reserve":     intField(func(e *nexmark.Event) int64 { return e.Auction.Reserve }),
		"datetime":    timeField(func(e *nexmark.Event) int64 { return e.Auction.DateTime }),
		"expires":     timeField(func(e *nexmark.Event) int64 { return e.Auction.Expires }),
		"seller":      intField(func(e *nexmark.Event) int64 { return e.Auction.Seller }),
		"category":    intField(func(e *nexmark.Event) int64 { return e.Auction.Category }),
		"extra":       textField(func(e *nexmark.Event) string { return e.Auction.Extra }),
	}},
	"bid": {nexmark.KindBid, map[string]nexmarkFieldSpec{
		"auction":  intField(func(e *nexmark.Event) int64 { return e.Bid.Auction }),
		"bidder":   intField(func(e *nexmark.Event) int64 { return e.Bid.Bidder }),
		"price":    intField(func(e *nexmark.Event) int64 { return e.Bid.Price }),
		"channel":  textField(func(e *nexmark.Event) string { return e.Bid.Channel }),
		"url":      textField(func(e *nexmark.Event) string { return e.Bid.URL }),
		"datetime": timeField(func(e *nexmark.Event) int64 { return e.Bid.DateTime }),
		"extra":    textField(func(e *nexmark.Event) string { return e.Bid.Extra }),
	}},
}

// nexmarkFieldSpec is a field: the column kinds it fits and its reader.
type nexmarkFieldSpec struct {
	fits func(types.Kind) bool
	make func(types.Kind) nexmarkField
	what string
}

func intField(get func(*nexmark.Event) int64) nexmarkFieldSpec {
	return nexmarkFieldSpec{
		fits: func(k types.Kind) bool { return k == types.KindInt8 },
		make: func(types.Kind) nexmarkField {
			return func(e *nexmark.Event) types.Value { return types.NewInt8(get(e)) }
		},
		what: "bigint",
	}
}

func textField(get func(*nexmark.Event) string) nexmarkFieldSpec {
	return nexmarkFieldSpec{
		fits: func(k types.Kind) bool { return k == types.KindText },
		make: func(types.Kind) nexmarkField {
			return func(e *nexmark.Event) types.Value { return types.NewText(get(e)) }
		},
		what: "text",
	}
}

func timeField(get func(*nexmark.Event) int64) nexmarkFieldSpec {
	return nexmarkFieldSpec{
		fits: func(k types.Kind) bool { return k == types.KindTimestamp || k == types.KindTimestampTZ },
		make: func(k types.Kind) nexmarkField {
			if k == types.KindTimestampTZ {
				return func(e *nexmark.Event) types.Value { return types.NewTimestampTZ(get(e)) }
			}
			return func(e *nexmark.Event) types.Value { return types.NewTimestamp(get(e)) }
		},
		what: "timestamp",
	}
}

// NewNexmark returns a nexmark source generating cols; see Nexmark for
// the options.
func NewNexmark(cols []format.Column, opts map[string]string, env Env) (Source, error) {
	o := newOptions("nexmark", opts, "table", "events-per-second", "number-of-events", "seed", "partitions",
		"first-event-rate", "base-time")
	tableName := strings.ToLower(o.required("table"))
	cfg := nexmark.Defaults()
	cfg.Seed = uint64(o.int("seed", 0, math.MinInt64, math.MaxInt64))
	cfg.FirstEventRate = o.int("first-event-rate", cfg.FirstEventRate, 1, math.MaxInt32)
	// Event time starts now by default, as the reference's does: output
	// records carry event times, and topics' retention counts from them.
	cfg.BaseTime = env.now().UTC().Truncate(time.Second)
	if s, ok := o.lookup("base-time"); ok {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("connector nexmark: option 'base-time' must be an RFC 3339 time such as '2026-01-01T00:00:00Z', not '%s'", s)
		}
		cfg.BaseTime = t
	}
	s := &Nexmark{
		cfg:        cfg,
		cols:       cols,
		pacer:      pacer{rate: float64(o.int("events-per-second", 10_000, 0, math.MaxInt32))},
		limit:      o.int("number-of-events", -1, 0, math.MaxInt64),
		partitions: int32(o.int("partitions", 1, 1, 1<<16)),
		origin:     "nexmark:" + env.Group,
		row:        make(types.Row, len(cols)),
		free:       make(chan *nexmarkBatch, nexmarkFreeBatches),
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	table, ok := nexmarkTables[tableName]
	if !ok {
		return nil, fmt.Errorf("connector nexmark: option 'table' must be 'person', 'auction' or 'bid', not '%s'", tableName)
	}
	s.kind = table.kind
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("connector nexmark: %w", err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("connector nexmark: the source declares no columns; the %s table has %s", tableName, nexmarkFieldNames(tableName))
	}
	for _, c := range cols {
		name := strings.ReplaceAll(strings.ToLower(c.Name), "_", "")
		f, ok := table.fields[name]
		if !ok {
			return nil, fmt.Errorf("connector nexmark: column %q is not a field of the %s table (fields: %s)", c.Name, tableName, nexmarkFieldNames(tableName))
		}
		if !f.fits(c.Type) {
			return nil, fmt.Errorf("connector nexmark: column %q must be %s, not %s", c.Name, f.what, c.Type)
		}
		s.fields = append(s.fields, f.make(c.Type))
	}
	enc, err := format.NewEncoder("json", cols, nil, format.Env{})
	if err != nil {
		return nil, fmt.Errorf("connector nexmark: %w", err)
	}
	s.enc = enc
	s.gens = make([]*nexmark.Generator, s.partitions)
	s.next = make([]int64, s.partitions)
	for p := range s.gens {
		if s.gens[p], err = nexmark.NewGenerator(cfg); err != nil {
			return nil, fmt.Errorf("connector nexmark: %w", err)
		}
		s.next[p] = int64(p)
	}
	return s, nil
}

func nexmarkFieldNames(table string) string {
	names := map[string][]string{
		"person":  {"id", "name", "emailAddress", "creditCard", "city", "state", "dateTime", "extra"},
		"auction": {"id", "itemName", "description", "initialBid", "reserve", "dateTime", "expires", "seller", "category", "extra"},
		"bid":     {"auction", "bidder", "price", "channel", "url", "dateTime", "extra"},
	}
	return strings.Join(names[table], ", ")
}

// Partitions returns the 'partitions' option.
func (s *Nexmark) Partitions() int32 { return s.partitions }

// Read generates the next batch of one partition: up to 256 events of the
// source's table, waiting for the rate limit.
func (s *Nexmark) Read(ctx context.Context) (Batch, error) {
	for {
		b, err := s.read(ctx)
		if err != nil || len(b.Messages) > 0 {
			return b, err
		}
		// Only other tables' events passed: on to the next ones.
	}
}

func (s *Nexmark) read(ctx context.Context) (Batch, error) {
	if err := ctx.Err(); err != nil {
		return Batch{}, err
	}
	p, ok := roundRobin(&s.turn, s.partitions, s.remaining)
	if !ok {
		return Batch{}, io.EOF
	}
	batch, err := s.pacer.pace(ctx, s.emitted)
	if err != nil {
		return Batch{}, err
	}
	gen := s.gens[p]
	var nb *nexmarkBatch
	select {
	case nb = <-s.free:
	default:
		nb = &nexmarkBatch{buf: make([]byte, 0, s.bufHint+s.bufHint/8)}
	}
	msgs, buf, starts := nb.msgs[:0], nb.buf[:0], nb.starts[:0]
	passed := int64(0)
	for len(msgs) < batch && s.remaining(p) && passed < int64(batch)*int64(s.partitions)*50 {
		n := s.next[p]
		s.next[p] += int64(s.partitions)
		passed += int64(s.partitions)
		if s.cfg.KindOf(n) != s.kind {
			continue
		}
		gen.SeekEvent(n)
		gen.Next(&s.ev)
		for i, f := range s.fields {
			s.row[i] = f(&s.ev)
		}
		starts = append(starts, len(buf))
		var err error
		if buf, err = s.enc.Encode(buf, s.row); err != nil {
			return Batch{}, fmt.Errorf("connector nexmark: %w", err)
		}
		msgs = append(msgs, Message{Timestamp: time.UnixMicro(s.eventTime()), Origin: Origin{Topic: s.origin, Partition: p, Offset: n}})
	}
	starts = append(starts, len(buf))
	s.bufHint = len(buf)
	for i := range msgs {
		msgs[i].Value = buf[starts[i]:starts[i+1]:starts[i+1]]
	}
	s.emitted += passed
	nb.msgs, nb.buf, nb.starts = msgs, buf, starts
	// Once acknowledged, the runtime holds nothing of the batch (see
	// Batch): its memory is the next one's.
	var acked atomic.Bool
	ack := func() {
		if acked.Swap(true) {
			return
		}
		// Zeroed, a value the runtime still read would fail to decode
		// rather than be another event: a breach of the contract shows.
		clear(nb.buf)
		select {
		case s.free <- nb:
		default:
		}
	}
	return Batch{Partition: p, Messages: msgs, Ack: ack}, nil
}

// eventTime is the dateTime of the event just generated.
func (s *Nexmark) eventTime() int64 {
	switch s.ev.Kind {
	case nexmark.KindPerson:
		return s.ev.Person.DateTime
	case nexmark.KindAuction:
		return s.ev.Auction.DateTime
	}
	return s.ev.Bid.DateTime
}

func (s *Nexmark) remaining(p int32) bool { return s.limit < 0 || s.next[p] < s.limit }

// Close does nothing.
func (s *Nexmark) Close(context.Context) error { return nil }
