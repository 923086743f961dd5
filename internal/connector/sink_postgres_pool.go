package connector

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgPool is the postgres sink's bounded connection pool: at most size
// connections exist, made on demand and kept while idle. A connection
// that broke, or was given back inside a transaction, is closed rather
// than reused. (pgxpool would add a module dependency for what these
// few lines do.) Safe for concurrent use.
type pgPool struct {
	cfg   *pgx.ConnConfig
	slots chan struct{} // one token per connection in use or idle-to-be
	mu    struct {
		sync.Mutex
		idle   []*pgx.Conn
		closed bool
	}
}

func newPGPool(cfg *pgx.ConnConfig, size int) *pgPool {
	return &pgPool{cfg: cfg, slots: make(chan struct{}, size)}
}

// acquire returns a connection, waiting for one to be free if size are
// in use; the caller owns it until release.
func (p *pgPool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	for len(p.mu.idle) > 0 {
		c := p.mu.idle[len(p.mu.idle)-1]
		p.mu.idle = p.mu.idle[:len(p.mu.idle)-1]
		if !c.IsClosed() {
			p.mu.Unlock()
			return c, nil
		}
	}
	p.mu.Unlock()
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

// release gives c back.
func (p *pgPool) release(c *pgx.Conn) {
	defer func() { <-p.slots }()
	p.mu.Lock()
	if !c.IsClosed() && c.PgConn().TxStatus() == 'I' && !p.mu.closed {
		p.mu.idle = append(p.mu.idle, c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	closeConn(context.Background(), c)
}

// close closes the idle connections; those in use are closed when
// released.
func (p *pgPool) close(ctx context.Context) {
	p.mu.Lock()
	idle := p.mu.idle
	p.mu.idle, p.mu.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		closeConn(ctx, c)
	}
}

// closeConn closes c, waiting a second at most for the server to hear.
func closeConn(ctx context.Context, c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_ = c.Close(ctx) // the connection is gone either way
}
