package log

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
)

// Topic is a named set of partitions sharing one configuration.
type Topic struct {
	name string
	id   TopicID
	dir  string
	// config is the effective configuration: the log's defaults overlaid
	// with the topic's overrides.
	config atomic.Pointer[TopicConfig]
	// partitions only grows (CreatePartitions); readers load a snapshot.
	partitions atomic.Pointer[[]*Partition]
	// mu serialises changes to the topic's metadata file.
	mu struct {
		sync.Mutex
		meta topicMeta
	}
}

// topicMeta is topic.json, the topic's only metadata file. Only overrides
// are stored, so a changed default reaches every topic that did not set
// its own, as in Kafka.
type topicMeta struct {
	Name string `json:"name"`
	// ID is a random 16-byte id, Kafka's topic id (hex in the file).
	ID         TopicID           `json:"id"`
	Partitions int32             `json:"partitions"`
	Config     map[string]string `json:"config,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
}

const topicMetaFile = "topic.json"

// Kafka's rule for topic names: at most 249 of [a-zA-Z0-9._-], not "." or "..".
var topicNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// ValidateTopicName returns an error wrapping ErrInvalidTopic if name is
// not a legal Kafka topic name.
func ValidateTopicName(name string) error {
	if !topicNameRE.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("%w: %q: use 1 to 249 characters of a-z, A-Z, 0-9, '.', '_', '-'", ErrInvalidTopic, name)
	}
	return nil
}

// Name returns the topic's name.
func (t *Topic) Name() string { return t.name }

// ID returns the topic's id, stable for its life and different for a
// topic of the same name created after a delete.
func (t *Topic) ID() TopicID { return t.id }

// TopicID is a topic's 16-byte id (a UUID, as Kafka's).
type TopicID [16]byte

func newTopicID() TopicID {
	var id TopicID
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails on Linux
	return id
}

// MarshalText encodes the id as hex.
func (id TopicID) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(id[:])), nil }

// UnmarshalText decodes a hex id.
func (id *TopicID) UnmarshalText(b []byte) error {
	if len(b) != 32 {
		return fmt.Errorf("log: topic id %q is not 32 hex digits", b)
	}
	_, err := hex.Decode(id[:], b)
	return err
}

// Config returns the topic's effective configuration.
func (t *Topic) Config() TopicConfig { return *t.config.Load() }

// Overrides returns the settings given for this topic, as stored.
func (t *Topic) Overrides() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.mu.meta.Config)
}

// CreatedAt returns when the topic was created.
func (t *Topic) CreatedAt() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.meta.CreatedAt
}

// NumPartitions returns the number of partitions.
func (t *Topic) NumPartitions() int32 { return int32(len(*t.partitions.Load())) }

// Partitions returns the partitions in order. The slice must not be modified.
func (t *Topic) Partitions() []*Partition { return *t.partitions.Load() }

// Partition returns partition id, or an error wrapping ErrUnknownPartition.
func (t *Topic) Partition(id int32) (*Partition, error) {
	parts := *t.partitions.Load()
	if id < 0 || int(id) >= len(parts) {
		return nil, fmt.Errorf("%w: %s has partitions 0 to %d, not %d", ErrUnknownPartition, t.name, len(parts)-1, id)
	}
	return parts[id], nil
}

func encodeTopicMeta(m topicMeta) []byte {
	b, _ := json.MarshalIndent(m, "", "  ") // cannot fail: plain types
	return append(b, '\n')
}

func decodeTopicMeta(b []byte, dir string) (topicMeta, error) {
	var m topicMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("log: %s: %w", filepath.Join(dir, topicMetaFile), err)
	}
	if m.Partitions < 1 {
		return m, fmt.Errorf("log: %s: %d partitions", filepath.Join(dir, topicMetaFile), m.Partitions)
	}
	return m, nil
}
