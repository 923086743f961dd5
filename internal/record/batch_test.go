package record

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestRoundTripEveryCodec(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sets := map[string][]Record{
		"sample": sampleRecords(),
		"random": randomRecords(rng, 300),
		"single": {{Timestamp: 7, Key: []byte("only"), Value: bytes.Repeat([]byte("0123456789abcdef"), 40000)}}, // 640 KB: many LZ4 blocks
	}
	optsCases := map[string]BatchOptions{
		"plain":         {},
		"idempotent":    {Idempotent: true, ProducerID: 42, ProducerEpoch: 3, BaseSequence: 7},
		"transactional": {Idempotent: true, ProducerID: 0, ProducerEpoch: 0, BaseSequence: 0, Transactional: true},
	}
	for _, codec := range allCodecs {
		for setName, recs := range sets {
			for optName, opts := range optsCases {
				t.Run(codec.String()+"/"+setName+"/"+optName, func(t *testing.T) {
					opts.Codec = codec
					prefix := []byte("prefix")
					b, err := AppendBatch(slices.Clone(prefix), recs, opts)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.HasPrefix(b, prefix) {
						t.Fatal("AppendBatch overwrote dst")
					}
					b = b[len(prefix):]

					h, err := Validate(b)
					if err != nil {
						t.Fatal(err)
					}
					checkHeader(t, h, recs, opts)
					if h.Size() != len(b) {
						t.Fatalf("Size %d, len %d", h.Size(), len(b))
					}

					SetBaseOffset(b, 1000)
					SetPartitionLeaderEpoch(b, 9)
					h2, recs2, err := DecodeRecords(b, 64<<20)
					if err != nil {
						t.Fatal(err)
					}
					if h2.BaseOffset != 1000 || h2.PartitionLeaderEpoch != 9 || h2.LastOffset() != 1000+int64(len(recs)-1) {
						t.Fatalf("after rewrite: base %d epoch %d last %d", h2.BaseOffset, h2.PartitionLeaderEpoch, h2.LastOffset())
					}
					recordsEqual(t, recs2, withOffsets(recs, 1000))
				})
			}
		}
	}
}

func checkHeader(t *testing.T, h BatchHeader, recs []Record, opts BatchOptions) {
	t.Helper()
	maxTS := recs[0].Timestamp
	for _, r := range recs {
		maxTS = max(maxTS, r.Timestamp)
	}
	pid, epoch, seq := int64(-1), int16(-1), int32(-1)
	if opts.Idempotent {
		pid, epoch, seq = opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence
	}
	want := BatchHeader{
		BaseOffset: 0, Length: h.Length, PartitionLeaderEpoch: -1, Magic: 2, CRC: h.CRC,
		Attributes:      h.Attributes,
		LastOffsetDelta: int32(len(recs) - 1), BaseTimestamp: recs[0].Timestamp, MaxTimestamp: maxTS,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, NumRecords: int32(len(recs)),
	}
	if h != want {
		t.Fatalf("header\n got %+v\nwant %+v", h, want)
	}
	if h.Codec() != opts.Codec || h.Transactional() != opts.Transactional || h.Control() || h.LogAppendTime() {
		t.Fatalf("attributes %#x for %+v", h.Attributes, opts)
	}
}

func TestZeroOptionsMeanNoProducer(t *testing.T) {
	b := mustAppend(t, sampleRecords(), BatchOptions{})
	h, err := Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.ProducerID != -1 || h.ProducerEpoch != -1 || h.BaseSequence != -1 || h.Attributes != 0 {
		t.Fatalf("zero options wrote %+v", h)
	}
	// -1s without Idempotent are the same thing spelled out.
	b2 := mustAppend(t, sampleRecords(), BatchOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1})
	if !bytes.Equal(b, b2) {
		t.Fatal("explicit -1s differ from zero options")
	}
}

