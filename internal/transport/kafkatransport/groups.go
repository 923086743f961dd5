package kafkatransport

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tide-data/tide/internal/transport"
)

// Groups lists the cluster's groups (ListGroups, DescribeGroups) and
// fetches each one's committed offsets (OffsetFetch).
func (t *Transport) Groups(ctx context.Context) ([]transport.GroupOffsets, error) {
	if err := t.checkOpen(); err != nil {
		return nil, err
	}
	described, err := t.adm.DescribeGroups(ctx)
	if err != nil {
		return nil, mapError(fmt.Errorf("kafkatransport: describe groups: %w", err))
	}
	names := described.Names()
	fetched := t.adm.FetchManyOffsets(ctx, names...)
	out := make([]transport.GroupOffsets, 0, len(names))
	for _, d := range described.Sorted() {
		if d.Err != nil {
			return nil, mapError(fmt.Errorf("kafkatransport: describe group %s: %w", d.Group, d.Err))
		}
		g := transport.GroupOffsets{Group: d.Group, State: d.State, Members: len(d.Members), Offsets: map[transport.TopicPartition]int64{}}
		resp, ok := fetched[d.Group]
		if ok && resp.Err != nil {
			return nil, mapError(fmt.Errorf("kafkatransport: offsets of group %s: %w", d.Group, resp.Err))
		}
		resp.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				g.Offsets[transport.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.At
			}
		})
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b transport.GroupOffsets) int { return strings.Compare(a.Group, b.Group) })
	return out, nil
}
