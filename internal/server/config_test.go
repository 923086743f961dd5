package server

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestConfigSourcesAndRoundTrip(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tide.yaml")
	if err := os.WriteFile(file, []byte("data_dir: /from/file\nkafka_addr: ':9000'\ndefault_partitions: 4\nfsync: interval\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if err := cfg.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	if err := cfg.LoadEnv([]string{"TIDE_KAFKA_ADDR=:9100", "TIDE_UNRELATED=1", "PATH=/bin"}); err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/from/file" || cfg.KafkaAddr != ":9100" || cfg.DefaultPartitions != 4 || cfg.Fsync != "interval" {
		t.Fatalf("file then env gave %+v", cfg)
	}
	// YAML() renders a file that loads back to the same configuration.
	out := filepath.Join(dir, "out.yaml")
	if err := os.WriteFile(out, cfg.YAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	back := DefaultConfig()
	if err := back.LoadFile(out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, cfg) {
		t.Fatalf("round trip: %+v, want %+v", back, cfg)
	}
}

func TestConfigRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown key": "data_dirr: x\n",
		"bad int":     "default_partitions: many\n",
		"bad fsync":   "fsync: sometimes\n",
		"not yaml":    "{{{\n",
	} {
		file := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		_ = os.WriteFile(file, []byte(body), 0o644)
		cfg := DefaultConfig()
		if err := cfg.LoadFile(file); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	cfg := DefaultConfig()
	if err := cfg.LoadEnv([]string{"TIDE_SHUTDOWN_TIMEOUT=soon"}); err == nil {
		t.Error("bad duration from the environment accepted")
	}
	cfg.KafkaAddr = "no-port"
	if err := cfg.Validate(); err == nil {
		t.Error("kafka_addr without a port accepted")
	}
}

func TestAdvertisedAddress(t *testing.T) {
	bound := &net.TCPAddr{IP: net.IPv6zero, Port: 9092}
	for configured, want := range map[string]string{
		"":                  "127.0.0.1:9092",
		"broker.local:1234": "broker.local:1234",
		"0.0.0.0:7000":      "127.0.0.1:7000",
	} {
		host, port, err := advertised(configured, bound)
		if got := net.JoinHostPort(host, itoa(port)); err != nil || got != want {
			t.Errorf("advertised(%q) = %s, %v; want %s", configured, got, err, want)
		}
	}
	if _, _, err := advertised("host:notaport", bound); err == nil {
		t.Error("bad port accepted")
	}
}

func itoa(p int32) string { return strconv.Itoa(int(p)) }
