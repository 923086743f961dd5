package protobuf

import (
	"strings"
	"testing"
)

func proto3(body string) string { return "syntax = \"proto3\";\npackage acme;\n" + body }

func proto2(body string) string { return "syntax = \"proto2\";\npackage acme;\n" + body }

// Each case is a change from old to new: backward means a reader on the
// new schema reads the old one's messages (Compatible(new, old) empty),
// forward the reverse.
func TestCompatible(t *testing.T) {
	cases := []struct {
		name              string
		old, new          string
		backward, forward bool
		msg               string // in the messages of a failing direction
	}{
		{"identical", orderProto, orderProto, true, true, ""},
		{"field added", proto3("message A { int32 x = 1; }"), proto3("message A { int32 x = 1; string y = 2; }"), true, true, ""},
		{"field removed", proto3("message A { int32 x = 1; string y = 2; }"), proto3("message A { int32 x = 1; }"), true, true, ""},
		{"field renamed", proto3("message A { int32 x = 1; }"), proto3("message A { int32 count = 1; }"), true, true, ""},
		{"int32 to int64", proto3("message A { int32 x = 1; }"), proto3("message A { int64 x = 1; }"), true, true, ""},
		{"bool to uint64", proto3("message A { bool x = 1; }"), proto3("message A { uint64 x = 1; }"), true, true, ""},
		{"string to bytes", proto3("message A { string x = 1; }"), proto3("message A { bytes x = 1; }"), true, true, ""},
		{"fixed32 to sfixed32", proto3("message A { fixed32 x = 1; }"), proto3("message A { sfixed32 x = 1; }"), true, true, ""},
		{"enum to int32", proto3("enum E { E0 = 0; } message A { E x = 1; }"), proto3("message A { int32 x = 1; }"), true, true, ""},
		{"number reused with another type", proto3("message A { int32 x = 1; }"), proto3("message A { string x = 1; }"), false, false,
			"message acme.A: field x = 1: reader's string cannot read writer's int32"},
		{"int32 to sint32", proto3("message A { int32 x = 1; }"), proto3("message A { sint32 x = 1; }"), false, false, "reader's sint32 cannot read writer's int32"},
		{"float to double", proto3("message A { float x = 1; }"), proto3("message A { double x = 1; }"), false, false, ""},
		{"scalar to message", proto3("message B {} message A { int32 x = 1; }"), proto3("message B {} message A { B x = 1; }"), false, false,
			"reader's message acme.B cannot read writer's int32"},
		{"message type renamed", proto3("message B {} message C {} message A { B x = 1; }"), proto3("message B {} message C {} message A { C x = 1; }"), false, false,
			"reader's message acme.C cannot read writer's message acme.B"},
		{"nested message field retyped", proto3("message A { message In { int32 v = 1; } In in = 1; }"),
			proto3("message A { message In { string v = 1; } In in = 1; }"), false, false,
			"message acme.A.In: field v = 1: reader's string cannot read writer's int32"},
		{"map value retyped", proto3("message A { map<string, int32> m = 1; }"), proto3("message A { map<string, string> m = 1; }"), false, false,
			"field m = 1 (map value): reader's string cannot read writer's int32"},
		{"map to repeated message", proto3("message A { map<string, int32> m = 1; }"), proto3("message E { string key = 1; int32 value = 2; } message A { repeated E m = 1; }"), false, false,
			"reader's message acme.E cannot read writer's map<string, int32>"},
		{"message removed", proto3("message A {} message B {}"), proto3("message A {}"), false, true,
			"message acme.B is in the writer's schema, not the reader's"},
		{"message added", proto3("message A {}"), proto3("message A {} message B {}"), true, false, ""},
		{"messages reordered", proto3("message A {} message B {}"), proto3("message B {} message A {}"), true, true, ""},
		{"package changed", "syntax = \"proto3\";\npackage a;\nmessage A {}", "syntax = \"proto3\";\npackage b;\nmessage A {}", false, false,
			`package differs: reader's "b", writer's "a"`},
		{"required field added", proto2("message A { optional int32 x = 1; }"), proto2("message A { optional int32 x = 1; required int32 y = 2; }"), false, false,
			"required field y = 2 is in the reader's schema, not the writer's"},
		{"optional field added (proto2)", proto2("message A { optional int32 x = 1; }"), proto2("message A { optional int32 x = 1; optional int32 y = 2; }"), true, true, ""},
		{"oneof field removed", proto3("message A { oneof o { int32 x = 1; string y = 2; } }"), proto3("message A { oneof o { int32 x = 1; } }"), false, true,
			"field y = 2 of oneof o is in the writer's schema, not the reader's"},
		{"oneof field added", proto3("message A { oneof o { int32 x = 1; } }"), proto3("message A { oneof o { int32 x = 1; string y = 2; } }"), true, false, ""},
		{"field moved into a new oneof", proto3("message A { int32 x = 1; }"), proto3("message A { oneof o { int32 x = 1; } }"), true, true, ""},
		{"two fields moved into a oneof", proto3("message A { int32 x = 1; string y = 2; }"), proto3("message A { oneof o { int32 x = 1; string y = 2; } }"), false, true,
			"the writer's fields x, y are in the reader's oneof o together"},
		{"field moved into an existing oneof", proto3("message A { int32 x = 1; oneof o { string y = 2; } }"), proto3("message A { oneof o { int32 x = 1; string y = 2; } }"), false, true,
			"the writer's field x is in the reader's oneof o with fields of a writer's oneof"},
		{"proto3 optional removed", proto3("message A { optional int32 x = 1; }"), proto3("message A { int32 x = 1; }"), true, true, ""},
		{"enum value added", proto3("enum E { E0 = 0; } message A { E e = 1; }"), proto3("enum E { E0 = 0; E1 = 1; } message A { E e = 1; }"), true, true, ""},
		{"recursive message", proto3("message N { int32 v = 1; N next = 2; }"), proto3("message N { int64 v = 1; N next = 2; string s = 3; }"), true, true, ""},
	}
	f := Format()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			oldS, newS := mustParse(t, tc.old), mustParse(t, tc.new)
			back := f.Compatible(newS, oldS)
			fwd := f.Compatible(oldS, newS)
			if (len(back) == 0) != tc.backward {
				t.Errorf("backward compatible = %v, want %v: %q", len(back) == 0, tc.backward, back)
			}
			if (len(fwd) == 0) != tc.forward {
				t.Errorf("forward compatible = %v, want %v: %q", len(fwd) == 0, tc.forward, fwd)
			}
			if tc.msg != "" && !strings.Contains(strings.Join(append(back, fwd...), "\n"), tc.msg) {
				t.Errorf("messages %q lack %q", append(back, fwd...), tc.msg)
			}
		})
	}
}

// TestCompatibleAcrossImports: a field's message from an imported file is
// compared too.
func TestCompatibleAcrossImports(t *testing.T) {
	v1 := mustParse(t, moneyProto)
	v2 := mustParse(t, strings.Replace(moneyProto, "int64 units", "string units", 1))
	old := mustParse(t, invoiceProto, "acme/money.proto", v1)
	new := mustParse(t, invoiceProto, "acme/money.proto", v2)
	msgs := Format().Compatible(new, old)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "message acme.money.Money: field units = 2: reader's string cannot read writer's int64") {
		t.Errorf("messages %q", msgs)
	}
}

func TestCompatibleWrongType(t *testing.T) {
	s := mustParse(t, orderProto)
	if msgs := Format().Compatible(otherParsed{}, s); len(msgs) != 1 || !strings.Contains(msgs[0], "AVRO") {
		t.Errorf("got %q", msgs)
	}
}
