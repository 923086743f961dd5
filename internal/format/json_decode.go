package format

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/valyala/fastjson"

	"github.com/tide-data/tide/internal/sql/types"
)

// SQLSTATE codes of decoding errors.
const (
	codeInvalidText  = types.CodeInvalidTextRepresentation
	codeNumericRange = types.CodeNumericValueOutOfRange
)

// maxQuotedInMessage bounds how much of a bad value an error quotes.
const maxQuotedInMessage = 40

// jsonDecoder reads one JSON object per record. It reuses its parser and
// buffers between records, so one goroutine uses it at a time.
type jsonDecoder struct {
	cols []Column
	// byName finds a column by field name when there are many columns;
	// with few, a scan starting after the last match is cheaper (fields
	// usually come in the same order record after record).
	byName map[string]int
	next   int

	failOnMissing bool
	ignoreErrors  bool

	parser fastjson.Parser
	// found[i] is the field of column i in the current record.
	found   []*fastjson.Value
	visitFn func(key []byte, v *fastjson.Value)

	// The text, json and bytea of a record are gathered in arena and
	// turned into one string at the end: one allocation per record.
	arena   []byte
	spans   []span
	scratch []byte // number text, decoded hex
}

// span is a string value of column col waiting in arena[start:end].
type span struct {
	col        int
	start, end int
}

var _ Decoder = (*jsonDecoder)(nil)

const byNameThreshold = 16

func newJSONDecoder(cols []Column, options map[string]string) (Decoder, error) {
	failOnMissing, err := boolOption(options, "json.fail-on-missing-field", false)
	if err != nil {
		return nil, err
	}
	ignoreErrors, err := boolOption(options, "json.ignore-parse-errors", false)
	if err != nil {
		return nil, err
	}
	if failOnMissing && ignoreErrors {
		return nil, fmt.Errorf("%w: 'json.fail-on-missing-field' and 'json.ignore-parse-errors' cannot both be 'true'", ErrInvalidOption)
	}
	d := &jsonDecoder{
		cols:          cols,
		failOnMissing: failOnMissing,
		ignoreErrors:  ignoreErrors,
		found:         make([]*fastjson.Value, len(cols)),
	}
	if len(cols) > byNameThreshold {
		d.byName = make(map[string]int, len(cols))
		for i, c := range cols {
			d.byName[c.Name] = i
		}
	}
	d.visitFn = d.visit
	return d, nil
}

// Decode fills row[0:len(cols)] from one JSON object. The error is a
// *types.Error naming the column, or ErrSkip (see the package doc).
func (d *jsonDecoder) Decode(data []byte, row types.Row) error {
	if len(row) < len(d.cols) {
		return fmt.Errorf("format json: row has room for %d values, %d columns", len(row), len(d.cols))
	}
	doc, err := d.parser.ParseBytes(data)
	if err != nil {
		if d.ignoreErrors {
			return ErrSkip
		}
		return &types.Error{Code: codeInvalidText, Message: "invalid input syntax for type json: " + err.Error()}
	}
	if doc.Type() != fastjson.TypeObject {
		if d.ignoreErrors {
			return ErrSkip
		}
		return &types.Error{Code: codeInvalidText, Message: "invalid JSON record: expected an object, found " + describe(doc)}
	}
	obj, _ := doc.Object()
	clear(d.found)
	d.next = 0
	obj.Visit(d.visitFn)

	d.arena = d.arena[:0]
	d.spans = d.spans[:0]
	for i := range d.cols {
		c := &d.cols[i]
		field := d.found[i]
		if field == nil {
			if d.failOnMissing {
				return fieldError(codeInvalidText, c.Name, "field missing from the record")
			}
			row[i] = types.Null(c.Type)
			continue
		}
		mark, marks := len(d.arena), len(d.spans)
		if err := d.convert(i, c, field, row); err != nil {
			if !d.ignoreErrors {
				return err
			}
			d.arena, d.spans = d.arena[:mark], d.spans[:marks]
			row[i] = types.Null(c.Type)
		}
	}
	if len(d.spans) > 0 {
		all := string(d.arena)
		for _, s := range d.spans {
			text := all[s.start:s.end]
			if d.cols[s.col].Type == types.KindJSON {
				row[s.col] = types.NewJSON(text)
			} else {
				row[s.col] = types.NewText(text)
			}
		}
	}
	return nil
}

