package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCompressRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var text []byte
	for _, r := range randomRecords(rng, 200) {
		text = append(text, r.Value...)
	}
	noise := make([]byte, 200<<10)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	inputs := map[string][]byte{
		"empty":  {},
		"byte":   {42},
		"text":   text,
		"random": noise,
		"zeros":  make([]byte, 1<<20),
	}
	for _, codec := range allCodecs {
		for name, in := range inputs {
			t.Run(codec.String()+"/"+name, func(t *testing.T) {
				c, err := Compress(codec, []byte("pre"), in)
				if err != nil {
					t.Fatal(err)
				}
				if string(c[:3]) != "pre" {
					t.Fatal("Compress did not append")
				}
				out, err := Decompress(codec, c[3:], len(in))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out, in) {
					t.Fatalf("round trip changed %d bytes into %d", len(in), len(out))
				}
				if len(in) > 0 {
					if _, err := Decompress(codec, c[3:], len(in)-1); !errors.Is(err, ErrTooLarge) {
						t.Fatalf("cap one below the size: %v", err)
					}
				}
				// kgo reads what we write.
				if codec != CodecNone {
					kout, err := kgo.DefaultDecompressor().Decompress(c[3:], kgo.CompressionCodecType(codec))
					if err != nil || !bytes.Equal(kout, in) {
						t.Fatalf("kgo cannot read our %s: %v", codec, err)
					}
				}
			})
		}
	}
}

func TestDecompressGarbage(t *testing.T) {
	garbage := [][]byte{
		[]byte("definitely not compressed, not even a little bit"),
		{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3},                   // gzip header, bad deflate
		{0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 0xff, 0xff, 0xff, 0x7f}, // lz4 magic, bad block
		{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x05, 0x29, 0x00},                   // zstd magic, bad block
		{0xff, 0xff, 0xff, 0xff, 0xff},                                     // snappy: overlong length
	}
	for _, codec := range allCodecs[1:] {
		for i, g := range garbage {
			_, err := Decompress(codec, g, 1<<20)
			if err == nil {
				continue // some garbage decodes for some codec (snappy is lenient)
			}
			if !IsCorrupt(err) {
				t.Errorf("%s garbage %d: %v is not a corruption error", codec, i, err)
			}
		}
		if _, err := Decompress(codec, garbage[0], 1<<20); err == nil && codec != CodecSnappy {
			t.Errorf("%s accepted plain text", codec)
		}
	}
	if _, err := Decompress(Codec(7), nil, 10); !IsCorrupt(err) {
		t.Errorf("unknown codec: %v", err)
	}
	if _, err := Compress(Codec(7), nil, nil); err == nil {
		t.Error("Compress accepted codec 7")
	}
}

// allocated runs fn and returns the bytes it allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestDecompressionBomb(t *testing.T) {
	const capBytes = 1 << 20
	recs := []Record{{Key: []byte("k"), Value: make([]byte, 16<<20)}} // 16 MiB of zeros
	plain := mustAppend(t, recs, BatchOptions{})
	section := plain[BatchHeaderSize:]

	// zstd from a streaming encoder declares no content size, the case
	// where only the decoder's running limit protects us.
	zs := streamedZstd(t, section, 8<<20)
	h, err := Validate(plain)
	if err != nil {
		t.Fatal(err)
	}
	h.Attributes = int16(CodecZstd)
	streamed := rawBatch(h, zs)

	batches := map[string][]byte{"zstd-streamed": streamed}
	for _, codec := range allCodecs[1:] {
		batches[codec.String()] = mustAppend(t, recs, BatchOptions{Codec: codec})
	}
	for name, b := range batches {
		t.Run(name, func(t *testing.T) {
			t.Logf("%d bytes decompress to %d", len(b), len(section))
			var err error
			alloc := allocated(func() { _, _, err = DecodeRecords(b, capBytes) })
			if !errors.Is(err, ErrTooLarge) || IsCorrupt(err) {
				t.Fatalf("want ErrTooLarge, got %v", err)
			}
			// Bounded by the cap, not the 16 MiB. (A zstd stream also
			// allocates the decoder's ring, window plus two blocks, once
			// per pooled decoder; the GC in allocated() empties the pool.)
			limit := uint64(3 * capBytes)
			if name == "zstd-streamed" {
				limit += 8<<20 + 1<<20
			}
			t.Logf("allocated %d bytes refusing it", alloc)
			if alloc > limit {
				t.Fatalf("allocated %d bytes refusing a batch over %d", alloc, capBytes)
			}
			if _, _, err := DecodeRecords(b, len(section)-1); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("cap one below: %v", err)
			}
			_, got, err := DecodeRecords(b, len(section))
			if err != nil {
				t.Fatalf("cap exactly the size: %v", err)
			}
			if len(got) != 1 || len(got[0].Value) != 16<<20 {
				t.Fatal("wrong records")
			}
		})
	}
}

