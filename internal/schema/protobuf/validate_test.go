package protobuf

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tide-data/tide/internal/schema"
)

func TestMessageIndexes(t *testing.T) {
	cases := []struct {
		indexes []int
		wire    []byte
	}{
		{[]int{0}, []byte{0}},
		{[]int{1}, []byte{2, 2}},
		{[]int{0, 1}, []byte{4, 0, 2}},
		{[]int{3, 64}, []byte{4, 6, 0x80, 0x01}},
	}
	for _, tc := range cases {
		got := AppendMessageIndexes(nil, tc.indexes)
		if !bytes.Equal(got, tc.wire) {
			t.Errorf("AppendMessageIndexes(%v) = %x, want %x", tc.indexes, got, tc.wire)
		}
		idx, rest, err := MessageIndexes(append(got, 0xaa))
		if err != nil || !equalInts(idx, tc.indexes) || !bytes.Equal(rest, []byte{0xaa}) {
			t.Errorf("MessageIndexes(%x) = %v, %x, %v", got, idx, rest, err)
		}
	}
	// [0] written out in full reads back too.
	if idx, _, err := MessageIndexes([]byte{2, 0}); err != nil || !equalInts(idx, []int{0}) {
		t.Errorf("long form of [0]: %v %v", idx, err)
	}
	for _, bad := range [][]byte{{}, {1}, {0x80}, {4, 2}, {2, 1}, {0xfe, 0x03}} {
		if _, _, err := MessageIndexes(bad); !errors.Is(err, ErrPayload) {
			t.Errorf("MessageIndexes(%x) = %v", bad, err)
		}
	}
}

