package engine

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/tide-data/tide/internal/transport"
)

// faultTransport wraps a transport to inject transaction failures: a
// test sets commitFault, which is asked before every transactional
// Commit of a producer whose id starts with prefix.
type faultTransport struct {
	transport.Transport
	prefix string

	mu struct {
		sync.Mutex
		// commitFault, if set, decides the fate of the next commit of a
		// matching producer: faultNone lets it through.
		commitFault func(id string) commitFault
		// inFlight holds, per transactional id, a commit whose caller
		// was told its outcome is unknown: the coordinator still
		// completes it, when the id's next producer is initialised, as
		// Kafka's InitProducerId waits for a transaction in
		// PrepareCommit to end before it answers.
		inFlight map[string]func()
		commits  int // commits of matching producers that went through
	}
}

type commitFault int

const (
	faultNone commitFault = iota
	// faultUnknownCommitted fails the commit with an error while the
	// transaction is in flight: it commits later (see inFlight).
	faultUnknownCommitted
	// faultFenced aborts the transaction and answers ErrFenced, as when
	// another worker took the transactional id.
	faultFenced
)

var errFaultUnknown = errors.New("fault: the commit's outcome is unknown (request timed out)")

func newFaultTransport(inner transport.Transport, prefix string) *faultTransport {
	f := &faultTransport{Transport: inner, prefix: prefix}
	f.mu.inFlight = map[string]func(){}
	return f
}

func (f *faultTransport) setCommitFault(fn func(id string) commitFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.commitFault = fn
}

func (f *faultTransport) NewTxnProducer(ctx context.Context, id string) (transport.TxnProducer, error) {
	f.mu.Lock()
	complete := f.mu.inFlight[id]
	delete(f.mu.inFlight, id)
	f.mu.Unlock()
	if complete != nil {
		complete()
	}
	p, err := f.Transport.NewTxnProducer(ctx, id)
	if err != nil || !strings.HasPrefix(id, f.prefix) {
		return p, err
	}
	return &faultProducer{TxnProducer: p, f: f, id: id}, nil
}

type faultProducer struct {
	transport.TxnProducer
	f        *faultTransport
	id       string
	inFlight bool
}

func (p *faultProducer) Commit(ctx context.Context, group string, offsets []transport.PartitionOffset) error {
	p.f.mu.Lock()
	fault := faultNone
	if p.f.mu.commitFault != nil {
		fault = p.f.mu.commitFault(p.id)
	}
	p.f.mu.Unlock()
	switch fault {
	case faultUnknownCommitted:
		p.inFlight = true
		offsets = append([]transport.PartitionOffset(nil), offsets...)
		p.f.mu.Lock()
		p.f.mu.inFlight[p.id] = func() {
			if err := p.TxnProducer.Commit(context.Background(), group, offsets); err != nil {
				panic("fault: the in-flight commit failed: " + err.Error())
			}
			p.f.mu.Lock()
			p.f.mu.commits++
			p.f.mu.Unlock()
		}
		p.f.mu.Unlock()
		return errFaultUnknown
	case faultFenced:
		_ = p.Abort(ctx)
		return transport.ErrFenced
	}
	err := p.TxnProducer.Commit(ctx, group, offsets)
	if err == nil {
		p.f.mu.Lock()
		p.f.mu.commits++
		p.f.mu.Unlock()
	}
	return err
}

// Close of a producer whose commit is in flight leaves it to the
// coordinator (the request was sent).
func (p *faultProducer) Close(ctx context.Context) error {
	if p.inFlight {
		return nil
	}
	return p.TxnProducer.Close(ctx)
}
