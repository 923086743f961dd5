package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

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

// jsonDecoder reads one JSON object per record in one pass over its
// bytes (see json_scan.go for the lexer and the package doc for why):
// each top-level key is looked up among the columns, the value of a
// column is converted where it lies, and any other value is skipped,
// checked but not built. It reuses its buffers between records, so one
// goroutine uses it at a time.
type jsonDecoder struct {
	cols []Column

	failOnMissing bool
	ignoreErrors  bool

	// Key lookup: the column after the last match is tried first (fields
	// usually come in the same order record after record), straight
	// against the record's bytes (see matchNext); then slots, a perfect
	// hash of the column names (keyHash); then byName, a map made only
	// when no perfect hash was found.
	next      int
	names     []keyPattern
	slots     []int32 // column index, or -1
	hashMul   uint32
	hashShift uint8
	byName    map[string]int

	// seen[i] says column i's field was met in the current record: the
	// first of repeated names wins.
	seen []bool
	// unread[i] says column i is left NULL, its value skipped (Project).
	unread []bool

	// The text and json of a record are gathered in arena and turned into
	// one string at the end: one allocation per record.
	arena   []byte
	spans   []span
	scratch []byte // unescaped strings and keys
	hex     []byte // decoded bytea

	// parser is fastjson's, for what is off the hot path: the canonical
	// text of json values, and the messages of records that do not parse
	// (the scanner accepts what fastjson accepts, so fastjson's message is
	// the one the record has always had).
	parser fastjson.Parser
}

// span is a string value of column col waiting in arena[start:end].
type span struct {
	col        int
	start, end int
}

var _ ProjectingDecoder = (*jsonDecoder)(nil)

// Project builds only the columns read marks (see ProjectingDecoder);
// with json.fail-on-missing-field every column is still built.
func (d *jsonDecoder) Project(read []bool) {
	d.unread = nil
	if d.failOnMissing {
		return
	}
	for i := range d.cols {
		if i >= len(read) || !read[i] {
			if d.unread == nil {
				d.unread = make([]bool, len(d.cols))
			}
			d.unread[i] = true
		}
	}
}

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
		seen:          make([]bool, len(cols)),
		names:         make([]keyPattern, len(cols)),
	}
	for i, c := range cols {
		d.names[i] = newKeyPattern(c.Name)
	}
	if !d.buildSlots() {
		d.byName = make(map[string]int, len(cols))
		for i, c := range cols {
			d.byName[c.Name] = i
		}
	}
	return d, nil
}

// keyHash mixes a key's length, first, middle and last bytes; names are
// non-empty (prepare checks), a key may be empty.
func keyHash(key string, mul uint32, shift uint8) uint32 {
	n := len(key)
	if n == 0 {
		return 0
	}
	x := uint32(n) | uint32(key[0])<<8 | uint32(key[n/2])<<16 | uint32(key[n-1])<<24
	return (x * mul) >> shift
}

// buildSlots looks for a multiplier that gives every column its own slot
// in a table of 2 to 8 times as many slots as columns; false if there is
// none (names alike in length and in those bytes).
func (d *jsonDecoder) buildSlots() bool {
	if len(d.cols) == 0 {
		return false
	}
	minBits := bits.Len(uint(len(d.cols)))
	for b := minBits + 1; b <= minBits+3 && b <= 16; b++ {
		size := 1 << b
		slots := make([]int32, size)
		mul := uint32(0x9E3779B1) // golden ratio, then odd neighbours
	seeds:
		for range 64 {
			mul += 2
			for i := range slots {
				slots[i] = -1
			}
			for i, c := range d.cols {
				h := keyHash(c.Name, mul, uint8(32-b))
				if slots[h] >= 0 {
					continue seeds
				}
				slots[h] = int32(i)
			}
			d.slots, d.hashMul, d.hashShift = slots, mul, uint8(32-b)
			return true
		}
	}
	return false
}

// keyPattern matches a column's name, and the quote that closes it, in
// a record's bytes, with one or two 8-byte loads for a name of up to 15
// bytes.
type keyPattern struct {
	// head is the first 8 bytes of name+`"` (little-endian), masked by
	// mask when shorter; tail is its last 8 bytes when longer (the two
	// loads overlap for lengths 10 to 15), and rest what lies past the
	// first 8 bytes of a name longer than 15.
	head, mask, tail uint64
	rest             string
	// n is the length of name+`"`; 0 for a name holding '"' or '\\',
	// which cannot appear unescaped: only the slow path finds it.
	n int
}