func TestValidate(t *testing.T) {
	s := mustParse(t, orderProto)
	order, _ := s.Message([]int{0})
	line, _ := s.Message([]int{0, 1}) // after the labels map's entry
	refund, _ := s.Message([]int{1})
	orderMsg := marshal(t, order, `{"id":"7","customer":"ada","lines":[{"sku":"a","quantity":2}],"labels":{"k":"v"},`+
		`"placedAt":"2025-01-01T00:00:00Z","status":"STATUS_PAID","card":"4111","note":"n"}`)
	frame := func(indexes []int, msg []byte) []byte { return append(AppendMessageIndexes(nil, indexes), msg...) }

	valid := [][]byte{
		frame([]int{0}, orderMsg),
		frame([]int{0}, nil), // an empty message is a valid proto3 message
		frame([]int{0, 1}, marshal(t, line, `{"sku":"x","quantity":1}`)),
		frame([]int{1}, marshal(t, refund, `{"orderId":"3"}`)),
	}
	for _, p := range valid {
		if err := Format().(schema.Validator).Validate(s, p); err != nil {
			t.Errorf("Validate(%x): %v", p, err)
		}
	}

	// A field number the message does not declare, at depth.
	unknownTop := protowire.AppendTag(append([]byte(nil), orderMsg...), 99, protowire.VarintType)
	unknownTop = protowire.AppendVarint(unknownTop, 1)
	nestedLine := protowire.AppendTag(nil, 1, protowire.BytesType)
	nestedLine = protowire.AppendString(nestedLine, "x")
	nestedLine = protowire.AppendTag(nestedLine, 42, protowire.VarintType)
	nestedLine = protowire.AppendVarint(nestedLine, 5)
	unknownDeep := protowire.AppendTag(nil, 3, protowire.BytesType)
	unknownDeep = protowire.AppendBytes(unknownDeep, nestedLine)
	badUTF8 := protowire.AppendTag(nil, 2, protowire.BytesType)
	badUTF8 = protowire.AppendBytes(badUTF8, []byte{0xc3, 0x28})
	wrongWire := protowire.AppendTag(nil, 1, protowire.BytesType) // id is a varint
	wrongWire = protowire.AppendString(wrongWire, "seven")

	cases := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"no indexes", nil, "the message indexes are cut short"},
		{"index out of range", frame([]int{2}, nil), "message index 2 at depth 0 is out of range"},
		{"truncated", frame([]int{0}, orderMsg[:len(orderMsg)-1]), "message acme.Order"}, // a field cut short, whatever the last field is
		{"garbage", frame([]int{0}, []byte{0xff, 0xff, 0xff}), "message acme.Order"},
		{"unknown field", frame([]int{0}, unknownTop), "field number 99 at / is not in the schema"},
		{"unknown nested field", frame([]int{0}, unknownDeep), "field number 42 at /lines/0 is not in the schema"},
		{"invalid UTF-8", frame([]int{0}, badUTF8), "UTF-8"},
		{"wrong wire type", frame([]int{0}, wrongWire), "field id = 1 at / has wire type 2, not that of int64"},
		{"wrong message", frame([]int{1}, orderMsg), "acme.Refund"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Validate(tc.payload)
			if !errors.Is(err, ErrPayload) {
				t.Fatalf("Validate = %v, want ErrPayload", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}

	if err := Format().(schema.Validator).Validate(otherParsed{}, nil); err == nil {
		t.Error("Validate with an Avro schema succeeded")
	}
}

func TestValidateRequired(t *testing.T) {
	s := mustParse(t, "syntax = \"proto2\";\nmessage A {\n  required int32 x = 1;\n  optional string y = 2;\n}\n")
	md, _ := s.Message([]int{0})
	if err := s.ValidateMessage(md, marshal(t, md, `{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	onlyY := protowire.AppendTag(nil, 2, protowire.BytesType)
	onlyY = protowire.AppendString(onlyY, "no x")
	err := s.ValidateMessage(md, onlyY)
	if !errors.Is(err, ErrPayload) || !strings.Contains(err.Error(), "required field") {
		t.Errorf("missing required field: %v", err)
	}
}

// TestValidateExtensions: an extension the schema declares is a known
// field.
func TestValidateExtensions(t *testing.T) {
	s := mustParse(t, "syntax = \"proto2\";\npackage p;\nmessage A {\n  optional int32 x = 1;\n  extensions 100 to 200;\n}\nextend A {\n  optional string tag = 100;\n}\n")
	msg := protowire.AppendTag(nil, 100, protowire.BytesType)
	msg = protowire.AppendString(msg, "t")
	if err := s.Validate(append([]byte{0}, msg...)); err != nil {
		t.Errorf("declared extension: %v", err)
	}
	msg = protowire.AppendTag(nil, 150, protowire.BytesType)
	msg = protowire.AppendString(msg, "t")
	if err := s.Validate(append([]byte{0}, msg...)); err == nil {
		t.Error("undeclared extension accepted")
	}
}

func FuzzValidate(f *testing.F) {
	s := mustParse(f, orderProto)
	order, _ := s.Message([]int{0})
	f.Add(append([]byte{0}, marshal(f, order, `{"id":"7","lines":[{"sku":"a"}],"labels":{"k":"v"}}`)...))
	f.Add([]byte{4, 0, 0})
	f.Fuzz(func(_ *testing.T, payload []byte) {
		_ = s.Validate(payload)
	})
}

func FuzzParse(f *testing.F) {
	f.Add(orderProto)
	f.Add(moneyProto)
	f.Add("syntax = \"proto2\";\nmessage A { required int32 x = 1; extensions 10 to 20; }")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(text, nil)
		if err != nil {
			if !errors.Is(err, schema.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		_ = Format().Compatible(s, s)
		_ = s.Validate([]byte{0, 8, 1})
	})
}

func BenchmarkValidate(b *testing.B) {
	s := mustParse(b, orderProto)
	order, _ := s.Message([]int{0})
	payload := append([]byte{0}, marshal(b, order, `{"id":"7","customer":"ada","lines":[{"sku":"a","quantity":2}],"labels":{"k":"v"},`+
		`"placedAt":"2025-01-01T00:00:00Z","status":"STATUS_PAID","card":"4111","note":"n"}`)...)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate(payload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
}
