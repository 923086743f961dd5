package kafka

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
)

// errorCode maps a log error to the Kafka error code a Kafka broker would
// return in the same situation.
func errorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, log.ErrUnknownTopic), errors.Is(err, log.ErrUnknownPartition):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, log.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, log.ErrMessageTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, record.ErrCorrupt), errors.Is(err, record.ErrShortBatch):
		return kerr.CorruptMessage.Code
	case errors.Is(err, log.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, log.ErrProducerFenced):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, log.ErrInvalidProducer), errors.Is(err, log.ErrInvalidRecord):
		return kerr.InvalidRecord.Code
	case errors.Is(err, log.ErrInvalidTxnState):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, log.ErrCoordinatorFenced):
		return kerr.TransactionCoordinatorFenced.Code
	case errors.Is(err, log.ErrInvalidTopic):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, log.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, log.ErrInvalidPartitions):
		return kerr.InvalidPartitions.Code
	case errors.Is(err, log.ErrInvalidConfig):
		return kerr.InvalidConfig.Code
	case errors.Is(err, log.ErrClosed):
		// The partition is going away (shutdown or topic deletion): clients
		// refresh metadata and retry, as after a leader change.
		return kerr.NotLeaderForPartition.Code
	}
	// Anything else is the disk failing under the partition.
	return kerr.KafkaStorageError.Code
}

func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
