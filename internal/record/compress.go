package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec is the compression codec of a batch's records, attributes bits 0-2.
type Codec int8

// The codecs Kafka defines.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

var codecNames = [...]string{"none", "gzip", "snappy", "lz4", "zstd"}

func (c Codec) valid() bool { return c >= CodecNone && c <= CodecZstd }

// String returns the codec's name as ParseCodec accepts it, or "codec(N)"
// for a value Kafka does not define.
func (c Codec) String() string {
	if c.valid() {
		return codecNames[c]
	}
	return "codec(" + strconv.Itoa(int(c)) + ")"
}

// ParseCodec parses a codec name: none, gzip, snappy, lz4 or zstd, in any
// case.
func ParseCodec(s string) (Codec, error) {
	for i, name := range codecNames {
		if strings.EqualFold(s, name) {
			return Codec(i), nil
		}
	}
	return 0, fmt.Errorf("record: unknown compression codec %q (want none, gzip, snappy, lz4 or zstd)", s)
}

// MarshalText implements encoding.TextMarshaler, for configuration files.
func (c Codec) MarshalText() ([]byte, error) {
	if !c.valid() {
		return nil, fmt.Errorf("record: unknown compression codec %d", int8(c))
	}
	return []byte(c.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using ParseCodec.
func (c *Codec) UnmarshalText(b []byte) error {
	parsed, err := ParseCodec(string(b))
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}

// Compress appends the compressed form of src to dst, in the framing Kafka
// clients read: a gzip stream, a raw snappy block (not xerial framed; the
// Java client and librdkafka read both), an LZ4 frame with 64 KiB blocks
// (the Java client's own choice) and a zstd frame. CodecNone appends src
// as is. It is safe for concurrent use; codec state is pooled.
func Compress(codec Codec, dst, src []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return append(dst, src...), nil
	case CodecGzip:
		w := gzipWriters.Get().(*gzipWriter)
		defer gzipWriters.Put(w)
		return w.compress(dst, src)
	case CodecSnappy:
		n := s2.MaxEncodedLen(len(src))
		if n < 0 {
			return dst, fmt.Errorf("record: %d bytes are too many for one snappy block", len(src))
		}
		dst = slices.Grow(dst, n)
		// EncodeSnappy writes in place when given the room.
		block := s2.EncodeSnappy(dst[len(dst):len(dst)+n], src)
		return dst[:len(dst)+len(block)], nil
	case CodecLZ4:
		w := lz4Writers.Get().(*lz4Writer)
		defer lz4Writers.Put(w)
		return w.compress(dst, src)
	case CodecZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return dst, err
		}
		return enc.EncodeAll(src, dst), nil
	}
	return dst, fmt.Errorf("record: unknown compression codec %d", int8(codec))
}

// Decompress returns the decompressed form of src, refusing with an error
// wrapping ErrTooLarge to produce more than maxSize bytes; a maxSize below
// zero counts as zero. Malformed input gives an error wrapping ErrCorrupt.
// The result is newly allocated and owned by the caller, except for
// CodecNone, which returns src itself.
//
// Snappy input may be a raw block or xerial framed (the Java client's
// SnappyOutputStream, magic "\x82SNAPPY\x00"). Memory use stays within a
// small multiple of maxSize whatever the input claims about its own size,
// with one exception: a zstd frame that does not declare its size (the
// Java client streams them) is decoded through a window buffer of the
// size the frame declares, which is accepted up to max(maxSize, 8 MiB)
// because producers declare windows of up to 8 MiB however small the
// batch.
//
// It is safe for concurrent use.
func Decompress(codec Codec, src []byte, maxSize int) ([]byte, error) {
	maxSize = min(max(maxSize, 0), math.MaxInt32)
	switch codec {
	case CodecNone:
		if len(src) > maxSize {
			return nil, tooLarge(codec, maxSize)
		}
		return src, nil
	case CodecGzip:
		return decompressGzip(src, maxSize)
	case CodecSnappy:
		return decompressSnappy(src, maxSize)
	case CodecLZ4:
		return decompressLZ4(src, maxSize)
	case CodecZstd:
		return decompressZstd(src, maxSize)
	}
	return nil, corruptf("unknown compression codec %d", int8(codec))
}

func tooLarge(codec Codec, maxSize int) error {
	return fmt.Errorf("%w: %s payload decompresses to more than %d bytes", ErrTooLarge, codec, maxSize)
}