func (d *jsonDecoder) visit(key []byte, v *fastjson.Value) {
	if i := d.lookup(key); i >= 0 && d.found[i] == nil {
		d.found[i] = v
	}
}

func (d *jsonDecoder) lookup(key []byte) int {
	if d.byName != nil {
		if i, ok := d.byName[string(key)]; ok {
			return i
		}
		return -1
	}
	n := len(d.cols)
	i := d.next
	for range n {
		if i >= n {
			i = 0
		}
		if d.cols[i].Name == string(key) {
			d.next = i + 1
			return i
		}
		i++
	}
	return -1
}

// convert stores field's value in row[i], or queues it in the arena.
func (d *jsonDecoder) convert(i int, c *Column, field *fastjson.Value, row types.Row) error {
	t := field.Type()
	if t == fastjson.TypeNull {
		row[i] = types.Null(c.Type)
		return nil
	}
	switch c.Type {
	case types.KindBool:
		switch t {
		case fastjson.TypeTrue:
			row[i] = types.NewBool(true)
			return nil
		case fastjson.TypeFalse:
			row[i] = types.NewBool(false)
			return nil
		}
		return mismatch(c, "boolean", field)

	case types.KindInt2, types.KindInt4, types.KindInt8:
		if t != fastjson.TypeNumber {
			return mismatch(c, "number", field)
		}
		n, err := d.integer(c, field)
		if err != nil {
			return err
		}
		if err := types.CheckIntRange(c.Type, n); err != nil {
			return fieldError(codeNumericRange, c.Name, c.Type.String()+" out of range")
		}
		row[i] = types.NewInt(c.Type, n)
		return nil

	case types.KindFloat8:
		switch t {
		case fastjson.TypeNumber:
			num, err := d.number(c, field)
			if err != nil {
				return err
			}
			f, err := strconv.ParseFloat(string(num), 64)
			if err != nil || (f == 0 && hasNonZeroMantissa(num)) {
				return fieldError(codeNumericRange, c.Name, fmt.Sprintf("%q is out of range for type double precision", num))
			}
			row[i] = types.NewFloat8(f)
			return nil
		case fastjson.TypeString:
			s, _ := field.StringBytes()
			if f, ok := specialFloat(s); ok {
				row[i] = types.NewFloat8(f)
				return nil
			}
		}
		return mismatch(c, "number", field)

	case types.KindNumeric:
		switch t {
		case fastjson.TypeNumber:
			num, err := d.number(c, field)
			if err != nil {
				return err
			}
			dec, err := types.ParseNumeric(string(num))
			if err != nil {
				return columnError(c, err)
			}
			row[i] = types.NewNumeric(dec)
			return nil
		case fastjson.TypeString:
			s, _ := field.StringBytes()
			if _, ok := specialFloat(s); ok {
				dec, err := types.ParseNumeric(string(s))
				if err != nil {
					return columnError(c, err)
				}
				row[i] = types.NewNumeric(dec)
				return nil
			}
		}
		return mismatch(c, "number", field)

	case types.KindText, types.KindJSON:
		// A json column, and a text column given anything but a string,
		// get jsonb's canonical text: what ->> (text) and -> (jsonb) give.
		start := len(d.arena)
		if t == fastjson.TypeString && c.Type == types.KindText {
			s, _ := field.StringBytes()
			if err := checkText(s); err != nil {
				return columnError(c, err)
			}
			d.arena = append(d.arena, s...)
		} else {
			var err error
			if !d.validNumbers(field) {
				return fieldError(codeInvalidText, c.Name, "invalid input syntax for type json")
			}
			if d.arena, err = types.AppendJSONB(d.arena, field); err != nil {
				d.arena = d.arena[:start]
				return columnError(c, err)
			}
		}
		d.spans = append(d.spans, span{col: i, start: start, end: len(d.arena)})
		return nil

	case types.KindTimestamp, types.KindTimestampTZ, types.KindDate:
		switch t {
		case fastjson.TypeString:
			s, _ := field.StringBytes()
			return d.parseTime(i, c, s, row)
		case fastjson.TypeNumber:
			ms, err := d.integer(c, field)
			if err != nil {
				return err
			}
			return epochMillis(i, c, ms, row)
		}
		return mismatch(c, "string or number", field)

	case types.KindInterval:
		if t != fastjson.TypeString {
			return mismatch(c, "string", field)
		}
		s, _ := field.StringBytes()
		return parseText(i, c, s, row)

	case types.KindBytea:
		if t != fastjson.TypeString {
			return mismatch(c, "string", field)
		}
		s, _ := field.StringBytes()
		if b, ok := decodeHex(d.scratch[:0], s); ok {
			d.scratch = b
			row[i] = types.NewBytea(b)
			return nil
		}
		return parseText(i, c, s, row) // Postgres' escape format, or its error
	}
	return fieldError(codeInvalidText, c.Name, "cannot decode type "+c.Type.String())
}

