package avro

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
)

// diffSchemas are the schemas the differential tests encode with, one of
// every kind and the unions where the encoders have choices to make.
var diffSchemas = []string{
	allTypes,
	tenFields,
	record("Order",
		`{"name":"id","type":"long"}`,
		`{"name":"items","type":{"type":"array","items":`+record("Item", `{"name":"sku","type":"string"}`, `{"name":"price","type":"double"}`)+`}}`,
		`{"name":"note","type":["null","string"],"default":null}`,
		`{"name":"attrs","type":{"type":"map","values":"int"},"default":{}}`),
	`["null","int","long","string"]`,
	`["null","boolean","int","long","float","double","string","bytes",{"type":"array","items":"int"},{"type":"map","values":"int"}]`,
	`["null",` + record("com.x.R1", `{"name":"a","type":"int"}`) + `,` + record("R2", `{"name":"b","type":"string","default":"d"}`) + `,{"type":"map","values":"string"}]`,
	`{"type":"map","values":["null","int","string"]}`,
	record("Blobs",
		`{"name":"by","type":"bytes","default":"\u00ff"}`,
		`{"name":"fx","type":{"type":"fixed","name":"F2","size":2}}`,
		`{"name":"dec","type":{"type":"fixed","name":"Dec","size":3,"logicalType":"decimal","precision":6,"scale":2},"default":"\u0000\u0001\u0002"}`,
		`{"name":"e","type":{"type":"enum","name":"Suit","symbols":["SPADES","HEARTS","DIAMONDS","CLUBS"]},"default":"CLUBS"}`,
		`{"name":"u","type":["null","Suit","F2","bytes"],"default":null}`),
	record("Node", `{"name":"v","type":"int","default":0}`, `{"name":"next","type":["null","Node"],"default":null}`),
	record("Defaults",
		`{"name":"a","type":"int","default":7}`,
		`{"name":"b","type":"string","default":"x"}`,
		`{"name":"c","type":{"type":"array","items":"long"},"default":[1,2]}`,
		`{"name":"d","type":{"type":"map","values":"double"},"default":{"k":1.5}}`,
		`{"name":"e","type":["string","null"],"default":"s"}`,
		`{"name":"f","type":"boolean"}`,
		`{"name":"g","type":`+record("In", `{"name":"x","type":"long","default":1}`, `{"name":"y","type":"string"}`)+`,"default":{"y":"d"}}`),
	`{"type":"array","items":["float","double"]}`,
	`{"type":"array","items":{"type":"array","items":{"type":"map","values":{"type":"array","items":"long"}}}}`,
	`"int"`, `"long"`, `"float"`, `"double"`, `"string"`, `"bytes"`, `"boolean"`, `"null"`,
	`{"type":"enum","name":"E","symbols":["A","B","NaN"]}`,
	`{"type":"fixed","name":"F4","size":4}`,
	record("Times",
		`{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}`,
		`{"name":"d","type":{"type":"int","logicalType":"date"}}`,
		`{"name":"id","type":{"type":"string","logicalType":"uuid"}}`),
}

