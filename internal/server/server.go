package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tide-data/tide/internal/alert"
	"github.com/tide-data/tide/internal/engine"
	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/ingest"
	"github.com/tide-data/tide/internal/kafka"
	"github.com/tide-data/tide/internal/lag"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/schema"
	"github.com/tide-data/tide/internal/tracing"
	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded"
	"github.com/tide-data/tide/internal/transport/kafkatransport"
	"github.com/tide-data/tide/internal/txn"
)

// Server is one running Tide node.
type Server struct {
	cfg    Config
	logger *slog.Logger
	// streams is closed when the HTTP server shuts down: streaming
	// handlers return then.
	streams chan struct{}
	log     *log.Log
	groups  *group.Coordinator
	// txns is the transaction coordinator the Kafka listener and the
	// embedded transport share.
	txns  *txn.Coordinator
	kafka *kafka.Server

	transport transport.Transport
	engine    *engine.Engine
	ingest    *ingest.Handler
	schemas   *schema.Registry // nil with schema_registry off
	metrics   *prometheus.Registry
	tracer    *tracing.Tracer // nil without otlp_endpoint
	lag       *lag.Monitor
	alerts    *alert.Checker // lag objectives

	started       time.Time
	statusSamples statusSamples // for GET /v1/status's rates

	kafkaLn, httpLn net.Listener
	http            *http.Server
	ready           atomic.Bool
	wg              sync.WaitGroup
	serveErr        chan error
}

// Start opens the log (recovering it after a crash), starts the group
// coordinator and begins serving Kafka and HTTP. It returns once both
// listeners accept connections.
func Start(cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, logger: logger, serveErr: make(chan error, 2), started: time.Now()}
	s.newMetrics()
	if err := s.open(); err != nil {
		return nil, errors.Join(err, s.closeStores())
	}
	s.ready.Store(true)
	if s.kafka != nil {
		logger.Info("tide serving", "kafka", s.kafkaLn.Addr().String(), "advertised", s.kafka.AdvertisedAddr(),
			"http", s.httpLn.Addr().String(), "data_dir", cfg.DataDir, "clean_start", s.log.CleanStart())
	} else {
		logger.Info("tide serving on a Kafka cluster", "brokers", strings.Join(cfg.KafkaBrokers, ","), "http", s.httpLn.Addr().String())
	}
	return s, nil
}

func (s *Server) open() error {
	if len(s.cfg.KafkaBrokers) > 0 {
		if err := s.openKafkaTransport(); err != nil {
			return err
		}
	} else if err := s.openEmbedded(); err != nil {
		return err
	}
	s.openLag()
	// The registry opens first: pipelines in the registry formats read
	// it as they start.
	if err := s.openSchemaRegistry(); err != nil {
		return err
	}
	if err := s.openTracing(); err != nil {
		return err
	}
	if err := s.openEngine(); err != nil {
		return err
	}
	s.metrics.MustRegister(newCDCCollector(s.engine, s.logger))
	if err := s.openAlerts(); err != nil {
		return err
	}
	if err := s.openIngest(); err != nil {
		return err
	}
	var err error
	s.httpLn, err = net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	// Streams (view subscriptions) never end on their own: Shutdown,
	// which waits for active requests, ends them first.
	s.streams = make(chan struct{})
	s.http.RegisterOnShutdown(func() { close(s.streams) })
	if s.kafka != nil {
		s.serve(func() error { return s.kafka.Serve(s.kafkaLn) }, kafka.ErrServerClosed)
	}
	s.serve(func() error { return s.http.Serve(s.httpLn) }, http.ErrServerClosed)
	return nil
}

// openEmbedded opens the log, the group coordinator, the Kafka listener
// over them, and the in-process transport the engine uses.
func (s *Server) openEmbedded() error {
	defaults, err := log.DefaultTopicConfig().With(map[string]string{log.ConfigFsync: string(s.cfg.Fsync)})
	if err != nil {
		return err
	}
	s.log, err = log.Open(s.cfg.DataDir, log.WithLogger(s.logger), log.WithDefaultTopicConfig(defaults), s.fsyncObserver())
	if err != nil {
		return err
	}
	s.metrics.MustRegister(&logCollector{log: s.log})
	s.groups, err = group.NewCoordinator(s.log, group.Options{Logger: s.logger})
	if err != nil {
		return err
	}
	// Before anything serves: it completes the transactions the last run
	// left prepared.
	s.txns, err = txn.Open(s.log, s.groups, txn.Options{Logger: s.logger})
	if err != nil {
		return err
	}
	s.kafkaLn, err = net.Listen("tcp", s.cfg.KafkaAddr)
	if err != nil {
		return fmt.Errorf("kafka listener: %w", err)
	}
	host, port, err := advertised(s.cfg.AdvertisedAddr, s.kafkaLn.Addr())
	if err != nil {
		return err
	}
	kcfg := kafka.DefaultConfig()
	kcfg.AdvertisedHost, kcfg.AdvertisedPort = host, port
	kcfg.AutoCreateTopics = s.cfg.AutoCreateTopics
	kcfg.DefaultPartitions = s.cfg.DefaultPartitions
	kcfg.MaxRequestBytes = s.cfg.MaxRequestBytes
	kcfg.Logger = s.logger
	kcfg.Values = schemaValues{s}
	kcfg.Observer = s.newKafkaMetrics(func() int { return s.kafka.ConnCount() })
	kcfg.Transactions = s.txns
	s.kafka, err = kafka.New(s.log, s.groups, kcfg)
	if err != nil {
		return err
	}
	s.transport = embedded.New(s.log, s.groups, embedded.WithTransactions(s.txns))
	return nil
}

