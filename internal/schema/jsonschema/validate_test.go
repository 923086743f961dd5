package jsonschema

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tide-data/tide/internal/schema"
)

const orderSchema = `{
	"type": "object",
	"properties": {
		"id":       {"type": "string", "minLength": 1},
		"amount":   {"type": "number", "minimum": 0},
		"currency": {"enum": ["EUR", "USD"]},
		"items":    {"type": "array", "items": {"type": "integer"}},
		"customer": {"$ref": "#/definitions/customer"},
		"note":     {"anyOf": [{"type": "string"}, {"type": "null"}]},
		"a/b":      {"type": "boolean"}
	},
	"required": ["id", "amount"],
	"additionalProperties": false,
	"definitions": {
		"customer": {
			"type": "object",
			"properties": {"email": {"type": "string", "format": "email"}},
			"required": ["email"]
		}
	}
}`

func TestValidate(t *testing.T) {
	p := mustParse(t, orderSchema, nil)
	v := Format().(schema.Validator)
	for _, tc := range []struct {
		payload string
		want    string // the error; "" for valid
	}{
		{`{"id": "o1", "amount": 12.5}`, ""},
		{`{"id": "o1", "amount": 12.5, "currency": "EUR", "items": [1, 2], "customer": {"email": "a@b.c"}, "note": null}`, ""},
		{` {"id": "o1", "amount": 0} ` + "\n", ""},
		{`{"id": "o1", "amount": "12.5"}`, "/amount: got string, want number"},
		{`{"id": "o1", "amount": -1}`, "/amount: minimum: got -1, want 0"},
		{`{"amount": 1}`, "(root): missing property 'id'"},
		{`{"id": "", "amount": 1}`, "/id: minLength: got 0, want 1"},
		{`{"id": "o1", "amount": 1, "currency": "GBP"}`, "/currency: value must be one of 'EUR', 'USD'"},
		{`{"id": "o1", "amount": 1, "items": [1, "two", 3]}`, "/items/1: got string, want integer"},
		{`{"id": "o1", "amount": 1, "items": [1, 2.5]}`, "/items/1: got number, want integer"},
		{`{"id": "o1", "amount": 1, "customer": {}}`, "/customer: missing property 'email'"},
		{`{"id": "o1", "amount": 1, "customer": {"email": "nope"}}`, "/customer/email: 'nope' is not valid email: missing @"},
		{`{"id": "o1", "amount": 1, "note": 7}`, "/note: 'anyOf' failed (got number, want string; got number, want null)"},
		{`{"id": "o1", "amount": 1, "a/b": "yes"}`, "/a~1b: got string, want boolean"},
		{`{"id": "o1", "amount": 1, "extra": true}`, "(root): additional properties 'extra' not allowed"},
		{`[]`, "(root): got array, want object"},
		// Several failures: the one at the smallest location, every run.
		{`{"amount": "x", "items": ["y"], "currency": 1}`, "(root): missing property 'id'"},
		{`{"id": "o", "amount": "x", "items": ["y"], "currency": 1}`, "/amount: got string, want number"},
	} {
		err := v.Validate(p, []byte(tc.payload))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("Validate(%s)\n got %q\nwant %q", tc.payload, got, tc.want)
		}
		if err != nil {
			var f *Failure
			if !errors.As(err, &f) || !errors.Is(err, ErrPayload) || errors.Is(err, ErrMalformed) {
				t.Errorf("Validate(%s) = %T, want a *Failure wrapping ErrPayload only", tc.payload, err)
			}
		}
	}
}

