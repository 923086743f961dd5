package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"slices"
	"sync"
)

// BatchOptions control how AppendBatch encodes a batch. The zero value
// means an uncompressed batch from a producer without idempotence: no
// producer ID, epoch or sequence (all written as -1), not transactional.
type BatchOptions struct {
	Codec Codec

	// Idempotent says the batch carries producer state: ProducerID,
	// ProducerEpoch and BaseSequence are then written exactly as given.
	// When it is false all three are written as -1, Kafka's "none", and
	// they must be left 0 or set to -1: AppendBatch refuses any other
	// value rather than drop it silently. The flag exists because 0 is a
	// valid producer ID, epoch and sequence, so the zero value of the
	// fields alone cannot mean "none".
	Idempotent    bool
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32

	// Transactional sets the transactional attribute; it requires
	// Idempotent. Control sets the control attribute (a batch of
	// transaction markers, encoded by the caller); it requires
	// Transactional.
	Transactional bool
	Control       bool

	// KeepOffsets makes record i's offset delta recs[i].Offset -
	// recs[0].Offset instead of i, so that a batch rebuilt from decoded
	// records (compaction) keeps their offsets and gaps: give the result
	// base offset recs[0].Offset with SetBaseOffset. Offsets must then
	// rise strictly and span less than 2^31. Without it Record.Offset is
	// ignored.
	KeepOffsets bool
}

// OptionsFromHeader returns the options that rebuild a batch like the one
// h describes from its decoded records: same codec, producer state and
// transactional and control attributes, with KeepOffsets set. The
// LogAppendTime attribute is not an option; restore it with
// SetLogAppendTime(b, h.MaxTimestamp).
func OptionsFromHeader(h BatchHeader) BatchOptions {
	return BatchOptions{
		Codec:         h.Codec(),
		Idempotent:    h.ProducerID != -1 || h.ProducerEpoch != -1 || h.BaseSequence != -1,
		ProducerID:    h.ProducerID,
		ProducerEpoch: h.ProducerEpoch,
		BaseSequence:  h.BaseSequence,
		Transactional: h.Transactional(),
		Control:       h.Control(),
		KeepOffsets:   true,
	}
}

func (o *BatchOptions) check() error {
	switch {
	case !o.Codec.valid():
		return fmt.Errorf("record: unknown compression codec %d", int8(o.Codec))
	case !o.Idempotent && (o.ProducerID != 0 && o.ProducerID != -1 ||
		o.ProducerEpoch != 0 && o.ProducerEpoch != -1 ||
		o.BaseSequence != 0 && o.BaseSequence != -1):
		return fmt.Errorf("record: producer ID %d, epoch %d, sequence %d given without Idempotent", o.ProducerID, o.ProducerEpoch, o.BaseSequence)
	case o.Transactional && !o.Idempotent:
		return errors.New("record: a transactional batch needs Idempotent and its producer state")
	case o.Control && !o.Transactional:
		return errors.New("record: a control batch must be transactional")
	}
	return nil
}

func (o *BatchOptions) attributes() int16 {
	a := int16(o.Codec)
	if o.Transactional {
		a |= AttrTransactional
	}
	if o.Control {
		a |= AttrControl
	}
	return a
}

