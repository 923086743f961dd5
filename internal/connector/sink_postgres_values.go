package connector

import (
	"encoding/binary"
	"io"
	"math"
	"time"
	"unsafe"

	"github.com/cockroachdb/apd/v3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/types"
)

// pgColumns turns rows into the postgres sink's statement arguments: one
// array per column, of the type pgArrayElement names, sent in binary.
// Its buffers are reused from one statement to the next, so one
// transaction uses it at a time; the arguments build returns are valid
// until the next build.
type pgColumns struct {
	args []any
	cols []pgColumn
}

// pgColumn holds one column's values; only the slice of its kind is used.
type pgColumn struct {
	bools      []pgtype.Bool
	ints       []pgtype.Int8
	floats     []pgtype.Float8
	texts      []pgtype.Text
	bytes      [][]byte
	timestamps []pgtype.Timestamp
	instants   []pgtype.Timestamptz
	dates      []pgtype.Date
	intervals  []pgtype.Interval
	buf        []byte // text of numerics, before they become strings
}

// build returns the arguments for the rows idx, one array per column.
// Each value has its column's kind or is NULL (WriteRows converted the
// others).
func (p *pgColumns) build(cols []format.Column, rows []types.Row, idx []int) []any {
	p.reset(len(cols))
	for c, col := range cols {
		p.args[c] = p.cols[c].array(col.Type, c, rows, idx)
	}
	return p.args
}

// buildKeys returns the arguments of a deletion: one array per key
// column (keys index cols), for the rows idx.
func (p *pgColumns) buildKeys(cols []format.Column, keys []int, rows []types.Row, idx []int) []any {
	p.reset(len(keys))
	for j, c := range keys {
		p.args[j] = p.cols[j].array(cols[c].Type, c, rows, idx)
	}
	return p.args
}

func (p *pgColumns) reset(n int) {
	if len(p.cols) != n {
		p.cols = make([]pgColumn, n)
		p.args = make([]any, n)
	}
}

// array fills pc with the values of column c (of kind kind) of the rows
// idx and returns them as a binary array argument, valid until the next
// call.
func (pc *pgColumn) array(kind types.Kind, c int, rows []types.Row, idx []int) any {
	switch kind {
	case types.KindBool:
		pc.bools = pc.bools[:0]
		for _, i := range idx {
			v := &rows[i][c]
			pc.bools = append(pc.bools, pgtype.Bool{Bool: v.Bool(), Valid: !v.IsNull()})
		}
		return pgtype.FlatArray[pgtype.Bool](pc.bools)
	case types.KindInt2, types.KindInt4, types.KindInt8:
		pc.ints = pc.ints[:0]
		for _, i := range idx {
			v := &rows[i][c]
			pc.ints = append(pc.ints, pgtype.Int8{Int64: v.Int(), Valid: !v.IsNull()})
		}
		return pgtype.FlatArray[pgtype.Int8](pc.ints)
	case types.KindFloat8:
		pc.floats = pc.floats[:0]
		for _, i := range idx {
			v := &rows[i][c]
			pc.floats = append(pc.floats, pgtype.Float8{Float64: v.Float(), Valid: !v.IsNull()})
		}
		return pgtype.FlatArray[pgtype.Float8](pc.floats)
	case types.KindBytea:
		pc.bytes = pc.bytes[:0]
		for _, i := range idx {
			v := &rows[i][c]
			var b []byte // nil: NULL
			if !v.IsNull() {
				b = bytesOf(v.Bytes())
			}
			pc.bytes = append(pc.bytes, b)
		}
		return pgtype.FlatArray[[]byte](pc.bytes)
	case types.KindTimestamp:
		pc.timestamps = pc.timestamps[:0]
		for _, i := range idx {
			v := &rows[i][c]
			t := pgtype.Timestamp{Valid: !v.IsNull()}
			if t.Valid {
				t.Time, t.InfinityModifier = pgTime(v.Micros())
			}
			pc.timestamps = append(pc.timestamps, t)
		}
		return pgtype.FlatArray[pgtype.Timestamp](pc.timestamps)
	case types.KindTimestampTZ:
		pc.instants = pc.instants[:0]
		for _, i := range idx {
			v := &rows[i][c]
			t := pgtype.Timestamptz{Valid: !v.IsNull()}
			if t.Valid {
				t.Time, t.InfinityModifier = pgTime(v.Micros())
			}
			pc.instants = append(pc.instants, t)
		}
		return pgtype.FlatArray[pgtype.Timestamptz](pc.instants)
	case types.KindDate:
		pc.dates = pc.dates[:0]
		for _, i := range idx {
			v := &rows[i][c]
			d := pgtype.Date{Valid: !v.IsNull()}
			switch days := v.Days(); {
			case !d.Valid:
			case days == types.DateInfinity:
				d.InfinityModifier = pgtype.Infinity
			case days == types.DateNegInfinity:
				d.InfinityModifier = pgtype.NegativeInfinity
			default:
				d.Time = time.Unix(int64(days)*86400, 0).UTC()
			}
			pc.dates = append(pc.dates, d)
		}
		return pgtype.FlatArray[pgtype.Date](pc.dates)
	case types.KindInterval:
		pc.intervals = pc.intervals[:0]
		for _, i := range idx {
			v := &rows[i][c]
			months, days, micros := v.Interval()
			pc.intervals = append(pc.intervals, pgtype.Interval{Months: months, Days: days, Microseconds: micros, Valid: !v.IsNull()})
		}
		return pgtype.FlatArray[pgtype.Interval](pc.intervals)
	default: // text, and numeric and json as their text
		pc.texts = pc.texts[:0]
		for _, i := range idx {
			v := &rows[i][c]
			t := pgtype.Text{Valid: !v.IsNull()}
			if t.Valid {
				switch v.Kind() {
				case types.KindText, types.KindJSON:
					t.String = v.Text()
				default:
					pc.buf = v.AppendText(pc.buf[:0])
					t.String = string(pc.buf)
				}
			}
			pc.texts = append(pc.texts, t)
		}
		return pgtype.FlatArray[pgtype.Text](pc.texts)
	}
}

