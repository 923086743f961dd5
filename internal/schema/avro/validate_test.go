package avro

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/tide-data/tide/internal/schema"
)

// tenFields is a typical event record.
const tenFields = `{"type":"record","name":"PageView","namespace":"com.acme.events","fields":[
	{"name":"event_id","type":{"type":"string","logicalType":"uuid"}},
	{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
	{"name":"user_id","type":"long"},
	{"name":"session","type":["null","string"],"default":null},
	{"name":"url","type":"string"},
	{"name":"referrer","type":["null","string"],"default":null},
	{"name":"duration_ms","type":"int"},
	{"name":"device","type":{"type":"enum","name":"Device","symbols":["DESKTOP","MOBILE","TABLET"]}},
	{"name":"score","type":"double"},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]}
]}`

const tenFieldsJSON = `{"event_id":"0b7c2a3e-54f0-4a8e-9d6c-1f2e3d4c5b6a","ts":1735689600000,"user_id":4242,` +
	`"session":"s-81","url":"https://example.com/pricing","referrer":null,"duration_ms":5230,` +
	`"device":"MOBILE","score":0.87,"tags":["pricing","ab-test-7"]}`

// allTypes exercises every kind of schema.
const allTypes = `{"type":"record","name":"All","fields":[
	{"name":"n","type":"null"},
	{"name":"b","type":"boolean"},
	{"name":"i","type":"int"},
	{"name":"l","type":"long"},
	{"name":"f","type":"float"},
	{"name":"d","type":"double"},
	{"name":"by","type":"bytes"},
	{"name":"s","type":"string"},
	{"name":"fx","type":{"type":"fixed","name":"F4","size":4}},
	{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
	{"name":"a","type":{"type":"array","items":"int"}},
	{"name":"m","type":{"type":"map","values":"string"}},
	{"name":"u","type":["null","string","long"]},
	{"name":"r","type":{"type":"record","name":"Inner","fields":[{"name":"x","type":"int"}]}},
	{"name":"list","type":["null",{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}]}
]}`

const allTypesJSON = `{"n":null,"b":true,"i":-7,"l":1099511627776,"f":1.5,"d":-2.25,"by":"\u0000\u00ff","s":"héllo",` +
	`"fx":"abcd","e":"C","a":[1,2,3],"m":{"k":"v","k2":"v2"},"u":{"long":9},"r":{"x":1},` +
	`"list":{"v":1,"next":{"Node":{"v":2,"next":null}}}}`

func encode(t testing.TB, s *Schema, doc string) []byte {
	t.Helper()
	bin, err := EncodeJSON(s, []byte(doc))
	if err != nil {
		t.Fatalf("EncodeJSON(%s): %v", doc, err)
	}
	return bin
}

