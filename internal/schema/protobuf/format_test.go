package protobuf

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/tide-data/tide/internal/schema"
)

const orderProto = `syntax = "proto3";
package acme;

import "google/protobuf/timestamp.proto";

message Order {
  int64 id = 1;
  string customer = 2;
  repeated Line lines = 3;
  map<string, string> labels = 4;
  google.protobuf.Timestamp placed_at = 5;
  Status status = 6;
  oneof payment {
    string card = 7;
    string iban = 8;
  }
  optional string note = 9;

  message Line {
    string sku = 1;
    int32 quantity = 2;
  }
}

message Refund {
  int64 order_id = 1;
}

enum Status {
  STATUS_UNSPECIFIED = 0;
  STATUS_PAID = 1;
}
`

func mustParse(t testing.TB, text string, refs ...any) *Schema {
	t.Helper()
	m := map[string]schema.Parsed{}
	for i := 0; i+1 < len(refs); i += 2 {
		m[refs[i].(string)] = refs[i+1].(*Schema)
	}
	s, err := Parse(text, m)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

// marshal builds a message of md from its JSON form.
func marshal(t testing.TB, md protoreflect.MessageDescriptor, doc string) []byte {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(doc), m); err != nil {
		t.Fatalf("protojson: %v", err)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	s := mustParse(t, "\n  "+orderProto+"\n\n")
	if s.Type() != schema.Protobuf {
		t.Errorf("Type = %s", s.Type())
	}
	if s.Canonical() != strings.TrimSpace(orderProto) {
		t.Errorf("Canonical is not the trimmed text: %q", s.Canonical())
	}
	if s.Source() != "\n  "+orderProto+"\n\n" {
		t.Error("Source is not the text given")
	}
	if got := s.File().Messages().Len(); got != 2 {
		t.Errorf("%d messages", got)
	}
	// Formatting changes the canonical form (documented).
	if mustParse(t, strings.ReplaceAll(orderProto, "  ", "    ")).Canonical() == s.Canonical() {
		t.Error("reformatted schema has the same canonical form")
	}
}

func TestParseInvalid(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"syntax", "syntax = \"proto3\";\nmessage A {\n  int32 x = ;\n}\n", "schema.proto:3:"},
		{"unknown type", "syntax = \"proto3\";\nmessage A {\n  Money m = 1;\n}\n", `schema.proto:3:3: field A.m: unknown type Money`},
		{"missing import", "syntax = \"proto3\";\nimport \"acme/money.proto\";\nmessage A {}\n", "acme/money.proto"},
		{"duplicate number", "syntax = \"proto3\";\nmessage A {\n  int32 x = 1;\n  int32 y = 1;\n}\n", "schema.proto:4:"},
		{"proto3 required", "syntax = \"proto3\";\nmessage A {\n  required int32 x = 1;\n}\n", "schema.proto:3:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Format().Parse(tc.text, nil)
			if !errors.Is(err, schema.ErrInvalid) {
				t.Fatalf("Parse = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
	if _, err := Parse(orderProto, map[string]schema.Parsed{"x.proto": otherParsed{}}); !errors.Is(err, schema.ErrInvalid) {
		t.Errorf("non-Protobuf reference: %v", err)
	}
}

const moneyProto = `syntax = "proto3";
package acme.money;
message Money {
  string currency = 1;
  int64 units = 2;
}
`

const invoiceProto = `syntax = "proto3";
package acme;
import "acme/money.proto";
message Invoice {
  string id = 1;
  acme.money.Money total = 2;
}
`

func TestReferences(t *testing.T) {
	money := mustParse(t, moneyProto)
	invoice := mustParse(t, invoiceProto, "acme/money.proto", money)
	md, err := invoice.Message([]int{0})
	if err != nil {
		t.Fatal(err)
	}
	payload := AppendMessageIndexes(nil, []int{0})
	payload = append(payload, marshal(t, md, `{"id":"i-1","total":{"currency":"EUR","units":"12"}}`)...)
	if err := invoice.Validate(payload); err != nil {
		t.Fatal(err)
	}

	// Transitively: a schema importing invoice.proto gets money.proto too.
	batch := "syntax = \"proto3\";\npackage acme;\nimport \"acme/invoice.proto\";\nmessage Batch { repeated Invoice invoices = 1; }\n"
	mustParse(t, batch, "acme/invoice.proto", invoice)

	// Two references that disagree on a file.
	other := mustParse(t, strings.Replace(moneyProto, "int64 units", "int32 units", 1))
	conflicting := "syntax = \"proto3\";\npackage acme;\nimport \"acme/invoice.proto\";\nimport \"acme/money.proto\";\nmessage B { Invoice i = 1; }\n"
	if _, err := Parse(conflicting, map[string]schema.Parsed{"acme/invoice.proto": invoice, "acme/money.proto": other}); !errors.Is(err, schema.ErrInvalid) {
		t.Errorf("conflicting references: %v", err)
	}
	// A reference named schema.proto does not collide with the schema.
	named := mustParse(t, invoiceProto, "acme/money.proto", money, "schema.proto", money)
	if named.File().Path() == "schema.proto" {
		t.Error("the schema compiled under a reference's name")
	}
}

func TestParseConcurrent(t *testing.T) {
	money := mustParse(t, moneyProto)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				s, err := Parse(invoiceProto, map[string]schema.Parsed{"acme/money.proto": money})
				if err != nil {
					t.Error(err)
					return
				}
				if msgs := Format().Compatible(s, money); len(msgs) == 0 {
					t.Error("invoice compatible with money")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestIndexes(t *testing.T) {
	s := mustParse(t, orderProto)
	for name, want := range map[string][]int{"acme.Order": {0}, "acme.Refund": {1}, "acme.Order.Line": {0, 1}} {
		got, err := s.Indexes(name)
		if err != nil || !equalInts(got, want) {
			t.Errorf("Indexes(%s) = %v, %v; want %v", name, got, err, want)
		}
		md, err := s.Message(want)
		if err != nil || string(md.FullName()) != name {
			t.Errorf("Message(%v) = %v, %v", want, md, err)
		}
	}
	if _, err := s.Indexes("acme.Nope"); err == nil {
		t.Error("Indexes of a missing message")
	}
	if _, err := s.Message([]int{2}); err == nil {
		t.Error("Message([2]) of two messages")
	}
	if _, err := s.Message([]int{0, 5}); err == nil || !strings.Contains(err.Error(), "message acme.Order has 2 messages") {
		t.Errorf("Message([0 5]): %v", err) // Line and the labels map entry
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type otherParsed struct{}

func (otherParsed) Type() schema.Type { return schema.Avro }
func (otherParsed) Canonical() string { return `"int"` }
