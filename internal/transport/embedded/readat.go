package embedded

import (
	"context"
	"errors"
	"fmt"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/transport"
)

// ReadAt reads the partition in place, as a consumer's fetcher does
// (Partition.ReadCommitted, then decode) but without a group or a
// goroutine: whole batches from the one holding offset, up to maxBytes (at
// least one batch), committed records only (up to the last stable offset,
// markers and aborted transactions dropped), the records before offset
// dropped. When what it read holds no record it reads on, until a record
// or the last stable offset.
// The records alias a buffer read for this call alone, so the caller owns
// them without a copy.
func (t *Transport) ReadAt(ctx context.Context, tp transport.TopicPartition, offset int64, maxBytes int) ([]*transport.Record, error) {
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	topic, err := t.log.Topic(tp.Topic)
	if err != nil {
		return nil, mapLogError(fmt.Errorf("embedded: read %s[%d]: %w", tp.Topic, tp.Partition, err))
	}
	p, err := topic.Partition(tp.Partition)
	if err != nil {
		// Kafka answers UNKNOWN_TOPIC_OR_PARTITION for both.
		return nil, fmt.Errorf("embedded: read %s[%d]: %w: %w", tp.Topic, tp.Partition, transport.ErrTopicNotFound, err)
	}
	maxBytes = max(maxBytes, 1)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, err := p.ReadCommitted(nil, offset, maxBytes)
		if errors.Is(err, log.ErrOffsetOutOfRange) {
			if offset >= res.HighWatermark {
				return nil, nil // past the end: nothing there, as at the end
			}
			return nil, fmt.Errorf("embedded: read %s[%d] at %d: %w: %w", tp.Topic, tp.Partition, offset, transport.ErrOffsetOutOfRange, err)
		}
		if err != nil {
			return nil, mapLogError(fmt.Errorf("embedded: read %s[%d] at %d: %w", tp.Topic, tp.Partition, offset, err))
		}
		if len(res.Batches) == 0 {
			return nil, nil // at the last stable offset
		}
		recs, _, _, err := decode(res.Batches, offset, tp)
		if err != nil {
			return nil, err
		}
		switch {
		case len(recs) > 0:
			return recs, nil
		case res.NextOffset >= res.LastStableOffset:
			return nil, nil
		}
		offset = res.NextOffset
	}
}
