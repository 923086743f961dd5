package kafka

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// spliceMin is the smallest record set worth sending as its own buffer
// rather than copying into the frame.
const spliceMin = 1024

// encodeFetch encodes a Fetch response without copying its record data:
// kmsg encodes the response with each large record set replaced by a
// random 8-byte sentinel, and the frame is then cut at each sentinel and
// the real records — the buffers the log read into — put in its place, with
// the length prefix rewritten. The pieces go out with one writev. kmsg
// stays the only encoder of the protocol; this only avoids a copy of every
// fetched byte.
func encodeFetch(h requestHeader, resp *kmsg.FetchResponse) net.Buffers {
	var splices []splice
	for ti := range resp.Topics {
		for pi := range resp.Topics[ti].Partitions {
			p := &resp.Topics[ti].Partitions[pi]
			if len(p.RecordBatches) < spliceMin {
				continue
			}
			s := splice{sentinel: make([]byte, 8), records: p.RecordBatches}
			_, _ = rand.Read(s.sentinel) // never fails on Linux
			p.RecordBatches = s.sentinel
			splices = append(splices, s)
		}
	}
	frame := encodeFrame(h, resp)
	if len(splices) == 0 {
		return net.Buffers{frame}
	}
	flexible := resp.IsFlexible()
	out := make(net.Buffers, 0, 3*len(splices)+1)
	size, prev := 0, 0
	for _, s := range splices {
		i := bytes.Index(frame[prev:], s.sentinel)
		prefix := 4 // NULLABLE_BYTES: int32 length
		if flexible {
			prefix = 1 // COMPACT_NULLABLE_BYTES: uvarint(length+1), 9 for 8 bytes
		}
		if i < prefix || !sentinelPrefix(frame[prev+i-prefix:prev+i], flexible) {
			// Cannot happen unless kmsg's layout changes; stay correct.
			unsplice(resp, splices)
			return net.Buffers{encodeFrame(h, resp)}
		}
		i += prev
		var lengthPrefix []byte
		if flexible {
			lengthPrefix = binary.AppendUvarint(nil, uint64(len(s.records)+1))
		} else {
			lengthPrefix = binary.BigEndian.AppendUint32(nil, uint32(len(s.records)))
		}
		out = append(out, frame[prev:i-prefix], lengthPrefix, s.records)
		size += i - prefix - prev + len(lengthPrefix) + len(s.records)
		prev = i + len(s.sentinel)
	}
	out = append(out, frame[prev:])
	size += len(frame) - prev
	binary.BigEndian.PutUint32(frame, uint32(size-4))
	return out
}

func sentinelPrefix(b []byte, flexible bool) bool {
	if flexible {
		return len(b) == 1 && b[0] == 9
	}
	return len(b) == 4 && binary.BigEndian.Uint32(b) == 8
}

type splice struct {
	sentinel []byte
	records  []byte
}

// unsplice puts the real records back in place of their sentinels.
func unsplice(resp *kmsg.FetchResponse, splices []splice) {
	for ti := range resp.Topics {
		for pi := range resp.Topics[ti].Partitions {
			p := &resp.Topics[ti].Partitions[pi]
			for _, s := range splices {
				if bytes.Equal(p.RecordBatches, s.sentinel) {
					p.RecordBatches = s.records
				}
			}
		}
	}
}