func TestAppendBatchRefuses(t *testing.T) {
	recs := sampleRecords()
	for name, c := range map[string]struct {
		recs []Record
		opts BatchOptions
		want string
	}{
		"empty":                    {nil, BatchOptions{}, "at least one record"},
		"codec":                    {recs, BatchOptions{Codec: 5}, "unknown compression codec"},
		"producer without flag":    {recs, BatchOptions{ProducerID: 12}, "without Idempotent"},
		"sequence without flag":    {recs, BatchOptions{BaseSequence: 3}, "without Idempotent"},
		"transactional no produce": {recs, BatchOptions{Transactional: true}, "transactional"},
		"control not transaction":  {recs, BatchOptions{Idempotent: true, Control: true}, "control"},
		"keep offsets descending": {
			[]Record{{Offset: 5}, {Offset: 5}}, BatchOptions{KeepOffsets: true}, "does not follow",
		},
		"keep offsets span": {
			[]Record{{Offset: 0}, {Offset: math.MaxInt32 + 1}}, BatchOptions{KeepOffsets: true}, "span",
		},
		"keep offsets overflow": {
			[]Record{{Offset: math.MinInt64}, {Offset: math.MaxInt64}}, BatchOptions{KeepOffsets: true}, "span",
		},
	} {
		t.Run(name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := AppendBatch(dst, c.recs, c.opts)
			mustContain(t, err, c.want)
			if string(out) != "keep" {
				t.Fatalf("dst changed to %q", out)
			}
		})
	}
}

func TestKeepOffsetsAndRebuild(t *testing.T) {
	// A transactional zstd batch, compacted: records 1 and 3 dropped, the
	// survivors rebuilt with OptionsFromHeader keep their offsets.
	recs := sampleRecords()
	opts := BatchOptions{Codec: CodecZstd, Idempotent: true, ProducerID: 77, ProducerEpoch: 2, BaseSequence: 100, Transactional: true}
	b := mustAppend(t, recs, opts)
	SetBaseOffset(b, 500)
	h, decoded, err := DecodeRecords(b, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	kept := []Record{decoded[0], decoded[2], decoded[4]}

	out := mustAppend(t, kept, OptionsFromHeader(h))
	SetBaseOffset(out, kept[0].Offset)
	h2, again, err := DecodeRecords(out, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	recordsEqual(t, again, kept)
	if h2.LastOffsetDelta != 4 || h2.NumRecords != 3 || h2.LastOffset() != 504 {
		t.Fatalf("rebuilt header %+v", h2)
	}
	if h2.Codec() != CodecZstd || !h2.Transactional() || h2.ProducerID != 77 || h2.ProducerEpoch != 2 || h2.BaseSequence != 100 {
		t.Fatalf("rebuilt header lost options: %+v", h2)
	}

	// A batch without producer state rebuilds without one.
	plain, _ := Validate(mustAppend(t, recs, BatchOptions{}))
	if o := OptionsFromHeader(plain); o.Idempotent || o.check() != nil {
		t.Fatalf("options from a plain header: %+v", o)
	}
}

func TestCorruptionOfEveryByte(t *testing.T) {
	recs := []Record{
		{Timestamp: 10, Key: []byte("a"), Value: []byte("hello"), Headers: []Header{{Key: "h", Value: []byte("v")}}},
		{Timestamp: 12, Key: nil, Value: []byte("world")},
	}
	for _, codec := range []Codec{CodecNone, CodecGzip} {
		b := mustAppend(t, recs, BatchOptions{Codec: codec})
		for i := range b {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				c := slices.Clone(b)
				c[i] ^= mask
				_, err := Validate(c)
				_, _, derr := DecodeRecords(c, 1<<20)
				uncovered := i < OffsetLength || i >= OffsetLeaderEpoch && i < OffsetMagic
				if uncovered {
					if err != nil || derr != nil {
						t.Fatalf("%s: byte %d ^ %#x is outside the CRC but failed: %v / %v", codec, i, mask, err, derr)
					}
					continue
				}
				if err == nil || derr == nil {
					t.Fatalf("%s: byte %d ^ %#x went unnoticed (%v / %v)", codec, i, mask, err, derr)
				}
				if !IsCorrupt(err) && !errors.Is(err, ErrShortBatch) {
					t.Fatalf("%s: byte %d: error %v is neither corrupt nor short", codec, i, err)
				}
				if !strings.HasPrefix(err.Error(), "record: ") {
					t.Fatalf("error without package prefix: %v", err)
				}
			}
		}
	}
}

func TestCRCMismatchMessage(t *testing.T) {
	b := mustAppend(t, sampleRecords(), BatchOptions{})
	b[len(b)-1] ^= 1
	_, err := Validate(b)
	if !IsCorrupt(err) {
		t.Fatalf("want corrupt, got %v", err)
	}
	mustContain(t, err, "record: corrupt batch: crc mismatch: stored 0x")
	mustContain(t, err, "computed 0x")
}

func TestTruncation(t *testing.T) {
	for _, codec := range allCodecs {
		b := mustAppend(t, sampleRecords()[:3], BatchOptions{Codec: codec})
		for n := range len(b) {
			_, err := Validate(b[:n])
			if !errors.Is(err, ErrShortBatch) || IsCorrupt(err) {
				t.Fatalf("%s: prefix of %d/%d bytes: %v, want only ErrShortBatch", codec, n, len(b), err)
			}
			if _, _, err := DecodeRecords(b[:n], 1<<20); !errors.Is(err, ErrShortBatch) {
				t.Fatalf("%s: DecodeRecords of %d/%d bytes: %v", codec, n, len(b), err)
			}
			if _, err := ParseHeader(b[:n]); (n < BatchHeaderSize) != (err != nil) {
				t.Fatalf("%s: ParseHeader of %d bytes: %v", codec, n, err)
			}
		}
		_, err := Validate(b[:BatchHeaderSize-1])
		mustContain(t, err, "record: short batch: 60 bytes, a batch header is 61")
		_, err = Validate(b[:len(b)-1])
		mustContain(t, err, "record: short batch: have")
		_, err = Validate(append(slices.Clone(b), 0))
		if !IsCorrupt(err) {
			t.Fatalf("trailing byte: %v", err)
		}
		mustContain(t, err, "1 bytes after the batch")
	}
}

func TestHeaderChecks(t *testing.T) {
	valid := rawBatch(v2Header(1, 0), okRec(0))
	if _, err := Validate(valid); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		mutate func(h *BatchHeader)
		want   string
	}{
		"magic 1":         {func(h *BatchHeader) { h.Magic = 1 }, "magic 1"},
		"negative delta":  {func(h *BatchHeader) { h.LastOffsetDelta = -1 }, "negative last offset delta"},
		"negative count":  {func(h *BatchHeader) { h.NumRecords = -1 }, "negative record count"},
		"unknown codec":   {func(h *BatchHeader) { h.Attributes = 6 }, "unknown compression codec 6"},
		"count over span": {func(h *BatchHeader) { h.NumRecords = 3; h.LastOffsetDelta = 1 }, "do not fit"},
	} {
		t.Run(name, func(t *testing.T) {
			h := v2Header(1, 0)
			c.mutate(&h)
			_, err := Validate(rawBatch(h, okRec(0)))
			if !IsCorrupt(err) {
				t.Fatalf("want corrupt, got %v", err)
			}
			mustContain(t, err, c.want)
		})
	}
	// Length below the header's own 49 bytes and over the maximum.
	for _, length := range []uint32{48, 0, 1 << 31, math.MaxInt32} {
		b := slices.Clone(valid)
		b[8], b[9], b[10], b[11] = byte(length>>24), byte(length>>16), byte(length>>8), byte(length)
		if _, err := ParseHeader(b); !IsCorrupt(err) {
			t.Fatalf("length %d: %v", length, err)
		}
	}
}