// AppendBatch appends one batch holding recs to dst and returns the
// extended slice. The batch has base offset 0 (set the real one with
// SetBaseOffset), partition leader epoch -1, offset deltas 0..len(recs)-1
// (or kept offsets, see BatchOptions.KeepOffsets), the first record's
// timestamp as BaseTimestamp and the largest as MaxTimestamp, records
// compressed with opts.Codec, and a computed CRC. Record attributes are
// written as 0.
//
// It fails, leaving dst's contents as they were, when recs is empty, the
// options are inconsistent, or the batch would exceed the format's 2 GiB.
// dst may be reused: when it has the capacity, an uncompressed batch is
// built without allocating.
func AppendBatch(dst []byte, recs []Record, opts BatchOptions) ([]byte, error) {
	if err := opts.check(); err != nil {
		return dst, err
	}
	if len(recs) == 0 {
		return dst, errors.New("record: a batch needs at least one record")
	}
	if len(recs) > math.MaxInt32 {
		return dst, fmt.Errorf("record: %d records are too many for one batch", len(recs))
	}
	lastDelta := int64(len(recs) - 1)
	if opts.KeepOffsets {
		for i := 1; i < len(recs); i++ {
			if recs[i].Offset <= recs[i-1].Offset {
				return dst, fmt.Errorf("record: KeepOffsets: offset %d of record %d does not follow %d", recs[i].Offset, i, recs[i-1].Offset)
			}
		}
		lastDelta = recs[len(recs)-1].Offset - recs[0].Offset
		if lastDelta < 0 || lastDelta > math.MaxInt32 { // < 0: the subtraction overflowed
			return dst, fmt.Errorf("record: KeepOffsets: offsets %d..%d span more than an int32", recs[0].Offset, recs[len(recs)-1].Offset)
		}
	}
	baseTimestamp := recs[0].Timestamp
	maxTimestamp := baseTimestamp
	total := 0
	for i := range recs {
		maxTimestamp = max(maxTimestamp, recs[i].Timestamp)
		n := recordSize(&recs[i], recs[i].Timestamp-baseTimestamp, recordDelta(recs, i, opts.KeepOffsets))
		if n > maxLength-minLength-total {
			return dst, errors.New("record: records exceed the 2 GiB a batch can hold")
		}
		total += n
	}

	start := len(dst)
	if opts.Codec == CodecNone {
		dst = slices.Grow(dst, BatchHeaderSize+total)
		dst = dst[:start+BatchHeaderSize]
		dst = appendRecords(dst, recs, baseTimestamp, opts.KeepOffsets)
	} else {
		scratch := scratchBuffers.Get().(*[]byte)
		*scratch = appendRecords(slices.Grow((*scratch)[:0], total), recs, baseTimestamp, opts.KeepOffsets)
		dst = slices.Grow(dst, BatchHeaderSize+total/2)
		var err error
		dst, err = Compress(opts.Codec, dst[:start+BatchHeaderSize], *scratch)
		if cap(*scratch) <= maxPooledScratch {
			scratchBuffers.Put(scratch)
		}
		if err != nil {
			return dst[:start], err
		}
		if len(dst)-start-lengthFieldEnd > maxLength {
			return dst[:start], errors.New("record: compressed records exceed the 2 GiB a batch can hold")
		}
	}

	b := dst[start : start+BatchHeaderSize]
	be := binary.BigEndian
	be.PutUint64(b[OffsetBaseOffset:], 0)
	be.PutUint32(b[OffsetLength:], uint32(len(dst)-start-lengthFieldEnd))
	be.PutUint32(b[OffsetLeaderEpoch:], math.MaxUint32) // -1
	b[OffsetMagic] = MagicV2
	be.PutUint16(b[OffsetAttributes:], uint16(opts.attributes()))
	be.PutUint32(b[OffsetLastOffsetDelta:], uint32(lastDelta))
	be.PutUint64(b[OffsetBaseTimestamp:], uint64(baseTimestamp))
	be.PutUint64(b[OffsetMaxTimestamp:], uint64(maxTimestamp))
	producerID, producerEpoch, baseSequence := int64(-1), int16(-1), int32(-1)
	if opts.Idempotent {
		producerID, producerEpoch, baseSequence = opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence
	}
	be.PutUint64(b[OffsetProducerID:], uint64(producerID))
	be.PutUint16(b[OffsetProducerEpoch:], uint16(producerEpoch))
	be.PutUint32(b[OffsetBaseSequence:], uint32(baseSequence))
	be.PutUint32(b[OffsetNumRecords:], uint32(len(recs)))
	be.PutUint32(b[OffsetCRC:], crc32.Checksum(dst[start+OffsetAttributes:], crcTable))
	return dst, nil
}

// scratchBuffers hold the uncompressed records of a batch being
// compressed. Buffers over maxPooledScratch are left to the collector so
// that one huge batch does not pin its memory.
var scratchBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledScratch = 4 << 20

func recordDelta(recs []Record, i int, keepOffsets bool) int32 {
	if keepOffsets {
		return int32(recs[i].Offset - recs[0].Offset) // range checked by AppendBatch
	}
	return int32(i)
}

func appendRecords(dst []byte, recs []Record, baseTimestamp int64, keepOffsets bool) []byte {
	for i := range recs {
		dst = appendRecord(dst, &recs[i], recs[i].Timestamp-baseTimestamp, recordDelta(recs, i, keepOffsets))
	}
	return dst
}

// recordSize is the encoded size of a record, its length prefix included.
func recordSize(r *Record, timestampDelta int64, offsetDelta int32) int {
	n := bodySize(r, timestampDelta, offsetDelta)
	return varintLen(int64(n)) + n
}

func bodySize(r *Record, timestampDelta int64, offsetDelta int32) int {
	n := 1 + varintLen(timestampDelta) + varintLen(int64(offsetDelta)) +
		bytesLen(r.Key) + bytesLen(r.Value) + varintLen(int64(len(r.Headers)))
	for i := range r.Headers {
		n += varintLen(int64(len(r.Headers[i].Key))) + len(r.Headers[i].Key) + bytesLen(r.Headers[i].Value)
	}
	return n
}

func appendRecord(dst []byte, r *Record, timestampDelta int64, offsetDelta int32) []byte {
	dst = binary.AppendVarint(dst, int64(bodySize(r, timestampDelta, offsetDelta)))
	dst = append(dst, 0) // attributes
	dst = binary.AppendVarint(dst, timestampDelta)
	dst = binary.AppendVarint(dst, int64(offsetDelta))
	dst = appendBytes(dst, r.Key)
	dst = appendBytes(dst, r.Value)
	dst = binary.AppendVarint(dst, int64(len(r.Headers)))
	for i := range r.Headers {
		dst = binary.AppendVarint(dst, int64(len(r.Headers[i].Key)))
		dst = append(dst, r.Headers[i].Key...)
		dst = appendBytes(dst, r.Headers[i].Value)
	}
	return dst
}

// appendBytes appends a varint length and b, or length -1 for nil.
func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return append(dst, 1) // zig-zag -1
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

func bytesLen(b []byte) int {
	if b == nil {
		return 1
	}
	return varintLen(int64(len(b))) + len(b)
}

// varintLen is the size of v as a zig-zag varint, the encoding
// binary.AppendVarint and Kafka share.
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	return (bits.Len64(u|1) + 6) / 7
}
