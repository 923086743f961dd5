package log

import (
	"errors"

	"github.com/tide-data/tide/internal/record"
)

// Errors returned by the log. Callers match them with errors.Is; the Kafka
// listener and the HTTP API map each to their own error codes.
var (
	ErrUnknownTopic      = errors.New("log: unknown topic")
	ErrTopicExists       = errors.New("log: topic already exists")
	ErrUnknownPartition  = errors.New("log: unknown partition")
	ErrInvalidTopic      = errors.New("log: invalid topic name")
	ErrInvalidPartitions = errors.New("log: invalid partition count")
	ErrInvalidConfig     = errors.New("log: invalid topic configuration")
	ErrOffsetOutOfRange  = errors.New("log: offset out of range")
	ErrMessageTooLarge   = errors.New("log: batch larger than max.message.bytes")
	ErrClosed            = errors.New("log: closed")
	ErrDataDirInUse      = errors.New("log: data directory in use by another process")
	ErrCorruptBatch      = record.ErrCorrupt
	errSegmentRetired    = errors.New("log: segment retired")
	errIndexInconsistent = errors.New("log: index inconsistent with segment")
)

// IsCorrupt reports whether err says that stored or received bytes are
// damaged (a bad CRC, a torn header), as opposed to an I/O failure.
func IsCorrupt(err error) bool { return record.IsCorrupt(err) }
