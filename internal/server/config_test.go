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
		"bad webhook": "alert_webhook_url: ftp://example.com/hook\n",
		"bad check":   "alert_check_interval: 0s\n",
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

func TestConfigKafkaBrokersAndSQLDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	want := []string{"kafka-1:9092", "10.0.0.2:9093", "[::1]:9094"}
	load := func(body string) (Config, error) {
		file := filepath.Join(dir, "tide.yaml")
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		err := cfg.LoadFile(file)
		return cfg, err
	}
	// A YAML list, a YAML flow list and a comma-separated string.
	for _, body := range []string{
		"kafka_brokers:\n  - kafka-1:9092\n  - 10.0.0.2:9093\n  - '[::1]:9094'\nsql_dir: /etc/tide/sql\n",
		"kafka_brokers: [kafka-1:9092, 10.0.0.2:9093, '[::1]:9094']\nsql_dir: /etc/tide/sql\n",
		"kafka_brokers: 'kafka-1:9092, 10.0.0.2:9093,,[::1]:9094'\nsql_dir: /etc/tide/sql\n",
	} {
		cfg, err := load(body)
		if err != nil {
			t.Errorf("%q: %v", body, err)
			continue
		}
		if !reflect.DeepEqual(cfg.KafkaBrokers, want) || cfg.SQLDir != "/etc/tide/sql" {
			t.Errorf("%q: brokers %q, sql_dir %q", body, cfg.KafkaBrokers, cfg.SQLDir)
		}
	}
	// The environment, and a flag (which sets through the same Setting).
	cfg := DefaultConfig()
	if err := cfg.LoadEnv([]string{"TIDE_KAFKA_BROKERS= kafka-1:9092,10.0.0.2:9093 , [::1]:9094 ", "TIDE_SQL_DIR=/srv/sql"}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.KafkaBrokers, want) || cfg.SQLDir != "/srv/sql" {
		t.Errorf("from the environment: brokers %q, sql_dir %q", cfg.KafkaBrokers, cfg.SQLDir)
	}
	brokers, ok := setting("kafka_brokers")
	if !ok || brokers.Flag() != "kafka-brokers" || brokers.Env() != "TIDE_KAFKA_BROKERS" {
		t.Fatalf("kafka_brokers setting: %+v", brokers)
	}
	if err := brokers.Set(&cfg, "only:1"); err != nil || !reflect.DeepEqual(cfg.KafkaBrokers, []string{"only:1"}) {
		t.Errorf("flag value replaces the list: %q, %v", cfg.KafkaBrokers, err)
	}
	// An empty value clears the list: back to the embedded log.
	if err := brokers.Set(&cfg, ""); err != nil || cfg.KafkaBrokers != nil {
		t.Errorf("empty value: %q, %v", cfg.KafkaBrokers, err)
	}
	// Round trip through the file form.
	cfg.KafkaBrokers, cfg.SQLDir = want, "/etc/tide/sql"
	out := filepath.Join(dir, "out.yaml")
	if err := os.WriteFile(out, cfg.YAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	back := DefaultConfig()
	if err := back.LoadFile(out); err != nil || !reflect.DeepEqual(back, cfg) {
		t.Errorf("round trip: %+v, %v; want %+v", back, err, cfg)
	}
	// A broker without a port is rejected, naming it.
	for _, body := range []string{"kafka_brokers: [kafka-1]\n", "kafka_brokers: 'a:1,b'\n", "kafka_brokers: 9092\n"} {
		if _, err := load(body); err == nil || !strings.Contains(err.Error(), "is not host:port") {
			t.Errorf("%q: %v, want a host:port error", body, err)
		}
	}
	if err := back.LoadEnv([]string{"TIDE_KAFKA_BROKERS=nohost"}); err == nil || !strings.Contains(err.Error(), `broker "nohost"`) {
		t.Errorf("bad broker from the environment: %v", err)
	}
}
