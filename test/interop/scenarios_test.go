package interop

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestKafkaJS runs test/node/scenarios.js: kafkajs creates a 3-partition
// topic, two consumers of one group split it, a producer sends 1000 keyed
// records (half the batches gzip), and the group reads each exactly once.
func TestKafkaJS(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		node := lookPeer(t, "node", "Node.js runs the kafkajs scenarios")
		dir := filepath.Join(repoRoot(t), "test", "node")
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "kafkajs", "package.json")); err != nil {
			peerMissing(t, "kafkajs is not installed in test/node (npm ci; scripts/peers/install.sh)")
		}
		ctx := testContext(t, 120*time.Second)
		out := runPeer(t, ctx, "", node, filepath.Join(dir, "scenarios.js"), c.bootstrap, uniqueName(t, "t"))
		t.Logf("kafkajs:\n%s", out)
	})
}

// TestJavaClient runs the official Java client's scenarios
// (test/java/target/scenarios.jar): an idempotent acks=all producer checks
// every send's metadata, a group consumer commits synchronously after every
// poll, and a second member of the group resumes at the committed offsets
// and reads nothing.
func TestJavaClient(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		java := lookPeer(t, "java", "a JRE runs the Java client scenarios")
		jar := filepath.Join(repoRoot(t), "test", "java", "target", "scenarios.jar")
		if _, err := os.Stat(jar); err != nil {
			peerMissing(t, "%s is not built (scripts/peers/install.sh)", jar)
		}
		ctx := testContext(t, 120*time.Second)
		out := runPeer(t, ctx, "", java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-jar", jar, c.bootstrap, uniqueName(t, "t"))
		t.Logf("java:\n%s", out)
	})
}