func newKeyPattern(name string) keyPattern {
	if strings.ContainsAny(name, `"\\`) {
		return keyPattern{}
	}
	quoted := name + `"`
	p := keyPattern{n: len(quoted)}
	for k := 0; k < len(quoted) && k < 8; k++ {
		p.head |= uint64(quoted[k]) << (8 * k)
		p.mask |= 0xff << (8 * k)
	}
	switch {
	case len(quoted) > 16:
		p.rest = quoted[8:]
	case len(quoted) > 8:
		p.tail = binary.LittleEndian.Uint64([]byte(quoted[len(quoted)-8:]))
	}
	return p
}

// matchNext reports whether the key whose contents start at data[i] is
// the name of column n, and returns the index of its closing quote.
// When it is, the key needs no scanning: the name holds neither '"' nor
// '\\', so the first quote after it ends the key. Near the end of the
// record (fewer than 8 bytes left) it says no, and the slow path decides.
func (d *jsonDecoder) matchNext(data []byte, i, n int) (col, end int) {
	if n >= len(d.names) {
		return -1, 0
	}
	p := &d.names[n]
	if p.n == 0 || len(data)-i < 8 || len(data)-i < p.n {
		return -1, 0
	}
	if binary.LittleEndian.Uint64(data[i:])&p.mask != p.head {
		return -1, 0
	}
	switch {
	case p.rest != "":
		if string(data[i+8:i+p.n]) != p.rest {
			return -1, 0
		}
	case p.n > 8:
		if binary.LittleEndian.Uint64(data[i+p.n-8:]) != p.tail {
			return -1, 0
		}
	}
	return n, i + p.n - 1
}

// column returns the index of the column named key, or -1.
func (d *jsonDecoder) column(key []byte) int {
	if n := d.next; n < len(d.cols) && d.cols[n].Name == string(key) {
		d.next = n + 1
		return n
	}
	if d.byName != nil {
		if i, ok := d.byName[string(key)]; ok {
			d.next = i + 1
			return i
		}
		return -1
	}
	if len(key) == 0 {
		return -1
	}
	// string(key) in a comparison or call argument that does not escape
	// does not allocate.
	if i := d.slots[keyHash(string(key), d.hashMul, d.hashShift)]; i >= 0 && d.cols[i].Name == string(key) {
		d.next = int(i) + 1
		return int(i)
	}
	return -1
}

