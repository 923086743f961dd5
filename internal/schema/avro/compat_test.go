package avro

import (
	"strings"
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/tide-data/tide/internal/schema"
)

func mustParse(t testing.TB, text string) *Schema {
	t.Helper()
	s, err := Parse(text, nil)
	if err != nil {
		t.Fatalf("Parse(%s): %v", text, err)
	}
	return s
}

// record builds a record schema text from field JSON snippets.
func record(name string, fields ...string) string {
	return `{"type":"record","name":"` + name + `","fields":[` + strings.Join(fields, ",") + `]}`
}

// compatCase is one schema change. backward: a reader on the new schema
// reads data written with the old (Compatible(new, old) is empty);
// forward: a reader on the old schema reads data written with the new.
// The core derives FULL as both.
type compatCase struct {
	name         string
	old, new     string
	backward     bool
	forward      bool
	backwardMsg  string // a substring of the messages when !backward
	forwardMsg   string
	hambaDiffers string // why hamba/avro's checker gets this case wrong, if it does
}

var compatCases = []compatCase{
	{
		name:     "identical",
		old:      record("R", `{"name":"a","type":"int"}`),
		new:      record("R", `{"name":"a","type":"int"}`),
		backward: true, forward: true,
	},
	{
		name:     "field added with default",
		old:      record("R", `{"name":"a","type":"int"}`),
		new:      record("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"string","default":""}`),
		backward: true, forward: true,
	},
	{
		name:     "field added without default",
		old:      record("R", `{"name":"a","type":"int"}`),
		new:      record("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"string"}`),
		backward: false, forward: true,
		backwardMsg: "field 'b' at /fields/1: not in the writer's record R and has no default",
	},
	{
		name:     "field removed that had a default",
		old:      record("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"string","default":"x"}`),
		new:      record("R", `{"name":"a","type":"int"}`),
		backward: true, forward: true,
	},
	{
		name:     "field removed without default",
		old:      record("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"string"}`),
		new:      record("R", `{"name":"a","type":"int"}`),
		backward: true, forward: false,
		forwardMsg: "field 'b' at /fields/1: not in the writer's record R and has no default",
	},
	{
		name:     "int to long",
		old:      record("R", `{"name":"a","type":"int"}`),
		new:      record("R", `{"name":"a","type":"long"}`),
		backward: true, forward: false,
		forwardMsg: "field 'a' at /fields/0/type: reader's type int cannot read writer's long",
	},
	{
		name:     "long to int",
		old:      record("R", `{"name":"a","type":"long"}`),
		new:      record("R", `{"name":"a","type":"int"}`),
		backward: false, forward: true,
		backwardMsg: "reader's type int cannot read writer's long",
	},
	{
		name: "int to float", old: `"int"`, new: `"float"`,
		backward: true, forward: false,
	},
	{
		name: "int to double", old: `"int"`, new: `"double"`,
		backward: true, forward: false,
	},
	{
		name: "long to float", old: `"long"`, new: `"float"`,
		backward: true, forward: false,
	},
	{
		name: "long to double", old: `"long"`, new: `"double"`,
		backward: true, forward: false,
	},
	{
		name: "float to double", old: `"float"`, new: `"double"`,
		backward: true, forward: false,
	},
	{
		name: "double to float", old: `"double"`, new: `"float"`,
		backward: false, forward: true,
	},
	{
		name: "string to bytes", old: `"string"`, new: `"bytes"`,
		backward: true, forward: true,
	},
	{
		name:     "string to int",
		old:      record("R", `{"name":"x","type":"int"}`, `{"name":"y","type":"int"}`, `{"name":"amount","type":"string"}`),
		new:      record("R", `{"name":"x","type":"int"}`, `{"name":"y","type":"int"}`, `{"name":"amount","type":"double"}`),
		backward: false, forward: false,
		backwardMsg: "field 'amount' at /fields/2/type: reader's type double cannot read writer's string",
		forwardMsg:  "field 'amount' at /fields/2/type: reader's type string cannot read writer's double",
	},
	{
		name:     "logical type changed (not compared)",
		old:      `{"type":"long","logicalType":"timestamp-millis"}`,
		new:      `{"type":"long","logicalType":"timestamp-micros"}`,
		backward: true, forward: true,
	},
	{
		name:     "enum symbol added",
		old:      `{"type":"enum","name":"Color","symbols":["RED","GREEN"]}`,
		new:      `{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]}`,
		backward: true, forward: false,
		forwardMsg: "at /: reader's enum Color lacks the writer's symbols BLUE and has no default",
	},
	{
		name:     "enum symbol added, old reader has a default",
		old:      `{"type":"enum","name":"Color","symbols":["UNKNOWN","RED"],"default":"UNKNOWN"}`,
		new:      `{"type":"enum","name":"Color","symbols":["UNKNOWN","RED","BLUE"],"default":"UNKNOWN"}`,
		backward: true, forward: true,
	},
	{
		name:     "enum symbol removed",
		old:      `{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]}`,
		new:      `{"type":"enum","name":"Color","symbols":["RED","GREEN"]}`,
		backward: false, forward: true,
		backwardMsg: "lacks the writer's symbols BLUE",
	},
	{
		name:     "enum symbol removed, new reader has a default",
		old:      `{"type":"enum","name":"Color","symbols":["UNKNOWN","RED","BLUE"]}`,
		new:      `{"type":"enum","name":"Color","symbols":["UNKNOWN","RED"],"default":"UNKNOWN"}`,
		backward: true, forward: true,
	},
	{
		name: "nested record gains a field without default",
		old: record("Order", `{"name":"id","type":"long"}`,
			`{"name":"customer","type":`+record("Customer", `{"name":"name","type":"string"}`)+`}`),
		new: record("Order", `{"name":"id","type":"long"}`,
			`{"name":"customer","type":`+record("Customer", `{"name":"name","type":"string"}`, `{"name":"email","type":"string"}`)+`}`),
		backward: false, forward: true,
		backwardMsg: "field 'email' at /fields/1/type/fields/1: not in the writer's record Customer and has no default",
	},
	{
		name: "nested record gains a field with default",
		old: record("Order", `{"name":"id","type":"long"}`,
			`{"name":"customer","type":`+record("Customer", `{"name":"name","type":"string"}`)+`}`),
		new: record("Order", `{"name":"id","type":"long"}`,
			`{"name":"customer","type":`+record("Customer", `{"name":"name","type":"string"}`, `{"name":"email","type":["null","string"],"default":null}`)+`}`),
		backward: true, forward: true,
	},
	{
		name:     "array items promoted",
		old:      record("R", `{"name":"xs","type":{"type":"array","items":"int"}}`),
		new:      record("R", `{"name":"xs","type":{"type":"array","items":"long"}}`),
		backward: true, forward: false,
		forwardMsg: "field 'xs' at /fields/0/type/items: reader's type int cannot read writer's long",
	},
	{
		name:     "array to map",
		old:      `{"type":"array","items":"int"}`,
		new:      `{"type":"map","values":"int"}`,
		backward: false, forward: false,
		backwardMsg: "at /: reader's type map<int> cannot read writer's array<int>",
	},
	{
		name:     "map values changed",
		old:      `{"type":"map","values":"string"}`,
		new:      `{"type":"map","values":"int"}`,
		backward: false, forward: false,
		backwardMsg: "at /values: reader's type int cannot read writer's string",
	},
	{
		name:     "map values promoted",
		old:      `{"type":"map","values":"float"}`,
		new:      `{"type":"map","values":"double"}`,
		backward: true, forward: false,
	},
	{
		name:     "union gains a branch",
		old:      record("R", `{"name":"v","type":["null","string"]}`),
		new:      record("R", `{"name":"v","type":["null","string","int"]}`),
		backward: true, forward: false,
		forwardMsg: "field 'v' at /fields/0/type: reader's union [null, string] has no branch that can read writer's int",
	},
	{
		name:     "union loses a branch",
		old:      record("R", `{"name":"v","type":["null","string","int"]}`),
		new:      record("R", `{"name":"v","type":["null","string"]}`),
		backward: false, forward: true,
	},
	{
		name:     "type made nullable",
		old:      record("R", `{"name":"v","type":"string"}`),
		new:      record("R", `{"name":"v","type":["null","string"],"default":null}`),
		backward: true, forward: false,
		forwardMsg: "field 'v' at /fields/0/type: reader's type string cannot read writer's null",
	},
	{
		name:     "union branch promoted",
		old:      `["null","int"]`,
		new:      `["null","long"]`,
		backward: true, forward: false,
	},
	{
		name:     "union branch reordered",
		old:      `["null","string","long"]`,
		new:      `["long","null","string"]`,
		backward: true, forward: true,
	},
	{
		name:     "nullable record gains a field without default",
		old:      record("R", `{"name":"c","type":["null",`+record("C", `{"name":"a","type":"int"}`)+`]}`),
		new:      record("R", `{"name":"c","type":["null",`+record("C", `{"name":"a","type":"int"}`, `{"name":"b","type":"int"}`)+`]}`),
		backward: false, forward: true,
		backwardMsg: "field 'b' at /fields/0/type/1/fields/1: not in the writer's record C and has no default",
	},
	{
		name:     "field renamed with an alias",
		old:      record("R", `{"name":"name","type":"string"}`),
		new:      record("R", `{"name":"fullName","type":"string","aliases":["name"]}`),
		backward: true, forward: false,
		forwardMsg: "field 'name' at /fields/0: not in the writer's record R",
	},
	{
		name:     "field renamed without an alias",
		old:      record("R", `{"name":"name","type":"string"}`),
		new:      record("R", `{"name":"fullName","type":"string"}`),
		backward: false, forward: false,
	},
	{
		name:     "record renamed",
		old:      record("com.acme.Customer", `{"name":"a","type":"int"}`),
		new:      record("com.acme.Client", `{"name":"a","type":"int"}`),
		backward: false, forward: false,
		backwardMsg: `at /: reader's record com.acme.Client does not match writer's com.acme.Customer (the reader needs an alias "com.acme.Customer")`,
	},
	{
		name:     "record renamed with an alias",
		old:      record("com.acme.Customer", `{"name":"a","type":"int"}`),
		new:      `{"type":"record","name":"com.acme.Client","aliases":["Customer"],"fields":[{"name":"a","type":"int"}]}`,
		backward: true, forward: false,
	},
	{
		name:     "record moved to another namespace",
		old:      record("com.a.Customer", `{"name":"a","type":"int"}`),
		new:      record("com.b.Customer", `{"name":"a","type":"int"}`),
		backward: true, forward: true,
	},
	{
		name:     "enum renamed",
		old:      `{"type":"enum","name":"Color","symbols":["RED"]}`,
		new:      `{"type":"enum","name":"Colour","symbols":["RED"]}`,
		backward: false, forward: false,
	},
	{
		name:     "enum renamed with an alias",
		old:      `{"type":"enum","name":"Color","symbols":["RED"]}`,
		new:      `{"type":"enum","name":"Colour","aliases":["Color"],"symbols":["RED"]}`,
		backward: true, forward: false,
	},
	{
		name:     "fixed resized",
		old:      `{"type":"fixed","name":"Hash","size":16}`,
		new:      `{"type":"fixed","name":"Hash","size":32}`,
		backward: false, forward: false,
		backwardMsg: "reader's fixed Hash has size 32, writer's Hash has size 16",
	},
	{
		name:     "fixed renamed",
		old:      `{"type":"fixed","name":"Hash","size":16}`,
		new:      `{"type":"fixed","name":"Digest","size":16}`,
		backward: false, forward: false,
	},
	{
		name:     "recursive record gains a field with default",
		old:      record("Node", `{"name":"v","type":"int"}`, `{"name":"next","type":["null","Node"],"default":null}`),
		new:      record("Node", `{"name":"v","type":"int"}`, `{"name":"next","type":["null","Node"],"default":null}`, `{"name":"w","type":"int","default":0}`),
		backward: true, forward: true,
	},
	{
		name:     "recursive record gains a field without default",
		old:      record("Node", `{"name":"v","type":"int"}`, `{"name":"next","type":["null","Node"],"default":null}`),
		new:      record("Node", `{"name":"v","type":"int"}`, `{"name":"next","type":["null","Node"],"default":null}`, `{"name":"w","type":"int"}`),
		backward: false, forward: true,
	},
	{
		name:     "record to string",
		old:      record("R", `{"name":"a","type":"int"}`),
		new:      `"string"`,
		backward: false, forward: false,
		backwardMsg: "reader's type string cannot read writer's record R",
	},
}

func TestCompatible(t *testing.T) {
	f := Format()
	for _, tc := range compatCases {
		t.Run(tc.name, func(t *testing.T) {
			oldS, newS := mustParse(t, tc.old), mustParse(t, tc.new)
			check := func(direction string, reader, writer schema.Parsed, want bool, wantMsg string) {
				t.Helper()
				msgs := f.Compatible(reader, writer)
				if got := len(msgs) == 0; got != want {
					t.Errorf("%s: compatible = %v, want %v; messages %q", direction, got, want, msgs)
					return
				}
				if wantMsg != "" && !strings.Contains(strings.Join(msgs, "\n"), wantMsg) {
					t.Errorf("%s: messages %q lack %q", direction, msgs, wantMsg)
				}
			}
			check("backward (reader new, writer old)", newS, oldS, tc.backward, tc.backwardMsg)
			check("forward (reader old, writer new)", oldS, newS, tc.forward, tc.forwardMsg)
		})
	}
}

// TestCompatibleAgreesWithHamba runs the table through hamba/avro's own
// checker, the oracle this package's checker replaced to name every
// problem with its path. A case where hamba's verdict differs must say
// why hamba is wrong.
func TestCompatibleAgreesWithHamba(t *testing.T) {
	for _, tc := range compatCases {
		oldS, newS := mustParse(t, tc.old), mustParse(t, tc.new)
		hb := hamba.NewSchemaCompatibility().Compatible(newS.Avro(), oldS.Avro()) == nil
		hf := hamba.NewSchemaCompatibility().Compatible(oldS.Avro(), newS.Avro()) == nil
		if (hb != tc.backward || hf != tc.forward) && tc.hambaDiffers == "" {
			t.Errorf("%s: hamba says backward %v forward %v, this package %v %v", tc.name, hb, hf, tc.backward, tc.forward)
		}
		if hb == tc.backward && hf == tc.forward && tc.hambaDiffers != "" {
			t.Errorf("%s: hamba now agrees; drop the note %q", tc.name, tc.hambaDiffers)
		}
	}
}

// TestCompatibleAllProblems: one message per problem, not just the first.
func TestCompatibleAllProblems(t *testing.T) {
	old := mustParse(t, record("R", `{"name":"a","type":"string"}`, `{"name":"b","type":"long"}`))
	new := mustParse(t, record("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"int"}`, `{"name":"c","type":"int"}`))
	msgs := Format().Compatible(new, old)
	want := []string{
		"field 'a' at /fields/0/type: reader's type int cannot read writer's string",
		"field 'b' at /fields/1/type: reader's type int cannot read writer's long",
		"field 'c' at /fields/2: not in the writer's record R and has no default",
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
}

// TestCompatibleDefaultsMatter: two readers that differ only in a default
// (their Parsing Canonical Forms are equal) get different answers.
// hamba/avro's SchemaCompatibility caches results by the Parsing Canonical
// Form fingerprint, so one shared instance answers the second question
// with the first one's result.
func TestCompatibleDefaultsMatter(t *testing.T) {
	writer := mustParse(t, record("R", `{"name":"a","type":"int"}`))
	withDefault := mustParse(t, record("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"int","default":0}`))
	without := mustParse(t, record("R", `{"name":"a","type":"int"}`, `{"name":"b","type":"int"}`))
	f := Format()
	if msgs := f.Compatible(withDefault, writer); len(msgs) != 0 {
		t.Errorf("with default: %q", msgs)
	}
	if msgs := f.Compatible(without, writer); len(msgs) == 0 {
		t.Error("without default: compatible")
	}

	shared := hamba.NewSchemaCompatibility()
	first := shared.Compatible(withDefault.Avro(), writer.Avro())
	second := shared.Compatible(without.Avro(), writer.Avro())
	t.Logf("hamba with one shared SchemaCompatibility: with default %v, without default %v", first, second)
}

func TestCompatibleWrongType(t *testing.T) {
	s := mustParse(t, `"int"`)
	other := otherParsed{}
	if msgs := Format().Compatible(s, other); len(msgs) != 1 || !strings.Contains(msgs[0], "JSON") {
		t.Errorf("got %q", msgs)
	}
}

type otherParsed struct{}

func (otherParsed) Type() schema.Type { return schema.JSON }
func (otherParsed) Canonical() string { return "{}" }
