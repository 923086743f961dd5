package kafka

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
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
		for _, piece := range encodeFetch(h, resp) {
			got.Write(piece)
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