// diffDocs are documents for diffSchemas: valid ones, near misses and
// broken JSON, by schema index.
var diffDocs = map[int][]string{
	0: {allTypesJSON, `{"list":{"Node":{"v":1,"next":null}}}`,
		`{"n":null,"b":true,"i":-7,"l":1,"f":1.5,"d":-2.25,"by":"","s":"","fx":"abcd","e":"C","a":[],"m":{},"u":null,"r":{"x":1},"list":null}`,
		`{"list":null,"r":{"x":1},"u":"x","m":{},"a":[1],"e":"A","fx":"\u0061bcd","s":"s","by":"b","d":1,"f":1,"l":1,"i":1,"b":false,"n":null}`,
		`{"n":null,"b":true,"i":-7,"l":1,"f":1.5,"d":-2.25,"by":"","s":"","fx":"abcd","e":"C","a":[],"m":{},"u":{"string":"x"},"r":{"x":1},"list":null}`,
		`{"n":null,"b":true,"i":-7,"l":1,"f":1.5,"d":-2.25,"by":"","s":"","fx":"abcd","e":"C","a":[],"m":{},"u":{"string":"x","long":1},"r":{"x":1},"list":null}`,
		`{"n":null,"b":true,"i":-7,"l":1,"f":1.5,"d":-2.25,"by":"","s":"","fx":"abcd","e":"C","a":[],"m":{},"u":9,"r":{"x":1},"list":{"Node":{"v":1,"next":{"v":2,"next":{"Node":{"v":3,"next":null}}}}}}`,
		`{"n":null,"n":null}`, `{"zz":1}`, `{"i":"x","zz":1}`, `{"i":"x",}`, `{"i":"x"`, `{"i":1,"b":"x","zz":1}`},
	1: {tenFieldsJSON,
		`{"ts":1735689600000,"event_id":"x","user_id":4242,"url":"u","duration_ms":5230,"device":"MOBILE","score":0.87}`,
		`{"event_id":"x","ts":1,"user_id":2,"url":"u","duration_ms":3,"device":"TABLET","score":1e400,"tags":[]}`,
		`{"event_id":"x","ts":1,"user_id":2,"url":"u","duration_ms":2147483648,"device":"TABLET","score":1}`,
		`{"event_id":"x","ts":1,"user_id":2,"url":"u","duration_ms":3,"device":"PHONE","score":1}`,
		` { "event_id" : "x" , "ts" : 1 , "user_id" : 2 , "url" : "u" , "duration_ms" : 3 , "device" : "TABLET" , "score" : -0 } `,
		`{"event_id":"x","ts":1,"user_id":2,"url":"u","duration_ms":3,"device":"TABLET","score":1,"score":2}`,
		`{"event_id":"x","ts":1,"user_id":2,"url":"u","duration_ms":3,"device":"TABLET","score":1,"session":{"string":"s"},"referrer":{"null":null}}`},
	2: {`{"id":1,"items":[{"sku":"a","price":1},{"sku":"b","price":"x"}]}`, `{"items":[]}`, `{"id":1,"items":[],"colour":"red"}`,
		`{"id":1,"id":2,"items":[]}`, `{"id":1,"items":[],"attrs":{"a/b":"x"}}`, `{"id":1,"items":[],"attrs":{"a":1,"a":2}}`,
		`{"id":1,"items":[],"note":5}`, `{"items":[{"price":2,"sku":"z"}],"id":-1,"attrs":{"a":1,"b":2,"\u00e9":3}}`,
		`{"id":1,"items":[],"attrs":{"a":1,"b":"x","a":2}}`, `{"id":1.0,"items":[],"note":"n"}`, `{"id":1e3,"items":[]}`},
	3: {`null`, `1`, `4294967296`, `"x"`, `{"long":5}`, `{"int":"x"}`, `{"long":5,"int":1}`, `{"string":"s"}`, `{"null":null}`,
		`true`, `1.5`, `{"int":2147483648}`, `{"bogus":1}`, `{}`, `[]`},
	4: {`null`, `true`, `1`, `1.5`, `"NaN"`, `"x"`, `[1,2]`, `{"a":1}`, `{"map":{"int":1}}`, `{"float":"Infinity"}`, `{"bytes":"\u00ff"}`,
		`{"array":[1]}`, `{"map":{"a":1},"x":1}`, `9223372036854775808`, `1e39`},
	5: {`null`, `{"a":1}`, `{"b":"x"}`, `{}`, `{"c":"x"}`, `{"R1":{"a":1}}`, `{"com.x.R1":{"a":1}}`, `{"R2":{}}`, `{"map":{"R1":"x"}}`,
		`{"a":"x"}`, `{"a":1,"b":"x"}`, `{"R1":{"a":"x"}}`},
	6: {`{}`, `{"a":null,"b":1,"c":"s"}`, `{"a":{"int":1}}`, `{"a":true}`, `{"a":1,"a":1}`, `{"\ud83d\ude00":1}`, `{"\ud800":1}`, `{"\udc00\u0041":1}`},
	7: {`{"fx":"ab"}`, `{"fx":"\u00ab\u00cd","by":"\u0100"}`, `{"fx":"abc"}`, `{"fx":"ab","u":"HEARTS"}`, `{"fx":"ab","u":{"F2":"cd"}}`,
		`{"fx":"ab","u":{"Suit":"SPADES"}}`, `{"fx":"ab","u":{"bytes":"xyz"}}`, `{"fx":"ab","e":"JOKER"}`, `{"fx":"ab","u":"zz"}`, `{"fx":"ab","dec":"\u0000\u0000\u0001"}`},
	8:  {`{}`, `{"v":1,"next":{"v":2,"next":{"Node":{"v":3}}}}`, `{"next":{"next":{"next":null}}}`, `{"v":1,"next":{"Node":{"v":"x"}}}`},
	9:  {`{}`, `{"f":true}`, `{"f":true,"g":{"y":"z"}}`, `{"g":{"y":"z","x":5},"f":false,"a":1}`, `{"f":true,"e":null}`, `{"f":true,"e":{"null":null}}`, `{"f":true,"c":[]}`},
	10: {`["NaN","Infinity","-Infinity",1e300]`, `[1.5,"x"]`, `[3.4028235e38,3.5e38]`, `[-0,-0.0,0.1e-5,123.456e-7]`, `[]`},
	11: {`[]`, `[[]]`, `[[{}]]`, `[[{"a":[1,2,3]},{"b":[]}]]`, `[[{"a":[1,"x"]}]]`},
	12: {`1`, `-0`, `1.0`, `1e3`, `1.5e1`, `2147483647`, `-2147483648`, `2147483648`, `1.5`, `"1"`, `01`, `-`, `1.`, `.5`, `1e`, `+1`, `NaN`, ` 7 `, "\t7\r\n", `7 x`},
	13: {`9223372036854775807`, `-9223372036854775808`, `9223372036854775808`, `-9223372036854775809`, `12345678901234567890`,
		`9223372036854775807.0`, `1e18`, `1e19`, `-1e18`, `123456789012345678`, `1234567890123456789`, `0.3e1`, `4.35e2`, `1.00000000000000001`},
	14: {`1.5`, `1e39`, `-1e39`, `3.4028235e38`, `"NaN"`, `"Infinity"`, `"-Infinity"`, `"nan"`, `1e400`, `1e-400`, `-0`, `0.1`},
	15: {`0.1`, `1.23e-5`, `123456789012345678901234567890`, `1e308`, `1e309`, `-1e400`, `4.9e-324`, `1e-400`, `-0`, `-0.0`, `0.000001e-300`,
		`1.7976931348623157e308`, `12345678901234567.5`, `"\u004eaN"`},
	16: {`""`, `"héllo"`, `"\u00e9\u0041"`, `"\ud83d\ude00"`, `"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\ud800x"`, `"\\u0041"`, `"a\/b\"c\\d\b\f\n\r\t"`,
		"\"\xff\"", "\"\xc3\"", "\"\x01\"", `"\x"`, `"\u12"`, `"\u12G4"`, `"unterminated`, `"` + strings.Repeat("abcdefgh", 40) + `"`,
		"\"" + strings.Repeat("é", 40) + "\"", "\"\u2028\u2029\""},
	17: {`""`, `"\u0000\u00ffA"`, `"\u0100"`, `"é"`, "\"\xe9\"", `"\ud800"`, `"abc"`},
	18: {`true`, `false`, `tru`, `True`, `null`, `falsey`},
	19: {`null`, `nul`, `null null`, ``, ` `},
	20: {`"A"`, `"NaN"`, `"Z"`, `"\u0041"`, `1`},
	21: {`"abcd"`, `"abc"`, `"\u00ff\u00fe\u00fd\u00fc"`, `"\u0100bcd"`},
	22: {`{"ts":1,"d":2,"id":"x"}`, `{"ts":1,"d":2147483648,"id":"x"}`, `{"ts":1.5,"d":2,"id":"x"}`},
}

