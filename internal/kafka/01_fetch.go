package kafka

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
)

// Fetch v13+ names topics by id only; v4 is Kafka 4's minimum.
func init() { register(1, 4, 12, (*Server).handleFetch) }

// maxFetchWait caps a client's MaxWaitMillis.
const maxFetchWait = 30 * time.Second

func (s *Server) handleFetch(r *request) {
	req := r.req.(*kmsg.FetchRequest)
	r.async(func(ctx context.Context) {
		wait := min(time.Duration(req.MaxWaitMillis)*time.Millisecond, maxFetchWait)
		deadline := time.Now().Add(wait)
		for {
			resp, size, waitOn, bufs := s.fetchOnce(req)
			if size >= int(max(req.MinBytes, 1)) || len(waitOn) == 0 || !time.Now().Before(deadline) || ctx.Err() != nil {
				// The response refers to the read buffers until written.
				r.respondThen(resp, func() { bufs.release() })
				return
			}
			bufs.release()
			// Long poll: sleep until any partition gets data or time is up.
			waitCtx, cancel := context.WithDeadline(ctx, deadline)
			woke := make(chan struct{}, len(waitOn))
			for _, w := range waitOn {
				go func() {
					wait := w.p.Wait
					if w.stable {
						wait = w.p.WaitStable
					}
					if wait(waitCtx, w.offset) == nil {
						woke <- struct{}{}
					}
				}()
			}
			select {
			case <-woke:
			case <-waitCtx.Done():
			}
			cancel()
		}
	})
}

type fetchWait struct {
	p      *log.Partition
	offset int64
	// stable waits for the last stable offset to pass offset
	// (read_committed) rather than the high watermark.
	stable bool
}

// Isolation levels of Fetch and ListOffsets.
const (
	readUncommitted = 0
	readCommitted   = 1
)

// fetchOnce reads what is there now, into pooled buffers the caller
// releases once the response is written. waitOn lists the partitions a
// long poll should wait on (those read at their end).
func (s *Server) fetchOnce(req *kmsg.FetchRequest) (_ *kmsg.FetchResponse, total int, waitOn []fetchWait, bufs fetchBuffers) {
	resp := kmsg.NewPtrFetchResponse()
	// read_committed (v4+): records up to the last stable offset only,
	// with the aborted transactions among them listed for the client to
	// drop, as Kafka serves them.
	committed := req.Version >= 4 && req.IsolationLevel == readCommitted
	budget := int(req.MaxBytes)
	if req.Version < 3 || budget <= 0 {
		budget = 1 << 30
	}
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		t, terr := s.log.Topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.RecordBatches = []byte{}
			p, code := partitionOf(t, terr, rp.Partition, rp.CurrentLeaderEpoch)
			if code != 0 {
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			var err error
			// KIP-320: a follower of an older epoch that ended before its
			// fetch offset has diverged; tell it where the epoch ended.
			if req.Version >= 12 && rp.LastFetchedEpoch >= 0 {
				epoch, end := p.EpochEndOffset(rp.LastFetchedEpoch)
				if epoch != rp.LastFetchedEpoch || end < rp.FetchOffset {
					sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = epoch, end
					o := p.Offsets()
					sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = o.HighWatermark, o.LastStable, o.LogStart
					st.Partitions = append(st.Partitions, sp)
					continue
				}
			}
			limit := int(rp.PartitionMaxBytes)
			if total > 0 {
				limit = min(limit, budget-total) // past the first batch the total limit applies
			}
			var res log.ReadResult
			switch {
			case (limit > 0 || total == 0) && committed:
				res, err = p.ReadStable(bufs.get(limit), rp.FetchOffset, max(limit, 1))
			case limit > 0 || total == 0:
				res, err = p.ReadInto(bufs.get(limit), rp.FetchOffset, max(limit, 1))
			default:
				o := p.Offsets()
				res.HighWatermark, res.LastStableOffset, res.LogStartOffset = o.HighWatermark, o.LastStable, o.LogStart
			}
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = res.HighWatermark, res.LastStableOffset, res.LogStartOffset
			if err != nil {
				sp.ErrorCode = errorCode(err)
				if sp.HighWatermark <= 0 {
					o := p.Offsets()
					sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = o.HighWatermark, o.LastStable, o.LogStart
				}
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			for _, a := range res.Aborted {
				at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
				at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
				sp.AbortedTransactions = append(sp.AbortedTransactions, at)
			}
			// Never null: librdkafka reads a null record set as a protocol error.
			sp.RecordBatches = res.Batches
			if sp.RecordBatches == nil {
				sp.RecordBatches = []byte{}
			}
			total += len(res.Batches)
			switch {
			case len(res.Batches) > 0:
			case committed && rp.FetchOffset >= res.LastStableOffset:
				// At the LSO: an open transaction holds the rest back.
				waitOn = append(waitOn, fetchWait{p: p, offset: rp.FetchOffset, stable: true})
			case rp.FetchOffset == res.HighWatermark:
				waitOn = append(waitOn, fetchWait{p: p, offset: rp.FetchOffset})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, total, waitOn, bufs
}

// fetchBuffers are the read buffers of one fetch, taken from a pool.
type fetchBuffers []*[]byte

// maxPooledFetchBuffer keeps rare huge reads out of the pool.
const maxPooledFetchBuffer = 8 << 20

var fetchBufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

// get returns a buffer of at least n bytes' capacity.
func (b *fetchBuffers) get(n int) []byte {
	if n > maxPooledFetchBuffer {
		return nil // ReadInto allocates
	}
	buf := fetchBufferPool.Get().(*[]byte)
	if cap(*buf) < n {
		*buf = make([]byte, 0, n)
	}
	*b = append(*b, buf)
	return (*buf)[:0]
}

func (b fetchBuffers) release() {
	for _, buf := range b {
		fetchBufferPool.Put(buf)
	}
}

// partitionOf resolves one partition of a request: the topic lookup's
// result, the partition id and the client's idea of the leader epoch (-1
// skips the check). A zero code means p is ready to serve.
func partitionOf(t *log.Topic, terr error, id, clientEpoch int32) (p *log.Partition, code int16) {
	if terr != nil {
		return nil, errorCode(terr)
	}
	p, err := t.Partition(id)
	if err != nil {
		return nil, errorCode(err)
	}
	return p, checkLeaderEpoch(p, clientEpoch)
}

// checkLeaderEpoch answers a client's idea of the leader epoch (KIP-320):
// newer than ours is unknown, older is fenced; -1 skips the check.
func checkLeaderEpoch(p *log.Partition, clientEpoch int32) int16 {
	if clientEpoch < 0 {
		return 0
	}
	switch current := p.LeaderEpoch(); {
	case clientEpoch > current:
		return kerr.UnknownLeaderEpoch.Code
	case clientEpoch < current:
		return kerr.FencedLeaderEpoch.Code
	}
	return 0
}
