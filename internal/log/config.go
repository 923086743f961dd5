package log

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FsyncMode says when appended bytes are forced to disk.
type FsyncMode string

const (
	// FsyncAlways acknowledges an append only after its bytes are fsync'd;
	// concurrent appends to a partition share one fsync (group commit).
	FsyncAlways FsyncMode = "always"
	// FsyncInterval acknowledges after the write and fsyncs dirty partitions
	// every fsync.interval.ms. A crash may lose the last interval.
	FsyncInterval FsyncMode = "interval"
	// FsyncNever leaves flushing to the operating system (and to segment
	// rolls and clean shutdown). A crash of the machine may lose data.
	FsyncNever FsyncMode = "never"
)

// Cleanup policies.
const (
	CleanupDelete  = "delete"
	CleanupCompact = "compact"
)

// Topic configuration keys. The names are Kafka's where Kafka has the same
// setting, so Kafka admin tools read and write them unchanged.
const (
	ConfigRetentionMs       = "retention.ms"
	ConfigRetentionBytes    = "retention.bytes"
	ConfigSegmentBytes      = "segment.bytes"
	ConfigSegmentMs         = "segment.ms"
	ConfigCleanupPolicy     = "cleanup.policy"
	ConfigMaxMessageBytes   = "max.message.bytes"
	ConfigDeleteRetentionMs = "delete.retention.ms"
	ConfigFsync             = "fsync"
	ConfigFsyncIntervalMs   = "fsync.interval.ms"
	// ConfigCompressionType is accepted for Kafka tools' sake with its one
	// supported value, "producer": batches are stored as they came.
	ConfigCompressionType = "compression.type"
	// ConfigSchemaValidation is Tide's: what the Kafka listener checks of
	// produced values against the schema registry (none, framed, strict).
	// The log stores it; enforcing it is the listener's business.
	ConfigSchemaValidation = "schema.validation"
)

// Schema validation modes (ConfigSchemaValidation).
const (
	SchemaValidationNone   = "none"
	SchemaValidationFramed = "framed"
	SchemaValidationStrict = "strict"
)

// TopicConfig is a topic's effective configuration. The zero value is not
// valid; start from DefaultTopicConfig.
type TopicConfig struct {
	RetentionMs       int64 // -1: keep forever
	RetentionBytes    int64 // per partition; -1: no limit
	SegmentBytes      int64
	SegmentMs         int64
	Compact           bool // cleanup.policy includes compact
	Delete            bool // cleanup.policy includes delete (retention applies)
	MaxMessageBytes   int32
	DeleteRetentionMs int64
	Fsync             FsyncMode
	FsyncIntervalMs   int64
	SchemaValidation  string // none, framed or strict
}

// DefaultTopicConfig returns Kafka's defaults, with fsync before every
// acknowledgement.
func DefaultTopicConfig() TopicConfig {
	return TopicConfig{
		RetentionMs:       7 * 24 * time.Hour.Milliseconds(),
		RetentionBytes:    -1,
		SegmentBytes:      1 << 30,
		SegmentMs:         7 * 24 * time.Hour.Milliseconds(),
		Delete:            true,
		MaxMessageBytes:   1048588,
		DeleteRetentionMs: 24 * time.Hour.Milliseconds(),
		Fsync:             FsyncAlways,
		FsyncIntervalMs:   100,
		SchemaValidation:  SchemaValidationNone,
	}
}

// ConfigKeys lists every key a topic accepts, sorted.
func ConfigKeys() []string {
	return []string{
		ConfigCleanupPolicy, ConfigCompressionType, ConfigDeleteRetentionMs, ConfigFsync, ConfigFsyncIntervalMs,
		ConfigMaxMessageBytes, ConfigRetentionBytes, ConfigRetentionMs, ConfigSchemaValidation, ConfigSegmentBytes, ConfigSegmentMs,
	}
}

// With returns c with the given keys set. Unknown keys and bad values give
// an error wrapping ErrInvalidConfig that names the key.
func (c TopicConfig) With(settings map[string]string) (TopicConfig, error) {
	for _, key := range slices.Sorted(maps.Keys(settings)) {
		if err := c.set(key, strings.TrimSpace(settings[key])); err != nil {
			return c, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, key, err)
		}
	}
	return c, nil
}

