package record

import (
	"encoding/binary"
)

// Header is a record header. Header keys cannot be null; a nil Value is a
// null value, distinct from an empty one.
type Header struct {
	Key   string
	Value []byte
}

// Record is one decoded record, or one to encode with AppendBatch.
type Record struct {
	// Offset is absolute: the batch's BaseOffset plus the record's
	// offset delta.
	Offset int64
	// Timestamp is absolute, in milliseconds since the Unix epoch: the
	// batch's BaseTimestamp plus the record's timestamp delta, or the
	// batch's MaxTimestamp when the batch uses LogAppendTime.
	Timestamp int64
	// Key and Value are nil for null, distinct from empty.
	Key, Value []byte
	Headers    []Header
}

// DecodeRecords validates the whole batch b as Validate does, then decodes
// every record, decompressing the records section first if needed with
// the result capped at maxDecompressed bytes (an error wrapping
// ErrTooLarge beyond; the cap does not apply to uncompressed batches,
// which are already in memory).
//
// Each record is checked: its length covers exactly its fields, key and
// value lengths are -1 (null) or within the record, the header count is
// not negative and header keys are not null, offset deltas rise strictly
// and stay within [0, LastOffsetDelta], and the records fill the section
// exactly, NumRecords of them. Record attributes are ignored.
//
// Ownership: for an uncompressed batch, Key, Value and header values alias
// b, so b must not be modified or reused while the records are in use. For
// a compressed batch they alias one new buffer owned by the records.
// Header keys are always copied. The slices are capped at their length, so
// appending to one never overwrites its neighbour.
//
// Memory use is bounded by the input (or maxDecompressed) times a small
// constant whatever the record count and lengths claim.
func DecodeRecords(b []byte, maxDecompressed int) (BatchHeader, []Record, error) {
	it, err := NewIter(b, maxDecompressed)
	if err != nil {
		return BatchHeader{}, nil, err
	}
	recs := make([]Record, 0, it.Len())
	var headers []Header // one backing array for all records, sliced per record
	for {
		var r Record
		var ok bool
		headers, ok, err = it.Next(&r, headers)
		if err != nil {
			return BatchHeader{}, nil, err
		}
		if !ok {
			return it.Header(), recs, nil
		}
		recs = append(recs, r)
	}
}

// Iter decodes the records of one batch one at a time, for a reader that
// keeps them in a form of its own and would only copy DecodeRecords'
// slice. It checks what DecodeRecords checks, as it goes; the ownership
// rules are DecodeRecords'.
type Iter struct {
	h   BatchHeader
	it  recordIter
	raw rawRecord // the record being decoded
	n   int       // records the section can hold, at most
}

// NewIter validates the frame of the batch b (CRC included) and
// decompresses its records section if needed, capped at maxDecompressed.
func NewIter(b []byte, maxDecompressed int) (Iter, error) {
	h, err := validateFrame(b)
	if err != nil {
		return Iter{}, err
	}
	data := b[BatchHeaderSize:]
	if c := h.Codec(); c != CodecNone {
		if data, err = Decompress(c, data, maxDecompressed); err != nil {
			return Iter{}, err
		}
	}
	// Hostile counts cannot make Len large: every record takes bytes.
	n := min(int(max(h.NumRecords, 0)), len(data)/minRecordSize)
	return Iter{h: h, it: newRecordIter(h, data), n: n}, nil
}

// Header is the batch's header.
func (it *Iter) Header() BatchHeader { return it.h }

// Len bounds the records the batch holds, for sizing what they go into.
func (it *Iter) Len() int { return it.n }

// Next decodes the next record into r, ok false after the last. Its
// headers are appended to headers, which is returned, and r.Headers slices
// it (capped, so appending more never overwrites them). r is filled in
// place rather than returned: a struct of this size returned by value is
// spilled and copied back, a stall per record on the read path.
func (it *Iter) Next(r *Record, headers []Header) (_ []Header, ok bool, err error) {
	raw := &it.raw
	if ok, err = it.it.next(raw); err != nil || !ok {
		return headers, false, err
	}
	h := &it.h
	r.Offset = h.BaseOffset + int64(raw.offsetDelta)
	r.Timestamp = h.BaseTimestamp + raw.timestampDelta
	if h.LogAppendTime() {
		r.Timestamp = h.MaxTimestamp
	}
	r.Key, r.Value, r.Headers = raw.key, raw.value, nil
	if raw.numHeaders > 0 {
		start := len(headers)
		headers = appendHeaders(headers, raw.headers, raw.numHeaders)
		r.Headers = headers[start:len(headers):len(headers)]
	}
	return headers, true, nil
}

// minRecordSize is the smallest encoded record: a one-byte length, then
// attributes, timestamp delta, offset delta, key length, value length and
// header count of one byte each.
const minRecordSize = 7

// minHeaderSize is the smallest encoded header: key and value lengths.
const minHeaderSize = 2

// rawRecord is a record parsed in place; its slices alias the records
// section.
type rawRecord struct {
	timestampDelta int64
	offsetDelta    int32
	key, value     []byte
	numHeaders     int
	headers        []byte // numHeaders encoded headers, already checked
}

