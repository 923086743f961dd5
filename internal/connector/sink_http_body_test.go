package connector

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A receiver that answers before it reads the body (a 413 or a 503 from a
// proxy does) leaves net/http writing the body after Do has returned;
// the next request must not be built in the same memory. Run with -race.
func TestHTTPSinkBodyOutlivesEarlyAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge) // not retried: a dead letter
	}))
	t.Cleanup(srv.Close)
	s, _ := newTestHTTPSink(t, map[string]string{"url": srv.URL, "max.attempts": "1"})
	big := strings.Repeat("x", 4<<20) // more than socket buffers hold
	values := make([]string, 8)
	for i := range values {
		values[i] = big[:len(big)-i]
	}
	err := s.Write(context.Background(), outputs(values...))
	var rej *RejectedError
	if !errors.As(err, &rej) || len(rej.Rejected) != len(values) {
		t.Fatalf("Write: %v, want every output rejected with the 413", err)
	}
}