func TestHostileDeclaredSizes(t *testing.T) {
	// A snappy block claiming 1 GiB from a few bytes is refused before
	// allocating, whatever the cap.
	claim := append(binary.AppendUvarint(nil, 1<<30), 0, 0, 0, 0)
	var err error
	alloc := allocated(func() { _, err = Decompress(CodecSnappy, claim, 1<<31-1) })
	if !IsCorrupt(err) || alloc > 1<<16 {
		t.Fatalf("snappy 1 GiB claim: %v after %d bytes", err, alloc)
	}
	// Same for each block of a xerial stream.
	alloc = allocated(func() { _, err = Decompress(CodecSnappy, xerial(nil, 0, claim), 1<<31-1) })
	if !IsCorrupt(err) || alloc > 1<<16 {
		t.Fatalf("xerial 1 GiB claim: %v after %d bytes", err, alloc)
	}

	// A gzip trailer claiming 4 GiB is only a hint.
	gz, _ := Compress(CodecGzip, nil, []byte("hello"))
	binary.LittleEndian.PutUint32(gz[len(gz)-4:], 0xffffffff)
	alloc = allocated(func() { _, err = Decompress(CodecGzip, gz, 1<<31-1) })
	if !IsCorrupt(err) || alloc > 1<<20 {
		t.Fatalf("gzip 4 GiB trailer: %v after %d bytes", err, alloc)
	}

	// A zstd frame declaring more than the cap is refused up front.
	zs, _ := Compress(CodecZstd, nil, make([]byte, 4<<20))
	alloc = allocated(func() { _, err = Decompress(CodecZstd, zs, 1<<10) })
	if !errors.Is(err, ErrTooLarge) || alloc > 1<<16 {
		t.Fatalf("zstd declared size: %v after %d bytes", err, alloc)
	}

	// A record count of 2^31-1 over a handful of bytes allocates nothing
	// big: it is corrupt once the records run out.
	h := v2Header(1<<31-1, 1<<31-1)
	b := rawBatch(h, okRec(0))
	alloc = allocated(func() { _, _, err = DecodeRecords(b, 1<<20) })
	if !IsCorrupt(err) || alloc > 1<<16 {
		t.Fatalf("huge record count: %v after %d bytes", err, alloc)
	}
}

// xerial frames data the way the Java snappy library does, in blocks of
// chunk bytes; extra raw blocks are appended as given.
func xerial(data []byte, chunk int, extra ...[]byte) []byte {
	out := append([]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}, 0, 0, 0, 1, 0, 0, 0, 1)
	for len(data) > 0 {
		n := min(chunk, len(data))
		blk := s2.EncodeSnappy(nil, data[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(blk)))
		out = append(out, blk...)
		data = data[n:]
	}
	for _, blk := range extra {
		out = binary.BigEndian.AppendUint32(out, uint32(len(blk)))
		out = append(out, blk...)
	}
	return out
}

