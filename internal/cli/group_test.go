package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupMembersSharePartitions runs two members of one group: each
// record is printed by exactly one of them, and what they printed is
// committed when they stop.
func TestGroupMembersSharePartitions(t *testing.T) {
	ts := startServer(t)
	ts.tide(t, "", "topic", "create", "t", "--partitions", "2").ok(t)
	members := func() []string {
		var assigned []string
		for _, line := range lines(ts.tide(t, "", "group", "describe", "g").stdout) {
			if f := strings.Fields(line); len(f) == 4 && strings.HasPrefix(f[3], "t:") {
				assigned = append(assigned, f[3])
			}
		}
		slices.Sort(assigned)
		return assigned
	}
	a := runInBackground("consume", "t", "--group", "g", "--follow", "--server", ts.addr)
	waitFor(t, "the first member to have both partitions", func() bool { return slices.Equal(members(), []string{"t:0,1"}) })
	b := runInBackground("consume", "t", "--group", "g", "--follow", "--server", ts.addr)
	waitFor(t, "the members to have one partition each", func() bool { return slices.Equal(members(), []string{"t:0", "t:1"}) })

	var want []string
	for p := range 2 {
		var in strings.Builder
		for i := range 10 {
			fmt.Fprintf(&in, "p%d-%d\n", p, i)
			want = append(want, fmt.Sprintf("p%d-%d", p, i))
		}
		ts.tide(t, in.String(), "produce", "t", "--partition", fmt.Sprint(p)).ok(t)
	}
	waitFor(t, "every record", func() bool { return len(lines(a.stdout.String()))+len(lines(b.stdout.String())) >= 20 })
	// The second member takes the first one's partition over where the
	// first one's commit says, and prints nothing again.
	ra := a.stop(t)
	waitFor(t, "the second member to have both partitions", func() bool { return slices.Equal(members(), []string{"t:0,1"}) })
	rb := b.stop(t)
	if ra.code != 0 || rb.code != 0 {
		t.Fatalf("members exited %d (%q) and %d (%q)", ra.code, ra.stderr, rb.code, rb.stderr)
	}
	got := append(lines(ra.stdout), lines(rb.stdout)...)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("printed %q, want each record once: %q", got, want)
	}
	if len(lines(ra.stdout)) == 0 || len(lines(rb.stdout)) == 0 {
		t.Errorf("one member printed nothing: %q and %q", ra.stdout, rb.stdout)
	}
	rows := table(ts.tide(t, "", "group", "describe", "g").ok(t).stdout, 2)
	for p := range 2 {
		if got := strings.Join(rows[fmt.Sprintf("t %d", p)], " "); got != fmt.Sprintf("t %d 10 10 0 -", p) {
			t.Errorf("partition %d: %q, want committed 10, lag 0", p, got)
		}
	}
}

// TestGroupStartsByTime checks that --from-time applies to a group
// without committed offsets, and reset-offsets --to-time.
func TestGroupStartsByTime(t *testing.T) {
	ts := startServer(t)
	ts.tide(t, "", "topic", "create", "t", "--partitions", "2").ok(t)
	ts.tide(t, "old0\n", "produce", "t", "--partition", "0").ok(t)
	ts.tide(t, "old1\n", "produce", "t", "--partition", "1").ok(t)
	time.Sleep(5 * time.Millisecond)
	mark := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(5 * time.Millisecond)
	ts.tide(t, "new1\n", "produce", "t", "--partition", "1").ok(t)

	r := ts.tide(t, "", "consume", "t", "--group", "g", "--from-time", mark).ok(t)
	if r.stdout != "new1\n" {
		t.Errorf("group from %s: %q, want the new record", mark, r.stdout)
	}
	// The committed offsets win over --from-beginning now.
	if r := ts.tide(t, "", "consume", "t", "--group", "g", "--from-beginning").ok(t); r.stdout != "" {
		t.Errorf("second run: %q, want nothing", r.stdout)
	}
	ts.tide(t, "", "group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--partition", "0", "--execute").ok(t)
	if r := ts.tide(t, "", "consume", "t", "--group", "g").ok(t); r.stdout != "old0\n" {
		t.Errorf("after partition 0 was reset to the earliest: %q", r.stdout)
	}
	r = ts.tide(t, "", "group", "reset-offsets", "g", "--topic", "t", "--to-time", mark, "--execute").ok(t)
	if rows := table(r.stdout, 3); strings.Join(rows["g t 0"], " ") != "g t 0 1 1" || strings.Join(rows["g t 1"], " ") != "g t 1 2 1" {
		t.Errorf("plan of --to-time:\n%s", r.stdout)
	}
	if r := ts.tide(t, "", "consume", "t", "--group", "g").ok(t); r.stdout != "new1\n" {
		t.Errorf("after reset to %s: %q", mark, r.stdout)
	}
	// An offset outside a partition's offsets moves to the nearest end.
	r = ts.tide(t, "", "group", "reset-offsets", "g", "--topic", "t", "--to-offset", "5").ok(t)
	if !strings.Contains(r.stderr, "offset 5 is outside [0, 1] of t-0: using 1") {
		t.Errorf("--to-offset 5: stderr %q", r.stderr)
	}
}

// TestProduceOverKafkaInterrupted checks that a signal stops produce
// after what it has read is acknowledged, with exit 130.
func TestProduceOverKafkaInterrupted(t *testing.T) {
	ts := startServer(t)
	ts.tide(t, "", "topic", "create", "t").ok(t)
	stdin, input := io.Pipe()
	defer input.Close()
	b := runInBackgroundWithInput(stdin, "produce", "t", "--server", ts.addr)
	fmt.Fprint(input, "a\nb\npartial")
	waitFor(t, "the records", func() bool { return endOffsets(t, ts, "t")[0] == 2 })
	r := b.stop(t)
	want := "tide: interrupted before the end of input (an unfinished last line of 7 bytes was not produced); 2 records acknowledged\n"
	if r.code != ExitInterrupted || r.stderr != want {
		t.Errorf("exit %d, stderr %q; want %d, %q", r.code, r.stderr, ExitInterrupted, want)
	}
}

// TestConsumeOverKafkaJSONEncoding checks the json format of records with
// what tide produce cannot make: headers, null values, binary keys.
func TestConsumeOverKafkaJSONEncoding(t *testing.T) {
	ts := startServer(t)
	ts.tide(t, "", "topic", "create", "t").ok(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.addr), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ts0 := time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.UTC)
	err = cl.ProduceSync(context.Background(),
		&kgo.Record{Key: []byte{0xff, 0x00}, Value: nil, Timestamp: ts0,
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "h", Value: []byte{0xc3, 0x28}}, {Key: "n"}}},
		&kgo.Record{Key: nil, Value: []byte{}, Timestamp: ts0},
	).FirstErr()
	if err != nil {
		t.Fatal(err)
	}
	r := ts.tide(t, "", "consume", "t", "--format", "json").ok(t)
	want := `{"partition":0,"offset":0,"key_base64":"/wA=","value":null,"timestamp":"2024-05-01T12:00:00.123Z","headers":[{"key":"h","value":"v"},{"key":"h","value_base64":"wyg="},{"key":"n","value":null}]}
{"partition":0,"offset":1,"key":null,"value":"","timestamp":"2024-05-01T12:00:00.123Z","headers":[]}
`
	if r.stdout != want {
		t.Errorf("got\n%s\nwant\n%s", r.stdout, want)
	}
}
