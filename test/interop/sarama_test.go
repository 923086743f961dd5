package interop

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestSarama: IBM's sarama (1.46+ negotiates versions with ApiVersions), an
// idempotent synchronous producer and a consumer group reading it all.
func TestSarama(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		topic := createTopic(t, newAdmin(t, c), 3, nil)
		cfg := sarama.NewConfig()
		cfg.Version = sarama.V3_6_0_0
		cfg.ClientID = "tide-interop-sarama"
		cfg.Producer.Return.Successes = true
		cfg.Producer.RequiredAcks = sarama.WaitForAll
		cfg.Producer.Idempotent = true
		cfg.Net.MaxOpenRequests = 1 // sarama's requirement for idempotence
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}

		producer, err := sarama.NewSyncProducer([]string{c.bootstrap}, cfg)
		if err != nil {
			t.Fatalf("sarama producer: %v", err)
		}
		const n = 300
		for i := range n {
			msg := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprint(i % 7)), Value: sarama.StringEncoder(fmt.Sprint(i))}
			if _, _, err := producer.SendMessage(msg); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		if err := producer.Close(); err != nil {
			t.Fatal(err)
		}

		group, err := sarama.NewConsumerGroup([]string{c.bootstrap}, uniqueName(t, "g"), cfg)
		if err != nil {
			t.Fatalf("sarama group: %v", err)
		}
		defer group.Close()
		h := &saramaHandler{want: n, done: make(chan struct{}), seen: map[string]bool{}}
		ctx := testContext(t, 60*time.Second)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		errs := make(chan error, 1)
		go func() {
			for ctx.Err() == nil {
				if err := group.Consume(ctx, []string{topic}, h); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
		select {
		case <-h.done:
		case <-ctx.Done():
			t.Fatalf("sarama group consumed %d of %d", h.count(), n)
		}
		cancel()
		if err := <-errs; err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
	})
}

type saramaHandler struct {
	mu   sync.Mutex
	seen map[string]bool
	want int
	done chan struct{}
}

func (h *saramaHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		sess.MarkMessage(msg, "")
		h.mu.Lock()
		h.seen[string(msg.Value)] = true
		if len(h.seen) == h.want {
			close(h.done)
		}
		h.mu.Unlock()
	}
	return nil
}