// bytesOf returns s's bytes without copying them: pgx only reads them,
// into the message it sends. An empty bytea is an empty, non-nil slice
// (nil would be NULL).
func bytesOf(s string) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// Postgres' binary COPY format: a header, then per row the field count
// and each field as a 4-byte length (-1: NULL) and its binary
// representation, then a trailer.
//
//	"PGCOPY\n\377\r\n\0"  flags int32 = 0  extension length int32 = 0
//	{ fields int16  { length int32  bytes }... }...
//	-1 int16
var pgCopyHeader = []byte("PGCOPY\n\377\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// pgEpochMicros and pgEpochDays are 2000-01-01, Postgres' epoch, in Unix
// microseconds and days.
const (
	pgEpochMicros = 946_684_800_000_000
	pgEpochDays   = 10_957
)

// pgCopyOID is the type a created table gives a column of kind k: the
// binary COPY path writes exactly these types, and is used only when the
// table's columns have them (or a binary-compatible one: varchar).
func pgCopyOID(k types.Kind) []uint32 {
	switch k {
	case types.KindBool:
		return []uint32{16}
	case types.KindInt2:
		return []uint32{21}
	case types.KindInt4:
		return []uint32{23}
	case types.KindInt8:
		return []uint32{20}
	case types.KindFloat8:
		return []uint32{701}
	case types.KindNumeric:
		return []uint32{1700}
	case types.KindBytea:
		return []uint32{17}
	case types.KindTimestamp:
		return []uint32{1114}
	case types.KindTimestampTZ:
		return []uint32{1184}
	case types.KindDate:
		return []uint32{1082}
	case types.KindInterval:
		return []uint32{1186}
	case types.KindJSON:
		return []uint32{3802}
	}
	return []uint32{25, 1043} // text, varchar
}

// appendCopyRow appends row as one binary COPY tuple of cols. Each value
// has its column's kind or is NULL (WriteRows converted the others).
func appendCopyRow(dst []byte, cols []format.Column, row types.Row) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(cols)))
	for c, col := range cols {
		v := &row[c]
		if v.IsNull() {
			dst = binary.BigEndian.AppendUint32(dst, math.MaxUint32) // -1
			continue
		}
		switch col.Type {
		case types.KindBool:
			dst = append(dst, 0, 0, 0, 1, 0)
			if v.Bool() {
				dst[len(dst)-1] = 1
			}
		case types.KindInt2:
			dst = append(dst, 0, 0, 0, 2)
			dst = binary.BigEndian.AppendUint16(dst, uint16(v.Int()))
		case types.KindInt4:
			dst = append(dst, 0, 0, 0, 4)
			dst = binary.BigEndian.AppendUint32(dst, uint32(v.Int()))
		case types.KindInt8:
			dst = append(dst, 0, 0, 0, 8)
			dst = binary.BigEndian.AppendUint64(dst, uint64(v.Int()))
		case types.KindFloat8:
			dst = append(dst, 0, 0, 0, 8)
			dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(v.Float()))
		case types.KindNumeric:
			dst = appendField(dst, func(b []byte) []byte { return appendNumericBinary(b, v.Decimal()) })
		case types.KindBytea:
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(v.Bytes())))
			dst = append(dst, v.Bytes()...)
		case types.KindTimestamp, types.KindTimestampTZ:
			// Postgres' infinities are the int64 extremes, as Tide's: not
			// moved to its epoch (which would wrap them into finite times).
			us := v.Micros()
			if us != types.TimestampInfinity && us != types.TimestampNegInfinity {
				us -= pgEpochMicros
			}
			dst = append(dst, 0, 0, 0, 8)
			dst = binary.BigEndian.AppendUint64(dst, uint64(us))
		case types.KindDate:
			days := int64(v.Days())
			if days != types.DateInfinity && days != types.DateNegInfinity {
				days -= pgEpochDays
			}
			dst = append(dst, 0, 0, 0, 4)
			dst = binary.BigEndian.AppendUint32(dst, uint32(days))
		case types.KindInterval:
			months, days, micros := v.Interval()
			dst = append(dst, 0, 0, 0, 16)
			dst = binary.BigEndian.AppendUint64(dst, uint64(micros))
			dst = binary.BigEndian.AppendUint32(dst, uint32(days))
			dst = binary.BigEndian.AppendUint32(dst, uint32(months))
		case types.KindJSON:
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(v.Text())+1))
			dst = append(dst, 1) // jsonb's binary format version
			dst = append(dst, v.Text()...)
		default: // text
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(v.Text())))
			dst = append(dst, v.Text()...)
		}
	}
	return dst
}

