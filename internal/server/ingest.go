package server

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tide-data/tide/internal/ingest"
)

// openIngest makes the HTTP ingestion handler over the transport, loading
// the idempotency keys still inside the window.
func (s *Server) openIngest() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	s.ingest, err = ingest.New(ctx, ingest.Config{
		Transport:          s.transport,
		Logger:             s.logger,
		MaxBodyBytes:       s.cfg.IngestMaxBodyBytes,
		MaxInFlightBytes:   s.cfg.IngestMaxInflightBytes,
		Timeout:            s.cfg.IngestTimeout,
		IdempotencyWindow:  s.cfg.IdempotencyWindow,
		IdempotencyMaxKeys: s.cfg.IdempotencyMaxKeys,
		HMACSecrets:        s.cfg.IngestHMACSecrets,
		SignatureHeader:    s.cfg.IngestHMACHeader,
		IdempotencyFields:  s.cfg.IngestIdempotencyFields,
		SchemaValidation:   s.cfg.IngestSchemaValidation,
		AutoCreateTopics:   s.cfg.AutoCreateTopics,
		DefaultPartitions:  s.cfg.DefaultPartitions,
		WorkerID:           s.workerID(),
		Schemas:            schemaValues{s},
		Metrics:            s.metrics,
		Tracer:             s.tracer,
	})
	return err
}

// parseTopicMap reads a per-topic map setting: a JSON object
// ({"orders": "s3cret"}, what a YAML map becomes) or topic=value pairs
// separated by commas (handy in the environment). Empty text clears it.
func parseTopicMap(v string, dst *map[string]string) error {
	*dst = nil
	if v == "" {
		return nil
	}
	m := map[string]string{}
	if strings.HasPrefix(v, "{") {
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			return fmt.Errorf("not a JSON object of strings: %w", err)
		}
	} else {
		for _, pair := range strings.Split(v, ",") {
			if pair = strings.TrimSpace(pair); pair == "" {
				continue
			}
			topic, value, ok := strings.Cut(pair, "=")
			if !ok || strings.TrimSpace(topic) == "" {
				return fmt.Errorf("%q is not topic=value", pair)
			}
			m[strings.TrimSpace(topic)] = strings.TrimSpace(value)
		}
	}
	if len(m) > 0 {
		*dst = m
	}
	return nil
}

// formatTopicMap is parseTopicMap's inverse: a JSON object, keys sorted.
func formatTopicMap(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		vj, _ := json.Marshal(m[k])
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
	}
	b.WriteByte('}')
	return b.String()
}
