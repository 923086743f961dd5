package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// oracle reads body as encoding/json would: the values, or false.
func oracle(body []byte, form bodyForm) ([]json.RawMessage, bool) {
	if !utf8.Valid(body) {
		return nil, false // we refuse invalid UTF-8; encoding/json replaces it
	}
	if form == formNDJSON {
		var out []json.RawMessage
		for _, line := range bytes.Split(body, []byte{'\n'}) {
			line = bytes.Trim(line, " \t\r")
			if len(line) == 0 {
				continue
			}
			if !json.Valid(line) {
				return nil, false
			}
			out = append(out, json.RawMessage(line))
		}
		return out, true
	}
	if !json.Valid(body) {
		return nil, false
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if trimmed[0] == '[' {
		var out []json.RawMessage
		if err := json.Unmarshal(body, &out); err != nil {
			return nil, false
		}
		return out, true
	}
	return []json.RawMessage{json.RawMessage(bytes.TrimSpace(body))}, true
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("compact %q: %v", b, err)
	}
	return buf.String()
}

// checkAgainstOracle: the parser accepts exactly what encoding/json
// accepts (valid UTF-8 assumed) and reads the same values; with ?key= the
// key is encoding/json's reading of the field (last one wins).
func checkAgainstOracle(t *testing.T, body []byte, form bodyForm) {
	t.Helper()
	els, perr := parseBody(body, parseOptions{form: form}, nil)
	want, ok := oracle(body, form)
	if (perr == nil) != ok {
		msg := "nil"
		if perr != nil {
			msg = perr.describe(body)
		}
		t.Fatalf("form %d, body %q: parser error %s, encoding/json valid %v", form, body, msg, ok)
	}
	if perr != nil {
		if perr.offset < 0 || perr.offset > len(body) {
			t.Fatalf("error offset %d outside the body", perr.offset)
		}
		return
	}
	if len(els) != len(want) {
		t.Fatalf("body %q: %d elements, encoding/json %d", body, len(els), len(want))
	}
	for i := range els {
		if got, w := compact(t, els[i].value), compact(t, want[i]); got != w {
			t.Fatalf("body %q element %d: %s, encoding/json %s", body, i, got, w)
		}
	}
	keyed, kerr := parseBody(body, parseOptions{form: form, keyField: "k"}, nil)
	for i, v := range want {
		var m map[string]json.RawMessage
		hasKey := json.Unmarshal(v, &m) == nil && m != nil && m["k"] != nil && string(m["k"]) != "null"
		if !hasKey {
			if kerr == nil {
				t.Fatalf("body %q element %d: key found where encoding/json sees none", body, i)
			}
			return
		}
		if kerr != nil {
			if kerr.index == i {
				t.Fatalf("body %q element %d: %s, but encoding/json finds k", body, i, kerr.describe(body))
			}
			continue
		}
		wantKey := string(m["k"])
		var s string
		if json.Unmarshal(m["k"], &s) == nil {
			wantKey = s
		}
		if string(keyed[i].key) != wantKey {
			t.Fatalf("body %q element %d: key %q, encoding/json %q", body, i, keyed[i].key, wantKey)
		}
	}
}

var parseSeeds = []string{
	`{"a":1}`, `[{"a":1},{"b":[1,2,{"c":null}]}]`, `[]`, ` [ 1 , "x" , true , false , null ] `,
	"{\"k\":\"v\"}\n{\"k\":2}\n\n", `{"k":"a\u00e9\ud83d\ude00\"","k":"last"}`, `{"k":{"x":[1, 2]}}`,
	`-0.5e+10`, `01`, `1.`, `1e`, `"\u12"`, `"\x"`, `[1,]`, `{"a" 1}`, `{"a":1,}`, "\"tab\there\"",
	`[[[[[]]]]]`, `{"k":"\ud800"}`, "\xef\xbb\xbf{}", `tru`, `nul`, `{"a":1}}`, "{\"a\":\n1}",
}

func TestParseAgainstEncodingJSON(t *testing.T) {
	for _, s := range parseSeeds {
		for _, form := range []bodyForm{formJSON, formNDJSON} {
			checkAgainstOracle(t, []byte(s), form)
		}
	}
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	if _, perr := parseBody([]byte(deep), parseOptions{}, nil); perr == nil {
		t.Error("nesting beyond encoding/json's limit accepted")
	}
}

func TestEnvelopeParsing(t *testing.T) {
	els, perr := parseBody([]byte(`[{"key":"a","value":{"x":1},"headers":{"h":"v","h2":"w\n"}},{"key":null},{}]`), parseOptions{envelope: true}, nil)
	if perr != nil {
		t.Fatal(perr.describe(nil))
	}
	if string(els[0].key) != "a" || string(els[0].value) != `{"x":1}` || len(els[0].headers) != 2 || string(els[0].headers[1].Value) != "w\n" {
		t.Errorf("element 0: %+v", els[0])
	}
	if els[1].key != nil || els[1].value != nil || els[2].value != nil {
		t.Errorf("null key and value: %+v %+v", els[1], els[2])
	}
	for _, bad := range []string{`[1]`, `{"headers":[]}`, `{"value":1,"x":2}`, `{"headers":{"a":{}}}`} {
		if _, perr := parseBody([]byte(bad), parseOptions{envelope: true}, nil); perr == nil || perr.code != codeInvalidEnvelope {
			t.Errorf("%s: %v", bad, perr)
		}
	}
}

func FuzzIngestBody(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		form := formJSON
		if ndjson {
			form = formNDJSON
		}
		checkAgainstOracle(t, body, form)
		// The other modes never panic, and errors point into the body.
		for _, opts := range []parseOptions{{form: form, envelope: true}, {form: form, envelope: true, keyField: "k", idField: "id"}} {
			if _, perr := parseBody(body, opts, nil); perr != nil {
				if perr.offset < 0 || perr.offset > len(body) {
					t.Fatalf("error offset %d outside the body", perr.offset)
				}
				_ = perr.describe(body)
			}
		}
	})
}

func BenchmarkParseNDJSON(b *testing.B) {
	var body []byte
	for i := range 100 {
		body = fmt.Appendf(body, `{"id":%d,"user_id":"user-%d","type":"page_view","amount":12.5,"ts":"2026-11-26T10:00:00.000Z","pad":"%s"}`+"\n", i, i, strings.Repeat("x", 80))
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var els []element
	for b.Loop() {
		var perr *parseError
		if els, perr = parseBody(body, parseOptions{form: formNDJSON}, els[:0]); perr != nil {
			b.Fatal(perr.msg)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}
