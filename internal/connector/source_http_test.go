package connector

import (
	"strings"
	"testing"
)

func TestHTTPSourceOptions(t *testing.T) {
	t.Parallel()
	if err := CheckSource("http", nil, map[string]string{"topic": "orders", "scan.startup.mode": "latest"}); err != nil {
		t.Fatal(err)
	}
	err := CheckSource("http", nil, map[string]string{"topc": "orders"})
	if err == nil || !strings.HasPrefix(err.Error(), "connector http: ") {
		t.Fatalf("bad options: %v", err)
	}
}