// appendWriter is an io.Writer appending to b, so that stream encoders
// write straight into the caller's dst.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// readBounded reads r to EOF into a new slice of at most maxSize bytes,
// starting from a capacity of hint (which the caller has already bounded
// by what the input could plausibly produce) and at worst doubling. Its
// errors are ErrTooLarge or r's own; see codecError.
func readBounded(r io.Reader, codec Codec, maxSize, hint int) ([]byte, error) {
	limit := maxSize + 1 // reading one byte more is how "too large" shows
	// hint+1: with an exact hint the final Read finds room and reports EOF
	// without growing the buffer.
	buf := make([]byte, 0, min(max(hint+1, 512), limit))
	for stalls := 0; ; {
		if len(buf) == cap(buf) {
			if len(buf) >= limit {
				return nil, tooLarge(codec, maxSize)
			}
			buf = slices.Grow(buf, min(len(buf), limit-len(buf)))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > maxSize {
			return nil, tooLarge(codec, maxSize)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if n > 0 {
			stalls = 0
		} else if stalls++; stalls > 100 {
			return nil, io.ErrNoProgress
		}
	}
}

// codecError classifies an error from decoding codec's payload: too large
// stays so, anything else means the payload is corrupt.
func codecError(codec Codec, err error) error {
	if errors.Is(err, ErrTooLarge) || IsCorrupt(err) {
		return err
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, codec.String()+":") { // gzip and lz4 name themselves
		msg = codec.String() + ": " + msg
	}
	return &corruptError{msg: msg, err: err}
}

// --- gzip ---

type gzipWriter struct {
	out appendWriter
	zw  *gzip.Writer
}

var gzipWriters = sync.Pool{New: func() any {
	w := new(gzipWriter)
	w.zw, _ = gzip.NewWriterLevel(nil, gzip.DefaultCompression) // a valid level cannot fail
	return w
}}

func (w *gzipWriter) compress(dst, src []byte) ([]byte, error) {
	w.out.b = dst
	defer func() { w.out.b = nil }() // do not pin the caller's buffer in the pool
	w.zw.Reset(&w.out)
	if _, err := w.zw.Write(src); err != nil {
		return dst, fmt.Errorf("record: gzip: %w", err)
	}
	if err := w.zw.Close(); err != nil {
		return dst, fmt.Errorf("record: gzip: %w", err)
	}
	return w.out.b, nil
}

type gzipReader struct {
	src bytes.Reader
	zr  gzip.Reader
}

var gzipReaders = sync.Pool{New: func() any { return new(gzipReader) }}

// maxDeflateRatio is the most deflate can expand: 258 bytes per 2 bits.
const maxDeflateRatio = 1032

func decompressGzip(src []byte, maxSize int) ([]byte, error) {
	r := gzipReaders.Get().(*gzipReader)
	defer gzipReaders.Put(r)
	defer r.src.Reset(nil)
	r.src.Reset(src)
	if err := r.zr.Reset(&r.src); err != nil {
		return nil, codecError(CodecGzip, err)
	}
	// A single-member stream ends with its size modulo 2^32, a good first
	// guess; never trust it beyond what deflate can produce from src.
	hint := 4 * len(src)
	if len(src) >= 18 {
		hint = int(binary.LittleEndian.Uint32(src[len(src)-4:]))
	}
	hint = int(min(int64(hint), maxDeflateRatio*int64(len(src))))
	out, err := readBounded(&r.zr, CodecGzip, maxSize, hint)
	if err != nil {
		return nil, codecError(CodecGzip, err)
	}
	return out, nil
}

// --- snappy ---

// xerialMagic starts a snappy stream framed by the Java snappy library:
// the magic, a version and a compatible version (int32 each), then blocks
// each behind a big-endian int32 length.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16

// maxSnappyRatio bounds how much a snappy block can expand: the densest
// element is a 3-byte copy of 64 bytes. A block claiming more is corrupt,
// which keeps a few hostile bytes from allocating maxSize.
const maxSnappyRatio = 22

// snappyBlockLen returns the decoded length a raw snappy block declares,
// checked against the remaining budget and the format's expansion bound.
func snappyBlockLen(block []byte, budget, maxSize int) (int, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return 0, codecError(CodecSnappy, err)
	}
	if n > budget {
		return 0, tooLarge(CodecSnappy, maxSize)
	}
	if int64(n) > maxSnappyRatio*int64(len(block)) {
		return 0, corruptf("snappy: a %d-byte block cannot decode to %d bytes", len(block), n)
	}
	return n, nil
}

func decompressSnappy(src []byte, maxSize int) ([]byte, error) {
	if len(src) >= xerialHeaderLen && bytes.HasPrefix(src, xerialMagic) {
		return decompressXerial(src[xerialHeaderLen:], maxSize)
	}
	n, err := snappyBlockLen(src, maxSize, maxSize)
	if err != nil {
		return nil, err
	}
	out, err := s2.Decode(make([]byte, n), src)
	if err != nil {
		return nil, codecError(CodecSnappy, err)
	}
	return out, nil
}

func decompressXerial(src []byte, maxSize int) ([]byte, error) {
	// Sum the blocks' declared sizes first so that out is allocated once.
	total := 0
	for rest := src; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, corruptf("snappy: xerial framing: %d bytes where a block length should be", len(rest))
		}
		size := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(size) > uint64(len(rest)) {
			return nil, corruptf("snappy: xerial framing: block of %d bytes, %d left", size, len(rest))
		}
		n, err := snappyBlockLen(rest[:size], maxSize-total, maxSize)
		if err != nil {
			return nil, err
		}
		total += n
		rest = rest[size:]
	}
	out := make([]byte, total)
	pos := 0
	for len(src) > 0 {
		size := binary.BigEndian.Uint32(src)
		block := src[4 : 4+size]
		n, _ := s2.DecodedLen(block) // checked above
		if _, err := s2.Decode(out[pos:pos+n], block); err != nil {
			return nil, codecError(CodecSnappy, err)
		}
		pos += n
		src = src[4+size:]
	}
	return out, nil
}

