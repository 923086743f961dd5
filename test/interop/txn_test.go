package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestJavaTransactions runs the Java client's transaction scenarios
// (dev.tide.interop.TxnScenarios in test/java/target/scenarios.jar): a
// transactional producer commits a batch with a group's offsets, aborts
// one, commits another, and is fenced mid-transaction by a second producer
// of its transactional id, which commits a last batch; read_committed and
// read_uncommitted Java consumers check what they see. Then franz-go checks
// the same log: a read_committed consumer must read exactly the records the
// Java producer committed, at the offsets it was told, and a
// read_uncommitted one the aborted records too.
func TestJavaTransactions(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		java := lookPeer(t, "java", "a JRE runs the Java client scenarios")
		jar := filepath.Join(repoRoot(t), "test", "java", "target", "scenarios.jar")
		if _, err := os.Stat(jar); err != nil {
			peerMissing(t, "%s is not built (scripts/peers/install.sh)", jar)
		}
		adm := newAdmin(t, c)
		topic := createTopic(t, adm, 2, nil)
		group := uniqueName(t, "g")
		ctx := testContext(t, 120*time.Second)
		out := runPeer(t, ctx, "", java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", jar,
			"dev.tide.interop.TxnScenarios", c.bootstrap, topic, group)

		committed, aborted := parseTxnRecords(t, out)
		if len(committed) == 0 || len(aborted) == 0 {
			t.Fatalf("the Java scenarios reported %d committed and %d aborted records, want some of each", len(committed), len(aborted))
		}
		t.Logf("java: %d committed and %d aborted records\n%s", len(committed), len(aborted), javaLog(out))

		for _, tc := range []struct {
			level kgo.IsolationLevel
			name  string
			want  []string
		}{
			{kgo.ReadCommitted(), "read_committed", committed},
			{kgo.ReadUncommitted(), "read_uncommitted", append(slices.Clone(committed), aborted...)},
		} {
			cl := newClient(t, c,
				kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {
					0: kgo.NewOffset().AtStart(),
					1: kgo.NewOffset().AtStart(),
				}}),
				kgo.FetchIsolationLevel(tc.level),
				kgo.FetchMaxWait(200*time.Millisecond),
			)
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			recs := pollN(t, pctx, cl, len(tc.want))
			cancel()
			// Nothing more may come.
			qctx, qcancel := context.WithTimeout(ctx, time.Second)
			fs := cl.PollFetches(qctx)
			qcancel()
			recs = append(recs, fs.Records()...)
			got := make([]string, len(recs))
			for i, r := range recs {
				got[i] = fmt.Sprintf("%d %d %s", r.Partition, r.Offset, r.Value)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("franz-go %s read %d records, want the %d the Java producer reported:\n got: %s\nwant: %s",
					tc.name, len(got), len(want), strings.Join(got, ", "), strings.Join(want, ", "))
			}
		}
	})
}

// parseTxnRecords returns the "PARTITION OFFSET VALUE" of the records
// TxnScenarios printed as committed ("C ...") and aborted ("A ...").
func parseTxnRecords(t *testing.T, out string) (committed, aborted []string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || (f[0] != "C" && f[0] != "A") {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 32); err != nil {
			t.Fatalf("bad record line %q", line)
		}
		if _, err := strconv.ParseInt(f[2], 10, 64); err != nil {
			t.Fatalf("bad record line %q", line)
		}
		rec := strings.Join(f[1:], " ")
		if f[0] == "C" {
			committed = append(committed, rec)
		} else {
			aborted = append(aborted, rec)
		}
	}
	return committed, aborted
}

// javaLog is out without the record lines.
func javaLog(out string) string {
	var keep []string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if !strings.HasPrefix(line, "C ") && !strings.HasPrefix(line, "A ") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
