package avro

import (
	"testing"

	hamba "github.com/hamba/avro/v2"
)

// FuzzParse: no input panics Parse, and what parses has a canonical form
// that parses to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{tenFields, allTypes, money, `"int"`, `["null","string"]`, `{"type":"fixed","name":"F","size":3}`,
		record("A", `{"name":"a","type":{"type":"fixed","name":"F","size":2},"default":"ab"}`)} {
		f.Add(s)
	}
	for _, c := range compatCases {
		f.Add(c.old)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(text, nil)
		if err != nil {
			return
		}
		c, err := Parse(s.Canonical(), nil)
		if err != nil {
			t.Fatalf("canonical form %s of %s does not parse: %v", s.Canonical(), text, err)
		}
		if c.Canonical() != s.Canonical() {
			t.Fatalf("canonical form of %s is unstable:\n%s\n%s", text, s.Canonical(), c.Canonical())
		}
		_ = s.Validate([]byte{0, 2, 4})
		_, _ = EncodeJSON(s, []byte(`{"a":1}`))
		_ = Compatible(s.Avro(), c.Avro())
	})
}

// FuzzValidate: no payload panics Validate, and what it accepts hamba/avro
// decodes.
func FuzzValidate(f *testing.F) {
	s := mustParse(f, allTypes)
	f.Add(encode(f, s, allTypesJSON))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, payload []byte) {
		if s.Validate(payload) != nil {
			return
		}
		var v any
		if err := hamba.Unmarshal(s.Avro(), payload, &v); err != nil {
			t.Fatalf("Validate accepts %x, hamba: %v", payload, err)
		}
	})
}

// FuzzEncodeJSON: no document panics EncodeJSON, and what it writes
// validates.
func FuzzEncodeJSON(f *testing.F) {
	s := mustParse(f, allTypes)
	f.Add([]byte(allTypesJSON))
	f.Add([]byte(`{"list":{"Node":{"v":1,"next":null}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		bin, err := EncodeJSON(s, doc)
		if err != nil {
			return
		}
		if err := s.Validate(bin); err != nil {
			t.Fatalf("EncodeJSON(%s) = %x, which does not validate: %v", doc, bin, err)
		}
	})
}
