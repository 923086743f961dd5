package log

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/tide-data/tide/internal/vfs"
)

// Leader epochs give readers truncation detection (Kafka's KIP-320).
//
// The embedded log has one node, so leadership never moves; but a crash can
// cut a tail that a reader saw (possible with fsync=interval or never, where
// the high watermark runs ahead of the disk). Every unclean open therefore
// starts a new epoch at the recovered end. A reader that saw epoch E asks
// EpochEndOffset(E); an answer below the offset it reached means the log
// was cut under it. Batches carry the epoch they were appended in.
//
// The epochs live in leader-epoch-checkpoint, one "epoch start-offset" line
// each, written atomically.

const epochFile = "leader-epoch-checkpoint"

type epochEntry struct {
	Epoch       int32
	StartOffset int64
}

func readEpochs(fsys vfs.FS, dir string) ([]epochEntry, error) {
	b, err := fsys.ReadFile(filepath.Join(dir, epochFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []epochEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var e epochEntry
		if _, err := fmt.Sscanf(sc.Text(), "%d %d", &e.Epoch, &e.StartOffset); err != nil {
			return nil, fmt.Errorf("log: %s: %q: %w", filepath.Join(dir, epochFile), sc.Text(), err)
		}
		if n := len(out); n > 0 && (e.Epoch <= out[n-1].Epoch || e.StartOffset < out[n-1].StartOffset) {
			return nil, fmt.Errorf("log: %s: epochs out of order", filepath.Join(dir, epochFile))
		}
		out = append(out, e)
	}
	return out, nil
}

func writeEpochs(fsys vfs.FS, dir string, epochs []epochEntry) error {
	var b bytes.Buffer
	for _, e := range epochs {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return vfs.WriteFileAtomic(fsys, filepath.Join(dir, epochFile), b.Bytes())
}

// loadEpochs reads the partition's epochs, drops those that start past the
// recovered end, and after an unclean shutdown opens a new one there.
func (p *Partition) loadEpochs(clean bool) error {
	epochs, err := readEpochs(p.log.fs, p.dir)
	if err != nil {
		return err
	}
	end := p.active().nextOffset
	changed := false
	for n := len(epochs); n > 0 && epochs[n-1].StartOffset > end; n-- {
		epochs, changed = epochs[:n-1], true
	}
	if len(epochs) == 0 {
		// Epoch 0 from the start is implied when no file exists.
		epochs = []epochEntry{{Epoch: 0, StartOffset: 0}}
	}
	if !clean {
		last := &epochs[len(epochs)-1]
		if last.StartOffset == end {
			last.Epoch++ // nothing was appended in it: renumber in place
		} else {
			epochs = append(epochs, epochEntry{Epoch: last.Epoch + 1, StartOffset: end})
		}
		changed = true
	}
	p.mu.epochs = epochs
	if changed {
		return writeEpochs(p.log.fs, p.dir, epochs)
	}
	return nil
}

// LeaderEpoch returns the epoch new appends are stamped with.
func (p *Partition) LeaderEpoch() int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.epochs[len(p.mu.epochs)-1].Epoch
}

// EpochEndOffset answers Kafka's OffsetForLeaderEpoch: the largest epoch at
// most epoch, and the offset where it ended (the next epoch's start, or the
// high watermark for the current epoch). It returns -1, -1 when epoch
// predates every epoch the partition knows.
func (p *Partition) EpochEndOffset(epoch int32) (int32, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	es := p.mu.epochs
	i := sort.Search(len(es), func(i int) bool { return es[i].Epoch > epoch })
	switch {
	case i == 0:
		return -1, -1
	case i == len(es):
		return es[i-1].Epoch, p.mu.highWatermark
	}
	return es[i-1].Epoch, es[i].StartOffset
}
