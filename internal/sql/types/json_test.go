package types

import (
	"encoding/json"
	"testing"
)

// TestParseJSONRejectsNonJSONNumbers: fastjson's parser takes NaN, inf
// and other spellings JSON does not allow; jsonb must refuse them, not
// write them out as invalid JSON.
func TestParseJSONRejectsNonJSONNumbers(t *testing.T) {
	for _, s := range []string{`NaN`, `[NaN]`, `{"a": inf}`, `-inf`, `+Inf`, `nan`, `+1`, `.5`, `01`, `1.`, `-`, `1e`, `1.2.3`} {
		if v, err := ParseJSON(s); err == nil {
			t.Errorf("ParseJSON(%s) = %s, want an error", s, v.Text())
		}
	}
	for s, want := range map[string]string{`[1, -0.5e3, 0, -0, 1E+2]`: `[1, -500, 0, 0, 100]`, `{"b": 2.50, "a": 1e-2}`: `{"a": 0.01, "b": 2.50}`} {
		v, err := ParseJSON(s)
		if err != nil || v.Text() != want {
			t.Errorf("ParseJSON(%s) = %q, %v; want %s", s, v.Text(), err, want)
		}
		if !json.Valid([]byte(v.Text())) {
			t.Errorf("ParseJSON(%s) = %s: not valid JSON", s, v.Text())
		}
	}
}