func diffParsed(t testing.TB) []*Schema {
	out := make([]*Schema, len(diffSchemas))
	for i, text := range diffSchemas {
		out[i] = mustParse(t, text)
	}
	return out
}

// checkAgainstOracle fails t unless EncodeJSON and the fastjson-based
// encoder give the same bytes, or both fail: with the same message,
// unless the document is not JSON (then both say "invalid JSON", in
// words of their own).
func checkAgainstOracle(t *testing.T, s *Schema, doc []byte) {
	t.Helper()
	got, gerr := EncodeJSON(s, doc)
	want, werr := oracleEncodeJSON(s, doc)
	switch {
	case gerr == nil && werr == nil:
		if !bytes.Equal(got, want) {
			t.Fatalf("schema %s\ndoc %q\nEncodeJSON = %x\noracle     = %x", s.Canonical(), doc, got, want)
		}
	case gerr == nil || werr == nil:
		t.Fatalf("schema %s\ndoc %q\nEncodeJSON = %x, %v\noracle     = %x, %v", s.Canonical(), doc, got, gerr, want, werr)
	default:
		var gde, wde *DataError
		if !errors.As(gerr, &gde) || !errors.As(werr, &wde) || !errors.Is(gerr, ErrValue) {
			t.Fatalf("doc %q: errors %T %v / %T %v", doc, gerr, gerr, werr, werr)
		}
		if strings.HasPrefix(wde.Reason, "invalid JSON") {
			if !strings.HasPrefix(gde.Reason, "invalid JSON") || gde.Path != "" {
				t.Fatalf("schema %s\ndoc %q\nEncodeJSON error %v\noracle: %v", s.Canonical(), doc, gerr, werr)
			}
			return
		}
		if gerr.Error() != werr.Error() || gde.Path != wde.Path {
			t.Fatalf("schema %s\ndoc %q\nEncodeJSON error %v\noracle error     %v", s.Canonical(), doc, gerr, werr)
		}
	}
	checkWalksAgree(t, s, doc)
}

