package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"
)

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

// sampleRecords covers the edge cases of the record encoding: null versus
// empty keys, values and header values, a timestamp before the base one
// (negative delta), multi-byte varint lengths.
func sampleRecords() []Record {
	return []Record{
		{Timestamp: 1_700_000_000_000, Key: []byte("k1"), Value: []byte("v1")},
		{Timestamp: 1_700_000_000_005, Key: nil, Value: []byte{}},
		{Timestamp: 1_699_999_999_990, Key: []byte{}, Value: nil, Headers: []Header{
			{Key: "h", Value: []byte("x")}, {Key: "", Value: nil}, {Key: "empty", Value: []byte{}},
		}},
		{Timestamp: 1_700_000_000_100, Key: bytes.Repeat([]byte("K"), 300), Value: bytes.Repeat([]byte("value "), 5000)},
		{Timestamp: -5, Key: nil, Value: nil},
	}
}

// randomRecords returns n records with seeded random, partly compressible
// contents: random key/value nullness, lengths and header counts.
func randomRecords(rng *rand.Rand, n int) []Record {
	recs := make([]Record, n)
	ts := rng.Int64N(1 << 42)
	for i := range recs {
		ts += rng.Int64N(2000) - 500
		recs[i] = Record{Timestamp: ts, Key: randomBytes(rng, 40), Value: randomBytes(rng, 3000)}
		for range rng.IntN(4) {
			recs[i].Headers = append(recs[i].Headers, Header{Key: fmt.Sprintf("h%d", rng.IntN(100)), Value: randomBytes(rng, 20)})
		}
	}
	return recs
}

func randomBytes(rng *rand.Rand, maxLen int) []byte {
	switch rng.IntN(8) {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	b := make([]byte, rng.IntN(maxLen+1))
	words := []string{"tide ", "kafka ", "batch ", "record ", "offset ", "\x00\x01", "zzzz"}
	for i := 0; i < len(b); {
		i += copy(b[i:], words[rng.IntN(len(words))])
	}
	return b
}

// recordsEqual compares decoded records with what was encoded, including
// nil versus empty, and checks offsets are base+index (or kept).
func recordsEqual(t testing.TB, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Offset != w.Offset || g.Timestamp != w.Timestamp {
			t.Fatalf("record %d: offset/timestamp %d/%d, want %d/%d", i, g.Offset, g.Timestamp, w.Offset, w.Timestamp)
		}
		bytesEqual(t, fmt.Sprintf("record %d key", i), g.Key, w.Key)
		bytesEqual(t, fmt.Sprintf("record %d value", i), g.Value, w.Value)
		if len(g.Headers) != len(w.Headers) {
			t.Fatalf("record %d: %d headers, want %d", i, len(g.Headers), len(w.Headers))
		}
		for j := range w.Headers {
			if g.Headers[j].Key != w.Headers[j].Key {
				t.Fatalf("record %d header %d: key %q, want %q", i, j, g.Headers[j].Key, w.Headers[j].Key)
			}
			bytesEqual(t, fmt.Sprintf("record %d header %d value", i, j), g.Headers[j].Value, w.Headers[j].Value)
		}
	}
}

func bytesEqual(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Fatalf("%s: nil %v, want nil %v", what, got == nil, want == nil)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %q, want %q", what, trunc(got), trunc(want))
	}
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// withOffsets returns recs with Offset set to base+i, as decoding reports.
func withOffsets(recs []Record, base int64) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		r.Offset = base + int64(i)
		out[i] = r
	}
	return out
}

func mustAppend(t testing.TB, recs []Record, opts BatchOptions) []byte {
	t.Helper()
	b, err := AppendBatch(nil, recs, opts)
	if err != nil {
		t.Fatalf("AppendBatch: %v", err)
	}
	return b
}

// fixCRC recomputes the CRC of the batch at the start of b, so that tests
// and fuzzers can reach the checks behind it.
func fixCRC(b []byte) {
	if len(b) >= BatchHeaderSize {
		binary.BigEndian.PutUint32(b[OffsetCRC:], crc32.Checksum(b[OffsetAttributes:], crc32.MakeTable(crc32.Castagnoli)))
	}
}

// rawBatch assembles a batch from a header and an already encoded records
// section, filling in Length and the CRC, with none of AppendBatch's
// checks: for building malformed batches.
func rawBatch(h BatchHeader, records []byte) []byte {
	b := make([]byte, BatchHeaderSize, BatchHeaderSize+len(records))
	be := binary.BigEndian
	be.PutUint64(b[OffsetBaseOffset:], uint64(h.BaseOffset))
	be.PutUint32(b[OffsetLength:], uint32(BatchHeaderSize-12+len(records)))
	be.PutUint32(b[OffsetLeaderEpoch:], uint32(h.PartitionLeaderEpoch))
	b[OffsetMagic] = byte(h.Magic)
	be.PutUint16(b[OffsetAttributes:], uint16(h.Attributes))
	be.PutUint32(b[OffsetLastOffsetDelta:], uint32(h.LastOffsetDelta))
	be.PutUint64(b[OffsetBaseTimestamp:], uint64(h.BaseTimestamp))
	be.PutUint64(b[OffsetMaxTimestamp:], uint64(h.MaxTimestamp))
	be.PutUint64(b[OffsetProducerID:], uint64(h.ProducerID))
	be.PutUint16(b[OffsetProducerEpoch:], uint16(h.ProducerEpoch))
	be.PutUint32(b[OffsetBaseSequence:], uint32(h.BaseSequence))
	be.PutUint32(b[OffsetNumRecords:], uint32(h.NumRecords))
	b = append(b, records...)
	fixCRC(b)
	return b
}

// rec encodes one record field by field, independently of build.go, so
// that malformed records can be written: each argument is either an int
// (written as a varint), a string (raw bytes) or []byte (raw bytes).
// The record's length prefix is computed unless lengthOverride is set.
func rec(fields ...any) []byte {
	var body []byte
	for _, f := range fields {
		switch v := f.(type) {
		case int:
			body = binary.AppendVarint(body, int64(v))
		case string:
			body = append(body, v...)
		case []byte:
			body = append(body, v...)
		default:
			panic(fmt.Sprintf("rec: %T", f))
		}
	}
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

// okRec is a well-formed record with the given offset delta: attributes,
// timestamp delta, offset delta, key "k", value "v", no headers.
func okRec(offsetDelta int) []byte {
	return rec([]byte{0}, 0, offsetDelta, 1, "k", 1, "v", 0)
}

func v2Header(numRecords, lastOffsetDelta int32) BatchHeader {
	return BatchHeader{Magic: 2, PartitionLeaderEpoch: -1, NumRecords: numRecords, LastOffsetDelta: lastOffsetDelta, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
}

func mustContain(t testing.TB, err error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", substr)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %q does not contain %q", err, substr)
	}
}