func TestFirstFailure(t *testing.T) {
	p := mustParse(t, orderSchema, nil)
	f, err := FirstFailure(p, []byte(`{"id": "o1", "amount": 1, "customer": {"email": 5}}`))
	if err != nil {
		t.Fatal(err)
	}
	if f == nil || f.Path != "/customer/email" || f.Reason != "got number, want string" {
		t.Errorf("FirstFailure = %+v", f)
	}
	f, err = FirstFailure(p, []byte(`{"id": "o1", "amount": 1}`))
	if f != nil || err != nil {
		t.Errorf("valid payload: %+v, %v", f, err)
	}
	// Deterministic whatever the map order: run it many times.
	for range 50 {
		f, _ := FirstFailure(p, []byte(`{"id": 1, "amount": "x", "currency": 1, "items": [1, "x"], "note": 1, "customer": 1}`))
		if f == nil || f.Path != "/amount" {
			t.Fatalf("FirstFailure = %+v, want /amount", f)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	p := mustParse(t, orderSchema, nil)
	v := Format().(schema.Validator)
	for _, payload := range []string{``, `{"id": "o1"`, `{"id": "o1"} {}`, `nul`} {
		err := v.Validate(p, []byte(payload))
		var f *Failure
		if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrPayload) || !errors.As(err, &f) || f.Path != "" ||
			!strings.HasPrefix(err.Error(), "(root): not JSON: ") {
			t.Errorf("Validate(%q) = %v, want a root *Failure wrapping ErrMalformed and ErrPayload", payload, err)
		}
	}
	if err := v.Validate(foreign{}, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "not a JSON schema") {
		t.Errorf("foreign schema: %v", err)
	}
}

// The library lists additional properties in map order; the message
// lists them sorted.
func TestValidateAdditionalPropertiesOrder(t *testing.T) {
	p := mustParse(t, `{"properties": {"a": {}}, "additionalProperties": false}`, nil)
	for range 50 {
		f, err := FirstFailure(p, []byte(`{"z": 1, "a": 1, "y": 2, "x": 3, "w": 4}`))
		if err != nil || f == nil || f.Error() != "(root): additional properties 'w', 'x', 'y', 'z' not allowed" {
			t.Fatalf("FirstFailure = %v, %v", f, err)
		}
	}
}

func TestValidateHugeNumbers(t *testing.T) {
	p := mustParse(t, `{"type": "object", "properties": {"n": {"type": "integer", "maximum": 10}}}`, nil)
	for _, tc := range []struct{ payload, want string }{
		{`{"n": 1e400}`, ""},
		{`{"n": 1e401}`, "/n: number too large to validate (over 256 characters or an exponent beyond ±400)"},
		{`{"m": [1, 1E-100000], "n": 1}`, "/m/1: number too large to validate (over 256 characters or an exponent beyond ±400)"},
		{`{"n": ` + strings.Repeat("9", 257) + `}`, "/n: number too large to validate (over 256 characters or an exponent beyond ±400)"},
	} {
		f, err := FirstFailure(p, []byte(tc.payload))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if f != nil {
			got = f.Error()
		}
		if tc.want == "" {
			if got == "" || strings.Contains(got, "too large") {
				t.Errorf("%s: got %q, want the schema's own maximum failure", tc.payload, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.payload, got, tc.want)
		}
	}
}

// BenchmarkValidate validates a typical 10-property record, decoding
// included: what the produce path pays per record.
func BenchmarkValidate(b *testing.B) {
	p := mustParse(b, `{
		"type": "object",
		"properties": {
			"id":         {"type": "string", "format": "uuid"},
			"customer":   {"type": "string", "minLength": 1, "maxLength": 64},
			"amount":     {"type": "number", "minimum": 0},
			"currency":   {"enum": ["EUR", "USD", "GBP"]},
			"quantity":   {"type": "integer", "minimum": 1},
			"created_at": {"type": "string", "format": "date-time"},
			"paid":       {"type": "boolean"},
			"tags":       {"type": "array", "items": {"type": "string"}, "maxItems": 10},
			"note":       {"type": ["string", "null"]},
			"address":    {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"}}, "required": ["city"]}
		},
		"required": ["id", "customer", "amount", "currency"],
		"additionalProperties": false
	}`, nil)
	payload := []byte(`{"id":"3f1c5a9e-8b2d-4c6e-9a7f-1b2c3d4e5f60","customer":"c-1042","amount":129.95,"currency":"EUR","quantity":3,"created_at":"2024-05-01T12:34:56Z","paid":true,"tags":["priority","gift"],"note":null,"address":{"city":"Lyon","zip":"69002"}}`)
	v := Format().(schema.Validator)
	if err := v.Validate(p, payload); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := v.Validate(p, payload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func ExampleFirstFailure() {
	p, _ := Format().Parse(`{"type": "object", "properties": {"amount": {"type": "number"}}}`, nil)
	f, _ := FirstFailure(p, []byte(`{"amount": "12"}`))
	fmt.Println(f.Path, "|", f.Reason)
	// Output: /amount | got string, want number
}

// Validate, FirstFailure and Compatible share schemas across goroutines
// (run with -race).
func TestConcurrentUse(t *testing.T) {
	p := mustParse(t, orderSchema, nil)
	q := mustParse(t, strings.Replace(orderSchema, `"minimum": 0`, `"minimum": 1`, 1), nil)
	f := Format()
	v := f.(schema.Validator)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if err := v.Validate(p, []byte(`{"id": "o1", "amount": 1, "customer": {"email": "a@b.c"}}`)); err != nil {
					t.Error(err)
					return
				}
				if err := v.Validate(p, []byte(`{"id": "o1", "amount": "x"}`)); err == nil {
					t.Error("invalid payload passed")
					return
				}
				if got := f.Compatible(q, p); len(got) != 1 {
					t.Errorf("Compatible = %q", got)
					return
				}
			}
		})
	}
	wg.Wait()
}