// recordIter walks the records section of a batch without allocating,
// checking each record and the section as a whole.
type recordIter struct {
	rest       []byte
	numRecords int32
	read       int32
	prevDelta  int64 // offset delta of the previous record, -1 before the first
	lastDelta  int32 // the batch's LastOffsetDelta
}

func newRecordIter(h BatchHeader, records []byte) recordIter {
	return recordIter{rest: records, numRecords: h.NumRecords, prevDelta: -1, lastDelta: h.LastOffsetDelta}
}

// next parses the next record into r, or returns ok false after the last
// one once the section is known to hold nothing more.
func (it *recordIter) next(r *rawRecord) (ok bool, err error) {
	if it.read == it.numRecords {
		if len(it.rest) != 0 {
			return false, corruptf("%d bytes after the last of %d records", len(it.rest), it.numRecords)
		}
		return false, nil
	}
	if len(it.rest) == 0 {
		return false, corruptf("batch claims %d records but holds %d", it.numRecords, it.read)
	}
	n, err := parseRecord(it.rest, it.read, r)
	if err != nil {
		return false, err
	}
	if r.offsetDelta < 0 {
		return false, corruptf("record %d: negative offset delta %d", it.read, r.offsetDelta)
	}
	if int64(r.offsetDelta) <= it.prevDelta {
		return false, corruptf("record %d: offset delta %d does not follow %d", it.read, r.offsetDelta, it.prevDelta)
	}
	if r.offsetDelta > it.lastDelta {
		return false, corruptf("record %d: offset delta %d beyond the batch's last offset delta %d", it.read, r.offsetDelta, it.lastDelta)
	}
	it.prevDelta = int64(r.offsetDelta)
	it.rest = it.rest[n:]
	it.read++
	return true, nil
}

// parseRecord parses the record at the start of b into r, returning its
// encoded size. idx numbers the record in error messages; on an error r
// holds part of the record.
func parseRecord(b []byte, idx int32, r *rawRecord) (size int, err error) {
	length, n := readVarint(b)
	if n <= 0 {
		return 0, corruptf("record %d: malformed length", idx)
	}
	if length < 1 || int64(length) > int64(len(b)-n) {
		return 0, corruptf("record %d: length %d with %d bytes left", idx, length, len(b)-n)
	}
	size = n + int(length)
	body := b[n:size:size]
	p := 1 // attributes: unused
	var m int
	if r.timestampDelta, m = binary.Varint(body[p:]); m <= 0 {
		return 0, corruptf("record %d: malformed timestamp delta", idx)
	}
	p += m
	if r.offsetDelta, m = readVarint(body[p:]); m <= 0 {
		return 0, corruptf("record %d: malformed offset delta", idx)
	}
	p += m
	var ok bool
	if r.key, p, ok = readBytes(body, p); !ok {
		return 0, corruptf("record %d: malformed key", idx)
	}
	if r.value, p, ok = readBytes(body, p); !ok {
		return 0, corruptf("record %d: malformed value", idx)
	}
	count, m := readVarint(body[p:])
	if m <= 0 || count < 0 || int64(count) > int64(len(body)-p-m)/minHeaderSize {
		return 0, corruptf("record %d: malformed header count", idx)
	}
	p += m
	start := p
	for i := range int(count) {
		var key []byte
		if key, p, ok = readBytes(body, p); !ok || key == nil {
			return 0, corruptf("record %d: header %d: malformed or null key", idx, i)
		}
		if _, p, ok = readBytes(body, p); !ok {
			return 0, corruptf("record %d: header %d: malformed value", idx, i)
		}
	}
	if p != len(body) {
		return 0, corruptf("record %d: %d bytes after its fields", idx, len(body)-p)
	}
	r.numHeaders = int(count)
	r.headers = body[start:]
	return size, nil
}

// appendHeaders decodes n headers that parseRecord has already checked.
func appendHeaders(dst []Header, b []byte, n int) []Header {
	p := 0
	for range n {
		var key, value []byte
		var ok bool
		if key, p, ok = readBytes(b, p); !ok {
			break // cannot happen after parseRecord; never panic regardless
		}
		if value, p, ok = readBytes(b, p); !ok {
			break
		}
		dst = append(dst, Header{Key: string(key), Value: value})
	}
	return dst
}

// readBytes reads a varint length and that many bytes at b[p:]: nil for
// length -1, a slice capped at its length otherwise. ok is false if the
// length is malformed, below -1 or runs past b.
func readBytes(b []byte, p int) (v []byte, next int, ok bool) {
	l, n := readVarint(b[p:])
	if n <= 0 || l < -1 {
		return nil, p, false
	}
	p += n
	if l == -1 {
		return nil, p, true
	}
	if int64(l) > int64(len(b)-p) {
		return nil, p, false
	}
	end := p + int(l)
	return b[p:end:end], end, true
}

// readVarint reads a zig-zag varint of at most 5 bytes, Kafka's int32
// varint. n is the bytes read, or <= 0 if b ends first or the encoding
// overflows 32 bits.
func readVarint(b []byte) (v int32, n int) {
	if len(b) > 0 && b[0] < 0x80 {
		x := uint32(b[0])
		return int32(x>>1) ^ -int32(x&1), 1
	}
	var x uint32
	for i := 0; i < 5 && i < len(b); i++ {
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, -1
		}
		x |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int32(x>>1) ^ -int32(x&1), i + 1
		}
	}
	return 0, 0
}