// openKafkaTransport connects to an external Kafka cluster; nothing is
// stored locally.
func (s *Server) openKafkaTransport() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := kafkatransport.Config{Brokers: s.cfg.KafkaBrokers, ClientID: "tide-" + s.workerID(), Logger: s.logger,
		// A worker that dies is noticed in 10 s rather than franz-go's 45.
		SessionTimeout: 10 * time.Second, HeartbeatInterval: time.Second}
	if s.cfg.WorkerID != "" {
		// An explicit worker id is stable and unique: restarting the
		// worker keeps its partitions without a rebalance.
		cfg.InstanceID = "tide-" + s.cfg.WorkerID
	}
	t, err := kafkatransport.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("kafka cluster %v: %w", s.cfg.KafkaBrokers, err)
	}
	s.transport = t
	return nil
}

func (s *Server) workerID() string {
	if s.cfg.WorkerID != "" {
		return s.cfg.WorkerID
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "tide"
	}
	return host
}

func (s *Server) serve(fn func() error, closed error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := fn(); err != nil && !errors.Is(err, closed) {
			s.serveErr <- err
		}
	}()
}

// advertised is the address Metadata reports: the configured one, or the
// bound listener's with 127.0.0.1 for an unspecified host.
func advertised(configured string, bound net.Addr) (string, int32, error) {
	addr := configured
	if addr == "" {
		addr = bound.String()
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("advertised address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("advertised address %q: bad port", addr)
	}
	return host, int32(port), nil
}

// KafkaAddr returns the Kafka listener's bound address; nil when the
// server runs on an external Kafka cluster.
func (s *Server) KafkaAddr() net.Addr {
	if s.kafkaLn == nil {
		return nil
	}
	return s.kafkaLn.Addr()
}

// Engine returns the SQL engine.
func (s *Server) Engine() *engine.Engine { return s.engine }

// HTTPAddr returns the HTTP listener's bound address.
func (s *Server) HTTPAddr() net.Addr { return s.httpLn.Addr() }

// Log returns the node's log.
func (s *Server) Log() *log.Log { return s.log }

// Wait blocks until ctx ends or a listener fails, then shuts down.
func (s *Server) Wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
	case err = <-s.serveErr:
		s.logger.Error("listener failed", "err", err)
	}
	return errors.Join(err, s.Shutdown())
}

// Shutdown stops serving in two steps: first it stops taking requests and
// lets every in-flight one finish (each produce ends durable and
// acknowledged, or answered with an error), up to the shutdown timeout;
// then it closes the coordinator and the log.
func (s *Server) Shutdown() error {
	s.ready.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := s.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	// Ingest writes that outlived their requests (timed out) settle first.
	if s.ingest != nil {
		if err := s.ingest.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	// The lag objectives stop watching before the pipelines drain.
	s.closeAlerts(ctx)
	// Pipelines drain and commit while the log is still open.
	if s.engine != nil {
		if err := s.engine.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("engine shutdown: %w", err))
		}
	}
	if s.kafka != nil {
		if err := s.kafka.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("kafka shutdown: %w", err))
		}
	}
	s.wg.Wait()
	errs = append(errs, s.closeStores())
	s.logger.Info("tide stopped")
	return errors.Join(errs...)
}

func (s *Server) closeStores() error {
	var errs []error
	s.closeAlerts(context.Background()) // a start that failed after opening them
	if s.engine != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		errs = append(errs, s.engine.Close(ctx))
		cancel()
	}
	errs = append(errs, s.closeTracing())
	if s.schemas != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		errs = append(errs, s.schemas.Close(ctx))
		cancel()
		s.schemas = nil
	}
	if s.transport != nil {
		errs = append(errs, s.transport.Close())
	}
	if s.kafkaLn != nil {
		// Serve closes it at shutdown, but a start that failed before
		// serving (the engine or sql_dir failed) must release the port
		// here; closing it twice is harmless.
		_ = s.kafkaLn.Close()
	}
	if s.txns != nil {
		errs = append(errs, s.txns.Close())
	}
	if s.groups != nil {
		errs = append(errs, s.groups.Close())
	}
	if s.log != nil {
		errs = append(errs, s.log.Close())
	}
	return errors.Join(errs...)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sql", s.handleSQL)
	mux.HandleFunc("POST /v1/query", s.handleQuery)
	mux.HandleFunc("GET /v1/views", s.handleViews)
	mux.HandleFunc("GET /v1/views/{view}", s.handleView)
	mux.HandleFunc("GET /v1/views/{view}/subscribe", s.handleSubscribe)
	mux.Handle("POST /v1/topics/{topic}/records", s.ingest)
	s.mountSchemaRegistry(mux)
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("GET /v1/status", s.handleStatus)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			writeJSON(w, http.StatusServiceUnavailable, apiError("not_ready", "the server is starting or shutting down"))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	return s.newHTTPMetrics().instrument(mux)
}

func apiError(code, message string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": message}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
