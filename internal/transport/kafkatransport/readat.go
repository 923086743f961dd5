package kafkatransport

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/transport"
)

// maxDecompressed caps one compressed batch's records, decompressed.
const maxDecompressed = 256 << 20

// readAttempts bounds the fetches ReadAt makes for one batch when the
// cluster answers with a retriable error (a leader moving, metadata not
// yet everywhere); they back off from readBackoff, doubling.
const (
	readAttempts = 5
	readBackoff  = 50 * time.Millisecond
)

// ReadAt reads with Fetch requests of its own, sent on the transport's
// client to the partition's leader: no group, no consumer client and no
// goroutine, and nothing that outlives the call. It first lists the last
// stable offset (ListOffsets read_committed; an offset at or past it
// returns nothing without fetching), then asks the metadata for the
// leader and the topic id (Fetch v13+ names topics by id) and fetches at
// offset with no wait, maxBytes for the partition and the response,
// read_committed as the transport's consumers read: the broker answers
// with whole batches below the last stable offset from the one holding
// offset (the first even when larger than maxBytes, KIP-74), perhaps with
// a partial batch at the end, which is dropped, and lists the aborted
// transactions among them, whose batches are dropped as the Java consumer
// drops them; records before offset and control batches are dropped too.
// When nothing is left (control batches or aborted records only, or
// records that compaction removed) it fetches on from the next batch,
// until a record or the last stable offset.
// A retriable error (kerr.IsRetriable) is retried a few times, with the
// leader looked up again. The records alias the response, which nothing
// else holds: the caller owns them.
func (t *Transport) ReadAt(ctx context.Context, tp transport.TopicPartition, offset int64, maxBytes int) ([]*transport.Record, error) {
	ends, err := t.stableOffsets(ctx, tp.Topic) // checks that t is open
	if err != nil {
		return nil, err
	}
	end, ok := ends[tp.Partition]
	switch {
	case !ok:
		return nil, fmt.Errorf("kafkatransport: read %s[%d]: the topic has %d partitions: %w", tp.Topic, tp.Partition, len(ends), transport.ErrTopicNotFound)
	case offset >= end:
		return nil, nil
	case offset < 0:
		return nil, fmt.Errorf("kafkatransport: read %s[%d] at %d: %w", tp.Topic, tp.Partition, offset, transport.ErrOffsetOutOfRange)
	}
	limit := int32(min(max(maxBytes, 1), math.MaxInt32))
	for {
		f, err := t.fetchRetrying(ctx, tp, offset, limit)
		if err != nil {
			return nil, err
		}
		recs, next, err := decodeFetched(f.batches, offset, tp, f.aborted)
		if err != nil {
			return nil, err
		}
		switch {
		case len(recs) > 0:
			return recs, nil
		case next >= f.stable:
			return nil, nil
		case next == offset:
			// Brokers send the first batch whole whatever the limit; a
			// response without one would have us ask forever.
			return nil, fmt.Errorf("kafkatransport: read %s[%d] at %d: the fetch returned no whole batch below the last stable offset %d", tp.Topic, tp.Partition, offset, f.stable)
		}
		offset = next
	}
}

// stableOffsets returns, per partition of topic, the last stable offset:
// the first offset of the earliest open transaction, or the high
// watermark when none is open.
func (t *Transport) stableOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	listed, err := t.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, mapError(fmt.Errorf("kafkatransport: last stable offsets of %q: %w", topic, err))
	}
	parts, ok := listed[topic]
	if !ok || len(parts) == 0 {
		return nil, fmt.Errorf("kafkatransport: last stable offsets of %q: %w", topic, transport.ErrTopicNotFound)
	}
	stable := make(map[int32]int64, len(parts))
	for p, lo := range parts {
		if lo.Err != nil {
			return nil, mapError(fmt.Errorf("kafkatransport: last stable offset of %s[%d]: %w", topic, p, lo.Err))
		}
		stable[p] = lo.Offset
	}
	return stable, nil
}

// fetched is what one read_committed Fetch returned for the partition.
type fetched struct {
	batches []byte
	// stable is the last stable offset; the broker sends no batch at or
	// past it.
	stable int64
	// aborted lists the aborted transactions among the batches.
	aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction
}

// fetchRetrying is fetch, retried with backoff while the error is
// retriable.
func (t *Transport) fetchRetrying(ctx context.Context, tp transport.TopicPartition, offset int64, limit int32) (fetched, error) {
	backoff := readBackoff
	for attempt := 1; ; attempt++ {
		f, err := t.fetch(ctx, tp, offset, limit)
		if err == nil || attempt == readAttempts || !kerr.IsRetriable(err) || ctx.Err() != nil {
			return f, err
		}
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return fetched{}, fmt.Errorf("kafkatransport: read %s[%d] at %d: %w (after %w)", tp.Topic, tp.Partition, offset, ctx.Err(), err)
		}
		backoff *= 2
	}
}

