package connector

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/types"
)

var datagenColumns = []format.Column{
	{Name: "id", Type: types.KindInt8},
	{Name: "name", Type: types.KindText},
	{Name: "price", Type: types.KindNumeric},
	{Name: "score", Type: types.KindFloat8},
	{Name: "at", Type: types.KindTimestampTZ},
	{Name: "ok", Type: types.KindBool},
	{Name: "color", Type: types.KindText},
	{Name: "doc", Type: types.KindJSON},
}

func fixedClock() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) }

// readAll reads a bounded source to io.EOF.
func readAll(t *testing.T, src Source) []Message {
	t.Helper()
	var msgs []Message
	for {
		b, err := src.Read(testContext(t))
		if errors.Is(err, io.EOF) {
			return msgs
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range b.Messages {
			// The source may reuse a message's memory once it is acknowledged.
			m.Key, m.Value, m.Headers = bytes.Clone(m.Key), bytes.Clone(m.Value), slices.Clone(m.Headers)
			msgs = append(msgs, m)
		}
		b.Ack()
	}
}

func datagen(t *testing.T, opts map[string]string) Source {
	t.Helper()
	src, err := NewSource("datagen", datagenColumns, opts, Env{Group: "g", Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestDatagenDeterministic(t *testing.T) {
	opts := map[string]string{
		"rows-per-second": "0", "number-of-rows": "500", "seed": "42", "partitions": "3",
		"fields.id.kind": "sequence", "fields.name.length": "6", "fields.price.min": "1", "fields.price.max": "9.99",
		"fields.color.values": "red, green,blue", "fields.ok.null-rate": "0.5",
	}
	a, b := readAll(t, datagen(t, opts)), readAll(t, datagen(t, opts))
	if len(a) != 500 || len(b) != 500 {
		t.Fatalf("read %d and %d rows, want 500", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i].Value, b[i].Value) || a[i].Origin != b[i].Origin || !a[i].Timestamp.Equal(b[i].Timestamp) {
			t.Fatalf("row %d differs: %s %v / %s %v", i, a[i].Value, a[i].Origin, b[i].Value, b[i].Origin)
		}
	}
	opts["seed"] = "43"
	if c := readAll(t, datagen(t, opts)); bytes.Equal(a[0].Value, c[0].Value) {
		t.Error("another seed gave the same first row")
	}

	// The rows decode with the columns' types and honour the options.
	dec, err := format.NewDecoder("json", datagenColumns, nil, format.Env{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]bool{}
	nulls := 0
	row := make(types.Row, len(datagenColumns))
	for _, m := range a {
		if err := dec.Decode(m.Value, row); err != nil {
			t.Fatalf("%s: %v", m.Value, err)
		}
		if m.Origin.Topic != "datagen:g" || m.Origin.Offset*3+int64(m.Origin.Partition) != row[0].Int()-1 {
			t.Fatalf("origin %+v for id %d", m.Origin, row[0].Int())
		}
		ids[row[0].Int()] = true
		if n := len(row[1].Text()); n != 6 {
			t.Fatalf("name %q", row[1].Text())
		}
		if p := row[2].Decimal(); p.Exponent != -2 || row[2].String() < "1.00" || len(row[2].String()) != 4 {
			t.Fatalf("price %s", row[2])
		}
		if f := row[3].Float(); f < 0 || f > 1000 {
			t.Fatalf("score %v", f)
		}
		if !row[4].Time().Equal(fixedClock()) {
			t.Fatalf("at %s", row[4])
		}
		if row[5].IsNull() {
			nulls++
		}
		if c := row[6].Text(); c != "red" && c != "green" && c != "blue" {
			t.Fatalf("color %q", c)
		}
	}
	if len(ids) != 500 || !ids[1] || !ids[500] {
		t.Errorf("sequence ids: %d distinct", len(ids))
	}
	if nulls < 150 || nulls > 350 {
		t.Errorf("%d NULLs of 500 at a null-rate of 0.5", nulls)
	}
	if p := datagen(t, opts).(PartitionedSource).Partitions(); p != 3 {
		t.Errorf("Partitions() = %d", p)
	}
}

func TestDatagenSequenceMaxEnds(t *testing.T) {
	msgs := readAll(t, datagen(t, map[string]string{"rows-per-second": "0", "fields.id.kind": "sequence", "fields.id.min": "10", "fields.id.max": "19"}))
	if len(msgs) != 10 {
		t.Fatalf("%d rows for a sequence of 10", len(msgs))
	}
	if !bytes.HasPrefix(msgs[9].Value, []byte(`{"id":19,`)) {
		t.Errorf("last row %s", msgs[9].Value)
	}
}

func TestDatagenRate(t *testing.T) {
	src := datagen(t, map[string]string{"rows-per-second": "100"})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	n := 0
	start := time.Now()
	for {
		b, err := src.Read(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n += len(b.Messages)
	}
	elapsed := time.Since(start)
	// 100 rows/s for 0.5s: about 50 (plus the first batch, released at once).
	if n < 30 || n > 70 {
		t.Errorf("%d rows in %v at 100 rows/s", n, elapsed)
	}
}

func TestDatagenOptionErrors(t *testing.T) {
	for opts, want := range map[string]string{
		"fields.nope.min=1":               "names no column",
		"fields.id.size=1":                "unknown field option 'size'",
		"fields.id.min=5,fields.id.max=1": "above max",
		"fields.at.kind=sequence":         "cannot be a sequence",
		"fields.ok.min=1":                 "takes no min or max",
		"fields.id.null-rate=2":           "[0, 1]",
		"fields.color.kind=often":         "'random', 'sequence'",
		"rows-per-second=fast":            "must be an integer",
		"row-per-second=1":                "unknown option 'row-per-second'",
		"fields.ok.values=maybe":          "invalid input syntax for type boolean",
		"partitions=0":                    "from 1",
	} {
		m := map[string]string{}
		for _, kv := range strings.Split(opts, ",") {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		_, err := NewSource("datagen", datagenColumns, m, Env{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", opts, err, want)
		}
	}
}

func TestStdoutSink(t *testing.T) {
	var buf bytes.Buffer
	sink, err := NewSink("stdout", map[string]string{"print.key": "true"}, Env{Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 50 {
				_ = sink.Write(ctx, []Output{{Key: []byte{'a' + byte(w)}, Value: []byte(`{"x":1}`)}, {Value: []byte(`{"y":2}`)}})
			}
		}()
	}
	for range 4 {
		<-done
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines", len(lines))
	}
	for i := 0; i < len(lines); i += 2 {
		if len(lines[i]) != len("a\t{\"x\":1}") || lines[i+1] != "\t{\"y\":2}" {
			t.Fatalf("lines %q %q", lines[i], lines[i+1])
		}
	}
	if _, err := NewSink("stdout", map[string]string{"print.keys": "true"}, Env{}); err == nil || !strings.Contains(err.Error(), "'print.key'") {
		t.Errorf("unknown option: %v", err)
	}
}

func TestBlackholeAndRegistry(t *testing.T) {
	sink, err := NewSink("blackhole", nil, Env{})
	if err != nil {
		t.Fatal(err)
	}
	_ = sink.Write(testContext(t), []Output{{Key: []byte("k"), Value: []byte("vv")}, {Value: []byte("v")}})
	if bh := sink.(*Blackhole); bh.Records() != 2 || bh.Bytes() != 4 {
		t.Errorf("counted %d records, %d bytes", bh.Records(), bh.Bytes())
	}
	if _, err := NewSink("blackhole", map[string]string{"x": "1"}, Env{}); err == nil {
		t.Error("blackhole took an option")
	}
	if got := strings.Join(SourceKinds(), ","); got != "datagen,http,nexmark,postgres-cdc,topic" {
		t.Errorf("SourceKinds() = %s", got)
	}
	if got := SinkKinds(); !slices.IsSorted(got) || !slices.Contains(got, "blackhole") || !slices.Contains(got, "stdout") || !slices.Contains(got, "topic") {
		t.Errorf("SinkKinds() = %s", got)
	}
	if _, err := NewSource("kafka", nil, nil, Env{}); err == nil || !strings.Contains(err.Error(), "'datagen', 'http', 'nexmark', 'postgres-cdc', 'topic'") {
		t.Errorf("unknown source: %v", err)
	}
	if _, err := NewSink("nope", nil, Env{}); err == nil || !strings.Contains(err.Error(), "'blackhole', ") {
		t.Errorf("unknown sink: %v", err)
	}
}
