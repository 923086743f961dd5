package txn

import (
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

// Producer ids are handed out from one allocator per log, for idempotent
// producers (InitProducerId without a transactional id) and transactional
// ones alike, so that no two producers ever share an id, across restarts
// too: the allocator reserves blocks of ids by appending the block's end
// to an internal topic, durably, before it hands out any id of the block,
// as Kafka's controller allocates blocks of producer ids. A restart
// continues after the last reserved block, skipping what was left of it.
//
// The topic holds one record per block, its value the block's end as a
// decimal string; only the last record counts.

// DefaultProducerIDsTopic is the topic of reserved producer id blocks.
const DefaultProducerIDsTopic = "__tide_producer_ids"

const producerIDBlock = 1000

type producerIDs struct {
	log  *log.Log
	name string
	mu   struct {
		sync.Mutex
		partition *log.Partition // nil until the first id
		next, end int64
	}
}

// next returns a producer id no other producer has had.
func (ids *producerIDs) next() (int64, error) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if ids.mu.partition == nil {
		if err := ids.openLocked(); err != nil {
			return 0, err
		}
	}
	if ids.mu.next == ids.mu.end {
		end := ids.mu.end + producerIDBlock
		b, err := record.AppendBatch(nil, []record.Record{{Value: []byte(strconv.FormatInt(end, 10))}}, record.BatchOptions{})
		if err != nil {
			return 0, err
		}
		if _, err := ids.mu.partition.Append(b); err != nil {
			return 0, fmt.Errorf("txn: reserve producer ids: %w", err)
		}
		ids.mu.end = end
	}
	id := ids.mu.next
	ids.mu.next++
	return id, nil
}

// openLocked opens (creating) the topic and reads the last reserved end.
func (ids *producerIDs) openLocked() error {
	t, err := ids.log.Topic(ids.name)
	if errors.Is(err, log.ErrUnknownTopic) {
		t, err = ids.log.CreateTopic(ids.name, 1, map[string]string{log.ConfigRetentionMs: "-1", log.ConfigSegmentBytes: "1048576"})
		if errors.Is(err, log.ErrTopicExists) {
			t, err = ids.log.Topic(ids.name)
		}
	}
	if err != nil {
		return fmt.Errorf("txn: producer ids: %w", err)
	}
	p, err := t.Partition(0)
	if err != nil {
		return fmt.Errorf("txn: producer ids: %w", err)
	}
	o := p.Offsets()
	if o.HighWatermark > o.LogStart {
		res, err := p.Read(o.HighWatermark-1, 1<<16)
		if err != nil {
			return fmt.Errorf("txn: producer ids: %w", err)
		}
		for b := res.Batches; len(b) > 0; {
			h, err := record.ParseHeader(b)
			if err != nil || h.Size() > len(b) {
				return fmt.Errorf("txn: producer ids: %w", errors.Join(err, record.ErrCorrupt))
			}
			_, recs, err := record.DecodeRecords(b[:h.Size()], 1<<20)
			if err != nil {
				return fmt.Errorf("txn: producer ids: %w", err)
			}
			for _, rec := range recs {
				if end, err := strconv.ParseInt(string(rec.Value), 10, 64); err == nil {
					ids.mu.next, ids.mu.end = end, end
				}
			}
			b = b[h.Size():]
		}
	}
	ids.mu.partition = p
	return nil
}
