package cdc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// StateTopic holds each source's progress that the slot does not: which
// incarnation of the source made the slot, and whether its snapshot
// completed. Compacted, keyed by source name. Its consumer groups
// (tide-cdc-<source>) also elect the one worker that runs a capture.
const StateTopic = "__tide_cdc_state"

// state is one source's record in StateTopic.
type state struct {
	SourceID           string `json:"source_id"`
	Slot               string `json:"slot"`
	Publication        string `json:"publication"`
	PublicationCreated bool   `json:"publication_created,omitempty"`
	SnapshotDone       bool   `json:"snapshot_done"`
	SnapshotLSN        string `json:"snapshot_lsn,omitempty"`
	// Epoch counts the slots the source has made: positions carry it, so
	// those of an earlier slot are never compared with the current ones.
	Epoch uint64 `json:"epoch"`
	// Partitions are the table topics' partition counts when the snapshot
	// was taken: keys are placed by them, so they may not change.
	Partitions map[string]int32 `json:"partitions,omitempty"`
	Updated    time.Time        `json:"updated"`
}

// EnsureStateTopic creates StateTopic when missing. It must have one
// partition: its groups elect one capture per source through it.
func EnsureStateTopic(ctx context.Context, t transport.Transport) error {
	err := t.CreateTopic(ctx, transport.TopicSpec{Name: StateTopic, Partitions: 1,
		Configs: map[string]string{"cleanup.policy": "compact"}})
	if err != nil && !errors.Is(err, transport.ErrTopicExists) {
		return fmt.Errorf("cdc: creating %s: %w", StateTopic, err)
	}
	info, err := t.Topic(ctx, StateTopic)
	if err != nil {
		return fmt.Errorf("cdc: %s: %w", StateTopic, err)
	}
	if info.Partitions != 1 {
		return fmt.Errorf("cdc: %s has %d partitions; it must have one (it elects one worker per source): recreate it", StateTopic, info.Partitions)
	}
	return nil
}

func loadState(ctx context.Context, t transport.Transport, name string) (state, bool, error) {
	var (
		st    state
		found bool
		err   error
	)
	readErr := readAll(ctx, t, StateTopic, func(r *transport.Record) {
		if string(r.Key) != name {
			return
		}
		if r.Value == nil {
			st, found = state{}, false
			return
		}
		var s state
		if e := json.Unmarshal(r.Value, &s); e != nil {
			err = fmt.Errorf("cdc: malformed state of %s at offset %d: %w", name, r.Offset, e)
			return
		}
		st, found = s, true
	})
	return st, found, errors.Join(readErr, err)
}

func saveState(ctx context.Context, t transport.Transport, name string, st state) error {
	st.Updated = time.Now().UTC()
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := t.Produce(ctx, []*transport.Record{{Topic: StateTopic, Partition: 0, Key: []byte(name), Value: b}}); err != nil {
		return fmt.Errorf("cdc: saving state of %s: %w", name, err)
	}
	return nil
}

// DeleteState forgets a source's progress (DROP SOURCE).
func DeleteState(ctx context.Context, t transport.Transport, name string) error {
	err := t.Produce(ctx, []*transport.Record{{Topic: StateTopic, Partition: 0, Key: []byte(name)}})
	if err != nil && !errors.Is(err, transport.ErrTopicNotFound) {
		return fmt.Errorf("cdc: deleting state of %s: %w", name, err)
	}
	return nil
}

// readAll calls fn for every record of topic, partition by partition, up
// to the end offsets it finds first.
func readAll(ctx context.Context, t transport.Transport, topic string, fn func(*transport.Record)) error {
	ends, err := t.EndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	starts, err := t.StartOffsets(ctx, topic)
	if err != nil {
		return err
	}
	for p, end := range ends {
		if err := readRange(ctx, t, transport.TopicPartition{Topic: topic, Partition: p}, starts[p], end, fn); err != nil {
			return err
		}
	}
	return nil
}

// readRange calls fn for the records of one partition in [from, end).
func readRange(ctx context.Context, t transport.Transport, tp transport.TopicPartition, from, end int64, fn func(*transport.Record)) error {
	for off := from; off < end; {
		recs, err := t.ReadAt(ctx, tp, off, 4<<20)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil // the rest was compacted away
		}
		for _, r := range recs {
			if r.Offset >= end {
				return nil
			}
			fn(r)
		}
		off = recs[len(recs)-1].Offset + 1
	}
	return nil
}

// lastPositions returns, per partition of topic, the position of the
// last change of epoch written there (absent for a partition with none).
func lastPositions(ctx context.Context, t transport.Transport, topic string, epoch uint64, log *slog.Logger) (map[int32]position, error) {
	ends, err := t.EndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	starts, err := t.StartOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]position{}
	for p, end := range ends {
		// The last few records: the very last may be a control record
		// (a transaction marker on Kafka) rather than a change.
		from := max(starts[p], end-16)
		if from >= end {
			continue
		}
		err := readRange(ctx, t, transport.TopicPartition{Topic: topic, Partition: p}, from, end, func(r *transport.Record) {
			for _, h := range r.Headers {
				if h.Key != positionHeader {
					continue
				}
				pos, err := parsePosition(h.Value)
				if err != nil {
					// Not ours (a record produced into the topic by hand):
					// it says nothing of how far the capture got.
					log.Warn("cdc: ignoring a record with a malformed position", "topic", topic, "partition", p, "offset", r.Offset, "err", err)
					continue
				}
				if cur, ok := out[p]; pos.epoch == epoch && (!ok || cur.less(pos)) {
					out[p] = pos
				}
			}
		})
		if err != nil {
			return nil, fmt.Errorf("cdc: reading the end of %s/%d: %w", topic, p, err)
		}
	}
	return out, nil
}
