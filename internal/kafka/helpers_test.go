package kafka

import (
	"testing"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

// readPartition returns every value stored in p.
func readPartition(t *testing.T, p *log.Partition) [][]byte {
	t.Helper()
	var out [][]byte
	from := p.Offsets().LogStart
	for {
		res, err := p.Read(from, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Batches) == 0 {
			return out
		}
		for b := res.Batches; len(b) > 0; {
			h, recs, err := record.DecodeRecords(b[:mustHeader(t, b).Size()], 1<<26)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if r.Offset >= from {
					out = append(out, r.Value)
				}
			}
			from = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
}

func mustHeader(t *testing.T, b []byte) record.BatchHeader {
	t.Helper()
	h, err := record.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