func TestSnappyXerial(t *testing.T) {
	recs := randomRecords(rand.New(rand.NewPCG(9, 10)), 100)
	plain := mustAppend(t, recs, BatchOptions{})
	section := plain[BatchHeaderSize:]
	framed := xerial(section, 32<<10)

	// The framing is right: kgo reads it too.
	if out, err := kgo.DefaultDecompressor().Decompress(framed, kgo.CodecSnappy); err != nil || !bytes.Equal(out, section) {
		t.Fatalf("test framing unreadable by kgo: %v", err)
	}
	out, err := Decompress(CodecSnappy, framed, len(section))
	if err != nil || !bytes.Equal(out, section) {
		t.Fatalf("xerial: %v", err)
	}
	if _, err := Decompress(CodecSnappy, framed, len(section)-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("xerial over cap: %v", err)
	}

	h, _ := Validate(plain)
	h.Attributes = int16(CodecSnappy)
	_, got, err := DecodeRecords(rawBatch(h, framed), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	recordsEqual(t, got, withOffsets(recs, 0))

	if out, err := Decompress(CodecSnappy, xerial(nil, 0), 10); err != nil || len(out) != 0 {
		t.Fatalf("empty xerial stream: %q, %v", out, err)
	}
	for name, bad := range map[string][]byte{
		"short length":   framed[:xerialHeaderLen+2],
		"block past end": framed[:len(framed)-1],
		"empty block":    xerial(nil, 0, []byte{}),
		"bad block":      xerial(nil, 0, []byte{5, 0xff}),
	} {
		if _, err := Decompress(CodecSnappy, bad, 1<<20); !IsCorrupt(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCodecNames(t *testing.T) {
	for _, c := range allCodecs {
		got, err := ParseCodec(c.String())
		if err != nil || got != c {
			t.Fatalf("ParseCodec(%q) = %v, %v", c, got, err)
		}
		text, err := c.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Codec
		if err := back.UnmarshalText(text); err != nil || back != c {
			t.Fatalf("text round trip of %v: %v, %v", c, back, err)
		}
	}
	if c, err := ParseCodec("ZSTD"); err != nil || c != CodecZstd {
		t.Fatalf("ParseCodec is case sensitive: %v", err)
	}
	if _, err := ParseCodec("brotli"); err == nil {
		t.Fatal("ParseCodec accepted brotli")
	}
	if s := Codec(6).String(); s != "codec(6)" {
		t.Fatalf("Codec(6).String() = %q", s)
	}
	if _, err := Codec(6).MarshalText(); err == nil {
		t.Fatal("MarshalText accepted codec 6")
	}
}

// TestConcurrentCodecs shares the pooled codec state between goroutines
// with different caps; run with -race.
func TestConcurrentCodecs(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 11))
			for range 30 {
				codec := allCodecs[rng.IntN(len(allCodecs))]
				in := bytes.Repeat([]byte(fmt.Sprint(rng.Int())), 1+rng.IntN(5000))
				c, err := Compress(codec, nil, in)
				if err != nil {
					errs <- err
					return
				}
				limit := len(in) + rng.IntN(3) - 1
				out, err := Decompress(codec, c, limit)
				switch {
				case limit < len(in) && !errors.Is(err, ErrTooLarge):
					errs <- fmt.Errorf("%s: cap %d < %d: %w", codec, limit, len(in), err)
					return
				case limit >= len(in) && (err != nil || !bytes.Equal(out, in)):
					errs <- fmt.Errorf("%s: round trip: %w", codec, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLZ4FrameSettings pins what the Java client's reader requires or
// expects of our LZ4 frames: version 01, independent blocks, 64 KiB
// maximum block size.
func TestLZ4FrameSettings(t *testing.T) {
	c, err := Compress(CodecLZ4, nil, make([]byte, 200<<10))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(c, []byte{0x04, 0x22, 0x4d, 0x18}) {
		t.Fatalf("not an LZ4 frame: % x", c[:4])
	}
	flg, bd := c[4], c[5]
	if flg>>6 != 1 || flg&0x20 == 0 {
		t.Fatalf("FLG %#x: want version 01 and independent blocks", flg)
	}
	if bd != 0x40 {
		t.Fatalf("BD %#x: want 64 KiB blocks (0x40)", bd)
	}
}

// streamedZstd compresses in as the Java client does: a stream whose frame
// declares a window but not its content size.
func streamedZstd(t *testing.T, in []byte, window int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithWindowSize(window))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := zw.Flush(); err != nil { // the size is not known yet
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var fh zstd.Header
	if err := fh.Decode(buf.Bytes()); err != nil || fh.HasFCS || fh.WindowSize != uint64(window) {
		t.Fatalf("frame header %+v (%v): not a streamed frame", fh, err)
	}
	return buf.Bytes()
}

// TestZstdWindowLargerThanCap: a streamed frame declares a window (8 MiB)
// bigger than a small batch and a small cap; it must still decode. Over
// the 8 MiB floor and the cap, the window is refused as too large, not
// as corrupt.
func TestZstdWindowLargerThanCap(t *testing.T) {
	in := bytes.Repeat([]byte("small batch "), 40)
	c := streamedZstd(t, in, 8<<20)
	out, err := Decompress(CodecZstd, c, len(in))
	if err != nil || !bytes.Equal(out, in) {
		t.Fatalf("8 MiB window, cap %d: %v", len(in), err)
	}
	if _, err := Decompress(CodecZstd, c, len(in)-1); !errors.Is(err, ErrTooLarge) || IsCorrupt(err) {
		t.Fatalf("cap one below: %v", err)
	}

	c = streamedZstd(t, in, 16<<20)
	if _, err := Decompress(CodecZstd, c, 1<<20); !errors.Is(err, ErrTooLarge) || IsCorrupt(err) {
		t.Fatalf("16 MiB window, 1 MiB cap: %v", err)
	}
	if out, err := Decompress(CodecZstd, c, 16<<20); err != nil || !bytes.Equal(out, in) {
		t.Fatalf("16 MiB window, 16 MiB cap: %v", err)
	}
}
