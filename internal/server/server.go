package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/kafka"
	"github.com/tide-data/tide/internal/log"
)

// Server is one running Tide node.
type Server struct {
	cfg    Config
	logger *slog.Logger
	log    *log.Log
	groups *group.Coordinator
	kafka  *kafka.Server

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
	s := &Server{cfg: cfg, logger: logger, serveErr: make(chan error, 2)}
	if err := s.open(); err != nil {
		return nil, errors.Join(err, s.closeStores())
	}
	s.ready.Store(true)
	logger.Info("tide serving", "kafka", s.kafkaLn.Addr().String(), "advertised", s.kafka.AdvertisedAddr(),
		"http", s.httpLn.Addr().String(), "data_dir", cfg.DataDir, "clean_start", s.log.CleanStart())
	return s, nil
}

func (s *Server) open() error {
	defaults, err := log.DefaultTopicConfig().With(map[string]string{log.ConfigFsync: string(s.cfg.Fsync)})
	if err != nil {
		return err
	}
	s.log, err = log.Open(s.cfg.DataDir, log.WithLogger(s.logger), log.WithDefaultTopicConfig(defaults))
	if err != nil {
		return err
	}
	s.groups, err = group.NewCoordinator(s.log, group.Options{Logger: s.logger})
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
	s.kafka, err = kafka.New(s.log, s.groups, kcfg)
	if err != nil {
		return err
	}
	s.httpLn, err = net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	s.serve(func() error { return s.kafka.Serve(s.kafkaLn) }, kafka.ErrServerClosed)
	s.serve(func() error { return s.http.Serve(s.httpLn) }, http.ErrServerClosed)
	return nil
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

// KafkaAddr returns the Kafka listener's bound address.
func (s *Server) KafkaAddr() net.Addr { return s.kafkaLn.Addr() }

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
	if err := s.kafka.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("kafka shutdown: %w", err))
	}
	if err := s.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	s.wg.Wait()
	errs = append(errs, s.closeStores())
	s.logger.Info("tide stopped")
	return errors.Join(errs...)
}

func (s *Server) closeStores() error {
	var errs []error
	if s.kafkaLn != nil && s.kafka == nil {
		_ = s.kafkaLn.Close()
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
	return mux
}

func apiError(code, message string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": message}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