func TestRecordChecks(t *testing.T) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for name, c := range map[string]struct {
		h       BatchHeader
		records []byte
		want    string // "" means valid
	}{
		"compacted gaps":      {v2Header(3, 12), cat(okRec(0), okRec(5), okRec(9)), ""},
		"empty batch":         {v2Header(0, 4), nil, ""},
		"first delta not 0":   {v2Header(1, 3), okRec(3), ""},
		"too few records":     {v2Header(3, 5), cat(okRec(0), okRec(1)), "claims 3 records but holds 2"},
		"too many records":    {v2Header(1, 5), cat(okRec(0), okRec(1)), "bytes after the last of 1 records"},
		"repeated delta":      {v2Header(2, 5), cat(okRec(0), okRec(0)), "offset delta 0 does not follow 0"},
		"descending delta":    {v2Header(2, 5), cat(okRec(2), okRec(1)), "does not follow"},
		"negative delta":      {v2Header(1, 5), okRec(-1), "negative offset delta -1"},
		"delta past last":     {v2Header(1, 5), okRec(6), "beyond the batch's last offset delta 5"},
		"length past end":     {v2Header(1, 0), okRec(0)[:len(okRec(0))-1], "length 8 with 7 bytes left"},
		"zero length":         {v2Header(1, 0), []byte{0}, "length 0"},
		"overlong varint":     {v2Header(1, 0), []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, "malformed length"},
		"fields short":        {v2Header(1, 0), rec([]byte{0}, 0, 0, 1, "k"), "malformed value"},
		"fields leave bytes":  {v2Header(1, 0), rec([]byte{0}, 0, 0, 1, "k", 1, "v", 0, "xx"), "2 bytes after its fields"},
		"key length -2":       {v2Header(1, 0), rec([]byte{0}, 0, 0, -2, -1, 0), "malformed key"},
		"key past record":     {v2Header(1, 0), rec([]byte{0}, 0, 0, 50, "k", -1, 0), "malformed key"},
		"value -2":            {v2Header(1, 0), rec([]byte{0}, 0, 0, -1, -2, 0), "malformed value"},
		"negative headers":    {v2Header(1, 0), rec([]byte{0}, 0, 0, -1, -1, -1), "header count"},
		"headers past record": {v2Header(1, 0), rec([]byte{0}, 0, 0, -1, -1, 1000), "header count"},
		"null header key":     {v2Header(1, 0), rec([]byte{0}, 0, 0, -1, -1, 1, -1, 1, "v"), "header 0: malformed or null key"},
		"header value -3":     {v2Header(1, 0), rec([]byte{0}, 0, 0, -1, -1, 1, 1, "k", -3), "header 0: malformed value"},
		"huge offset varint":  {v2Header(1, 0), rec([]byte{0}, 0, []byte{0xff, 0xff, 0xff, 0xff, 0x7f}, -1, -1, 0), "malformed offset delta"},
		"timestamp overflow":  {v2Header(1, 0), rec([]byte{0}, bytes.Repeat([]byte{0xff}, 10), 0, -1, -1, 0), "malformed timestamp delta"},
	} {
		t.Run(name, func(t *testing.T) {
			b := rawBatch(c.h, c.records)
			_, verr := Validate(b)
			h, recs, derr := DecodeRecords(b, 1<<20)
			if c.want == "" {
				if verr != nil || derr != nil {
					t.Fatalf("valid batch refused: %v / %v", verr, derr)
				}
				if len(recs) != int(h.NumRecords) {
					t.Fatalf("%d records decoded, header says %d", len(recs), h.NumRecords)
				}
				return
			}
			for _, err := range []error{verr, derr} {
				if !IsCorrupt(err) {
					t.Fatalf("want corrupt, got %v", err)
				}
				mustContain(t, err, c.want)
			}
			// The same records compressed pass Validate (which does not
			// decompress) but not DecodeRecords.
			gzh := c.h
			gzh.Attributes = int16(CodecGzip)
			gz, err := Compress(CodecGzip, nil, c.records)
			if err != nil {
				t.Fatal(err)
			}
			cb := rawBatch(gzh, gz)
			if _, err := Validate(cb); err != nil {
				t.Fatalf("Validate of a compressed batch looked at records: %v", err)
			}
			_, _, err = DecodeRecords(cb, 1<<20)
			mustContain(t, err, c.want)
		})
	}
}

