package cdc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	SourceID           string    `json:"source_id"`
	Slot               string    `json:"slot"`
	Publication        string    `json:"publication"`
	PublicationCreated bool      `json:"publication_created,omitempty"`
	SnapshotDone       bool      `json:"snapshot_done"`
	SnapshotLSN        string    `json:"snapshot_lsn,omitempty"`
	Updated            time.Time `json:"updated"`
}

// EnsureStateTopic creates StateTopic when missing.
func EnsureStateTopic(ctx context.Context, t transport.Transport) error {
	err := t.CreateTopic(ctx, transport.TopicSpec{Name: StateTopic, Partitions: 1,
		Configs: map[string]string{"cleanup.policy": "compact"}})
	if err != nil && !errors.Is(err, transport.ErrTopicExists) {
		return fmt.Errorf("cdc: creating %s: %w", StateTopic, err)
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
// last change written there (absent for an empty partition).
func lastPositions(ctx context.Context, t transport.Transport, topic string) (map[int32]position, error) {
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
		var perr error
		err := readRange(ctx, t, transport.TopicPartition{Topic: topic, Partition: p}, from, end, func(r *transport.Record) {
			for _, h := range r.Headers {
				if h.Key != positionHeader {
					continue
				}
				pos, err := parsePosition(h.Value)
				if err != nil {
					perr = err
					continue
				}
				if cur, ok := out[p]; !ok || cur.less(pos) {
					out[p] = pos
				}
			}
		})
		if err = errors.Join(err, perr); err != nil {
			return nil, fmt.Errorf("cdc: reading the end of %s/%d: %w", topic, p, err)
		}
	}
	return out, nil
}
