package record

// Cross-checks against franz-go, an independent implementation of the same
// format: kmsg for the batch and record encodings, kgo's default
// compressor and decompressor for the codecs' framing.

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var kgoCodecs = map[Codec]kgo.CompressionCodec{
	CodecGzip:   kgo.GzipCompression(),
	CodecSnappy: kgo.SnappyCompression(),
	CodecLZ4:    kgo.Lz4Compression(),
	CodecZstd:   kgo.ZstdCompression(),
}

// TestKmsgReadsOurBatches decodes our batches with kmsg and kgo.
func TestKmsgReadsOurBatches(t *testing.T) {
	recs := append(sampleRecords(), randomRecords(rand.New(rand.NewPCG(3, 4)), 50)...)
	opts := BatchOptions{Idempotent: true, ProducerID: 1 << 40, ProducerEpoch: 5, BaseSequence: 1 << 20, Transactional: true}
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			opts.Codec = codec
			b := mustAppend(t, recs, opts)
			SetBaseOffset(b, 1<<33)
			SetPartitionLeaderEpoch(b, 17)
			h, err := Validate(b)
			if err != nil {
				t.Fatal(err)
			}

			var kb kmsg.RecordBatch
			if err := kb.ReadFrom(b); err != nil {
				t.Fatal(err)
			}
			got := BatchHeader{
				BaseOffset: kb.FirstOffset, Length: kb.Length, PartitionLeaderEpoch: kb.PartitionLeaderEpoch,
				Magic: kb.Magic, CRC: uint32(kb.CRC), Attributes: kb.Attributes, LastOffsetDelta: kb.LastOffsetDelta,
				BaseTimestamp: kb.FirstTimestamp, MaxTimestamp: kb.MaxTimestamp, ProducerID: kb.ProducerID,
				ProducerEpoch: kb.ProducerEpoch, BaseSequence: kb.FirstSequence, NumRecords: kb.NumRecords,
			}
			if got != h {
				t.Fatalf("kmsg header\n got %+v\nwant %+v", got, h)
			}
			if crc := crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)); crc != uint32(kb.CRC) {
				t.Fatalf("kmsg CRC %#x, independent CRC %#x", kb.CRC, crc)
			}

			raw := kb.Records
			if codec != CodecNone {
				if raw, err = kgo.DefaultDecompressor().Decompress(kb.Records, kgo.CompressionCodecType(codec)); err != nil {
					t.Fatalf("kgo cannot decompress our %s: %v", codec, err)
				}
			}
			for i, want := range recs {
				var kr kmsg.Record
				if err := kr.ReadFrom(raw); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				n := varintLen(int64(kr.Length)) + int(kr.Length)
				raw = raw[n:]
				if kr.OffsetDelta != int32(i) || kb.FirstTimestamp+kr.TimestampDelta64 != want.Timestamp {
					t.Fatalf("record %d: deltas %d/%d", i, kr.OffsetDelta, kr.TimestampDelta64)
				}
				bytesEqual(t, "key", kr.Key, want.Key)
				bytesEqual(t, "value", kr.Value, want.Value)
				if len(kr.Headers) != len(want.Headers) {
					t.Fatalf("record %d: %d headers, want %d", i, len(kr.Headers), len(want.Headers))
				}
				for j, hd := range want.Headers {
					if kr.Headers[j].Key != hd.Key {
						t.Fatalf("record %d header %d key %q", i, j, kr.Headers[j].Key)
					}
					bytesEqual(t, "header value", kr.Headers[j].Value, hd.Value)
				}
			}
			if len(raw) != 0 {
				t.Fatalf("%d bytes left after the records", len(raw))
			}
		})
	}
}

// TestWeReadKmsgBatches builds batches with kmsg records and kgo's
// compressors (different settings from ours: 4 MiB LZ4 blocks, a 64 KiB
// zstd window) and decodes them.
func TestWeReadKmsgBatches(t *testing.T) {
	recs := append(sampleRecords(), randomRecords(rand.New(rand.NewPCG(5, 6)), 50)...)
	base := recs[0].Timestamp
	var raw []byte
	for i, r := range recs {
		kr := kmsg.Record{TimestampDelta64: r.Timestamp - base, OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		body := kr.AppendTo(nil)         // with Length 0: one byte of length
		kr.Length = int32(len(body) - 1) // so the body is the rest
		raw = kr.AppendTo(raw)           // now with the right length
	}
	maxTS := base
	for _, r := range recs {
		maxTS = max(maxTS, r.Timestamp)
	}
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			records := raw
			if codec != CodecNone {
				c, err := kgo.DefaultCompressor(kgoCodecs[codec])
				if err != nil {
					t.Fatal(err)
				}
				out, used := c.Compress(new(bytes.Buffer), raw)
				if used != kgo.CompressionCodecType(codec) {
					t.Fatalf("kgo compressed with %d", used)
				}
				records = out
			}
			kb := kmsg.RecordBatch{
				FirstOffset: 42, PartitionLeaderEpoch: 3, Magic: 2, Attributes: int16(codec),
				LastOffsetDelta: int32(len(recs) - 1), FirstTimestamp: base, MaxTimestamp: maxTS,
				ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(recs)),
				Records: records,
			}
			kb.Length = int32(BatchHeaderSize - 12 + len(records))
			b := kb.AppendTo(nil)
			binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))

			h, err := Validate(b)
			if err != nil {
				t.Fatal(err)
			}
			if h.BaseOffset != 42 || h.PartitionLeaderEpoch != 3 || h.Codec() != codec || h.NumRecords != int32(len(recs)) {
				t.Fatalf("header %+v", h)
			}
			_, got, err := DecodeRecords(b, 16<<20)
			if err != nil {
				t.Fatal(err)
			}
			recordsEqual(t, got, withOffsets(recs, 42))
		})
	}
}
