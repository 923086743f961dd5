package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/join"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/tide-data/tide/internal/transport"
)

// failingSpill is a spill store over a map that can be told to fail.
type failingSpill struct {
	store map[string][]byte
	fail  error
}

func (m *failingSpill) ScanPrefix(prefix []byte, fn func(key, value []byte) error) error {
	if m.fail != nil {
		return m.fail
	}
	for k, v := range m.store {
		if strings.HasPrefix(k, string(prefix)) {
			if err := fn([]byte(k), v); err != nil {
				return err
			}
		}
	}
	return nil
}

// A failure to read an evicted join key back (join.ErrSpill) fails the
// task, so that the stage is rebuilt from its store — it is not a row the
// ON condition refused (dead-lettered, the task going on) — and the
// operator still holds the key as evicted.
func TestJoinSpillReadErrorFailsTask(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngineWith(t, n, func(cfg *Config) { cfg.StateDir = t.TempDir() })
	defer closeEngine(t, e)
	mustExec(t, e, sjOrders)
	mustExec(t, e, sjPayments)
	mustExec(t, e, `CREATE SINK j WITH (connector = 'topic', topic = 'j', state.memory = '0') AS `+fmt.Sprintf(sjQuery, ""))
	p := e.mu.pipelines["j"]
	st := p.stateful
	s := &aggStage{p: p, st: st, tasks: map[int32]*aggTask{}, foldOut: resultWriter{p: p}}
	spill := &failingSpill{store: map[string][]byte{}}
	tk := &aggTask{partition: 0}
	tk.join = newJoinTask(st, spill)

	record := func(side join.Side, origin int32, offset int64) *transport.Record {
		var values []byte
		for _, k := range tk.join.kinds[side] {
			values = types.AppendBinary(values, types.Null(k))
		}
		v := binary.AppendVarint(nil, 1_000_000)
		v = binary.AppendVarint(v, int64(origin))
		v = binary.AppendVarint(v, offset)
		return &transport.Record{Key: []byte("k"), Value: append(v, values...)}
	}
	if err := s.foldJoin(tk, record(join.Left, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if len(tk.dead) != 0 {
		t.Fatalf("left row refused: %s", tk.dead[0].Headers)
	}
	// A checkpoint, then Evict as checkpointTask does.
	if err := tk.join.op.Changes(func(k, v []byte) error {
		if v == nil {
			delete(spill.store, string(k))
		} else {
			spill.store[string(k)] = bytes.Clone(v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tk.join.op.Evict()
	if _, evicted := tk.join.op.Memory(); evicted != 1 {
		t.Fatalf("%d rows evicted, want 1", evicted)
	}
	spill.fail = errors.New("disk on fire")
	err := s.foldJoin(tk, record(join.Right, st.origins-1, 2))
	if !errors.Is(err, join.ErrSpill) {
		t.Errorf("foldJoin with a failing spill store: err %v, %d dead letters; want an ErrSpill that fails the task", err, len(tk.dead))
		for _, d := range tk.dead {
			for _, h := range d.Headers {
				if h.Key == HeaderError {
					t.Logf("dead letter: %s", h.Value)
				}
			}
		}
	}
	spill.fail = nil
	mem, evicted := tk.join.op.Memory()
	if l := tk.join.op.Len(); l[join.Left] == 0 && evicted == 0 {
		t.Errorf("the task goes on: the evicted left row is neither in memory nor evicted any more (memory %d bytes, len %v), though still in the store: it will never match nor expire", mem, l)
	}
}