// checkWalksAgree fails t unless the fast walk and the strict one agree
// on a JSON document: AppendJSON walks strictly only after the fast walk
// failed, which would hide a fast walk failing what it should encode.
func checkWalksAgree(t *testing.T, s *Schema, doc []byte) {
	t.Helper()
	var e encoder
	e.doc = doc
	if !e.checkJSON() {
		return
	}
	fast, ferr := e.encode(nil, s.plan, doc, false)
	strict, serr := e.encode(nil, s.plan, doc, true)
	if (ferr == nil) != (serr == nil) || !bytes.Equal(fast, strict) {
		t.Fatalf("schema %s\ndoc %q\nfast walk   %x, %v\nstrict walk %x, %v", s.Canonical(), doc, fast, ferr, strict, serr)
	}
}

// TestEncodeJSONDifferential: EncodeJSON agrees with the fastjson-based
// encoder it replaced on the documents of diffDocs, and on deep nesting
// around the 300 levels JSON may have.
func TestEncodeJSONDifferential(t *testing.T) {
	schemas := diffParsed(t)
	for i, docs := range diffDocs {
		for _, doc := range docs {
			checkAgainstOracle(t, schemas[i], []byte(doc))
		}
	}
	nested := func(n int, open, inner, close string) []byte {
		return []byte(strings.Repeat(open, n) + inner + strings.Repeat(close, n))
	}
	deep := mustParse(t, record("Deep", `{"name":"d","type":["null",{"type":"array","items":"Deep"}],"default":null}`))
	for _, n := range []int{149, 150, 151, 299, 300, 301} {
		checkAgainstOracle(t, schemas[11], nested(n, "[", "", "]"))
		checkAgainstOracle(t, schemas[8], nested(n, `{"next":`, "null", "}"))
		checkAgainstOracle(t, schemas[8], nested(n, `{"next":{"Node":`, "null", "}}"))
		checkAgainstOracle(t, deep, nested(n, `{"d":[`, `{}`, `]}`))
		checkAgainstOracle(t, schemas[12], nested(n, "[", "1", "]"))
	}
}

