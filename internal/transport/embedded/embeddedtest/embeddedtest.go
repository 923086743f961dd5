package embeddedtest

import (
	"errors"
	"testing"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
)

// Node is an embedded log, its coordinator and the transport over them,
// in a directory that may outlive it (a test reopens it to restart).
type Node struct {
	Log       *log.Log
	Groups    *group.Coordinator
	Transport transport.Transport
}

// Open opens a Node over dir; the caller closes it.
func Open(t testing.TB, dir string, opts ...embedded.Option) *Node {
	t.Helper()
	l, err := log.Open(dir, log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	g, err := group.NewCoordinator(l, group.Options{})
	if err != nil {
		_ = l.Close()
		t.Fatal(err)
	}
	return &Node{Log: l, Groups: g, Transport: embedded.New(l, g, opts...)}
}

// Close closes the transport, the coordinator and the log, in that order.
func (n *Node) Close(t testing.TB) {
	t.Helper()
	if err := errors.Join(n.Transport.Close(), n.Groups.Close(), n.Log.Close()); err != nil {
		t.Fatal(err)
	}
}

// New opens a Node in a temporary directory, closed when t ends, and
// returns its transport.
func New(t testing.TB, opts ...embedded.Option) transport.Transport {
	t.Helper()
	n := Open(t, t.TempDir(), opts...)
	t.Cleanup(func() { n.Close(t) })
	return n.Transport
}