// number returns field's number text, checked against JSON's grammar
// (the parser is lenient: it takes NaN, inf and 1.2.3). The bytes live in
// d.scratch until the next call.
func (d *jsonDecoder) number(c *Column, field *fastjson.Value) ([]byte, error) {
	d.scratch = field.MarshalTo(d.scratch[:0])
	if !validNumber(d.scratch) {
		return nil, fieldError(codeInvalidText, c.Name, fmt.Sprintf("invalid input syntax for type json: number %q", d.scratch))
	}
	return d.scratch, nil
}

// checkText rejects what a Postgres text cannot hold: invalid UTF-8 and
// NUL characters.
func checkText(s []byte) error {
	if !utf8.Valid(s) {
		return &types.Error{Code: types.CodeCharacterNotInRepertoire, Message: "invalid byte sequence for encoding \"UTF8\""}
	}
	if bytes.IndexByte(s, 0) >= 0 {
		return &types.Error{Code: types.CodeUntranslatableCharacter, Message: "unsupported Unicode escape sequence: \\u0000 cannot be converted to text"}
	}
	return nil
}

// validNumbers checks every number in v against JSON's grammar: the
// parser takes NaN and inf, and so does AppendJSONB's numeric reader.
func (d *jsonDecoder) validNumbers(v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeNumber:
		d.scratch = v.MarshalTo(d.scratch[:0])
		return validNumber(d.scratch)
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, e := range a {
			if !d.validNumbers(e) {
				return false
			}
		}
	case fastjson.TypeObject:
		o, _ := v.Object()
		ok := true
		o.Visit(func(_ []byte, e *fastjson.Value) {
			ok = ok && d.validNumbers(e)
		})
		return ok
	}
	return true
}

// integer reads a number with an integral value (1, -7, 1.0, 1e3) into
// an int64.
func (d *jsonDecoder) integer(c *Column, field *fastjson.Value) (int64, error) {
	num, err := d.number(c, field)
	if err != nil {
		return 0, err
	}
	if n, ok := parseDigits(num); ok {
		return n, nil
	}
	// Too large for an int64: out of range for the column, whatever it is
	// (for a timestamp given in milliseconds, as well).
	rangeErr := fieldError(codeNumericRange, c.Name, c.Type.String()+" out of range")
	if isPlainInteger(num) {
		return 0, rangeErr // digits only, yet no int64: too large
	}
	dec, _, err := apd.NewFromString(string(num))
	if err != nil {
		return 0, rangeErr // an exponent beyond int32
	}
	dec.Reduce(dec)
	if dec.Exponent < 0 {
		return 0, fieldError(codeInvalidText, c.Name, fmt.Sprintf("invalid input syntax for type %s: %q", c.Type, num))
	}
	if int64(dec.Exponent)+dec.NumDigits() > 19 {
		return 0, rangeErr
	}
	n, err := dec.Int64()
	if err != nil {
		return 0, rangeErr
	}
	return n, nil
}

func (d *jsonDecoder) parseTime(i int, c *Column, s []byte, row types.Row) error {
	if c.Type == types.KindDate {
		if len(s) == 10 {
			if days, ok := parseISODate(s); ok {
				row[i] = types.NewDate(int32(days))
				return nil
			}
		}
		return parseText(i, c, s, row)
	}
	wall, offset, _, ok := parseISOTimestamp(s)
	if !ok {
		return parseText(i, c, s, row)
	}
	if c.Type == types.KindTimestamp {
		row[i] = types.NewTimestamp(wall) // Postgres ignores a zone here
	} else {
		row[i] = types.NewTimestampTZ(wall - offset*microsPerSecond)
	}
	return nil
}

