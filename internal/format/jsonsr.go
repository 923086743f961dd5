package format

import (
	"fmt"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/tide-data/tide/internal/sql/types"
)

// jsonSRFormat is format='json_sr' (ksqlDB's name for it): JSON in the
// schema registry's frame, described by a JSON Schema registered there.
// Values decode as format='json' decodes them.
var jsonSRFormat = Format{
	Name: "json_sr",
	Options: map[string]string{
		"json_sr.subject":               "the registry subject the columns come from and a sink registers under; default '<topic>-value'",
		"json_sr.fail-on-missing-field": "as 'json.fail-on-missing-field'",
		"json_sr.ignore-parse-errors":   "as 'json.ignore-parse-errors'",
	},
	NewDecoder: newJSONSRDecoder,
	NewEncoder: newJSONSREncoder,
	Columns:    jsonSRColumns,
}

// jsonOptions renames json_sr's decoding options to json's.
func jsonOptions(options map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range options {
		if rest, ok := strings.CutPrefix(k, "json_sr."); ok && rest != "subject" {
			out["json."+rest] = v
		}
	}
	return out
}

type jsonSRDecoder struct {
	json Decoder
	// ignoreErrors: a value without the frame is skipped (ErrSkip), as
	// json skips a value that is no JSON object.
	ignoreErrors bool
}

func newJSONSRDecoder(cols []Column, options map[string]string, env Env) (Decoder, error) {
	if _, err := newRegistryFormat("json_sr", options, env); err != nil {
		return nil, err
	}
	jsonOpts := jsonOptions(options)
	d, err := newJSONDecoder(cols, jsonOpts)
	if err != nil {
		return nil, err
	}
	ignore, err := boolOption(jsonOpts, "json.ignore-parse-errors", false)
	if err != nil {
		return nil, err
	}
	return jsonSRDecoder{json: d, ignoreErrors: ignore}, nil
}

// Decode checks the frame and decodes the JSON after it. The schema id is
// not looked up: the JSON names its fields, and a topic's
// schema.validation is what vouches for the id.
func (d jsonSRDecoder) Decode(data []byte, row types.Row) error {
	_, payload, err := readFrame("json_sr", data)
	if err != nil {
		if d.ignoreErrors {
			return ErrSkip
		}
		return err
	}
	return d.json.Decode(payload, row)
}

type jsonSREncoder struct {
	json Encoder
	id   int
}

func newJSONSREncoder(cols []Column, options map[string]string, env Env) (Encoder, error) {
	reg, err := newRegistryFormat("json_sr", options, env)
	if err != nil {
		return nil, err
	}
	id, err := reg.register(SchemaJSON, jsonSchemaText(env.Name, cols))
	if err != nil {
		return nil, err
	}
	enc, err := newJSONEncoder(cols, nil)
	if err != nil {
		return nil, err
	}
	return jsonSREncoder{json: enc, id: id}, nil
}

func (e jsonSREncoder) Encode(dst []byte, row types.Row) ([]byte, error) {
	return e.json.Encode(appendFrame(dst, e.id), row)
}

// jsonSchemaText declares an object with a property per column, each
// nullable, typed as format='json' writes it (double and numeric may be
// the strings "NaN", "Infinity", "-Infinity"; json any value). Other
// properties are allowed, so adding a column later stays compatible.
func jsonSchemaText(title string, cols []Column) string {
	b := []byte(`{"$schema":"http://json-schema.org/draft-07/schema#","title":`)
	b = appendString(b, title, false)
	b = append(b, `,"type":"object","properties":{`...)
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(appendString(b, c.Name, false), ':'), jsonSchemaOf(c.Type)...)
	}
	return string(append(b, "}}"...))
}

func jsonSchemaOf(k types.Kind) string {
	switch k {
	case types.KindBool:
		return `{"type":["boolean","null"]}`
	case types.KindInt2, types.KindInt4, types.KindInt8:
		return `{"type":["integer","null"]}`
	case types.KindFloat8, types.KindNumeric:
		return `{"type":["number","string","null"]}`
	case types.KindTimestampTZ:
		return `{"type":["string","null"],"format":"date-time"}`
	case types.KindDate:
		return `{"type":["string","null"],"format":"date"}`
	case types.KindJSON:
		return `{}`
	}
	return `{"type":["string","null"]}`
}

// jsonSRColumns gives a source the properties of the latest schema of its
// subject, in the order the schema lists them. A property's type names
// its column's: integer bigint, number double precision, boolean, string
// text (timestamptz with format date-time, date with format date),
// anything else (objects, arrays, several types, $ref) jsonb. A nullable
// type ("type": ["string", "null"], or Confluent's oneOf of null and one
// type) counts as the type; ["number", "string"] is numeric.
//
// Declared columns are taken as they are: JSON names its fields, and the
// decoder converts what it finds.
func jsonSRColumns(declared []Column, options map[string]string, env Env) ([]Column, error) {
	reg, err := newRegistryFormat("json_sr", options, env)
	if err != nil || len(declared) > 0 {
		return declared, err
	}
	latest, err := reg.latest(SchemaJSON)
	if err != nil {
		return nil, err
	}
	var p fastjson.Parser
	doc, err := p.Parse(latest.Text)
	if err != nil {
		return nil, fmt.Errorf("format json_sr: schema id %d: %w", latest.ID, err)
	}
	props := doc.GetObject("properties")
	if props == nil || props.Len() == 0 {
		return nil, fmt.Errorf("format json_sr: the latest schema of subject %s (id %d) lists no top-level properties: declare the source's columns", reg.subject, latest.ID)
	}
	var cols []Column
	props.Visit(func(key []byte, v *fastjson.Value) {
		cols = append(cols, Column{Name: string(key), Type: jsonSchemaKind(v)})
	})
	return cols, nil
}

// jsonSchemaKind is the column kind of one property's schema.
func jsonSchemaKind(v *fastjson.Value) types.Kind {
	if v == nil || v.Type() != fastjson.TypeObject {
		return types.KindJSON
	}
	var names []string
	switch t := v.Get("type"); {
	case t == nil:
		for _, key := range []string{"oneOf", "anyOf"} {
			var kind types.Kind
			n := 0
			for _, b := range v.GetArray(key) {
				if string(b.GetStringBytes("type")) == "null" {
					continue
				}
				kind, n = jsonSchemaKind(b), n+1
			}
			if n == 1 {
				return kind
			}
		}
		return types.KindJSON
	case t.Type() == fastjson.TypeString:
		names = []string{string(t.GetStringBytes())}
	case t.Type() == fastjson.TypeArray:
		for _, n := range t.GetArray() {
			if s := string(n.GetStringBytes()); s != "null" {
				names = append(names, s)
			}
		}
	}
	if len(names) == 2 && names[0] == "number" && names[1] == "string" {
		// As a json_sr sink declares double precision and numeric: a
		// number, or "NaN", "Infinity", "-Infinity". numeric holds
		// either exactly; double precision would round a numeric's
		// digits.
		return types.KindNumeric
	}
	if len(names) != 1 {
		return types.KindJSON
	}
	switch names[0] {
	case "integer":
		return types.KindInt8
	case "number":
		return types.KindFloat8
	case "boolean":
		return types.KindBool
	case "string":
		switch string(v.GetStringBytes("format")) {
		case "date-time":
			return types.KindTimestampTZ
		case "date":
			return types.KindDate
		}
		return types.KindText
	}
	return types.KindJSON
}
