package pgvalue

import "bytes"

// SplitCopyRow splits line, one row of COPY's text format (default
// options: a tab between fields, NULL as \N) without its newline, into
// its fields' texts, unescaped: \b \f \n \r \t \v and \\; \ooo with 1 to
// 3 octal digits and \xhh with 1 or 2 hex digits as that byte; any other
// escaped byte, the tab included, as itself.
//
// It appends one entry per field to fields and to nulls, and returns
// them: a field that is exactly \N is NULL, a nil field with nulls true;
// any other is non-nil, empty or not. Fields without escapes point into
// line; the others into buf, to which SplitCopyRow appends their
// unescaped bytes and which it returns grown. Pass the slices of the
// previous call truncated to [:0] to split without allocating. The
// fields stay valid until line or buf is modified: a later call given
// buf[:0] overwrites those of this one.
//
// An unescaped newline in line, or a backslash at its end, is a
// *SyntaxError; then the slices are returned with what was appended.
func SplitCopyRow(line []byte, fields [][]byte, nulls []bool, buf []byte) ([][]byte, []bool, []byte, error) {
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		return fields, nulls, buf, &SyntaxError{Offset: i, Reason: "newline in the line"}
	}
	next := indexFrom(line, 0, '\\') // the first backslash at or after start
	for start := 0; ; {
		end := indexFrom(line, start, '\t')
		switch {
		case end <= next: // no escapes: the field is line's bytes
			f := line[start:end:end]
			if f == nil {
				f = []byte{} // not NULL; no allocation for zero bytes
			}
			fields, nulls = append(fields, f), append(nulls, false)
		case next == start && next+1 < len(line) && line[next+1] == 'N' && (next+2 == len(line) || line[next+2] == '\t'):
			fields, nulls = append(fields, nil), append(nulls, true)
			end = next + 2
		default: // a backslash, which may escape a tab: scan byte by byte
			b := len(buf)
			buf = append(buf, line[start:next]...)
			var err error
			if buf, end, err = unescapeCopy(buf, line, next); err != nil {
				return fields, nulls, buf, err
			}
			fields, nulls = append(fields, buf[b:len(buf):len(buf)]), append(nulls, false)
		}
		if end == len(line) {
			return fields, nulls, buf, nil
		}
		if next < end {
			next = indexFrom(line, end, '\\')
		}
		start = end + 1
	}
}

// indexFrom returns the index of the first c in line at or after i, or
// len(line).
func indexFrom(line []byte, i int, c byte) int {
	if j := bytes.IndexByte(line[i:], c); j >= 0 {
		return i + j
	}
	return len(line)
}

// unescapeCopy appends the unescaped bytes of the field in line from i up
// to the next unescaped tab, and returns the tab's index (or len(line)).
func unescapeCopy(buf, line []byte, i int) ([]byte, int, error) {
	for i < len(line) {
		run := i
		for i < len(line) && line[i] != '\\' && line[i] != '\t' {
			i++
		}
		buf = append(buf, line[run:i]...)
		if i == len(line) || line[i] == '\t' {
			break
		}
		if i++; i == len(line) {
			return buf, i, &SyntaxError{Offset: i - 1, Reason: `"\" at the end of the line`}
		}
		c := line[i]
		i++
		switch c {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'v':
			c = '\v'
		case '0', '1', '2', '3', '4', '5', '6', '7':
			c -= '0'
			for k := 0; k < 2 && i < len(line) && isOctal(line[i]); k++ {
				c = c<<3 | (line[i] - '0') // wraps as Postgres' "& 0377"
				i++
			}
		case 'x':
			if i < len(line) && unhex[line[i]] <= 0xf {
				c = unhex[line[i]]
				if i++; i < len(line) && unhex[line[i]] <= 0xf {
					c = c<<4 | unhex[line[i]]
					i++
				}
			}
		}
		buf = append(buf, c)
	}
	return buf, i, nil
}
