package kafka

import (
	"bytes"
	"crypto/rand"
	"os"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/vfs"
)

// TestEncodeFetchMatchesKmsg: splicing record data into the frame gives
// exactly the bytes kmsg encodes, for every served Fetch version.
func TestEncodeFetchMatchesKmsg(t *testing.T) {
	build := func(version int16) *kmsg.FetchResponse {
		resp := kmsg.NewPtrFetchResponse()
		resp.SetVersion(version)
		for ti, sizes := range [][]int{{0, 5000, 100}, {70000, 2048}} {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic = string(rune('a' + ti))
			for pi, n := range sizes {
				rp := kmsg.NewFetchResponseTopicPartition()
				rp.Partition = int32(pi)
				rp.HighWatermark = int64(n)
				rp.RecordBatches = make([]byte, n)
				_, _ = rand.Read(rp.RecordBatches)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	for v := apis[1].min; v <= apis[1].max; v++ {
		h := requestHeader{key: 1, version: v, correlationID: 42}
		resp := build(v)
		// Deep-copy the records: encodeFetch swaps them for sentinels.
		want := encodeFrame(h, cloneFetch(resp))
		var got bytes.Buffer
		for _, piece := range encodeFetch(h, resp, nil) {
			got.Write(piece.mem)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("v%d: spliced frame differs from kmsg's (%d vs %d bytes)", v, got.Len(), len(want))
		}
	}
}

func cloneFetch(r *kmsg.FetchResponse) *kmsg.FetchResponse {
	c := *r
	c.Topics = nil
	for _, t := range r.Topics {
		ct := t
		ct.Partitions = append([]kmsg.FetchResponseTopicPartition(nil), t.Partitions...)
		c.Topics = append(c.Topics, ct)
	}
	return &c
}

// TestEncodeFetchRegions: record sets sent as file regions frame exactly as
// kmsg would encode the same bytes.
func TestEncodeFetchRegions(t *testing.T) {
	data := make([]byte, 200000)
	_, _ = rand.Read(data)
	f, err := os.CreateTemp(t.TempDir(), "segment")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	file, err := vfs.Default.OpenFile(f.Name(), os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, v := range []int16{4, 11, 12} {
		h := requestHeader{key: 1, version: v, correlationID: 9}
		plain := kmsg.NewPtrFetchResponse()
		plain.SetVersion(v)
		withRegions := kmsg.NewPtrFetchResponse()
		withRegions.SetVersion(v)
		var regions []regionSplice
		for i, span := range [][2]int{{0, 70000}, {70000, 300}, {100000, 100000}} {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic = "t"
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = int32(i)
			rp.RecordBatches = data[span[0] : span[0]+span[1]]
			rt.Partitions = append(rt.Partitions, rp)
			plain.Topics = append(plain.Topics, rt)

			rt2 := rt
			rt2.Partitions = []kmsg.FetchResponseTopicPartition{rp}
			if span[1] > 1000 {
				s := newSentinel()
				regions = append(regions, regionSplice{sentinel: s, region: &log.FileRegion{File: file, Offset: int64(span[0]), Length: int64(span[1])}})
				rt2.Partitions[0].RecordBatches = s
			}
			withRegions.Topics = append(withRegions.Topics, rt2)
		}
		want := encodeFrame(h, plain)
		var got bytes.Buffer
		for _, p := range encodeFetch(h, withRegions, regions) {
			if p.region != nil {
				buf := make([]byte, p.region.Length)
				if _, err := p.region.File.ReadAt(buf, p.region.Offset); err != nil {
					t.Fatal(err)
				}
				got.Write(buf)
				continue
			}
			got.Write(p.mem)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("v%d: frame with regions differs from kmsg's (%d vs %d bytes)", v, got.Len(), len(want))
		}
	}
}
