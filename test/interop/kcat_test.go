package interop

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runPeer runs a peer program with a deadline and returns its stdout; a
// non-zero exit fails the test with stderr.
func runPeer(t *testing.T, ctx context.Context, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	start := time.Now()
	err := cmd.Run()
	if err != nil {
		t.Fatalf("%s %s: %v after %s\nstderr:\n%s\nstdout:\n%s", name, strings.Join(args, " "), err,
			time.Since(start).Round(time.Millisecond), tail(stderr.String(), 30), tail(stdout.String(), 30))
	}
	return stdout.String()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("... (%d lines before)\n%s", len(lines)-n, strings.Join(lines[len(lines)-n:], "\n"))
}

// kcatLine is one record as printed by kcat -f '%p %o %k %s\n'.
type kcatLine struct {
	partition int32
	offset    int64
	key       string
	value     string
}

func parseKcat(t *testing.T, out string) []kcatLine {
	t.Helper()
	var lines []kcatLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 4 {
			t.Fatalf("kcat printed %q", l)
		}
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("kcat printed %q", l)
		}
		lines = append(lines, kcatLine{int32(p), o, f[2], f[3]})
	}
	return lines
}

// TestKcat drives librdkafka through kcat: metadata, a gzip-compressed keyed
// produce, a plain consume back in per-partition order, and a balanced
// consumer group that commits what it read.
func TestKcat(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		kcat := lookPeer(t, "kcat", "Debian package kcat")
		const n, partitions = 100, 3
		adm := newAdmin(t, c)
		topic := createTopic(t, adm, partitions, nil)
		ctx := testContext(t, 90*time.Second)
		step := func(d time.Duration) context.Context {
			c, cancel := context.WithTimeout(ctx, d)
			t.Cleanup(cancel)
			return c
		}

		// Metadata.
		md := runPeer(t, step(20*time.Second), "", kcat, "-b", c.bootstrap, "-L", "-t", topic)
		if want := fmt.Sprintf("topic %q with %d partitions:", topic, partitions); !strings.Contains(md, want) {
			t.Errorf("kcat -L does not say %q:\n%s", want, md)
		}
		if got := strings.Count(md, "partition "); got != partitions {
			t.Errorf("kcat -L lists %d partitions, want %d:\n%s", got, partitions, md)
		}

		// Produce 100 keyed lines, gzip.
		var in strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&in, "key-%03d:value-%03d\n", i, i)
		}
		runPeer(t, step(30*time.Second), in.String(), kcat, "-b", c.bootstrap, "-P", "-t", topic, "-K:", "-z", "gzip",
			"-X", "linger.ms=20")

		// Consume them back: per partition, offsets 0.. in the order produced.
		out := runPeer(t, step(30*time.Second), "", kcat, "-b", c.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e",
			"-f", "%p %o %k %s\n")
		lines := parseKcat(t, out)
		if len(lines) != n {
			t.Fatalf("kcat -C read %d records, want %d", len(lines), n)
		}
		lastIndex := map[int32]int{}
		nextOffset := map[int32]int64{}
		seen := map[string]bool{}
		for _, l := range lines {
			i, err := strconv.Atoi(strings.TrimPrefix(l.key, "key-"))
			if err != nil || l.value != fmt.Sprintf("value-%03d", i) {
				t.Fatalf("kcat -C read key %q value %q", l.key, l.value)
			}
			if prev, ok := lastIndex[l.partition]; ok && i <= prev {
				t.Errorf("partition %d: key-%03d after key-%03d, out of produce order", l.partition, i, prev)
			}
			if l.offset != nextOffset[l.partition] {
				t.Errorf("partition %d: offset %d, want %d", l.partition, l.offset, nextOffset[l.partition])
			}
			lastIndex[l.partition], nextOffset[l.partition] = i, l.offset+1
			seen[l.key] = true
		}
		if len(seen) != n {
			t.Errorf("kcat -C read %d distinct keys, want %d", len(seen), n)
		}

		// librdkafka compressed them (before 2.11.1 it silently does not
		// when the broker's Produce minimum version is above 0).
		hook := &batchCodecs{}
		cons := newClient(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.WithHooks(hook), kgo.FetchMaxWait(250*time.Millisecond))
		pollN(t, step(20*time.Second), cons, n)
		if _, fetched := hook.snapshot(); len(fetched) != 1 || fetched[1] == 0 {
			t.Errorf("batches written by kcat -z gzip, by codec: %v; want gzip (1) only", fetched)
		}

		// A balanced consumer group reads everything and commits it on exit.
		group := uniqueName(t, "g")
		out = runPeer(t, step(45*time.Second), "", kcat, "-b", c.bootstrap, "-G", group, topic, "-e",
			"-X", "auto.offset.reset=earliest", "-f", "%p %o %k %s\n")
		glines := parseKcat(t, out)
		gseen := map[string]bool{}
		for _, l := range glines {
			gseen[l.key] = true
		}
		if len(gseen) != n {
			t.Errorf("kcat -G read %d distinct keys (%d records), want %d", len(gseen), len(glines), n)
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		ends.Each(func(e kadm.ListedOffset) {
			if e.Offset == 0 {
				return // nothing to commit in an empty partition
			}
			if o, ok := committed.Lookup(topic, e.Partition); !ok || o.At != e.Offset {
				t.Errorf("kcat -G: partition %d committed %d (present %v), high watermark %d", e.Partition, o.At, ok, e.Offset)
			}
		})
	})
}
