package format

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzAppendJSONString checks the string encoder against encoding/json: the
// output is valid JSON and decodes to what encoding/json's encoding of the
// same bytes decodes to (invalid UTF-8 replaced byte by byte).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\r\t\x00\x1f\x7f", "é☃😀", "\xff\xfe", "a\xc3(b", "<&>", "\u2028"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		got := AppendJSONString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("invalid JSON %q for %q", got, s)
		}
		var decoded, oracle string
		if err := json.Unmarshal(got, &decoded); err != nil {
			t.Fatal(err)
		}
		ref, _ := json.Marshal(string(s))
		if err := json.Unmarshal(ref, &oracle); err != nil {
			t.Fatal(err)
		}
		if decoded != oracle {
			t.Fatalf("%q decodes to %q, encoding/json's to %q", s, decoded, oracle)
		}
		if utf8.Valid(s) && decoded != string(s) {
			t.Fatalf("valid UTF-8 %q changed to %q", s, decoded)
		}
	})
}