// Decode fills row[0:len(cols)] from one JSON object. The error is a
// *types.Error naming the column, or ErrSkip (see the package doc).
//
// Errors come out as they did when fastjson parsed the record first and
// the columns were converted after, in column order: a record that does
// not parse is a syntax error even if a field before the bad byte did not
// convert, and of several bad fields the first column's error is the one
// reported.
func (d *jsonDecoder) Decode(data []byte, row types.Row) error {
	if len(row) < len(d.cols) {
		return fmt.Errorf("format json: row has room for %d values, %d columns", len(row), len(d.cols))
	}
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return d.recordError(data)
	}
	clear(d.seen)
	d.next = 0
	d.arena = d.arena[:0]
	d.spans = d.spans[:0]
	var firstErr error
	errCol := len(d.cols) // the column of firstErr

	if i = skipSpace(data, i+1); i >= len(data) {
		return d.recordError(data)
	}
	if data[i] == '}' {
		i++
	} else {
		for {
			if data[i] != '"' {
				return d.recordError(data)
			}
			col, keyEnd := d.matchNext(data, i+1, d.next)
			if col >= 0 {
				d.next = col + 1
				if d.unread != nil && d.unread[col] {
					col = -1 // skipped as an unknown key's value; NULL at the end
				}
			} else {
				var escaped bool
				if keyEnd, escaped, _ = scanString(data, i+1); keyEnd < 0 {
					return d.recordError(data)
				}
				key := data[i+1 : keyEnd]
				if escaped {
					d.scratch = unescapeBestEffort(d.scratch[:0], key)
					key = d.scratch
				}
				if col = d.column(key); col >= 0 && d.unread != nil && d.unread[col] {
					col = -1
				}
			}
			if i = skipSpace(data, keyEnd+1); i >= len(data) || data[i] != ':' {
				return d.recordError(data)
			}
			i = skipSpace(data, i+1)
			if col >= 0 && !d.seen[col] {
				d.seen[col] = true
				tok, end, ok := scanValue(data, i, 2)
				if !ok {
					return d.recordError(data)
				}
				i = end
				if col < errCol { // else its error would not be the one reported
					mark, marks := len(d.arena), len(d.spans)
					if err := d.convert(col, &d.cols[col], &tok, row); err != nil {
						if d.ignoreErrors {
							d.arena, d.spans = d.arena[:mark], d.spans[:marks]
							row[col] = types.Null(d.cols[col].Type)
						} else {
							firstErr, errCol = err, col
						}
					}
				}
			} else {
				end, ok := skipValue(data, i, 2)
				if !ok {
					return d.recordError(data)
				}
				i = end
			}
			if i = skipSpace(data, i); i >= len(data) {
				return d.recordError(data)
			}
			if data[i] == ',' {
				if i = skipSpace(data, i+1); i >= len(data) {
					return d.recordError(data)
				}
				continue
			}
			if data[i] != '}' {
				return d.recordError(data)
			}
			i++
			break
		}
	}
	if skipSpace(data, i) != len(data) {
		return d.recordError(data)
	}

	for c, seen := range d.seen {
		if seen {
			continue
		}
		if d.failOnMissing {
			if c < errCol {
				firstErr = fieldError(codeInvalidText, d.cols[c].Name, "field missing from the record")
			}
			break // later columns cannot come first
		}
		row[c] = types.Null(d.cols[c].Type)
	}
	if firstErr != nil {
		return firstErr
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

// recordError is the error of a record that is not a JSON object: with
// fastjson's message when it does not parse, as before the scanner.
func (d *jsonDecoder) recordError(data []byte) error {
	if d.ignoreErrors {
		return ErrSkip
	}
	doc, err := d.parser.ParseBytes(data)
	if err != nil {
		return &types.Error{Code: codeInvalidText, Message: "invalid input syntax for type json: " + err.Error()}
	}
	start := skipSpace(data, 0)
	tok, _, ok := scanValue(data, start, 1)
	if doc.Type() == fastjson.TypeObject || !ok {
		// fastjson takes what the scanner did not: a bug in the scanner,
		// which the differential tests hunt for.
		return &types.Error{Code: codeInvalidText, Message: "invalid input syntax for type json"}
	}
	return &types.Error{Code: codeInvalidText, Message: "invalid JSON record: expected an object, found " + d.describe(&tok)}
}

// text returns a string token's contents, unescaped; the bytes may live
// in d.scratch until the next call.
func (d *jsonDecoder) text(tok *token) []byte {
	s := tok.contents()
	if !tok.escaped {
		return s
	}
	d.scratch = unescapeBestEffort(d.scratch[:0], s)
	return d.scratch
}

// convert stores tok's value in row[i], or queues it in the arena.
func (d *jsonDecoder) convert(i int, c *Column, tok *token, row types.Row) error {
	if tok.kind == tokenNull {
		row[i] = types.Null(c.Type)
		return nil
	}
	switch c.Type {
	case types.KindBool:
		switch tok.kind {
		case tokenTrue:
			row[i] = types.NewBool(true)
			return nil
		case tokenFalse:
			row[i] = types.NewBool(false)
			return nil
		}
		return d.mismatch(c, "boolean", tok)

	case types.KindInt2, types.KindInt4, types.KindInt8:
		if tok.kind != tokenNumber {
			return d.mismatch(c, "number", tok)
		}
		n, ok := smallInteger(tok.text)
		if !ok {
			var err error
			if n, err = integer(c, tok.text); err != nil {
				return err
			}
		}
		if err := types.CheckIntRange(c.Type, n); err != nil {
			return fieldError(codeNumericRange, c.Name, c.Type.String()+" out of range")
		}
		row[i] = types.NewInt(c.Type, n)
		return nil

	case types.KindFloat8:
		switch tok.kind {
		case tokenNumber:
			num := tok.text
			if f, ok := shortDecimal(num); ok {
				row[i] = types.NewFloat8(f)
				return nil
			}
			if !validNumber(num) {
				return numberSyntaxError(c, num)
			}
			// The string does not outlive the call (ParseFloat's errors
			// copy their input), and num is not modified during it.
			f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(num), len(num)), 64)
			if err != nil || (f == 0 && hasNonZeroMantissa(num)) {
				return fieldError(codeNumericRange, c.Name, fmt.Sprintf("%q is out of range for type double precision", num))
			}
			row[i] = types.NewFloat8(f)
			return nil
		case tokenString:
			if f, ok := specialFloat(d.text(tok)); ok {
				row[i] = types.NewFloat8(f)
				return nil
			}
		}
		return d.mismatch(c, "number", tok)

	case types.KindNumeric:
		switch tok.kind {
		case tokenNumber:
			num := tok.text
			if !validNumber(num) {
				return numberSyntaxError(c, num)
			}
			dec, err := types.ParseNumeric(string(num))
			if err != nil {
				return columnError(c, err)
			}
			row[i] = types.NewNumeric(dec)
			return nil
		case tokenString:
			s := d.text(tok)
			if _, ok := specialFloat(s); ok {
				dec, err := types.ParseNumeric(string(s))
				if err != nil {
					return columnError(c, err)
				}
				row[i] = types.NewNumeric(dec)
				return nil
			}
		}
		return d.mismatch(c, "number", tok)

	case types.KindText, types.KindJSON:
		start := len(d.arena)
		if tok.kind == tokenString && c.Type == types.KindText {
			if tok.plain {
				d.arena = append(d.arena, tok.contents()...)
			} else {
				d.arena = unescapeBestEffort(d.arena, tok.contents())
				if err := checkText(d.arena[start:]); err != nil {
					d.arena = d.arena[:start]
					return columnError(c, err)
				}
			}
		} else {
			// A json column, and a text column given anything but a
			// string, get jsonb's canonical text: what ->> (text) and ->
			// (jsonb) give. fastjson reads the value for types.AppendJSONB.
			v, err := d.parser.ParseBytes(tok.text)
			if err != nil || !validNumbers(v) {
				return fieldError(codeInvalidText, c.Name, "invalid input syntax for type json")
			}
			if d.arena, err = types.AppendJSONB(d.arena, v); err != nil {
				d.arena = d.arena[:start]
				return columnError(c, err)
			}
		}
		d.spans = append(d.spans, span{col: i, start: start, end: len(d.arena)})
		return nil

	case types.KindTimestamp, types.KindTimestampTZ, types.KindDate:
		switch tok.kind {
		case tokenString:
			return parseTime(i, c, d.text(tok), row)
		case tokenNumber:
			ms, err := integer(c, tok.text)
			if err != nil {
				return err
			}
			return epochMillis(i, c, ms, row)
		}
		return d.mismatch(c, "string or number", tok)

	case types.KindInterval:
		if tok.kind != tokenString {
			return d.mismatch(c, "string", tok)
		}
		return parseText(i, c, d.text(tok), row)

	case types.KindBytea:
		if tok.kind != tokenString {
			return d.mismatch(c, "string", tok)
		}
		s := d.text(tok)
		if b, ok := decodeHex(d.hex[:0], s); ok {
			d.hex = b
			row[i] = types.NewBytea(b) // a copy
			return nil
		}
		return parseText(i, c, s, row) // Postgres' escape format, or its error
	}
	return fieldError(codeInvalidText, c.Name, "cannot decode type "+c.Type.String())
}

