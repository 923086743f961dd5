package format

import (
	"fmt"
	"strconv"

	"github.com/cockroachdb/apd/v3"
	"github.com/valyala/fastjson"

	"github.com/tide-data/tide/internal/sql/types"
)

// refDecoder is the decoder Tide had before the scanner: fastjson builds
// a tree of the record and the fields are converted from it. It is the
// oracle of the differential tests (json_diff_test.go): the scanner must
// agree with it on every value and every error.
//
// refDecoder reads one JSON object per record. It reuses its parser and
// buffers between records, so one goroutine uses it at a time.
type refDecoder struct {
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

const refByNameThreshold = 16

func newRefDecoder(cols []Column, options map[string]string) (*refDecoder, error) {
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
	d := &refDecoder{
		cols:          cols,
		failOnMissing: failOnMissing,
		ignoreErrors:  ignoreErrors,
		found:         make([]*fastjson.Value, len(cols)),
	}
	if len(cols) > refByNameThreshold {
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
func (d *refDecoder) Decode(data []byte, row types.Row) error {
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
		return &types.Error{Code: codeInvalidText, Message: "invalid JSON record: expected an object, found " + refDescribe(doc)}
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

func (d *refDecoder) visit(key []byte, v *fastjson.Value) {
	if i := d.lookup(key); i >= 0 && d.found[i] == nil {
		d.found[i] = v
	}
}

func (d *refDecoder) lookup(key []byte) int {
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
func (d *refDecoder) convert(i int, c *Column, field *fastjson.Value, row types.Row) error {
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
		return refMismatch(c, "boolean", field)

	case types.KindInt2, types.KindInt4, types.KindInt8:
		if t != fastjson.TypeNumber {
			return refMismatch(c, "number", field)
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
		return refMismatch(c, "number", field)

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
		return refMismatch(c, "number", field)

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
		return refMismatch(c, "string or number", field)

	case types.KindInterval:
		if t != fastjson.TypeString {
			return refMismatch(c, "string", field)
		}
		s, _ := field.StringBytes()
		return parseText(i, c, s, row)

	case types.KindBytea:
		if t != fastjson.TypeString {
			return refMismatch(c, "string", field)
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
func (d *refDecoder) number(c *Column, field *fastjson.Value) ([]byte, error) {
	d.scratch = field.MarshalTo(d.scratch[:0])
	if !validNumber(d.scratch) {
		return nil, fieldError(codeInvalidText, c.Name, fmt.Sprintf("invalid input syntax for type json: number %q", d.scratch))
	}
	return d.scratch, nil
}

// validNumbers checks every number in v against JSON's grammar: the
// parser takes NaN and inf, and so does AppendJSONB's numeric reader.
func (d *refDecoder) validNumbers(v *fastjson.Value) bool {
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
func (d *refDecoder) integer(c *Column, field *fastjson.Value) (int64, error) {
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

func (d *refDecoder) parseTime(i int, c *Column, s []byte, row types.Row) error {
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

func refMismatch(c *Column, expected string, field *fastjson.Value) error {
	return fieldError(codeInvalidText, c.Name, fmt.Sprintf("expected %s for %s, found %s", expected, c.Type, refDescribe(field)))
}

// describe says what a JSON value is, for error messages.
func refDescribe(v *fastjson.Value) string {
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
