package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/txn"
)

// Config configures a Server.
type Config struct {
	// AdvertisedHost and AdvertisedPort are what Metadata tells clients to
	// connect to.
	AdvertisedHost string
	AdvertisedPort int32
	// NodeID is this broker's id in Metadata (Kafka's node.id).
	NodeID int32
	// ClusterID is reported by Metadata and DescribeCluster.
	ClusterID string
	// AutoCreateTopics creates unknown topics on Metadata and Produce, as
	// Kafka's auto.create.topics.enable (on by default in Kafka).
	AutoCreateTopics bool
	// DefaultPartitions is the partition count of auto-created topics and
	// of CreateTopics with -1 partitions (Kafka's num.partitions).
	DefaultPartitions int32
	// MaxRequestBytes bounds one request frame (Kafka's
	// socket.request.max.bytes); larger frames close the connection.
	MaxRequestBytes int32
	// MaxInFlight bounds the requests one connection may have waiting for
	// their responses.
	MaxInFlight int
	Logger      *slog.Logger
	// Values checks the values produced to topics whose schema.validation
	// is framed or strict (the schema registry); a refused value refuses
	// its partition's batch with INVALID_RECORD. Nil refuses every produce
	// to such a topic: its validation cannot be done.
	Values ValueChecker
	// Observer is told of connections, requests and the errors in their
	// responses, for metrics; nil observes nothing.
	Observer Observer
	// Transactions is the transaction coordinator of the log, which also
	// hands out producer ids. Nil opens (or shares) the log's own with
	// txn.Open, which needs the group coordinator to be internal/group's;
	// the server then closes it at Shutdown. A node that also runs the
	// embedded transport passes the one they share.
	Transactions *txn.Coordinator
	// TransactionOptions configure the coordinator New opens when
	// Transactions is nil.
	TransactionOptions txn.Options
}

// ValueChecker checks a produced value against a topic's schema
// validation mode (framed or strict); an error says why it is refused.
type ValueChecker interface {
	CheckValue(topic, mode string, value []byte) error
}

// DefaultConfig returns Kafka's defaults for a single node.
func DefaultConfig() Config {
	return Config{
		AdvertisedHost:    "127.0.0.1",
		AdvertisedPort:    9092,
		NodeID:            1,
		ClusterID:         "tide",
		AutoCreateTopics:  true,
		DefaultPartitions: 1,
		MaxRequestBytes:   100 << 20,
		MaxInFlight:       64,
		Logger:            slog.New(slog.DiscardHandler),
	}
}

// Groups is the consumer group coordinator the server delegates group
// requests to (internal/group's Coordinator).
type Groups interface {
	// Handle serves one group request, blocking as Kafka's coordinator
	// does (JoinGroup waits for the rebalance) until ctx ends.
	Handle(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
	// DeleteTopicOffsets forgets committed offsets of a deleted topic.
	DeleteTopicOffsets(topic string) error
}

// Server serves the Kafka protocol for one log.
type Server struct {
	cfg    Config
	log    *log.Log
	groups Groups
	txns   *txn.Coordinator
	// ownsTxns says New opened txns, so Shutdown closes it.
	ownsTxns bool

	ctx    context.Context // canceled at the end of Shutdown
	cancel context.CancelFunc

	mu struct {
		sync.Mutex
		listeners map[net.Listener]struct{}
		conns     map[*conn]struct{}
		shutdown  bool
	}
	connWG sync.WaitGroup
}

// New returns a server over l, with its group coordinator.
func New(l *log.Log, groups Groups, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultConfig().MaxInFlight
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultConfig().MaxRequestBytes
	}
	if cfg.DefaultPartitions <= 0 {
		cfg.DefaultPartitions = 1
	}
	s := &Server{cfg: cfg, log: l, groups: groups, txns: cfg.Transactions}
	if s.txns == nil {
		tg, ok := groups.(txn.Groups)
		if !ok {
			return nil, fmt.Errorf("kafka: no transaction coordinator: give Config.Transactions, or a group coordinator that serves transactions (%T does not)", groups)
		}
		opts := cfg.TransactionOptions
		if opts.Logger == nil {
			opts.Logger = cfg.Logger
		}
		var err error
		if s.txns, err = txn.Open(l, tg, opts); err != nil {
			return nil, err
		}
		s.ownsTxns = true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.listeners = make(map[net.Listener]struct{})
	s.mu.conns = make(map[*conn]struct{})
	return s, nil
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("kafka: server closed")

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.mu.shutdown {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.mu.listeners[ln] = struct{}{}
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			shutdown := s.mu.shutdown
			s.mu.Unlock()
			if shutdown {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if !s.track(nc) {
			_ = nc.Close()
			return ErrServerClosed
		}
	}
}

func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.shutdown {
		return false
	}
	c := newConn(s, nc)
	s.mu.conns[c] = struct{}{}
	if s.cfg.Observer != nil {
		s.cfg.Observer.ConnectionAccepted()
	}
	s.connWG.Add(1)
	go func() {
		defer s.connWG.Done()
		c.serve()
		s.mu.Lock()
		delete(s.mu.conns, c)
		s.mu.Unlock()
	}()
	return true
}

// Shutdown stops accepting, stops reading new requests, lets every request
// already read finish and its response go out (so each in-flight produce is
// either durable and acknowledged or answered with an error), then closes
// the connections. When ctx ends first, the remaining connections are
// closed at once; their clients see the connection drop, never a false ack.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.mu.shutdown = true
	for ln := range s.mu.listeners {
		_ = ln.Close()
	}
	for c := range s.mu.conns {
		c.stopReading()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.connWG.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.cancel()
	s.mu.Lock()
	for c := range s.mu.conns {
		_ = c.nc.Close()
	}
	s.mu.Unlock()
	<-done
	if s.ownsTxns {
		s.ownsTxns = false
		err = errors.Join(err, s.txns.Close())
	}
	return err
}

// ConnCount reports open connections.
func (s *Server) ConnCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.conns)
}

func (s *Server) advertised() (string, int32) { return s.cfg.AdvertisedHost, s.cfg.AdvertisedPort }

// AdvertisedAddr returns host:port as Metadata reports it.
func (s *Server) AdvertisedAddr() string {
	return net.JoinHostPort(s.cfg.AdvertisedHost, strconv.Itoa(int(s.cfg.AdvertisedPort)))
}