func numberSyntaxError(c *Column, num []byte) error {
	return fieldError(codeInvalidText, c.Name, fmt.Sprintf("invalid input syntax for type json: number %q", num))
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
// parser takes NaN and inf.
func validNumbers(v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeNumber:
		return validNumber(v.MarshalTo(nil))
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, e := range a {
			if !validNumbers(e) {
				return false
			}
		}
	case fastjson.TypeObject:
		o, _ := v.Object()
		ok := true
		o.Visit(func(_ []byte, e *fastjson.Value) {
			ok = ok && validNumbers(e)
		})
		return ok
	}
	return true
}

// smallInteger is integer's fast path: -?(0|[1-9][0-9]{0,17}), which
// always fits an int64. ok is false for anything else.
func smallInteger(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c -= '0'; c > 9 {
			return 0, false
		}
		n = n*10 + int64(c)
	}
	if neg {
		n = -n
	}
	return n, true
}

// pow10 holds the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// shortDecimal is the fast path of a double precision: a JSON number
// without an exponent and with at most 15 digits. Its digits as an
// integer m and its power of ten 10^k are exact float64s (m < 2^53,
// k <= 22), so m / 10^k, one correctly rounded division, is the float64
// nearest the number: what strconv.ParseFloat gives (Clinger's fast
// path). ok is false for anything else.
func shortDecimal(b []byte) (float64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 16 { // 15 digits and a point
		return 0, false
	}
	var m uint64
	i := 0
	if b[0] == '0' {
		i = 1
	} else {
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			m = m*10 + uint64(b[i]-'0')
		}
		if i == 0 {
			return 0, false
		}
	}
	frac := 0
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			m = m*10 + uint64(b[i]-'0')
			frac++
		}
		if frac == 0 {
			return 0, false
		}
	}
	if i != len(b) || m > 1<<53 {
		return 0, false // an exponent, a leading zero, 16 digits, or not a number
	}
	f := float64(m) / pow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

// integer reads a number with an integral value (1, -7, 1.0, 1e3) into
// an int64.
func integer(c *Column, num []byte) (int64, error) {
	if !validNumber(num) {
		return 0, numberSyntaxError(c, num)
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

func parseTime(i int, c *Column, s []byte, row types.Row) error {
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

func (d *jsonDecoder) mismatch(c *Column, expected string, tok *token) error {
	return fieldError(codeInvalidText, c.Name, fmt.Sprintf("expected %s for %s, found %s", expected, c.Type, d.describe(tok)))
}

// describe says what a JSON value is, for error messages.
func (d *jsonDecoder) describe(tok *token) string {
	switch tok.kind {
	case tokenString:
		return "string " + quoteShort(unescapeBestEffort(nil, tok.contents()))
	case tokenNumber:
		return "number " + string(truncate(bytes.Clone(tok.text)))
	case tokenTrue:
		return "boolean true"
	case tokenFalse:
		return "boolean false"
	case tokenNull:
		return "null"
	case tokenArray:
		return "array"
	}
	return "object"
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
