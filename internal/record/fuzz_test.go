package record

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// seedBatches are well-formed batches of every codec, with and without
// producer state, plus a compacted one with offset gaps and an empty one.
func seedBatches(t testing.TB) [][]byte {
	var seeds [][]byte
	rng := rand.New(rand.NewPCG(20, 21))
	for _, codec := range allCodecs {
		seeds = append(seeds,
			mustAppend(t, sampleRecords()[:3], BatchOptions{Codec: codec}),
			mustAppend(t, randomRecords(rng, 5), BatchOptions{Codec: codec, Idempotent: true, ProducerID: 9, Transactional: true}),
		)
	}
	gaps := []Record{{Offset: 3, Key: []byte("a")}, {Offset: 8, Value: []byte("b"), Headers: []Header{{Key: "k"}}}}
	seeds = append(seeds,
		mustAppend(t, gaps, BatchOptions{KeepOffsets: true}),
		rawBatch(v2Header(0, 0), nil),
	)
	return seeds
}

// checkErrorClass fails unless err is nil or one of the package's classes.
func checkErrorClass(t *testing.T, err error) {
	t.Helper()
	if err != nil && !IsCorrupt(err) && !errors.Is(err, ErrShortBatch) && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error outside the package's classes: %v", err)
	}
}

func FuzzValidate(f *testing.F) {
	for _, b := range seedBatches(f) {
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(b []byte) {
			h, err := Validate(b)
			checkErrorClass(t, err)
			if err != nil {
				return
			}
			if h.Size() != len(b) || h.NumRecords < 0 || int64(h.NumRecords) > int64(h.LastOffsetDelta)+1 {
				t.Fatalf("Validate accepted an inconsistent header %+v for %d bytes", h, len(b))
			}
			// The promise: an uncompressed batch Validate accepts decodes.
			if h.Codec() == CodecNone {
				h2, recs, err := DecodeRecords(b, 0)
				if err != nil {
					t.Fatalf("Validate accepted what DecodeRecords refuses: %v", err)
				}
				if h2 != h || len(recs) != int(h.NumRecords) {
					t.Fatalf("DecodeRecords disagrees: %+v, %d records", h2, len(recs))
				}
			}
		}
		check(b)
		// With the CRC fixed the fuzzer gets past it to the records.
		c := slices.Clone(b)
		fixCRC(c)
		check(c)
	})
}

func FuzzDecodeRecords(f *testing.F) {
	for _, b := range seedBatches(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		b = slices.Clone(b)
		fixCRC(b) // else almost every input stops at the CRC
		const maxDecompressed = 1 << 20
		h, recs, err := DecodeRecords(b, maxDecompressed)
		checkErrorClass(t, err)
		if err != nil {
			return
		}
		if len(recs) != int(h.NumRecords) {
			t.Fatalf("%d records, header says %d", len(recs), h.NumRecords)
		}
		for i, r := range recs {
			if r.Offset < h.BaseOffset || r.Offset > h.LastOffset() || i > 0 && r.Offset <= recs[i-1].Offset {
				t.Fatalf("record %d offset %d outside or out of order in [%d, %d]", i, r.Offset, h.BaseOffset, h.LastOffset())
			}
		}
		if len(recs) == 0 {
			return
		}
		// Re-encoding the records gives a batch that decodes to them.
		opts := OptionsFromHeader(h)
		if opts.check() != nil {
			return // e.g. a control bit without the transactional one
		}
		out, err := AppendBatch(nil, recs, opts)
		if err != nil {
			t.Fatalf("cannot re-encode decoded records: %v", err)
		}
		SetBaseOffset(out, recs[0].Offset)
		_, again, err := DecodeRecords(out, 4*maxDecompressed) // varints may grow: re-based timestamp deltas
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		recordsEqual(t, again, recs)
	})
}

func FuzzDecompress(f *testing.F) {
	for _, codec := range allCodecs {
		for _, in := range [][]byte{nil, []byte("hello hello hello hello"), make([]byte, 5000)} {
			c, err := Compress(codec, nil, in)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(codec), c)
		}
	}
	f.Add(uint8(CodecSnappy), xerial([]byte("hello hello hello"), 4))
	f.Fuzz(func(t *testing.T, codec uint8, src []byte) {
		const maxSize = 1 << 16
		out, err := Decompress(Codec(codec%5), src, maxSize)
		checkErrorClass(t, err)
		if err == nil && len(out) > maxSize {
			t.Fatalf("%d bytes out, cap %d", len(out), maxSize)
		}
	})
}
