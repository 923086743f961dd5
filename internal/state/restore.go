package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// RestoreStats says what a Restore did.
type RestoreStats struct {
	// Wiped is set when the local state was discarded and the changelog
	// replayed from its start (see the package doc for when).
	Wiped bool
	// From and To are the changelog offsets replayed: [From, To). To is
	// the store's offset afterwards.
	From, To int64
	// Records is the number of changelog records applied (tombstones
	// included); Bytes the size of their keys and values.
	Records, Bytes int64
	Duration       time.Duration
}

// Restore brings the store up to the end of its changelog partition tp:
// it replays the records from the store's offset (or from the
// changelog's start, after wiping the store, when that offset cannot be
// trusted: see the package doc), committing as it goes so an
// interrupted restore resumes, and commits the offset reached, synced.
// The changelog's end is taken when Restore starts: the task restores
// before it produces to its changelog.
//
// An error leaves the store consistent at the offset it got to; Restore
// may be called again. A changelog record without a key is a corrupt
// changelog (ErrCorrupt).
func (s *Store) Restore(ctx context.Context, tr transport.Transport, tp transport.TopicPartition) (RestoreStats, error) {
	began := time.Now()
	stats := RestoreStats{From: s.offset, To: s.offset}
	if s.db == nil {
		return stats, ErrClosed
	}
	if s.err != nil {
		return stats, s.err
	}
	start, end, err := bounds(ctx, tr, tp)
	if err != nil {
		return stats, err
	}
	from := s.offset
	var wipe bool
	if from < 0 {
		// A store never committed should be empty; if it is not, it
		// is nothing to trust.
		empty, err := s.empty()
		if err != nil {
			return stats, fmt.Errorf("state: restore: %w", err)
		}
		wipe = !empty
	} else {
		wipe = s.changelog != tp || from < start || from > end
	}
	if wipe {
		if err := s.wipe(); err != nil {
			return stats, err
		}
		stats.Wiped = true
	}
	if s.offset < 0 {
		from = start
	}
	stats.From, stats.To = from, from

	next := from
	batch := s.db.NewBatch()
	defer func() { _ = batch.Close() }()
	// fail keeps what was applied before err, so that the next attempt
	// resumes there.
	fail := func(err error) (RestoreStats, error) {
		stats.Duration = time.Since(began)
		if !batch.Empty() {
			if cerr := s.apply(batch, tp, next, true); cerr != nil {
				return stats, errors.Join(err, cerr)
			}
			stats.To = next
		}
		return stats, err
	}
	var key []byte
	for next < end {
		recs, err := tr.ReadAt(ctx, tp, next, s.opts.readBytes)
		if err != nil {
			return fail(fmt.Errorf("state: restore %s[%d] at %d: %w", tp.Topic, tp.Partition, next, err))
		}
		if len(recs) == 0 {
			break // at the end of what is committed
		}
		for _, r := range recs {
			if r.Key == nil {
				return fail(fmt.Errorf("%w: changelog %s[%d] record at %d has no key", ErrCorrupt, tp.Topic, tp.Partition, r.Offset))
			}
			key = dataKey(key[:0], r.Key)
			if r.Value == nil {
				err = batch.Delete(key, nil)
			} else {
				err = batch.Set(key, r.Value, nil)
			}
			if err != nil {
				return fail(fmt.Errorf("state: restore: %w", err))
			}
			stats.Records++
			stats.Bytes += int64(len(r.Key) + len(r.Value))
			next = r.Offset + 1
		}
		if batch.Len() >= s.opts.commitBytes {
			// Unsynced: a crash loses a suffix of these batches, each
			// consistent with its offset; the last commit syncs.
			if err := s.apply(batch, tp, next, false); err != nil {
				return stats, err
			}
			stats.To = next
			_ = batch.Close()
			batch = s.db.NewBatch()
		}
	}
	if !batch.Empty() || s.offset != next || s.changelog != tp {
		if err := s.apply(batch, tp, next, true); err != nil {
			return stats, err
		}
	}
	stats.To = next
	stats.Duration = time.Since(began)
	return stats, nil
}

// bounds returns the changelog partition's start and end offsets.
func bounds(ctx context.Context, tr transport.Transport, tp transport.TopicPartition) (start, end int64, err error) {
	starts, err := tr.StartOffsets(ctx, tp.Topic)
	if err != nil {
		return 0, 0, fmt.Errorf("state: restore %s[%d]: %w", tp.Topic, tp.Partition, err)
	}
	ends, err := tr.EndOffsets(ctx, tp.Topic)
	if err != nil {
		return 0, 0, fmt.Errorf("state: restore %s[%d]: %w", tp.Topic, tp.Partition, err)
	}
	start, okStart := starts[tp.Partition]
	end, okEnd := ends[tp.Partition]
	if !okStart || !okEnd {
		return 0, 0, fmt.Errorf("state: restore %s[%d]: %w", tp.Topic, tp.Partition, transport.ErrTopicNotFound)
	}
	if start > end {
		return 0, 0, errors.New("state: restore: changelog start after its end")
	}
	return start, end, nil
}
