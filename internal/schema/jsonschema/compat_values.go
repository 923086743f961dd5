package jsonschema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// maxListed bounds the values one message lists.
const maxListed = 10

// maxFinite bounds the enums checked value by value (each value is
// validated against both schemas). Larger enums are compared as sets.
const maxFinite = 256

// finiteValues returns every value a writer can write when there are few
// enough to list: its enum or const, or, when the reader has an enum or
// const to compare them with, true/false/null when those are the
// writer's only types. Each is checked against the writer's whole schema,
// so the list is exact; the reader then gets an exact answer by
// validating them.
func finiteValues(w, r node) ([]any, bool) {
	if w.view != viewFull && w.view != viewBase {
		return nil, false
	}
	s := w.s
	var values []any
	switch {
	case s.Const != nil:
		values = []any{*s.Const}
	case s.Enum != nil:
		values = s.Enum.Values
	default:
		if _, ok := enumOf(r); !ok {
			return nil, false
		}
		t := declared(s)
		if w.only != 0 {
			t &= w.only
		}
		if t == 0 || t&^(tNull|tBoolean) != 0 {
			return nil, false
		}
		if t&tNull != 0 {
			values = append(values, nil)
		}
		if t&tBoolean != 0 {
			values = append(values, false, true)
		}
	}
	if len(values) > maxFinite {
		return nil, false
	}
	var out []any
	for _, v := range values {
		if w.only != 0 && typeOfValue(v)&w.only == 0 {
			continue
		}
		if s.Validate(v) != nil {
			continue // the writer's other keywords exclude it
		}
		out = append(out, v)
	}
	return out, true
}

// checkValues validates each value the writer can write against the
// reader.
func (c *checker) checkValues(values []any, r node) []problem {
	var removed, rejected []string
	for _, v := range values {
		err := r.s.Validate(v)
		if err == nil {
			continue
		}
		if allowed, ok := enumOf(r); ok && !containsValue(allowed, v) {
			removed = append(removed, jsonText(v))
			continue
		}
		f := firstFailure(err)
		reason := f.Reason
		if f.Path != "" {
			reason = f.Path + ": " + reason
		}
		rejected = append(rejected, fmt.Sprintf("the writer's value %s is rejected (%s)", jsonText(v), reason))
	}
	var out []problem
	if len(removed) > 0 {
		out = append(out, problem{msg: narrowed(enumKeyword(r), removed)})
	}
	if len(rejected) > maxListed {
		rejected = append(rejected[:maxListed], fmt.Sprintf("and %d more of the writer's values are rejected", len(rejected)-maxListed))
	}
	for _, m := range rejected {
		out = append(out, problem{msg: m})
	}
	return out
}

// enumOf returns the values the reader's own enum or const allows.
func enumOf(r node) ([]any, bool) {
	if r.view != viewFull && r.view != viewBase {
		return nil, false
	}
	switch {
	case r.s.Const != nil:
		return []any{*r.s.Const}, true
	case r.s.Enum != nil:
		return r.s.Enum.Values, true
	}
	return nil, false
}

// enumKeyword names what limits the reader's values: "enum" or "const".
func enumKeyword(r node) string {
	if r.s.Enum == nil && r.s.Const != nil {
		return "const"
	}
	return "enum"
}

// narrowed words the writer's values a reader's enum or const leaves out.
func narrowed(keyword string, removed []string) string {
	word := "value"
	if len(removed) > 1 {
		word = "values"
	}
	return fmt.Sprintf("%s narrowed: %s %s of the writer not allowed", keyword, word, listed(removed))
}

func listed(items []string) string {
	if len(items) > maxListed {
		return strings.Join(items[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(items)-maxListed)
	}
	return strings.Join(items, ", ")
}

// typeOfValue is the JSON type of a decoded value.
func typeOfValue(v any) typeSet {
	switch v := v.(type) {
	case nil:
		return tNull
	case bool:
		return tBoolean
	case json.Number:
		if r, ok := ratOf(v); ok {
			if r.IsInt() {
				return tInteger
			}
			return tNumber
		}
		if !strings.ContainsAny(string(v), ".eE") {
			return tInteger
		}
		return tNumber
	case float64:
		if v == float64(int64(v)) {
			return tInteger
		}
		return tNumber
	case string:
		return tString
	case []any:
		return tArray
	case map[string]any:
		return tObject
	}
	return 0
}

func containsValue(values []any, v any) bool {
	k := valueKey(v)
	for _, x := range values {
		if valueKey(x) == k {
			return true
		}
	}
	return false
}

// maxNumberText bounds the number literals turned into exact rationals:
// math/big takes milliseconds for a literal of a million digits or an
// exponent near a million. Longer literals compare by their text.
const (
	maxNumberText     = 256
	maxNumberExponent = 400
)

// valueKey is a text two decoded JSON values share exactly when JSON
// Schema calls them equal: numbers by value (1 and 1.0 are equal),
// objects regardless of key order.
func valueKey(v any) string {
	var b strings.Builder
	writeKey(&b, v)
	return b.String()
}

func writeKey(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		b.WriteString(strconv.Quote(v))
	case json.Number:
		if r, ok := ratOf(v); ok {
			b.WriteString(r.RatString())
		} else {
			b.WriteString("#" + strings.ToLower(string(v)))
		}
	case float64:
		b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeKey(b, x)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(v) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			writeKey(b, v[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "?%v", v)
	}
}

// ratOf returns a number literal as an exact rational, unless it is too
// long or its exponent too large to convert cheaply.
func ratOf(n json.Number) (*big.Rat, bool) {
	if !numberIsSmall(string(n)) {
		return nil, false
	}
	return new(big.Rat).SetString(string(n))
}

// numberIsSmall reports whether a number literal is short and its
// exponent within ±maxNumberExponent.
func numberIsSmall(s string) bool {
	if len(s) > maxNumberText {
		return false
	}
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return true
	}
	exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
	return err == nil && exp >= -maxNumberExponent && exp <= maxNumberExponent
}

// jsonText writes a value compactly for a message.
func jsonText(v any) string {
	s, err := canonicalJSON(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}
