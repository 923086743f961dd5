package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// BatchHeaderSize is the number of bytes from baseOffset through recordCount.
const BatchHeaderSize = 61

// Byte offsets of the header fields inside a batch.
const (
	OffsetBaseOffset      = 0  // int64
	OffsetLength          = 8  // int32: bytes after this field
	OffsetLeaderEpoch     = 12 // int32
	OffsetMagic           = 16 // int8
	OffsetCRC             = 17 // uint32: CRC-32C of bytes [OffsetAttributes, end)
	OffsetAttributes      = 21 // int16
	OffsetLastOffsetDelta = 23 // int32
	OffsetBaseTimestamp   = 27 // int64
	OffsetMaxTimestamp    = 35 // int64
	OffsetProducerID      = 43 // int64
	OffsetProducerEpoch   = 51 // int16
	OffsetBaseSequence    = 53 // int32
	OffsetNumRecords      = 57 // int32
)

// MagicV2 is the only batch format this package reads and writes.
const MagicV2 = 2

// Bits of the attributes field.
const (
	AttrCodecMask     = 0x07
	AttrLogAppendTime = 1 << 3
	AttrTransactional = 1 << 4
	AttrControl       = 1 << 5
)

const (
	// lengthFieldEnd is where the bytes counted by Length start: a batch
	// is Length+lengthFieldEnd bytes long.
	lengthFieldEnd = OffsetLength + 4
	// minLength is the Length of a batch with no records.
	minLength = BatchHeaderSize - lengthFieldEnd
	// maxLength keeps Size() representable in an int32, so that no
	// arithmetic on sizes overflows on 32-bit platforms either.
	maxLength = math.MaxInt32 - lengthFieldEnd
)

var (
	// ErrShortBatch means the bytes end before the batch does: more may be
	// coming (a partial read) or the tail was torn by a crash. It is not a
	// corruption error.
	ErrShortBatch = errors.New("record: short batch")

	// ErrCorrupt is wrapped by every error that reports malformed bytes:
	// a bad header field, a CRC mismatch, records that do not parse, a
	// compressed payload that does not decompress. Test with IsCorrupt.
	ErrCorrupt = errors.New("record: corrupt batch")

	// ErrTooLarge means a payload would decompress to more than the
	// caller's cap. The batch may be valid; the caller's limit refused it.
	ErrTooLarge = errors.New("record: decompressed batch too large")
)

// IsCorrupt reports whether err says the batch bytes are malformed.
func IsCorrupt(err error) bool { return errors.Is(err, ErrCorrupt) }

func corruptf(format string, args ...any) error {
	return &corruptError{msg: fmt.Sprintf(format, args...)}
}

// corruptError says what was malformed and, when a codec library found
// it, keeps that library's error in the chain too.
type corruptError struct {
	msg string
	err error // optional cause
}

func (e *corruptError) Error() string { return ErrCorrupt.Error() + ": " + e.msg }

func (e *corruptError) Unwrap() []error {
	if e.err == nil {
		return []error{ErrCorrupt}
	}
	return []error{ErrCorrupt, e.err}
}

// crcTable is the Castagnoli table; hash/crc32 uses the CPU's CRC32
// instruction when given exactly this table.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the decoded fixed-size header of a batch.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32 // bytes after the Length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the number of bytes of the whole batch, header included.
func (h BatchHeader) Size() int { return int(h.Length) + lengthFieldEnd }

// LastOffset is the offset of the last record the batch was written with;
// compaction may since have removed that record, never the offset.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Codec is the compression codec of the records section.
func (h BatchHeader) Codec() Codec { return Codec(h.Attributes & AttrCodecMask) }

// LogAppendTime reports whether record timestamps are the broker's append
// time (MaxTimestamp) rather than the producer's create time.
func (h BatchHeader) LogAppendTime() bool { return h.Attributes&AttrLogAppendTime != 0 }

// Transactional reports whether the batch belongs to a transaction.
func (h BatchHeader) Transactional() bool { return h.Attributes&AttrTransactional != 0 }

// Control reports whether the batch holds a control record (a
// transaction marker) rather than user data.
func (h BatchHeader) Control() bool { return h.Attributes&AttrControl != 0 }

