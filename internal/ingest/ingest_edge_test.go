package ingest

import (
	"bytes"
	"context"
	"testing"
)

// A repeat of an Idempotency-Key is answered with the first answer byte
// for byte, the duplicate marks of an event-id topic included, in memory
// and after a restart.
func TestIdempotentReplayKeepsDuplicateMarks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{IdempotencyFields: map[string]string{"ev": "event_id"}}
	n := openNode(t, dir, nil, cfg)
	n.createTopic("ev", 1)
	n.post("/v1/topics/ev/records", MediaJSON, `{"event_id":"a"}`).offsets(t)
	body := `[{"event_id":"a"},{"event_id":"b"},{"event_id":"b"}]`
	first := n.post("/v1/topics/ev/records", MediaJSON, body, "Idempotency-Key", "k")
	first.offsets(t)
	if !bytes.Contains(first.body, []byte(`"duplicate":true`)) {
		t.Fatalf("first answer %s has no duplicate marks", first.body)
	}
	again := n.post("/v1/topics/ev/records", MediaJSON, body, "Idempotency-Key", "k")
	if again.header.Get(HeaderIdempotentReply) != "true" || !bytes.Equal(again.body, first.body) {
		t.Errorf("replay answered %s, want the first answer byte for byte: %s", bytes.TrimSpace(again.body), bytes.TrimSpace(first.body))
	}
}

// With auto_create_topics on, a topic deleted while the handler has it
// cached (looked up less than topicRecheck ago) is created again by the
// next request: the request whose write found it gone is answered 404
// (nothing of it was written), and the handler forgets what it knew.
func TestAutoCreateAfterTopicDeleted(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir(), nil, Config{AutoCreateTopics: true, DefaultPartitions: 1})
	n.post("/v1/topics/fresh/records", MediaJSON, `{"a":1}`).offsets(t)
	if err := n.tr.DeleteTopic(context.Background(), "fresh"); err != nil {
		t.Fatal(err)
	}
	if r := n.post("/v1/topics/fresh/records", MediaJSON, `{"a":2}`); r.status != 200 && r.status != 404 {
		t.Errorf("the post that finds the topic gone: %d %s, want 404 (or 200)", r.status, bytes.TrimSpace(r.body))
	}
	if r := n.post("/v1/topics/fresh/records", MediaJSON, `{"a":3}`); r.status != 200 {
		t.Errorf("the next post, auto_create_topics on: %d %s, want 200 (created again)", r.status, bytes.TrimSpace(r.body))
	}
}
