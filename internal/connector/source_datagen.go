package connector

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/types"
)

// Datagen is the datagen source: a seeded generator of JSON objects with
// the source's declared columns, for demos, tests and benchmarks. The
// same options and seed give byte-identical records (with Env.Now
// injected: timestamps are the generation time, read from the clock once
// per batch, so the rows of a batch have equal timestamps and message
// timestamps).
//
// Rows are spread round-robin over 'partitions' partitions; row n (0, 1,
// 2, ... over all partitions) is record n / partitions of partition
// n % partitions, and its values come from that partition's generator
// (seeded with the seed and the partition), so batching and timing never
// change what is generated. Messages have no key; their origin is topic
// "datagen:<group>", the partition, and the record's offset in it. Ack
// does nothing: there is nothing to commit.
//
// Options:
//
//	rows-per-second  rows per second over all partitions; 0 = unlimited (10)
//	number-of-rows   stop after this many rows: Read returns io.EOF (unbounded)
//	seed             the generators' seed (0)
//	partitions       (1)
//	fields.<col>.kind       'random' (default) or 'sequence'
//	fields.<col>.min, .max  bounds of numbers (random: [0, 1000]; sequence
//	                        starts at min, default 1, and a max ends the
//	                        source after max-min+1 rows); for an interval,
//	                        in seconds ([0, 3600])
//	fields.<col>.length     length of random text and bytea (10)
//	fields.<col>.values     'a,b,c': pick among these (a sequence cycles), in
//	                        the column type's text form
//	fields.<col>.null-rate  the share of NULLs, 0 to 1 (0)
//
// A random value by type: integers and doubles uniform in [min, max];
// numeric likewise with two decimals; text as letters and digits; bytea
// random bytes; boolean either; timestamp, timestamptz and date the
// generation time (Env.Now); interval a whole number of seconds; json an
// object {"value": <integer in [min, max]>}.
type Datagen struct {
	cols       []format.Column
	fields     []fieldGen
	enc        format.Encoder
	pacer      pacer // rows-per-second
	limit      int64 // rows in all; -1: unbounded
	partitions int32
	origin     string
	now        func() time.Time

	// Read's state; one goroutine reads.
	gens    []partitionGen
	turn    int32
	emitted int64
	row     types.Row
	// Random text of a row is generated into arena and becomes one
	// string per row; spans say which column holds which part.
	arena   []byte
	spans   []textSpan
	bufHint int // bytes of the last batch: the next one's buffer size
}

// textSpan is the text of column col: arena[start:end].
type textSpan struct{ col, start, end int }

type partitionGen struct {
	rng  *rand.Rand
	next int64 // offset of the partition's next record
}

// fieldGen generates one column.
type fieldGen struct {
	kind       types.Kind
	sequence   bool
	minI, maxI int64
	minF, maxF float64
	hasMax     bool
	length     int
	values     []types.Value
	nullRate   float64
}

var _ PartitionedSource = (*Datagen)(nil)

var datagenFieldAttrs = []string{"kind", "min", "max", "length", "values", "null-rate"}

