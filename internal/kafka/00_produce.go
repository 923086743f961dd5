package kafka

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/txn"
)

// Produce v0-v2 carry message formats v0/v1, which are refused per
// partition with UNSUPPORTED_FOR_MESSAGE_FORMAT; they are still advertised
// from v0 because librdkafka before 2.11.1 turns compression off when a
// broker's Produce minimum is above 0.
func init() { register(produceKey, 0, 11, (*Server).handleProduce) }

// checkValues checks every record value of a produce's batches against
// the topic's schema validation mode; on a refusal it returns the record's
// index among the request's records and why.
func (s *Server) checkValues(topic, mode string, batches []byte) (int32, error) {
	if s.cfg.Values == nil {
		return 0, fmt.Errorf("topic %s has schema.validation=%s but this server runs no schema registry", topic, mode)
	}
	var index int32
	for len(batches) > 0 {
		h, err := record.ParseHeader(batches)
		if err != nil {
			return index, fmt.Errorf("malformed record batch: %w", err)
		}
		if h.Size() > len(batches) {
			return index, fmt.Errorf("malformed record batch: %d bytes of %d", len(batches), h.Size())
		}
		_, recs, err := record.DecodeRecords(batches[:h.Size()], int(s.cfg.MaxRequestBytes))
		if err != nil {
			return index, fmt.Errorf("malformed record batch: %w", err)
		}
		for _, r := range recs {
			if err := s.cfg.Values.CheckValue(topic, mode, r.Value); err != nil {
				return index, err
			}
			index++
		}
		batches = batches[h.Size():]
	}
	return index, nil
}

// handleProduce writes every partition's batches to the log on the reader
// goroutine (so pipelined requests keep their order) and waits for
// durability off it.
func (s *Server) handleProduce(r *request) {
	req := r.req.(*kmsg.ProduceRequest)
	resp := kmsg.NewPtrProduceResponse()
	var waits []func()
	// Transactional batches are checked against the producer's open
	// transaction, which cannot end until every append of this request is
	// written (the Appender), so none lands after its marker.
	var appender *txn.Appender
	var txnErr error
	producer, transactional := transactionalProducer(req)
	if transactional {
		if req.TransactionID == nil {
			// As Kafka: transactional records need a transactional id the
			// client may write with.
			r.respond(produceError(req, kerr.TransactionalIDAuthorizationFailed.Code, "transactional records without a transactional id"))
			return
		}
		appender, txnErr = s.txns.BeginAppend(*req.TransactionID, producer.ProducerID, producer.Epoch)
		if appender != nil {
			defer appender.Release()
		}
	}
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		// Capacity fixed up front: waits keep pointers into this slice.
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, 0, len(rt.Partitions))
		t, terr := s.topic(rt.Topic, s.cfg.AutoCreateTopics)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogStartOffset = -1, -1
			st.Partitions = append(st.Partitions, sp)
			res := &st.Partitions[len(st.Partitions)-1]
			if terr != nil {
				res.ErrorCode = errorCode(terr)
				continue
			}
			p, err := t.Partition(rp.Partition)
			if err != nil {
				res.ErrorCode = errorCode(err)
				continue
			}
			if len(rp.Records) > record.OffsetMagic && rp.Records[record.OffsetMagic] < record.MagicV2 {
				res.ErrorCode = kerr.UnsupportedForMessageFormat.Code
				continue
			}
			if code := checkTransactional(rt.Topic, rp, producer, appender, txnErr, req.Version); code != 0 {
				res.ErrorCode = code
				s.cfg.Logger.Debug("transactional produce refused", "topic", rt.Topic, "partition", rp.Partition, "code", code, "err", txnErr)
				continue
			}
			if mode := t.Config().SchemaValidation; mode != "" && mode != log.SchemaValidationNone {
				if idx, err := s.checkValues(rt.Topic, mode, rp.Records); err != nil {
					msg := err.Error()
					res.ErrorCode, res.ErrorMessage = kerr.InvalidRecord.Code, &msg
					re := kmsg.NewProduceResponseTopicPartitionErrorRecord()
					re.RelativeOffset, re.ErrorMessage = idx, &msg
					res.ErrorRecords = append(res.ErrorRecords, re)
					s.cfg.Logger.Debug("produce refused by schema validation", "topic", rt.Topic, "partition", rp.Partition, "err", err)
					continue
				}
			}
			appended, wait, err := p.AppendDeferred(rp.Records)
			if err != nil {
				res.ErrorCode, res.ErrorMessage = errorCode(err), errMessage(err)
				s.cfg.Logger.Debug("produce refused", "topic", rt.Topic, "partition", rp.Partition, "err", err)
				continue
			}
			waits = append(waits, func() {
				if err := wait(); err != nil {
					res.ErrorCode, res.ErrorMessage = errorCode(err), errMessage(err)
					return
				}
				res.BaseOffset, res.LogStartOffset = appended.BaseOffset, appended.LogStartOffset
			})
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(waits) == 0 {
		r.respond(resp)
		return
	}
	// Even acks=0 waits: with fsync=always nothing becomes readable until
	// an fsync covers it.
	// Each partition fsyncs its own file: wait for them together, not one
	// after another, or a request to six partitions pays six fsyncs.
	r.async(func(context.Context) {
		if len(waits) == 1 {
			waits[0]()
		} else {
			var wg sync.WaitGroup
			for _, w := range waits {
				wg.Go(w)
			}
			wg.Wait()
		}
		r.respond(resp)
	})
}

func produceError(req *kmsg.ProduceRequest, code int16, msg string) *kmsg.ProduceResponse {
	resp := kmsg.NewPtrProduceResponse()
	m := msg
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition, sp.ErrorCode, sp.ErrorMessage = rp.Partition, code, &m
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// transactionalProducer returns the producer of the request's first
// transactional batch, if it has one. A request carries one producer's
// batches; any other producer's batch is refused by checkTransactional.
func transactionalProducer(req *kmsg.ProduceRequest) (txn.ProducerIDEpoch, bool) {
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			if h, err := record.ParseHeader(rp.Records); err == nil && h.Transactional() {
				return txn.ProducerIDEpoch{ProducerID: h.ProducerID, Epoch: h.ProducerEpoch}, true
			}
		}
	}
	return txn.ProducerIDEpoch{}, false
}

// checkTransactional verifies a partition's transactional batches against
// the producer's open transaction, as Kafka verifies a transactional
// produce (KIP-890 part 1): the error code, or 0 to append. Kafka answers
// a fenced producer INVALID_PRODUCER_EPOCH on produce, a partition not
// added TRANSACTION_ABORTABLE from v11 on (INVALID_TXN_STATE before), and
// a transaction being completed NOT_ENOUGH_REPLICAS, retriable for every
// client.
func checkTransactional(topic string, rp kmsg.ProduceRequestTopicPartition, producer txn.ProducerIDEpoch, appender *txn.Appender, txnErr error, version int16) int16 {
	h, err := record.ParseHeader(rp.Records)
	if err != nil || !h.Transactional() {
		return 0 // the log refuses a malformed batch, and checks the rest
	}
	codes := writeCodes(version, 11, kerr.NotEnoughReplicas.Code)
	switch {
	case txnErr != nil:
		return txnErrorCode(txnErr, codes)
	case h.ProducerID != producer.ProducerID:
		return kerr.InvalidProducerIDMapping.Code
	case h.ProducerEpoch != producer.Epoch:
		return kerr.InvalidProducerEpoch.Code
	}
	return txnErrorCode(appender.Check(topic, rp.Partition), codes)
}