func TestValidateRoundTrip(t *testing.T) {
	for _, c := range []struct{ schema, doc string }{{tenFields, tenFieldsJSON}, {allTypes, allTypesJSON}} {
		s := mustParse(t, c.schema)
		bin := encode(t, s, c.doc)
		if err := Format().(schema.Validator).Validate(s, bin); err != nil {
			t.Fatalf("Validate of EncodeJSON output: %v", err)
		}
		// hamba encodes what it decoded to the same bytes.
		var v any
		if err := hamba.Unmarshal(s.Avro(), bin, &v); err != nil {
			t.Fatal(err)
		}
		// hamba writes arrays and maps in blocks with their byte size,
		// so its encoding differs; it must validate and decode the same.
		again, err := hamba.Marshal(s.Avro(), v)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(again); err != nil {
			t.Errorf("Validate of hamba's encoding %x: %v", again, err)
		}
		var v2 any
		if err := hamba.Unmarshal(s.Avro(), again, &v2); err != nil || !reflect.DeepEqual(v, v2) {
			t.Errorf("hamba's encoding decodes to %v (%v), want %v", v2, err, v)
		}

		// Every strict prefix is cut short.
		for n := range len(bin) {
			if err := s.Validate(bin[:n]); !errors.Is(err, ErrPayload) {
				t.Fatalf("Validate(first %d of %d bytes) = %v", n, len(bin), err)
			}
		}
		// A byte more is left over.
		err = s.Validate(append(bin[:len(bin):len(bin)], 0))
		if err == nil || !strings.Contains(err.Error(), "1 bytes left after the value") {
			t.Errorf("trailing byte: %v", err)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	s := mustParse(t, allTypes)
	valid := encode(t, s, allTypesJSON)
	cases := []struct {
		name    string
		schema  string
		payload []byte
		want    string
	}{
		{"boolean 2", `"boolean"`, []byte{2}, "boolean byte is 0x2, not 0 or 1"},
		{"int too large", `"int"`, appendLong(nil, 1<<31), "int 2147483648 is out of range"},
		{"varint too long", `"long"`, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "longer than 10 bytes"},
		{"negative string length", `"string"`, appendLong(nil, -1), "string length -1"},
		{"string beyond the end", `"string"`, append(appendLong(nil, 10), "abc"...), "string length 10 with 3 bytes left"},
		{"invalid UTF-8", `"string"`, append(appendLong(nil, 2), 0xc3, 0x28), "not valid UTF-8"},
		{"enum index", `{"type":"enum","name":"E","symbols":["A"]}`, appendLong(nil, 1), "enum E has 1 symbols, index 1 is out of range"},
		{"union index", `["null","int"]`, appendLong(nil, 2), "union [null, int] has 2 branches, index 2"},
		{"negative union index", `["null","int"]`, appendLong(nil, -1), "index -1 is out of range"},
		{"fixed short", `{"type":"fixed","name":"F","size":4}`, []byte{1, 2}, "fixed F needs 4 bytes, 2 left"},
		{"huge array count", `{"type":"array","items":"int"}`, appendLong(nil, 1<<40), "block count 1099511627776 with 0 bytes left"},
		{"block size mismatch", `{"type":"array","items":"int"}`, []byte{3, 6, 2, 4, 0}, "block of 2 items declared 3 bytes, took 2"},
		{"map key path", `{"type":"map","values":"int"}`, []byte{2, 2, 'k', 0x80}, "at /k (byte 3): int: payload ends inside"},
		{"record field path", allTypes, valid[:1], "at /i (byte 1)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := mustParse(t, tc.schema).Validate(tc.payload)
			if !errors.Is(err, ErrPayload) {
				t.Fatalf("Validate = %v, want ErrPayload", err)
			}
			var de *DataError
			if !errors.As(err, &de) {
				t.Fatalf("%T is not a *DataError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}

	// Arrays of nulls take no bytes: a large count is legitimate.
	nulls := mustParse(t, `{"type":"array","items":"null"}`)
	if err := nulls.Validate(append(appendLong(nil, 1<<40), 0)); err != nil {
		t.Errorf("array of 2^40 nulls: %v", err)
	}
	// A negative count with the block's size.
	ints := mustParse(t, `{"type":"array","items":"int"}`)
	if err := ints.Validate([]byte{3, 4, 2, 4, 0}); err != nil {
		t.Errorf("negative block count: %v", err)
	}
	// The path goes through the array index.
	if err := ints.Validate([]byte{4, 2, 0x80}); err == nil || !strings.Contains(err.Error(), "at /1 ") {
		t.Errorf("array path: %v", err)
	}
}

func TestValidateWrongSchema(t *testing.T) {
	if err := Format().(schema.Validator).Validate(otherParsed{}, nil); err == nil {
		t.Error("Validate with a JSON schema succeeded")
	}
	if _, err := EncodeJSON(otherParsed{}, []byte("{}")); err == nil {
		t.Error("EncodeJSON with a JSON schema succeeded")
	}
}

// TestValidateStricterThanHamba mutates valid payloads at random: what
// Validate accepts, hamba/avro's decoder must decode (the reverse does not
// hold: hamba lets through trailing bytes, odd booleans and bad UTF-8).
func TestValidateStricterThanHamba(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ schema, doc string }{{tenFields, tenFieldsJSON}, {allTypes, allTypesJSON}} {
		s := mustParse(t, c.schema)
		valid := encode(t, s, c.doc)
		accepted := 0
		for range 20000 {
			p := append([]byte(nil), valid...)
			for range 1 + rng.IntN(3) {
				switch rng.IntN(3) {
				case 0:
					p[rng.IntN(len(p))] = byte(rng.Uint32())
				case 1:
					p = p[:rng.IntN(len(p))]
				case 2:
					i := rng.IntN(len(p) + 1)
					p = append(p[:i], append([]byte{byte(rng.Uint32())}, p[i:]...)...)
				}
				if len(p) == 0 {
					break
				}
			}
			if s.Validate(p) != nil {
				continue
			}
			accepted++
			var v any
			if err := hamba.Unmarshal(s.Avro(), p, &v); err != nil {
				t.Fatalf("Validate accepts %x, hamba: %v", p, err)
			}
		}
		t.Logf("%s: %d of 20000 mutations still valid", s.Name(), accepted)
	}
}

func TestValidateAllocs(t *testing.T) {
	s := mustParse(t, tenFields)
	bin := encode(t, s, tenFieldsJSON)
	if n := testing.AllocsPerRun(100, func() {
		if err := s.Validate(bin); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Validate allocates %v times", n)
	}
}