// ParseHeader decodes the header at the start of b. It checks the fields
// that make the header self-consistent but neither the CRC nor whether b
// holds the whole batch; use Validate for that. It does not allocate
// unless it fails.
func ParseHeader(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, fmt.Errorf("%w: %d bytes, a batch header is %d", ErrShortBatch, len(b), BatchHeaderSize)
	}
	b = b[:BatchHeaderSize]
	be := binary.BigEndian
	h := BatchHeader{
		BaseOffset:           int64(be.Uint64(b[OffsetBaseOffset:])),
		Length:               int32(be.Uint32(b[OffsetLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[OffsetLeaderEpoch:])),
		Magic:                int8(b[OffsetMagic]),
		CRC:                  be.Uint32(b[OffsetCRC:]),
		Attributes:           int16(be.Uint16(b[OffsetAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[OffsetLastOffsetDelta:])),
		BaseTimestamp:        int64(be.Uint64(b[OffsetBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[OffsetMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[OffsetProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[OffsetProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[OffsetBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[OffsetNumRecords:])),
	}
	switch {
	case h.Magic != MagicV2:
		return BatchHeader{}, corruptf("magic %d, only v2 batches (magic 2) are supported", h.Magic)
	case h.Length < minLength:
		return BatchHeader{}, corruptf("batch length %d is below the header's %d", h.Length, minLength)
	case h.Length > maxLength:
		return BatchHeader{}, corruptf("batch length %d is over the maximum %d", h.Length, maxLength)
	case h.LastOffsetDelta < 0:
		return BatchHeader{}, corruptf("negative last offset delta %d", h.LastOffsetDelta)
	case h.NumRecords < 0:
		return BatchHeader{}, corruptf("negative record count %d", h.NumRecords)
	}
	return h, nil
}

// Validate checks that b is exactly one whole, intact batch: the header
// parses, len(b) is the batch size, the codec is known, the record count
// fits the offset range, and the CRC matches. For an uncompressed batch it
// also parses every record (see DecodeRecords for what that checks), so
// that DecodeRecords cannot fail on a batch Validate accepted. Compressed
// records are checked only when decoded: Validate never decompresses.
//
// Errors wrap ErrShortBatch when b ends before the batch does and
// ErrCorrupt for everything else. Validate does not allocate unless it
// fails.
func Validate(b []byte) (BatchHeader, error) {
	h, err := validateFrame(b)
	if err != nil {
		return BatchHeader{}, err
	}
	if h.Codec() == CodecNone {
		it := newRecordIter(h, b[BatchHeaderSize:])
		var r rawRecord
		for {
			ok, err := it.next(&r)
			if err != nil {
				return BatchHeader{}, err
			}
			if !ok {
				break
			}
		}
	}
	return h, nil
}

// validateFrame is Validate without the walk of uncompressed records.
func validateFrame(b []byte) (BatchHeader, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return BatchHeader{}, err
	}
	if size := h.Size(); len(b) < size {
		return BatchHeader{}, fmt.Errorf("%w: have %d of the batch's %d bytes", ErrShortBatch, len(b), size)
	} else if len(b) > size {
		return BatchHeader{}, corruptf("%d bytes after the batch's %d", len(b)-size, size)
	}
	if c := h.Codec(); !c.valid() {
		return BatchHeader{}, corruptf("unknown compression codec %d", int8(c))
	}
	if int64(h.NumRecords) > int64(h.LastOffsetDelta)+1 {
		return BatchHeader{}, corruptf("%d records do not fit in last offset delta %d", h.NumRecords, h.LastOffsetDelta)
	}
	if sum := crc32.Checksum(b[OffsetAttributes:], crcTable); sum != h.CRC {
		return BatchHeader{}, corruptf("crc mismatch: stored 0x%08x computed 0x%08x", h.CRC, sum)
	}
	return h, nil
}

// SetBaseOffset rewrites the base offset of the batch at the start of b.
// The CRC does not cover it, so the batch stays valid. b must hold at
// least the header.
func SetBaseOffset(b []byte, offset int64) {
	binary.BigEndian.PutUint64(b[OffsetBaseOffset:], uint64(offset))
}

// SetPartitionLeaderEpoch rewrites the partition leader epoch of the batch
// at the start of b. The CRC does not cover it, so the batch stays valid.
// b must hold at least the header.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[OffsetLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks the whole batch b as timestamped by the broker at
// ts (the topic setting message.timestamp.type=LogAppendTime): it sets the
// attribute bit and MaxTimestamp, which readers then report for every
// record, and recomputes the CRC since both fields are covered by it.
// b must be one whole batch; validate it first.
func SetLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[OffsetAttributes:])
	binary.BigEndian.PutUint16(b[OffsetAttributes:], attrs|AttrLogAppendTime)
	binary.BigEndian.PutUint64(b[OffsetMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint32(b[OffsetCRC:], crc32.Checksum(b[OffsetAttributes:], crcTable))
}