// NewDatagen returns a datagen source generating cols; see Datagen for
// the options.
func NewDatagen(cols []format.Column, opts map[string]string, env Env) (Source, error) {
	valid := []string{"rows-per-second", "number-of-rows", "seed", "partitions"}
	for _, a := range datagenFieldAttrs {
		valid = append(valid, "fields.<column>."+a)
	}
	o := newOptions("datagen", opts, valid...)
	g := &Datagen{
		cols:       cols,
		pacer:      pacer{rate: float64(o.int("rows-per-second", 10, 0, math.MaxInt32))},
		limit:      o.int("number-of-rows", -1, 0, math.MaxInt64),
		partitions: int32(o.int("partitions", 1, 1, 1<<16)),
		origin:     "datagen:" + env.Group,
		now:        env.now,
		row:        make(types.Row, len(cols)),
	}
	seed := uint64(o.int("seed", 0, math.MinInt64, math.MaxInt64))

	// fields.<col>.<attr>: the column must exist, the attribute be known.
	byName := make(map[string]int, len(cols))
	for i, c := range cols {
		byName[strings.ToLower(c.Name)] = i
	}
	for _, key := range o.keysWithPrefix("fields.") {
		rest := strings.TrimPrefix(key, "fields.")
		dot := strings.LastIndexByte(rest, '.')
		if dot < 0 {
			return nil, fmt.Errorf("connector datagen: option '%s' is not fields.<column>.<%s>", key, strings.Join(datagenFieldAttrs, "|"))
		}
		col, attr := rest[:dot], rest[dot+1:]
		if _, ok := byName[col]; !ok {
			return nil, fmt.Errorf("connector datagen: option '%s' names no column (columns: %s)", key, columnNames(cols))
		}
		if !isOneOf(attr, datagenFieldAttrs) {
			return nil, fmt.Errorf("connector datagen: option '%s': unknown field option '%s' (valid: %s)", key, attr, quoteKeys(datagenFieldAttrs))
		}
	}
	g.fields = make([]fieldGen, len(cols))
	for i, c := range cols {
		f, err := newFieldGen(o, c)
		if err != nil {
			return nil, err
		}
		g.fields[i] = f
		if f.sequence && f.hasMax && f.values == nil {
			rows := f.maxI - f.minI + 1
			if g.limit < 0 || rows < g.limit {
				g.limit = max(rows, 0)
			}
		}
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	enc, err := format.NewEncoder("json", cols, nil, format.Env{})
	if err != nil {
		return nil, fmt.Errorf("connector datagen: %w", err)
	}
	g.enc = enc
	g.gens = make([]partitionGen, g.partitions)
	for p := range g.gens {
		g.gens[p].rng = rand.New(rand.NewPCG(seed, uint64(p)))
	}
	return g, nil
}

func newFieldGen(o *options, c format.Column) (fieldGen, error) {
	prefix := "fields." + strings.ToLower(c.Name) + "."
	f := fieldGen{kind: c.Type}
	f.sequence = o.oneOf(prefix+"kind", "random", "random", "sequence") == "sequence"
	f.nullRate = o.float(prefix+"null-rate", 0)
	if f.nullRate < 0 || f.nullRate > 1 {
		return f, fmt.Errorf("connector datagen: option '%snull-rate' must lie in [0, 1]", prefix)
	}
	f.length = int(o.int(prefix+"length", 10, 0, 1<<20))
	if vs, ok := o.lookup(prefix + "values"); ok {
		for _, s := range strings.Split(vs, ",") {
			v, err := types.ParseText(c.Type, strings.TrimSpace(s))
			if err != nil {
				return f, fmt.Errorf("connector datagen: option '%svalues': %w", prefix, err)
			}
			f.values = append(f.values, v)
		}
	}
	numeric := c.Type.IsNumeric() || c.Type == types.KindInterval || c.Type == types.KindJSON
	_, hasMin := o.m[prefix+"min"]
	_, f.hasMax = o.m[prefix+"max"]
	if (hasMin || f.hasMax) && !numeric && (!f.sequence || c.Type != types.KindText) {
		return f, fmt.Errorf("connector datagen: column %q of type %s takes no min or max", c.Name, c.Type)
	}
	if f.sequence && !c.Type.IsNumeric() && c.Type != types.KindText && f.values == nil {
		return f, fmt.Errorf("connector datagen: column %q of type %s cannot be a sequence (numbers and text can)", c.Name, c.Type)
	}
	defMin, defMax := 0.0, 1000.0
	if c.Type == types.KindInterval {
		defMax = 3600
	}
	if f.sequence {
		defMin, defMax = 1, math.MaxInt64
	}
	f.minF, f.maxF = o.float(prefix+"min", defMin), o.float(prefix+"max", defMax)
	if f.minF > f.maxF {
		return f, fmt.Errorf("connector datagen: column %q: min %v is above max %v", c.Name, f.minF, f.maxF)
	}
	f.minI, f.maxI = int64(math.Ceil(f.minF)), int64(math.Floor(f.maxF))
	if f.maxF >= math.MaxInt64 {
		f.maxI = math.MaxInt64
	}
	if c.Type.IsInteger() {
		if err := types.CheckIntRange(c.Type, f.minI); err != nil {
			return f, fmt.Errorf("connector datagen: column %q: min: %w", c.Name, err)
		}
		if err := types.CheckIntRange(c.Type, f.maxI); err != nil && (!f.sequence || f.hasMax) {
			return f, fmt.Errorf("connector datagen: column %q: max: %w", c.Name, err)
		}
	}
	return f, nil
}

// Partitions returns the 'partitions' option.
func (g *Datagen) Partitions() int32 { return g.partitions }

// Read generates the next batch, waiting for the rate limit.
func (g *Datagen) Read(ctx context.Context) (Batch, error) {
	if err := ctx.Err(); err != nil {
		return Batch{}, err
	}
	p, ok := roundRobin(&g.turn, g.partitions, g.remaining)
	if !ok {
		return Batch{}, io.EOF
	}
	batch, err := g.pacer.pace(ctx, g.emitted)
	if err != nil {
		return Batch{}, err
	}
	pg := &g.gens[p]
	msgs := make([]Message, 0, batch)
	buf := make([]byte, 0, g.bufHint+g.bufHint/8)
	starts := make([]int, 0, batch+1)
	// One clock reading per batch: its rows share a generation time (the
	// clock is a fair share of a row's cost otherwise).
	now := g.now()
	nowMicros := now.UnixMicro()
	for len(msgs) < batch && g.remaining(p) {
		n := pg.next*int64(g.partitions) + int64(p)
		g.arena, g.spans = g.arena[:0], g.spans[:0]
		for i := range g.fields {
			start := len(g.arena)
			if g.fields[i].generate(&g.row[i], pg.rng, n, nowMicros, &g.arena) {
				g.spans = append(g.spans, textSpan{col: i, start: start, end: len(g.arena)})
			}
		}
		if len(g.spans) > 0 {
			text := string(g.arena)
			for _, sp := range g.spans {
				g.row[sp.col] = types.NewText(text[sp.start:sp.end])
			}
		}
		starts = append(starts, len(buf))
		var err error
		if buf, err = g.enc.Encode(buf, g.row); err != nil {
			return Batch{}, fmt.Errorf("connector datagen: %w", err)
		}
		msgs = append(msgs, Message{
			Timestamp: now,
			Origin:    Origin{Topic: g.origin, Partition: p, Offset: pg.next},
		})
		pg.next++
	}
	starts = append(starts, len(buf))
	g.bufHint = len(buf)
	for i := range msgs {
		msgs[i].Value = buf[starts[i]:starts[i+1]:starts[i+1]]
	}
	g.emitted += int64(len(msgs))
	return Batch{Partition: p, Messages: msgs, Ack: func() {}}, nil
}

func (g *Datagen) remaining(p int32) bool {
	return g.limit < 0 || g.gens[p].next*int64(g.partitions)+int64(p) < g.limit
}

// Close does nothing.
func (g *Datagen) Close(context.Context) error { return nil }

const alphanumeric = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// generate sets *v to row n's value; nowMicros is the generation time. It draws from rng the same way for
// the same options, whatever the values drawn. Random text is appended to
// arena instead (inArena: the caller makes the value of what was
// appended), so that a row's text costs one allocation. (Writing through
// v rather than returning the Value saved a stalled copy per field when a
// Value was 56 bytes; see types.Value.)
func (f *fieldGen) generate(v *types.Value, rng *rand.Rand, n, nowMicros int64, arena *[]byte) (inArena bool) {
	if f.nullRate > 0 && rng.Float64() < f.nullRate {
		*v = types.Null(f.kind)
		return false
	}
	if f.values != nil {
		if f.sequence {
			*v = f.values[n%int64(len(f.values))]
			return false
		}
		*v = f.values[rng.IntN(len(f.values))]
		return false
	}
	if f.sequence {
		seq := f.minI + n
		switch {
		case f.kind.IsInteger():
			*v = types.NewInt(f.kind, seq)
			return false
		case f.kind == types.KindFloat8:
			*v = types.NewFloat8(float64(seq))
			return false
		case f.kind == types.KindNumeric:
			*v = types.NewNumeric(apd.New(seq, 0))
			return false
		default:
			*v = types.NewText(strconv.FormatInt(seq, 10))
			return false
		}
	}
	switch f.kind {
	case types.KindBool:
		*v = types.NewBool(rng.IntN(2) == 1)
		return false
	case types.KindInt2, types.KindInt4, types.KindInt8:
		*v = types.NewInt(f.kind, f.randomInt(rng))
		return false
	case types.KindFloat8:
		*v = types.NewFloat8(f.minF + rng.Float64()*(f.maxF-f.minF))
		return false
	case types.KindNumeric:
		lo, hi := int64(math.Ceil(f.minF*100)), int64(math.Floor(f.maxF*100))
		*v = types.NewNumeric(apd.New(lo+rng.Int64N(hi-lo+1), -2))
		return false
	case types.KindText:
		b := *arena
		for range f.length {
			b = append(b, alphanumeric[rng.IntN(len(alphanumeric))])
		}
		*arena = b
		return true
	case types.KindBytea:
		b := make([]byte, f.length)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		*v = types.NewBytea(b)
		return false
	case types.KindTimestamp:
		*v = types.NewTimestamp(nowMicros)
		return false
	case types.KindTimestampTZ:
		*v = types.NewTimestampTZ(nowMicros)
		return false
	case types.KindDate:
		*v = types.NewDate(int32(types.FloorDiv(nowMicros, types.MicrosPerDay)))
		return false
	case types.KindInterval:
		*v = types.NewInterval(0, 0, f.randomInt(rng)*types.MicrosPerSecond)
		return false
	case types.KindJSON:
		*v = types.NewJSON(`{"value": ` + strconv.FormatInt(f.randomInt(rng), 10) + `}`)
		return false
	}
	*v = types.Null(f.kind)
	return false
}

func (f *fieldGen) randomInt(rng *rand.Rand) int64 {
	span := uint64(f.maxI - f.minI)
	if span == math.MaxUint64 {
		return int64(rng.Uint64())
	}
	return f.minI + int64(rng.Uint64N(span+1))
}

func columnNames(cols []format.Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

func isOneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}