// --- lz4 ---

type lz4Writer struct {
	out appendWriter
	zw  *lz4.Writer
}

var lz4Writers = sync.Pool{New: func() any {
	w := &lz4Writer{zw: lz4.NewWriter(nil)}
	// Valid constant options on a new writer cannot fail.
	_ = w.zw.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.CompressionLevelOption(lz4.Fast))
	return w
}}

func (w *lz4Writer) compress(dst, src []byte) ([]byte, error) {
	w.out.b = dst
	defer func() { w.out.b = nil }()
	w.zw.Reset(&w.out) // keeps the options
	if _, err := w.zw.Write(src); err != nil {
		return dst, fmt.Errorf("record: lz4: %w", err)
	}
	if err := w.zw.Close(); err != nil {
		return dst, fmt.Errorf("record: lz4: %w", err)
	}
	return w.out.b, nil
}

type lz4Reader struct {
	src bytes.Reader
	zr  *lz4.Reader
}

var lz4Readers = sync.Pool{New: func() any { return &lz4Reader{zr: lz4.NewReader(nil)} }}

func decompressLZ4(src []byte, maxSize int) ([]byte, error) {
	r := lz4Readers.Get().(*lz4Reader)
	defer lz4Readers.Put(r)
	defer r.src.Reset(nil)
	r.src.Reset(src)
	r.zr.Reset(&r.src)
	// LZ4 frames from Kafka clients do not declare their size: guess.
	out, err := readBounded(r.zr, CodecLZ4, maxSize, 4*len(src))
	if err != nil {
		return nil, codecError(CodecLZ4, err)
	}
	return out, nil
}

// --- zstd ---

// zstdEncoder is shared: EncodeAll is safe for concurrent use and runs up
// to GOMAXPROCS encodes at once. A 1 MiB window covers Kafka's default
// maximum batch and bounds each encoder's memory.
var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithWindowSize(1<<20),
		zstd.WithZeroFrames(true),
	)
	if err != nil {
		return nil, fmt.Errorf("record: zstd encoder: %w", err)
	}
	return enc, nil
})

// zstdMinLimit is the least a zstd decoder is allowed to decode: zstd
// refuses frames whose window exceeds the decoder's memory limit, and
// producers streaming at the usual levels declare windows of up to 8 MiB
// however small the batch, so a lower limit would refuse valid batches.
// The caller's smaller cap is enforced on the result instead.
const zstdMinLimit = 8 << 20

// zstdDecoder is a decoder with the memory limit it was last configured
// with. The limit is a decoder option rather than a call argument, so
// decoders are pooled, each used by one call at a time, rather than one
// shared. With concurrency 1 a decoder starts no goroutines, streaming or
// not, and needs no Close.
type zstdDecoder struct {
	dec   *zstd.Decoder
	limit uint64
	src   bytes.Reader
}

var zstdDecoders = sync.Pool{New: func() any {
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(zstdMinLimit),
	)
	if err != nil {
		panic("record: zstd.NewReader refused constant options: " + err.Error())
	}
	return &zstdDecoder{dec: dec, limit: zstdMinLimit}
}}

func decompressZstd(src []byte, maxSize int) ([]byte, error) {
	// Frames written in one call (librdkafka, franz-go, AppendBatch)
	// declare their size: refuse it over the cap before any work, else
	// DecodeAll allocates it exactly. Streamed frames (the Java client)
	// do not, and DecodeAll would grow its output by append, allocating
	// about five times the result in total: stream those into a buffer
	// that doubles up to the cap instead.
	var fh zstd.Header
	declared := fh.Decode(src) == nil && fh.HasFCS
	if declared && fh.FrameContentSize > uint64(maxSize) {
		return nil, tooLarge(CodecZstd, maxSize)
	}
	d := zstdDecoders.Get().(*zstdDecoder)
	defer zstdDecoders.Put(d)
	// In memory the limit caps the output; streaming it caps the window.
	if limit := uint64(max(maxSize, zstdMinLimit)); d.limit != limit {
		if err := d.dec.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(limit)); err != nil {
			return nil, fmt.Errorf("record: zstd decoder: %w", err)
		}
		d.limit = limit
	}
	var out []byte
	var err error
	if declared {
		out, err = d.dec.DecodeAll(src, nil)
	} else {
		d.src.Reset(src)
		if err = d.dec.Reset(&d.src); err == nil {
			out, err = readBounded(d.dec, CodecZstd, maxSize, 4*len(src))
		}
		_ = d.dec.Reset(nil) // drop references to src; cannot fail
		d.src.Reset(nil)
	}
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrWindowSizeExceeded):
		return nil, fmt.Errorf("%w: zstd: %w", tooLarge(CodecZstd, maxSize), err)
	case err != nil:
		return nil, codecError(CodecZstd, err)
	case len(out) > maxSize:
		return nil, tooLarge(CodecZstd, maxSize)
	}
	return out, nil
}
