package kafka

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
)

// spliceMin is the smallest record set worth sending as its own buffer
// rather than copying into the frame.
const spliceMin = 1024

// regionSplice marks a partition whose records are a file region: its
// RecordBatches holds the sentinel until the frame is encoded.
type regionSplice struct {
	sentinel []byte
	region   *log.FileRegion
}

// splice is one record set cut out of the encoded frame.
type splice struct {
	sentinel []byte
	records  piece
	length   int
}

func newSentinel() []byte {
	s := make([]byte, 8)
	_, _ = rand.Read(s) // never fails on Linux
	return s
}

// encodeFetch encodes a Fetch response without copying its record data:
// kmsg encodes the response with each large record set (and each file
// region) replaced by a random 8-byte sentinel; the frame is then cut at
// each sentinel and the real records — the buffer the log read into, or
// the region to sendfile — put in its place with the length prefix
// rewritten. kmsg stays the only encoder of the protocol; this only avoids
// copying every fetched byte.
func encodeFetch(h requestHeader, resp *kmsg.FetchResponse, regions []regionSplice) []piece {
	var splices []splice
	for ti := range resp.Topics {
		for pi := range resp.Topics[ti].Partitions {
			p := &resp.Topics[ti].Partitions[pi]
			if r := regionFor(regions, p.RecordBatches); r != nil {
				splices = append(splices, splice{sentinel: p.RecordBatches, records: piece{region: r}, length: int(r.Length)})
				continue
			}
			if len(p.RecordBatches) < spliceMin {
				continue
			}
			s := splice{sentinel: newSentinel(), records: piece{mem: p.RecordBatches}, length: len(p.RecordBatches)}
			p.RecordBatches = s.sentinel
			splices = append(splices, s)
		}
	}
	frame := encodeFrame(h, resp)
	if len(splices) == 0 {
		return []piece{{mem: frame}}
	}
	flexible := resp.IsFlexible()
	prefix := 4 // NULLABLE_BYTES: int32 length
	if flexible {
		prefix = 1 // COMPACT_NULLABLE_BYTES: uvarint(length+1), 9 for 8 bytes
	}
	out := make([]piece, 0, 3*len(splices)+1)
	size, prev := 0, 0
	for _, s := range splices {
		i := bytes.Index(frame[prev:], s.sentinel)
		if i < prefix || !sentinelPrefix(frame[prev+i-prefix:prev+i], flexible) {
			// Only if kmsg's layout changed (a test guards it): never send
			// a broken frame; put the records back and encode plainly.
			return encodeFetchPlain(h, resp, splices)
		}
		i += prev
		var lengthPrefix []byte
		if flexible {
			lengthPrefix = binary.AppendUvarint(nil, uint64(s.length+1))
		} else {
			lengthPrefix = binary.BigEndian.AppendUint32(nil, uint32(s.length))
		}
		out = append(out, piece{mem: frame[prev : i-prefix]}, piece{mem: lengthPrefix}, s.records)
		size += i - prefix - prev + len(lengthPrefix) + s.length
		prev = i + len(s.sentinel)
	}
	out = append(out, piece{mem: frame[prev:]})
	size += len(frame) - prev
	binary.BigEndian.PutUint32(frame, uint32(size-4))
	return out
}

func encodeFetchPlain(h requestHeader, resp *kmsg.FetchResponse, splices []splice) []piece {
	for ti := range resp.Topics {
		for pi := range resp.Topics[ti].Partitions {
			p := &resp.Topics[ti].Partitions[pi]
			for _, s := range splices {
				if !bytes.Equal(p.RecordBatches, s.sentinel) {
					continue
				}
				if s.records.region == nil {
					p.RecordBatches = s.records.mem
					continue
				}
				buf := make([]byte, s.length)
				if _, err := s.records.region.File.ReadAt(buf, s.records.region.Offset); err != nil {
					buf = []byte{} // the client will refetch
				}
				p.RecordBatches = buf
			}
		}
	}
	return []piece{{mem: encodeFrame(h, resp)}}
}

func regionFor(regions []regionSplice, records []byte) *log.FileRegion {
	if len(records) != 8 {
		return nil
	}
	for _, r := range regions {
		if bytes.Equal(r.sentinel, records) {
			return r.region
		}
	}
	return nil
}

func sentinelPrefix(b []byte, flexible bool) bool {
	if flexible {
		return len(b) == 1 && b[0] == 9
	}
	return len(b) == 4 && binary.BigEndian.Uint32(b) == 8
}
