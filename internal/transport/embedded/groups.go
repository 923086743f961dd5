package embedded

import (
	"context"

	"github.com/tide-data/tide/internal/transport"
)

// Groups reads the coordinator's groups and their committed offsets.
func (t *Transport) Groups(ctx context.Context) ([]transport.GroupOffsets, error) {
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	var out []transport.GroupOffsets
	for _, s := range t.groups.Groups() {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		g := transport.GroupOffsets{Group: s.Group, State: s.State, Members: len(s.Members), Offsets: map[transport.TopicPartition]int64{}}
		for topic, parts := range t.groups.CommittedOffsets(s.Group) {
			for p, o := range parts {
				g.Offsets[transport.TopicPartition{Topic: topic, Partition: p}] = o
			}
		}
		out = append(out, g)
	}
	return out, nil
}