// epochMillis stores a timestamp or date given as milliseconds since
// 1970-01-01 00:00:00 UTC.
func epochMillis(i int, c *Column, ms int64, row types.Row) error {
	if c.Type == types.KindDate {
		days := types.FloorDiv(ms, millisPerDay)
		if err := types.CheckDate(days); err != nil {
			return columnError(c, err)
		}
		row[i] = types.NewDate(int32(days))
		return nil
	}
	if ms > math.MaxInt64/1000 || ms < math.MinInt64/1000 {
		return columnError(c, types.ErrTimestampRange)
	}
	if err := types.CheckTimestamp(ms * 1000); err != nil {
		return columnError(c, err)
	}
	if c.Type == types.KindTimestamp {
		row[i] = types.NewTimestamp(ms * 1000)
	} else {
		row[i] = types.NewTimestampTZ(ms * 1000)
	}
	return nil
}

// parseText applies Postgres' text input rules; its errors get the
// column's name.
func parseText(i int, c *Column, s []byte, row types.Row) error {
	v, err := types.ParseText(c.Type, string(s))
	if err != nil {
		return columnError(c, err)
	}
	row[i] = v
	return nil
}

func fieldError(code, column, msg string) error {
	return &types.Error{Code: code, Message: fmt.Sprintf("column %q: %s", column, msg)}
}

// columnError prefixes a types error with the column's name, keeping its
// code.
func columnError(c *Column, err error) error {
	code := codeInvalidText
	var te *types.Error
	if errors.As(err, &te) {
		code = te.Code
	}
	return fieldError(code, c.Name, err.Error())
}

func mismatch(c *Column, expected string, field *fastjson.Value) error {
	return fieldError(codeInvalidText, c.Name, fmt.Sprintf("expected %s for %s, found %s", expected, c.Type, describe(field)))
}

// describe says what a JSON value is, for error messages.
func describe(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return "string " + quoteShort(s)
	case fastjson.TypeNumber:
		return "number " + string(truncate(v.MarshalTo(nil)))
	case fastjson.TypeTrue:
		return "boolean true"
	case fastjson.TypeFalse:
		return "boolean false"
	case fastjson.TypeNull:
		return "null"
	case fastjson.TypeArray:
		return "array"
	}
	return "object"
}

func truncate(b []byte) []byte {
	if len(b) > maxQuotedInMessage {
		return append(b[:maxQuotedInMessage:maxQuotedInMessage], "..."...)
	}
	return b
}

func quoteShort(b []byte) string {
	if len(b) > maxQuotedInMessage {
		return strconv.Quote(strings.ToValidUTF8(string(b[:maxQuotedInMessage]), "")) + "..."
	}
	return strconv.Quote(string(b))
}

// validNumber checks b against JSON's number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return false
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(b)
}

func isPlainInteger(b []byte) bool {
	for _, c := range b {
		if c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return true
}

// parseDigits reads -?[0-9]+ into an int64; ok is false for anything
// else, including overflow.
func parseDigits(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0') // 19 digits fit in a uint64
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true // u == 1<<63 wraps to MinInt64, as intended
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// hasNonZeroMantissa reports whether a number's digits before any
// exponent are not all zero: one that still parsed as 0 underflowed,
// which Postgres' float8in reports as out of range.
func hasNonZeroMantissa(num []byte) bool {
	for _, c := range num {
		if c == 'e' || c == 'E' {
			return false
		}
		if c >= '1' && c <= '9' {
			return true
		}
	}
	return false
}

// specialFloat reads the strings to_json writes for the values JSON
// numbers cannot hold, with Postgres' spelling rules (any case).
func specialFloat(s []byte) (float64, bool) {
	switch {
	case strings.EqualFold(string(s), "NaN"):
		return math.NaN(), true
	case strings.EqualFold(string(s), "Infinity"), strings.EqualFold(string(s), "+Infinity"), strings.EqualFold(string(s), "inf"):
		return math.Inf(1), true
	case strings.EqualFold(string(s), "-Infinity"), strings.EqualFold(string(s), "-inf"):
		return math.Inf(-1), true
	}
	return 0, false
}

// decodeHex reads Postgres' hex bytea form \x0a1B (pairs of hex digits,
// either case) into dst.
func decodeHex(dst []byte, s []byte) ([]byte, bool) {
	if len(s) < 2 || s[0] != '\\' || s[1] != 'x' || len(s)%2 != 0 {
		return dst, false
	}
	for i := 2; i < len(s); i += 2 {
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return dst, false
		}
		dst = append(dst, hi<<4|lo)
	}
	return dst, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