func (c *TopicConfig) set(key, value string) error {
	switch key {
	case ConfigRetentionMs:
		return parseInt(value, -1, &c.RetentionMs)
	case ConfigRetentionBytes:
		return parseInt(value, -1, &c.RetentionBytes)
	case ConfigSegmentBytes:
		// Index positions are 32-bit; Kafka caps segment.bytes the same way.
		if err := parseInt(value, 1024, &c.SegmentBytes); err != nil {
			return err
		}
		if c.SegmentBytes > math.MaxInt32 {
			return fmt.Errorf("%d is over the maximum %d", c.SegmentBytes, math.MaxInt32)
		}
		return nil
	case ConfigSegmentMs:
		return parseInt(value, 1, &c.SegmentMs)
	case ConfigDeleteRetentionMs:
		return parseInt(value, 0, &c.DeleteRetentionMs)
	case ConfigFsyncIntervalMs:
		return parseInt(value, 1, &c.FsyncIntervalMs)
	case ConfigMaxMessageBytes:
		var v int64
		if err := parseInt(value, 0, &v); err != nil {
			return err
		}
		if v > 1<<30 {
			return fmt.Errorf("%d is over 1 GiB", v)
		}
		c.MaxMessageBytes = int32(v)
		return nil
	case ConfigCleanupPolicy:
		c.Compact, c.Delete = false, false
		for _, p := range strings.Split(value, ",") {
			switch strings.TrimSpace(p) {
			case CleanupDelete:
				c.Delete = true
			case CleanupCompact:
				c.Compact = true
			default:
				return fmt.Errorf("%q is not delete, compact or both", value)
			}
		}
		return nil
	case ConfigCompressionType:
		if value != "producer" {
			return fmt.Errorf("%q: only \"producer\" is supported (batches are stored as the producer compressed them)", value)
		}
		return nil
	case ConfigSchemaValidation:
		switch value {
		case SchemaValidationNone, SchemaValidationFramed, SchemaValidationStrict:
			c.SchemaValidation = value
			return nil
		}
		return fmt.Errorf("%q is not none, framed or strict", value)
	case ConfigFsync:
		switch m := FsyncMode(value); m {
		case FsyncAlways, FsyncInterval, FsyncNever:
			c.Fsync = m
			return nil
		}
		return fmt.Errorf("%q is not always, interval or never", value)
	}
	return fmt.Errorf("unknown key (known: %s)", strings.Join(ConfigKeys(), ", "))
}

func parseInt(value string, minimum int64, dst *int64) error {
	v, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not an integer", value)
	}
	if v < minimum {
		return fmt.Errorf("%d is below the minimum %d", v, minimum)
	}
	*dst = v
	return nil
}

// CleanupPolicy returns cleanup.policy in Kafka's spelling.
func (c TopicConfig) CleanupPolicy() string {
	switch {
	case c.Compact && c.Delete:
		return CleanupCompact + "," + CleanupDelete
	case c.Compact:
		return CleanupCompact
	}
	return CleanupDelete
}

// Map returns every setting as strings, keyed by config name; With(Map())
// round-trips.
func (c TopicConfig) Map() map[string]string {
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	return map[string]string{
		ConfigRetentionMs:       i(c.RetentionMs),
		ConfigRetentionBytes:    i(c.RetentionBytes),
		ConfigSegmentBytes:      i(c.SegmentBytes),
		ConfigSegmentMs:         i(c.SegmentMs),
		ConfigCleanupPolicy:     c.CleanupPolicy(),
		ConfigMaxMessageBytes:   i(int64(c.MaxMessageBytes)),
		ConfigDeleteRetentionMs: i(c.DeleteRetentionMs),
		ConfigFsync:             string(c.Fsync),
		ConfigFsyncIntervalMs:   i(c.FsyncIntervalMs),
		ConfigCompressionType:   "producer",
		ConfigSchemaValidation:  c.SchemaValidation,
	}
}
