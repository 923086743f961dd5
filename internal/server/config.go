package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tide-data/tide/internal/alert"
	"github.com/tide-data/tide/internal/gctune"
	"github.com/tide-data/tide/internal/ingest"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/tracing"
)

// Config is a node's configuration. Every field has a key, which is its
// name in the YAML file, its flag (with '-' for '_'), and its environment
// variable (TIDE_ and the key in upper case).
type Config struct {
	DataDir           string
	KafkaAddr         string
	AdvertisedAddr    string
	HTTPAddr          string
	AutoCreateTopics  bool
	DefaultPartitions int32
	MaxRequestBytes   int32
	Fsync             log.FsyncMode
	LogLevel          string
	LogFormat         string
	ShutdownTimeout   time.Duration
	// KafkaBrokers, when set, runs pipelines, the catalog and internal
	// topics on that Kafka cluster instead of the embedded log (which is
	// then not opened, and the Kafka listener not started).
	KafkaBrokers []string
	// SQLDir, when set, holds .sql files applied at start, idempotently.
	SQLDir string
	// WorkerID names this worker among several sharing a Kafka cluster.
	WorkerID string
	// Tracing (docs/OBSERVABILITY.md): OTLPEndpoint, when set, exports
	// spans over OTLP/HTTP; new traces are sampled at TraceSampleRatio.
	// Without it traceparent headers still pass through unchanged.
	OTLPEndpoint     string
	TraceSampleRatio float64
	TraceServiceName string
	// HTTP ingestion (POST /v1/topics/{topic}/records); see docs/INGEST.md.
	IngestMaxBodyBytes      int64
	IngestMaxInflightBytes  int64
	IngestTimeout           time.Duration
	IdempotencyWindow       time.Duration
	IdempotencyMaxKeys      int
	IngestHMACSecrets       map[string]string // topic -> secret
	IngestHMACHeader        string
	IngestIdempotencyFields map[string]string // topic -> event-id field
	// IngestSchemaValidation maps a topic to the schema.validation HTTP
	// ingestion applies to it (framed or strict) whatever the topic's
	// config says: the way to set it on a Kafka cluster, which refuses
	// unknown topic configs.
	IngestSchemaValidation map[string]string
	// SchemaRegistry serves the Confluent-compatible schema registry on
	// the HTTP address (/subjects, /schemas, /config, /mode,
	// /compatibility), its state in the __tide_schemas topic.
	SchemaRegistry bool
	// Lag objectives (docs/OBSERVABILITY.md): how often pipelines' lag is
	// compared with their lag_slo, and where alerts are posted.
	AlertCheckInterval time.Duration
	AlertWebhookURL    string
	// GCMinHeap is the heap the garbage collector lets grow before its
	// first collection and whenever the live heap is below half of it
	// (internal/gctune; 0: Go's default pacing). The process applies it
	// (tide serve), not Start: it is the whole process's setting.
	GCMinHeap int64
}

// DefaultConfig returns the defaults of the design: data in ./data, Kafka
// on :9092, HTTP on :8080, fsync before every acknowledgement.
func DefaultConfig() Config {
	return Config{
		DataDir:           "./data",
		KafkaAddr:         ":9092",
		HTTPAddr:          ":8080",
		AutoCreateTopics:  true,
		DefaultPartitions: 1,
		MaxRequestBytes:   100 << 20,
		Fsync:             log.FsyncAlways,
		LogLevel:          "info",
		LogFormat:         "text",
		ShutdownTimeout:   30 * time.Second,

		IngestMaxBodyBytes:     ingest.DefaultMaxBodyBytes,
		IngestMaxInflightBytes: ingest.DefaultMaxInFlightBytes,
		IngestTimeout:          ingest.DefaultTimeout,
		IdempotencyWindow:      ingest.DefaultIdempotencyWindow,
		IdempotencyMaxKeys:     ingest.DefaultIdempotencyMaxKeys,
		IngestHMACHeader:       ingest.DefaultSignatureHeader,
		SchemaRegistry:         true,
		TraceSampleRatio:       tracing.DefaultSampleRatio,
		TraceServiceName:       tracing.DefaultServiceName,
		AlertCheckInterval:     alert.DefaultInterval,
		GCMinHeap:              gctune.DefaultMinHeap,
	}
}

