// Package interop proves Tide's Kafka listener against real clients, and
// proves the tests themselves against a real Apache Kafka 4.x broker, so that
// the tests encode Kafka's behaviour rather than Tide's.
//
// The package has no non-test code. Every test runs one subtest per available
// target, named after it:
//
//	kafka  a running Apache Kafka broker at $TIDE_TEST_KAFKA_BOOTSTRAP
//	       (scripts/peers/up.sh starts one and prints the export line)
//	tide   a fresh `$TIDE_TEST_TIDE_BIN serve` child process per test, on free
//	       loopback ports with its own data directory; tests may Kill (SIGKILL)
//	       and Restart it
//
// With no target configured the tests skip with a loud reason, or fail when
// CI=true. The same holds for a missing client peer: kcat, node with
// test/node/node_modules (kafkajs), java with test/java/target/scenarios.jar,
// and the Prometheus server ($TIDE_TEST_PROMETHEUS_BIN, Debian package
// prometheus) that scrapes Tide in TestPrometheusScrapesLag;
// scripts/peers/install.sh installs them all.
//
// Clients driven: franz-go (kgo, kadm and raw kmsg requests) in process;
// kcat, test/node/scenarios.js (kafkajs) and the Java client's Scenarios as
// child processes. Every test uses fresh topic and group names, so tests
// never see each other's data on a shared Kafka broker, and each test deletes
// its topics when it ends.
//
// Invariants the tests hold a target to are Kafka's own, seen on Kafka 4.x:
// error codes of the admin APIs, per-partition offsets assigned 0, 1, 2, ...
// in produce order, idempotent deduplication, the producer's batch codec kept
// as it came, committed offsets equal to high watermarks after a consumer
// group drains a topic, and committed offsets surviving a restart.
package interop
