package kafka

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

func init() { register(22, 0, 5, (*Server).handleInitProducerID) }

func (s *Server) handleInitProducerID(r *request) {
	req := r.req.(*kmsg.InitProducerIDRequest)
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		r.respond(resp)
		return
	}
	// KIP-360: an idempotent producer may ask to bump its epoch after an
	// error instead of taking a new id.
	if req.Version >= 3 && req.ProducerID >= 0 && req.ProducerEpoch >= 0 && req.ProducerEpoch < math.MaxInt16 {
		resp.ProducerID, resp.ProducerEpoch = req.ProducerID, req.ProducerEpoch+1
		r.respond(resp)
		return
	}
	id, err := s.producers.next()
	if err != nil {
		s.cfg.Logger.Error("allocating producer id", "err", err)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
	} else {
		resp.ProducerID, resp.ProducerEpoch = id, 0
	}
	r.respond(resp)
}

// producerIDs hands out producer ids that are unique across restarts: it
// reserves blocks of ids by appending the block's end to an internal topic
// (durably) before using any id in it, as Kafka's controller allocates
// blocks of producer ids.
type producerIDs struct {
	partition *log.Partition
	mu        struct {
		sync.Mutex
		next, end int64
	}
}

const (
	producerIDsTopic = "__tide_producer_ids"
	producerIDBlock  = 1000
)

func openProducerIDs(l *log.Log) (*producerIDs, error) {
	t, err := l.Topic(producerIDsTopic)
	if errors.Is(err, log.ErrUnknownTopic) {
		t, err = l.CreateTopic(producerIDsTopic, 1, map[string]string{log.ConfigRetentionMs: "-1", log.ConfigSegmentBytes: "1048576"})
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: producer ids: %w", err)
	}
	p, _ := t.Partition(0)
	ids := &producerIDs{partition: p}
	// The last record holds the end of the last reserved block.
	o := p.Offsets()
	if o.HighWatermark > o.LogStart {
		res, err := p.Read(o.HighWatermark-1, 1<<16)
		if err != nil {
			return nil, fmt.Errorf("kafka: producer ids: %w", err)
		}
		for b := res.Batches; len(b) > 0; {
			h, recs, err := record.DecodeRecords(b, 1<<20)
			if err != nil {
				return nil, fmt.Errorf("kafka: producer ids: %w", err)
			}
			for _, rec := range recs {
				if end, err := strconv.ParseInt(string(rec.Value), 10, 64); err == nil {
					ids.mu.next, ids.mu.end = end, end
				}
			}
			b = b[h.Size():]
		}
	}
	return ids, nil
}

func (ids *producerIDs) next() (int64, error) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if ids.mu.next == ids.mu.end {
		end := ids.mu.end + producerIDBlock
		b, err := record.AppendBatch(nil, []record.Record{{Value: []byte(strconv.FormatInt(end, 10))}}, record.BatchOptions{})
		if err != nil {
			return 0, err
		}
		if _, err := ids.partition.Append(b); err != nil {
			return 0, err
		}
		ids.mu.end = end
	}
	id := ids.mu.next
	ids.mu.next++
	return id, nil
}