// Setting describes one configuration key.
type Setting struct {
	Key  string
	Help string
	set  func(c *Config, v string) error
	get  func(c *Config) string
}

// Flag returns the setting's command-line flag name.
func (s Setting) Flag() string { return strings.ReplaceAll(s.Key, "_", "-") }

// Env returns the setting's environment variable.
func (s Setting) Env() string { return "TIDE_" + strings.ToUpper(s.Key) }

// Get returns the setting's value in c, as text.
func (s Setting) Get(c *Config) string { return s.get(c) }

// Set parses v into c.
func (s Setting) Set(c *Config, v string) error {
	if err := s.set(c, strings.TrimSpace(v)); err != nil {
		return fmt.Errorf("%s: %w", s.Key, err)
	}
	return nil
}

func str(p func(*Config) *string) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error { *p(c) = v; return nil }, func(c *Config) string { return *p(c) }
}

// Settings lists every key, in the order the help shows them.
func Settings() []Setting {
	var out []Setting
	add := func(key, help string, set func(*Config, string) error, get func(*Config) string) {
		out = append(out, Setting{Key: key, Help: help, set: set, get: get})
	}
	set, get := str(func(c *Config) *string { return &c.DataDir })
	add("data_dir", "directory of the log", set, get)
	set, get = str(func(c *Config) *string { return &c.KafkaAddr })
	add("kafka_addr", "Kafka listener address", set, get)
	set, get = str(func(c *Config) *string { return &c.AdvertisedAddr })
	add("advertised_addr", "host:port clients are told to connect to (default: the Kafka address, 127.0.0.1 for an unspecified host)", set, get)
	set, get = str(func(c *Config) *string { return &c.HTTPAddr })
	add("http_addr", "HTTP address (health, readiness)", set, get)
	add("auto_create_topics", "create unknown topics on Metadata and Produce",
		func(c *Config, v string) (err error) { c.AutoCreateTopics, err = strconv.ParseBool(v); return err },
		func(c *Config) string { return strconv.FormatBool(c.AutoCreateTopics) })
	add("default_partitions", "partitions of auto-created topics",
		func(c *Config, v string) error { return parseInt32(v, 1, &c.DefaultPartitions) },
		func(c *Config) string { return strconv.Itoa(int(c.DefaultPartitions)) })
	add("max_request_bytes", "largest Kafka request accepted",
		func(c *Config, v string) error { return parseInt32(v, 1024, &c.MaxRequestBytes) },
		func(c *Config) string { return strconv.Itoa(int(c.MaxRequestBytes)) })
	add("fsync", "default fsync mode of topics: always, interval or never",
		func(c *Config, v string) error {
			switch m := log.FsyncMode(v); m {
			case log.FsyncAlways, log.FsyncInterval, log.FsyncNever:
				c.Fsync = m
				return nil
			}
			return fmt.Errorf("%q is not always, interval or never", v)
		},
		func(c *Config) string { return string(c.Fsync) })
	add("log_level", "debug, info, warn or error",
		func(c *Config, v string) error { return oneOf(v, &c.LogLevel, "debug", "info", "warn", "error") },
		func(c *Config) string { return c.LogLevel })
	add("log_format", "text or json",
		func(c *Config, v string) error { return oneOf(v, &c.LogFormat, "text", "json") },
		func(c *Config) string { return c.LogFormat })
	add("kafka_brokers", "run pipelines on this Kafka cluster (host:port,...) instead of the embedded log",
		func(c *Config, v string) error {
			c.KafkaBrokers = nil
			for _, b := range strings.Split(v, ",") {
				if b = strings.TrimSpace(b); b != "" {
					if _, _, err := net.SplitHostPort(b); err != nil {
						return fmt.Errorf("broker %q is not host:port", b)
					}
					c.KafkaBrokers = append(c.KafkaBrokers, b)
				}
			}
			return nil
		},
		func(c *Config) string { return strings.Join(c.KafkaBrokers, ",") })
	set, get = str(func(c *Config) *string { return &c.SQLDir })
	add("sql_dir", "directory of .sql files applied at start, in name order, idempotently", set, get)
	set, get = str(func(c *Config) *string { return &c.WorkerID })
	add("worker_id", "this worker's name among several on one Kafka cluster (default: the host name)", set, get)
	add("ingest_max_body_bytes", "largest HTTP ingest request body (413 above)",
		func(c *Config, v string) error { return parseInt64(v, 1, &c.IngestMaxBodyBytes) },
		func(c *Config) string { return strconv.FormatInt(c.IngestMaxBodyBytes, 10) })
	add("ingest_max_inflight_bytes", "memory HTTP ingest requests hold at once, read until durable: bodies and ~280 bytes per record (429 above)",
		func(c *Config, v string) error { return parseInt64(v, 1, &c.IngestMaxInflightBytes) },
		func(c *Config) string { return strconv.FormatInt(c.IngestMaxInflightBytes, 10) })
	add("gc_min_heap", "bytes the Go heap may grow to before the garbage collector runs while the live heap is small (0: Go's default pacing; GOGC in the environment overrides it)",
		func(c *Config, v string) error { return parseInt64(v, 0, &c.GCMinHeap) },
		func(c *Config) string { return strconv.FormatInt(c.GCMinHeap, 10) })
	add("ingest_timeout", "how long an HTTP ingest request waits for its write to be durable (503 after)",
		func(c *Config, v string) error { return parseDuration(v, &c.IngestTimeout) },
		func(c *Config) string { return c.IngestTimeout.String() })
	add("idempotency_window", "how long a repeated Idempotency-Key or event id is recognised",
		func(c *Config, v string) error { return parseDuration(v, &c.IdempotencyWindow) },
		func(c *Config) string { return c.IdempotencyWindow.String() })
	add("idempotency_max_keys", "most Idempotency-Keys and event ids remembered (~130 bytes each, ~210 per key); past it the oldest are forgotten before the window passes",
		func(c *Config, v string) error {
			var n int64
			if err := parseInt64(v, 1, &n); err != nil {
				return err
			}
			c.IdempotencyMaxKeys = int(n)
			return nil
		},
		func(c *Config) string { return strconv.Itoa(c.IdempotencyMaxKeys) })
	add("ingest_hmac_secrets", "per-topic HMAC-SHA256 secrets of HTTP ingest bodies: a map (YAML), {\"topic\":\"secret\"} or topic=secret,...",
		func(c *Config, v string) error { return parseTopicMap(v, &c.IngestHMACSecrets) },
		func(c *Config) string { return formatTopicMap(c.IngestHMACSecrets) })
	set, get = str(func(c *Config) *string { return &c.IngestHMACHeader })
	add("ingest_hmac_header", "header carrying sha256=<hex HMAC> of signed HTTP ingest bodies", set, get)
	add("ingest_idempotency_fields", "per-topic event-id field of HTTP ingest values: a map (YAML), {\"topic\":\"field\"} or topic=field,...",
		func(c *Config, v string) error { return parseTopicMap(v, &c.IngestIdempotencyFields) },
		func(c *Config) string { return formatTopicMap(c.IngestIdempotencyFields) })
	add("ingest_schema_validation", "per-topic schema.validation (framed or strict) of HTTP ingestion, on either backend: a map (YAML), {\"topic\":\"strict\"} or topic=strict,...",
		func(c *Config, v string) error {
			if err := parseTopicMap(v, &c.IngestSchemaValidation); err != nil {
				return err
			}
			for topic, mode := range c.IngestSchemaValidation {
				if mode != "none" && mode != "framed" && mode != "strict" {
					return fmt.Errorf("topic %s: %q is not none, framed or strict", topic, mode)
				}
			}
			return nil
		},
		func(c *Config) string { return formatTopicMap(c.IngestSchemaValidation) })
	add("schema_registry", "serve the Confluent-compatible schema registry API on the HTTP address (/subjects, /schemas, /config, /mode, /compatibility)",
		func(c *Config, v string) (err error) { c.SchemaRegistry, err = strconv.ParseBool(v); return err },
		func(c *Config) string { return strconv.FormatBool(c.SchemaRegistry) })
	add("alert_check_interval", "how often each pipeline's lag is compared with its lag_slo (an alert fires after 2 checks above, clears after 2 under)",
		func(c *Config, v string) error { return parseDuration(v, &c.AlertCheckInterval) },
		func(c *Config) string { return c.AlertCheckInterval.String() })
	add("alert_webhook_url", "URL that lag objective alerts are POSTed to as JSON when they fire and clear (default: none, alerts are logged and exported only)",
		func(c *Config, v string) error {
			if v != "" {
				if err := alert.ValidateWebhookURL(v); err != nil {
					return err
				}
			}
			c.AlertWebhookURL = v
			return nil
		},
		func(c *Config) string { return c.AlertWebhookURL })
	add("otlp_endpoint", "OTLP/HTTP traces endpoint spans are exported to, e.g. http://localhost:4318/v1/traces (default: none, no spans; traceparent headers still pass through)",
		func(c *Config, v string) error {
			if v != "" {
				if _, err := tracing.EndpointURL(v); err != nil {
					return err
				}
			}
			c.OTLPEndpoint = v
			return nil
		},
		func(c *Config) string { return c.OTLPEndpoint })
	add("trace_sample_ratio", "share of new traces sampled (requests and records arriving without a traceparent; a sampled traceparent is always followed)",
		func(c *Config, v string) error {
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || r < 0 || r > 1 {
				return fmt.Errorf("%q is not a number between 0 and 1", v)
			}
			c.TraceSampleRatio = r
			return nil
		},
		func(c *Config) string { return strconv.FormatFloat(c.TraceSampleRatio, 'g', -1, 64) })
	set, get = str(func(c *Config) *string { return &c.TraceServiceName })
	add("trace_service_name", "service.name of exported spans", set, get)
	add("shutdown_timeout", "how long a graceful shutdown waits for in-flight requests",
		func(c *Config, v string) (err error) { c.ShutdownTimeout, err = time.ParseDuration(v); return err },
		func(c *Config) string { return c.ShutdownTimeout.String() })
	return out
}