func TestDecodedSlicesAreCapped(t *testing.T) {
	b := mustAppend(t, []Record{{Key: []byte("ab"), Value: []byte("cd")}, {Key: []byte("ef")}}, BatchOptions{})
	_, recs, err := DecodeRecords(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(recs[0].Key, 'X') // must not write into the value
	if string(recs[0].Value) != "cd" {
		t.Fatalf("appending to a key overwrote the value: %q", recs[0].Value)
	}
}

func TestLogAppendTime(t *testing.T) {
	for _, codec := range allCodecs {
		b := mustAppend(t, sampleRecords(), BatchOptions{Codec: codec})
		SetLogAppendTime(b, 1_800_000_000_000)
		h, recs, err := DecodeRecords(b, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !h.LogAppendTime() || h.MaxTimestamp != 1_800_000_000_000 || h.Codec() != codec {
			t.Fatalf("%s: header %+v", codec, h)
		}
		for _, r := range recs {
			if r.Timestamp != 1_800_000_000_000 {
				t.Fatalf("%s: record timestamp %d, want the append time", codec, r.Timestamp)
			}
		}
	}
}

func TestNoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	recs := sampleRecords()
	plain := mustAppend(t, recs, BatchOptions{})
	zstd := mustAppend(t, recs, BatchOptions{Codec: CodecZstd})
	dst := make([]byte, 0, 2*len(plain))
	for name, fn := range map[string]func(){
		"ParseHeader":             func() { _, _ = ParseHeader(plain) },
		"Validate":                func() { _, _ = Validate(plain) },
		"Validate compressed":     func() { _, _ = Validate(zstd) },
		"SetBaseOffset":           func() { SetBaseOffset(plain, 12345) },
		"SetPartitionLeaderEpoch": func() { SetPartitionLeaderEpoch(plain, 3) },
		"AppendBatch":             func() { dst, _ = AppendBatch(dst[:0], recs, BatchOptions{}) },
	} {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
}
