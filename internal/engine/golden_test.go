package engine

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/transport"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGoldenPipelines runs each testdata/pipelines/NAME.sql on a fresh
// embedded log, feeds it NAME.input (lines "topic|key|value", an empty
// key meaning none; topics are created with 3 partitions first), waits
// until every sink has processed every input, and compares the statements'
// results, each sink's EXPLAIN, and every output and dead-letter record
// with NAME.golden. go test ./internal/engine -run Golden -update
// rewrites the golden files.
func TestGoldenPipelines(t *testing.T) {
	files, err := filepath.Glob("testdata/pipelines/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden pipelines: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".sql")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := runGolden(t, strings.TrimSuffix(file, ".sql"))
			goldenFile := strings.TrimSuffix(file, ".sql") + ".golden"
			if *update {
				if err := os.WriteFile(goldenFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenFile)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, diffLines(string(want), got))
			}
		})
	}
}

func runGolden(t *testing.T, base string) string {
	ctx := context.Background()
	sql, err := os.ReadFile(base + ".sql")
	if err != nil {
		t.Fatal(err)
	}
	input, err := os.ReadFile(base + ".input")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)

	var records []*transport.Record
	topics := map[string]bool{}
	for i, line := range strings.Split(strings.TrimRight(string(input), "\n"), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			t.Fatalf("%s.input line %d: want topic|key|value", base, i+1)
		}
		r := &transport.Record{Topic: parts[0], Partition: -1, Value: []byte(parts[2])}
		if parts[1] != "" {
			r.Key = []byte(parts[1])
		}
		records = append(records, r)
		topics[parts[0]] = true
	}
	for topic := range topics {
		if err := n.tr.CreateTopic(ctx, transport.TopicSpec{Name: topic, Partitions: 3}); err != nil {
			t.Fatal(err)
		}
	}

	var out strings.Builder
	out.WriteString("== statements\n")
	results, execErr := e.Execute(ctx, string(sql), ExecOptions{})
	for _, r := range results {
		writeResult(&out, r)
	}
	if execErr != nil {
		var ee *Error
		errors.As(execErr, &ee)
		fmt.Fprintf(&out, "ERROR [%s] statement %d: %s\n", ee.Code, ee.Statement, strings.ReplaceAll(ee.Error(), "\n", "\n  "))
	}
	if len(records) > 0 {
		if err := n.tr.Produce(ctx, records); err != nil {
			t.Fatal(err)
		}
	}
	e.mu.Lock()
	pipes := make([]*pipeline, 0, len(e.mu.pipelines))
	for _, p := range e.mu.pipelines {
		pipes = append(pipes, p)
	}
	e.mu.Unlock()
	slices.SortFunc(pipes, func(a, b *pipeline) int { return strings.Compare(a.plan.Name, b.plan.Name) })
	for _, p := range pipes {
		want := int64(0)
		for _, r := range records {
			if r.Topic == p.plan.Source.Options["topic"] {
				want++
			}
		}
		waitFor(t, "pipeline "+p.plan.Name+" to process its input", func() bool {
			st := p.status()
			return st.In >= want && st.Out+st.Filtered+st.DeadLettered == st.In
		})
		explain, err := e.Execute(ctx, "EXPLAIN "+p.entry.SQL, ExecOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "== EXPLAIN %s\n", p.plan.Name)
		for _, row := range explain[0].Rows {
			out.WriteString(row[0] + "\n")
		}
		st := p.status()
		fmt.Fprintf(&out, "== counts %s: in %d, out %d, filtered %d, dead-lettered %d\n", p.plan.Name, st.In, st.Out, st.Filtered, st.DeadLettered)
		if topic, ok := p.plan.Options["topic"]; ok && p.plan.Connector == "topic" {
			writeTopic(t, &out, n.tr, topic, st.Out)
		}
		if st.DeadLettered > 0 {
			writeTopic(t, &out, n.tr, p.dlqTopic, st.DeadLettered)
		}
	}
	return out.String()
}

func writeResult(b *strings.Builder, r Result) {
	fmt.Fprintf(b, "%s: %s\n", r.Statement, r.Message)
	if len(r.Columns) > 0 {
		fmt.Fprintf(b, "  %s\n", strings.Join(r.Columns, " | "))
		for _, row := range r.Rows {
			fmt.Fprintf(b, "  %s\n", strings.Join(row, " | "))
		}
	}
}

// writeTopic prints a topic's records by partition, then key, then
// offset: per-key order is what the runtime guarantees (records of
// different input partitions interleave in an output partition in any
// order).
func writeTopic(t *testing.T, b *strings.Builder, tr transport.Transport, topic string, want int64) {
	recs := readAll(t, tr, topic, int(want))
	slices.SortStableFunc(recs, func(a, b *transport.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return bytes.Compare(a.Key, b.Key)
	})
	fmt.Fprintf(b, "== topic %s (%d records)\n", topic, len(recs))
	for _, r := range recs {
		fmt.Fprintf(b, "p%d key=%s %s\n", r.Partition, printable(r.Key), r.Value)
		for _, h := range r.Headers {
			if strings.HasPrefix(h.Key, "tide.") {
				fmt.Fprintf(b, "    %s: %s\n", h.Key, h.Value)
			}
		}
	}
}

func printable(b []byte) string {
	if b == nil {
		return "<none>"
	}
	return string(b)
}

func sortRecords(recs []*transport.Record) {
	slices.SortFunc(recs, func(a, b *transport.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
}

// diffLines shows the first lines where want and got differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b bytes.Buffer
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