// appendField appends a length-prefixed field that fill appends.
func appendField(dst []byte, fill func([]byte) []byte) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = fill(dst)
	binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

// appendNumericBinary appends d in numeric's binary form: ndigits,
// weight (of the first digit, in base-10000 digits), sign, display
// scale, then the base-10000 digits, the decimal point falling between
// two of them.
func appendNumericBinary(dst []byte, d *apd.Decimal) []byte {
	const (
		signPos, signNeg, signNaN, signPInf, signNInf = 0x0000, 0x4000, 0xC000, 0xD000, 0xF000
	)
	switch d.Form {
	case apd.Infinite:
		sign := uint16(signPInf)
		if d.Negative {
			sign = signNInf
		}
		return append(binary.BigEndian.AppendUint16(append(dst, 0, 0, 0, 0), sign), 0, 0) // no digits, weight 0, dscale 0
	case apd.Finite:
	default:
		return append(dst, 0, 0, 0, 0, signNaN>>8, 0, 0, 0)
	}
	var buf [64]byte
	digits := d.Coeff.Append(buf[:0], 10) // the coefficient's digits, no sign
	e := int(d.Exponent)
	scale := max(0, -e)
	// The value's digits laid out from the first of the integer part,
	// padded so the decimal point falls between two groups of four and
	// the fraction fills whole groups:
	//
	//	lead zeros | zeros before the digits (0.00ddd) | digits | zeros after (ddd00) | trail zeros
	intLen := len(digits) + e
	before, after := max(0, -intLen), max(0, e)
	intLen = max(0, intLen)
	lead := (4 - intLen%4) % 4
	frac := before + len(digits) + after - intLen
	trail := (4 - frac%4) % 4
	total := lead + before + len(digits) + after + trail
	digitAt := func(i int) uint16 {
		i -= lead + before
		if i < 0 || i >= len(digits) {
			return 0
		}
		return uint16(digits[i] - '0')
	}
	group := func(g int) uint16 {
		return digitAt(4*g)*1000 + digitAt(4*g+1)*100 + digitAt(4*g+2)*10 + digitAt(4*g+3)
	}
	first, last := -1, -1 // the first and last groups that are not zero
	for g := range total / 4 {
		if group(g) != 0 {
			if first < 0 {
				first = g
			}
			last = g
		}
	}
	weight, sign, n := 0, uint16(signPos), 0
	if first >= 0 {
		weight = (intLen+lead)/4 - 1 - first
		n = last - first + 1
		if d.Negative {
			sign = signNeg
		}
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(weight)))
	dst = binary.BigEndian.AppendUint16(dst, sign)
	dst = binary.BigEndian.AppendUint16(dst, uint16(scale))
	for g := first; g >= 0 && g <= last; g++ {
		dst = binary.BigEndian.AppendUint16(dst, group(g))
	}
	return dst
}

// pgCopyReader is the binary COPY data of rows idx, encoded as pgx reads
// it (64 KiB at a time), so encoding overlaps the server's work.
type pgCopyReader struct {
	cols []format.Column
	rows []types.Row
	idx  []int
	buf  []byte
	off  int
	done bool
}

func newPGCopyReader(cols []format.Column, rows []types.Row, idx []int) *pgCopyReader {
	return &pgCopyReader{cols: cols, rows: rows, idx: idx, buf: append(make([]byte, 0, 64<<10), pgCopyHeader...)}
}

func (r *pgCopyReader) Read(p []byte) (int, error) {
	for r.off == len(r.buf) {
		if r.done {
			return 0, io.EOF
		}
		r.buf, r.off = r.buf[:0], 0
		for len(r.buf) < 32<<10 && len(r.idx) > 0 {
			r.buf = appendCopyRow(r.buf, r.cols, r.rows[r.idx[0]])
			r.idx = r.idx[1:]
		}
		if len(r.idx) == 0 {
			r.buf = append(r.buf, 0xff, 0xff) // the trailer
			r.done = true
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// pgTime is a timestamp's time for pgx, or its infinity.
func pgTime(us int64) (time.Time, pgtype.InfinityModifier) {
	switch us {
	case types.TimestampInfinity:
		return time.Time{}, pgtype.Infinity
	case types.TimestampNegInfinity:
		return time.Time{}, pgtype.NegativeInfinity
	}
	return time.UnixMicro(us).UTC(), pgtype.Finite
}
