package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tide-data/tide/internal/engine"
	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/transport/embedded"
)

// benchNode is what the pipeline benchmarks run on: an embedded log in a
// scratch directory under dir, its group coordinator, the embedded
// transport over them and an engine (state in the scratch directory).
type benchNode struct {
	root   string
	log    *log.Log
	groups *group.Coordinator
	tr     *embedded.Transport
	eng    *engine.Engine
}

func openBenchNode(ctx context.Context, dir string) (_ *benchNode, err error) {
	n := &benchNode{}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.close())
		}
	}()
	if n.root, err = os.MkdirTemp(dir, ".tide-bench-"); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if n.log, err = log.Open(filepath.Join(n.root, "data")); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if n.groups, err = group.NewCoordinator(n.log, group.Options{}); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	n.tr = embedded.New(n.log, n.groups)
	n.eng, err = engine.Open(ctx, engine.Config{Transport: n.tr, Logger: slog.New(slog.DiscardHandler), StateDir: filepath.Join(n.root, "state")})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return n, nil
}

// close closes what is open, upper layers first, and removes the
// scratch directory.
func (n *benchNode) close() error {
	var errs []error
	if n.eng != nil {
		errs = append(errs, n.eng.Close(context.Background()))
	}
	if n.tr != nil {
		errs = append(errs, n.tr.Close())
	}
	if n.groups != nil {
		errs = append(errs, n.groups.Close())
	}
	if n.log != nil {
		errs = append(errs, n.log.Close())
	}
	if n.root != "" {
		errs = append(errs, os.RemoveAll(n.root))
	}
	return errors.Join(errs...)
}