// TestEncodeJSONErrorPrecedence: of several errors in a document, the one
// the fastjson-based encoder named is named; a syntax error anywhere
// wins.
func TestEncodeJSONErrorPrecedence(t *testing.T) {
	s := mustParse(t, diffSchemas[2])
	for _, c := range []struct{ doc, want string }{
		{`{"id":"x","items":[],"colour":"red"}`, `record Order has no field "colour"`},
		{`{"id":"x","items":[],"id":1}`, `field "id" appears twice`},
		{`{"id":"x"}`, `expected long`},
		{`{"note":1}`, `missing field "id"`},
		{`{"id":"x","items":[] x}`, "invalid JSON"},
		{`{"id":1,"items":[{"sku":1,"price":"p","zz":1}]}`, `record Item has no field "zz"`},
		{`{"id":1,"items":[{"sku":1,"price":"p"}],"attrs":{"a":"x","a":1}}`, `expected string, got number 1`},
		{`{"id":1,"items":[],"attrs":{"a":"x","a":1}}`, `expected int, got string "x"`},
	} {
		_, err := EncodeJSON(s, []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("EncodeJSON(%s) = %v, want %q", c.doc, err, c.want)
		}
		checkAgainstOracle(t, s, []byte(c.doc))
	}
}

// TestEncodeJSONDefaultsAsWritten: a record's missing fields take the
// defaults Parse encoded, the bytes the old encoder wrote for the default
// values given in the document.
func TestEncodeJSONDefaultsAsWritten(t *testing.T) {
	s := mustParse(t, diffSchemas[9])
	got, err := EncodeJSON(s, []byte(`{"f":true}`))
	if err != nil {
		t.Fatal(err)
	}
	want, err := oracleEncodeJSON(s, []byte(`{"a":7,"b":"x","c":[1,2],"d":{"k":1.5},"e":"s","f":true,"g":{"x":1,"y":"d"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("defaults: %x, want %x", got, want)
	}
}

// TestEncodeJSONConcurrent: goroutines sharing a Schema (its plans) and
// the pool of buffers get what one goroutine gets. Run with -race.
func TestEncodeJSONConcurrent(t *testing.T) {
	s := mustParse(t, diffSchemas[0])
	docs := diffDocs[0]
	want := make([][]byte, len(docs))
	wantErr := make([]string, len(docs))
	for i, doc := range docs {
		out, err := EncodeJSON(s, []byte(doc))
		want[i] = out
		if err != nil {
			wantErr[i] = err.Error()
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var dst []byte
			for n := range 200 {
				i := (g + n) % len(docs)
				var err error
				dst, err = AppendJSON(dst[:0], s, []byte(docs[i]))
				switch {
				case err != nil && err.Error() != wantErr[i], err == nil && wantErr[i] != "":
					t.Errorf("%s: %v, want %s", docs[i], err, wantErr[i])
					return
				case err == nil && !bytes.Equal(dst, want[i]):
					t.Errorf("%s: %x, want %x", docs[i], dst, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzEncodeJSONDifferential: for every document, EncodeJSON and the
// fastjson-based encoder it replaced (encode_json_oracle_test.go) write
// the same bytes or both fail, with the same error unless the document is
// not JSON; and the fast walk agrees with the strict one.
func FuzzEncodeJSONDifferential(f *testing.F) {
	schemas := diffParsed(f)
	for i, docs := range diffDocs {
		for _, doc := range docs {
			f.Add(uint8(i), []byte(doc))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, doc []byte) {
		checkAgainstOracle(t, schemas[int(which)%len(schemas)], doc)
	})
}