// fetch sends one read_committed Fetch for tp at offset to its leader.
func (t *Transport) fetch(ctx context.Context, tp transport.TopicPartition, offset int64, limit int32) (fetched, error) {
	where := fmt.Sprintf("%s[%d] at %d", tp.Topic, tp.Partition, offset)
	md, err := t.adm.Metadata(ctx, tp.Topic)
	if err != nil {
		return fetched{}, mapError(fmt.Errorf("kafkatransport: read %s: metadata: %w", where, err))
	}
	td, ok := md.Topics[tp.Topic]
	if !ok {
		return fetched{}, fmt.Errorf("kafkatransport: read %s: %w", where, transport.ErrTopicNotFound)
	}
	if td.Err != nil {
		return fetched{}, mapError(fmt.Errorf("kafkatransport: read %s: %w", where, td.Err))
	}
	pd, ok := td.Partitions[tp.Partition]
	if !ok {
		return fetched{}, fmt.Errorf("kafkatransport: read %s: the topic has %d partitions: %w", where, len(td.Partitions), transport.ErrTopicNotFound)
	}
	if pd.Err != nil {
		return fetched{}, mapError(fmt.Errorf("kafkatransport: read %s: %w", where, pd.Err))
	}
	if pd.Leader < 0 {
		return fetched{}, fmt.Errorf("kafkatransport: read %s: %w", where, kerr.LeaderNotAvailable)
	}

	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = 0  // answer with what is there: ReadAt never waits
	req.IsolationLevel = 1 // read_committed
	req.MinBytes = 1
	req.MaxBytes = limit
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = tp.Topic, [16]byte(td.ID) // the version in use picks one
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = tp.Partition, offset, limit
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := t.cl.Broker(int(pd.Leader)).RetriableRequest(ctx, req)
	if err != nil {
		return fetched{}, mapError(fmt.Errorf("kafkatransport: read %s: fetch from broker %d: %w", where, pd.Leader, err))
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fetched{}, mapError(fmt.Errorf("kafkatransport: read %s: %w", where, err))
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fetched{}, fmt.Errorf("kafkatransport: read %s: the fetch response has %d topics, want 1 with 1 partition", where, len(resp.Topics))
	}
	sp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
		if errors.Is(err, kerr.OffsetOutOfRange) {
			// Below the log start: the end was listed above it.
			return fetched{}, fmt.Errorf("kafkatransport: read %s: %w: %w", where, transport.ErrOffsetOutOfRange, err)
		}
		return fetched{}, mapError(fmt.Errorf("kafkatransport: read %s: %w", where, err))
	}
	stable := sp.LastStableOffset
	if stable < 0 { // Fetch below v4 has none; no transaction then
		stable = sp.HighWatermark
	}
	return fetched{batches: sp.RecordBatches, stable: stable, aborted: sp.AbortedTransactions}, nil
}

// decodeFetched turns the batches of a read_committed fetch response into
// records at or after from, skipping control batches (transaction
// markers), the batches of aborted transactions and a partial batch at the
// end (brokers cut the response at the byte limit). It returns the offset
// after the last whole batch, or from when there was none. The records
// alias b.
//
// Aborted batches are found as the Java consumer finds them: aborted lists
// each aborted transaction's producer id and first offset; a producer's
// transactional batches are aborted from that offset until its abort
// marker.
func decodeFetched(b []byte, from int64, tp transport.TopicPartition, aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction) (recs []*transport.Record, next int64, err error) {
	next = from
	aborted = slices.Clone(aborted)
	slices.SortFunc(aborted, func(a, b kmsg.FetchResponseTopicPartitionAbortedTransaction) int {
		return cmp.Compare(a.FirstOffset, b.FirstOffset)
	})
	var abortedProducers map[int64]bool // producers inside an aborted transaction
	for rest := b; len(rest) >= record.BatchHeaderSize; {
		h, err := record.ParseHeader(rest)
		if err != nil {
			return nil, 0, fmt.Errorf("kafkatransport: read %s[%d]: batch after offset %d: %w", tp.Topic, tp.Partition, next, err)
		}
		if h.Size() > len(rest) {
			break // partial
		}
		batch := rest[:h.Size()]
		rest = rest[h.Size():]
		next = max(next, h.LastOffset()+1)
		for len(aborted) > 0 && aborted[0].FirstOffset <= h.LastOffset() {
			if abortedProducers == nil {
				abortedProducers = map[int64]bool{}
			}
			abortedProducers[aborted[0].ProducerID] = true
			aborted = aborted[1:]
		}
		if h.Control() {
			if abortedProducers[h.ProducerID] {
				abort, err := isAbortMarker(batch)
				if err != nil {
					return nil, 0, fmt.Errorf("kafkatransport: read %s[%d]: control batch at %d: %w", tp.Topic, tp.Partition, h.BaseOffset, err)
				}
				if abort {
					delete(abortedProducers, h.ProducerID)
				}
			}
			continue
		}
		if h.Transactional() && abortedProducers[h.ProducerID] {
			continue
		}
		_, rs, err := record.DecodeRecords(batch, maxDecompressed)
		if err != nil {
			return nil, 0, fmt.Errorf("kafkatransport: read %s[%d]: batch at %d: %w", tp.Topic, tp.Partition, h.BaseOffset, err)
		}
		for _, r := range rs {
			if r.Offset < from {
				continue // earlier records of the batch holding from
			}
			out := &transport.Record{
				Topic: tp.Topic, Partition: tp.Partition, Offset: r.Offset,
				Key: r.Key, Value: r.Value, Timestamp: time.UnixMilli(r.Timestamp),
			}
			if len(r.Headers) > 0 {
				out.Headers = make([]transport.Header, len(r.Headers))
				for i, rh := range r.Headers {
					out.Headers[i] = transport.Header{Key: rh.Key, Value: rh.Value}
				}
			}
			recs = append(recs, out)
		}
	}
	return recs, next, nil
}

// isAbortMarker says whether a control batch is an abort marker: its
// record's key is a version (int16) and a type (int16), 0 for abort and 1
// for commit.
func isAbortMarker(batch []byte) (bool, error) {
	_, rs, err := record.DecodeRecords(batch, maxDecompressed)
	if err != nil {
		return false, err
	}
	if len(rs) == 0 || len(rs[0].Key) < 4 {
		return false, errors.New("no control record key")
	}
	return binary.BigEndian.Uint16(rs[0].Key[2:4]) == 0, nil
}