func parseInt32(v string, minimum int64, dst *int32) error {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < minimum {
		return fmt.Errorf("%q is not an integer of at least %d", v, minimum)
	}
	*dst = int32(n)
	return nil
}

func parseInt64(v string, minimum int64, dst *int64) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < minimum {
		return fmt.Errorf("%q is not an integer of at least %d", v, minimum)
	}
	*dst = n
	return nil
}

func parseDuration(v string, dst *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration", v)
	}
	*dst = d
	return nil
}

func oneOf(v string, dst *string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	*dst = v
	return nil
}

func setting(key string) (Setting, bool) {
	for _, s := range Settings() {
		if s.Key == key {
			return s, true
		}
	}
	return Setting{}, false
}

// LoadFile applies a YAML file's keys to c. Unknown keys are errors, so a
// typo does not silently leave a default in place.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	for key, value := range raw {
		s, ok := setting(key)
		if !ok {
			return fmt.Errorf("config: %s: unknown key %q", path, key)
		}
		text := fmt.Sprint(value)
		if list, ok := value.([]any); ok { // kafka_brokers: [a:9092, b:9092]
			parts := make([]string, len(list))
			for i, v := range list {
				parts[i] = fmt.Sprint(v)
			}
			text = strings.Join(parts, ",")
		}
		if m, ok := value.(map[string]any); ok { // ingest_hmac_secrets: {orders: s3cret}
			sm := make(map[string]string, len(m))
			for k, v := range m {
				sm[k] = fmt.Sprint(v)
			}
			text = formatTopicMap(sm)
		}
		if err := s.Set(c, text); err != nil {
			return fmt.Errorf("config: %s: %w", path, err)
		}
	}
	return nil
}

// LoadEnv applies TIDE_… variables from environ (os.Environ's form).
func (c *Config) LoadEnv(environ []string) error {
	for _, s := range Settings() {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, s.Env()+"="); ok {
				if err := s.Set(c, v); err != nil {
					return fmt.Errorf("config: %s: %w", s.Env(), err)
				}
			}
		}
	}
	return nil
}

// YAML renders c as a config file; LoadFile of it gives c back.
func (c *Config) YAML() []byte {
	var b strings.Builder
	for _, s := range Settings() {
		fmt.Fprintf(&b, "# %s\n%s: %q\n", s.Help, s.Key, s.Get(c))
	}
	return []byte(b.String())
}

// Validate checks the settings that depend on each other.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is empty"))
	}
	for key, addr := range map[string]string{"kafka_addr": c.KafkaAddr, "http_addr": c.HTTPAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", key, addr, err))
		}
	}
	if c.AdvertisedAddr != "" {
		if _, port, err := net.SplitHostPort(c.AdvertisedAddr); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("advertised_addr %q is not host:port", c.AdvertisedAddr))
		}
	}
	return errors.Join(errs...)
}
