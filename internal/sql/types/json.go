package types

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

var jsonParsers fastjson.ParserPool

var jsonBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// ParseJSON validates JSON text and returns it in jsonb's canonical form:
// object keys sorted (shorter first, then bytewise), duplicate keys keep
// the last value, numbers as numeric text, one space after ':' and ','.
func ParseJSON(s string) (Value, error) {
	p := jsonParsers.Get()
	defer jsonParsers.Put(p)
	v, err := p.Parse(s)
	if err != nil || (strings.Contains(s, `\u`) && !validJSONSurrogates(s)) {
		return Value{}, &Error{Code: CodeInvalidTextRepresentation, Message: "invalid input syntax for type json"}
	}
	bp := jsonBufPool.Get().(*[]byte)
	out, err := AppendJSONB((*bp)[:0], v)
	res := string(out)
	*bp = out
	jsonBufPool.Put(bp)
	if err != nil {
		return Value{}, err
	}
	return NewJSON(res), nil
}

// validJSONSurrogates reports whether each \u escape of a UTF-16
// surrogate in the JSON text s is a high one followed by a low one.
// Postgres rejects a lone surrogate; fastjson would keep its six
// characters as text.
func validJSONSurrogates(s string) bool {
	hex4 := func(i int) int { // the \uXXXX escape at s[i:], or -1
		if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
			return -1
		}
		r, err := strconv.ParseUint(s[i+2:i+6], 16, 16)
		if err != nil {
			return -1
		}
		return int(r)
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		switch r := hex4(i); {
		case r >= 0xdc00 && r <= 0xdfff:
			return false
		case r >= 0xd800 && r <= 0xdbff:
			if lo := hex4(i + 6); lo < 0xdc00 || lo > 0xdfff {
				return false
			}
			i += 11 // past both escapes
		default:
			i++ // past the escaped character
		}
	}
	return true
}

// AppendJSONB appends v in jsonb's canonical text form.
func AppendJSONB(dst []byte, v *fastjson.Value) ([]byte, error) {
	switch v.Type() {
	case fastjson.TypeNull:
		return append(dst, "null"...), nil
	case fastjson.TypeTrue:
		return append(dst, "true"...), nil
	case fastjson.TypeFalse:
		return append(dst, "false"...), nil
	case fastjson.TypeNumber:
		// fastjson takes NaN, inf, +1, .5 and 01 as numbers and
		// ParseNumeric reads them; JSON (and Postgres' jsonb) does not.
		// The text holds only number bytes, so json.Valid checks it
		// against JSON's number grammar.
		num := v.MarshalTo(nil)
		if !json.Valid(num) {
			return dst, &Error{Code: CodeInvalidTextRepresentation, Message: "invalid input syntax for type json"}
		}
		d, err := ParseNumeric(string(num))
		if err != nil {
			return dst, &Error{Code: CodeInvalidTextRepresentation, Message: "invalid input syntax for type json"}
		}
		return appendNumeric(dst, d), nil
	case fastjson.TypeString:
		sb, _ := v.StringBytes()
		if !utf8.Valid(sb) {
			return dst, &Error{Code: CodeUntranslatableCharacter, Message: "invalid byte sequence in JSON string"}
		}
		for _, c := range sb {
			if c == 0 {
				return dst, &Error{Code: CodeUntranslatableCharacter, Message: "unsupported Unicode escape sequence"}
			}
		}
		return AppendJSONString(dst, string(sb)), nil
	case fastjson.TypeArray:
		arr, _ := v.Array()
		dst = append(dst, '[')
		for i, e := range arr {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			var err error
			if dst, err = AppendJSONB(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case fastjson.TypeObject:
		obj, _ := v.Object()
		type kv struct {
			k string
			v *fastjson.Value
		}
		var kvs []kv
		obj.Visit(func(key []byte, val *fastjson.Value) {
			kvs = append(kvs, kv{string(key), val})
		})
		// Last duplicate wins: stable sort, then keep the last of each run.
		sort.SliceStable(kvs, func(i, j int) bool { return jsonbKeyLess(kvs[i].k, kvs[j].k) })
		dst = append(dst, '{')
		first := true
		for i := range kvs {
			if i+1 < len(kvs) && kvs[i+1].k == kvs[i].k {
				continue
			}
			if !first {
				dst = append(dst, ", "...)
			}
			first = false
			if !utf8.ValidString(kvs[i].k) {
				return dst, &Error{Code: CodeUntranslatableCharacter, Message: "invalid byte sequence in JSON string"}
			}
			dst = AppendJSONString(dst, kvs[i].k)
			dst = append(dst, ": "...)
			var err error
			if dst, err = AppendJSONB(dst, kvs[i].v); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	return dst, &Error{Code: CodeInvalidTextRepresentation, Message: "invalid input syntax for type json"}
}

func jsonbKeyLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// AppendJSONString appends s as a JSON string literal, escaping as
// Postgres' escape_json does.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			dst = append(dst, `\"`...)
		case '\\':
			dst = append(dst, `\\`...)
		case '\b':
			dst = append(dst, `\b`...)
		case '\f':
			dst = append(dst, `\f`...)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\t':
			dst = append(dst, `\t`...)
		default:
			if c < 0x20 {
				dst = append(dst, `\u00`...)
				dst = append(dst, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"')
}

// compareJSONB orders two canonical jsonb texts as Postgres'
// compareJsonbContainers does: by type (null < string < number < boolean
// < array < object), numbers by value (1 = 1.0), strings bytewise,
// arrays and objects by size first, then element by element (an object
// key by key, in storage order, each key before its value).
func compareJSONB(a, b string) int {
	if a == b {
		return 0
	}
	pa, pb := jsonParsers.Get(), jsonParsers.Get()
	defer jsonParsers.Put(pa)
	defer jsonParsers.Put(pb)
	va, err1 := pa.Parse(a)
	vb, err2 := pb.Parse(b)
	if err1 != nil || err2 != nil { // not canonical jsonb text
		return strings.Compare(a, b)
	}
	return compareJSONBValue(va, vb, true)
}

const jsonbRankArray = 4

func jsonbRank(t fastjson.Type) int {
	switch t {
	case fastjson.TypeNull:
		return 0
	case fastjson.TypeString:
		return 1
	case fastjson.TypeNumber:
		return 2
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return 3
	case fastjson.TypeArray:
		return jsonbRankArray
	}
	return 5
}

func compareJSONBValue(a, b *fastjson.Value, top bool) int {
	ra, rb := jsonbRank(a.Type()), jsonbRank(b.Type())
	// Postgres stores a top-level scalar as a one-element array, so it
	// sorts below an array, except an empty one (fewer elements).
	if top && (ra < jsonbRankArray) != (rb < jsonbRankArray) && ra <= jsonbRankArray && rb <= jsonbRankArray {
		if ra == jsonbRankArray {
			return -compareJSONBValue(b, a, true)
		}
		if arr, _ := b.Array(); len(arr) == 0 {
			return 1
		}
		return -1
	}
	if ra != rb {
		return cmpInt(int64(ra), int64(rb))
	}
	switch a.Type() {
	case fastjson.TypeString:
		sa, _ := a.StringBytes()
		sb, _ := b.StringBytes()
		return strings.Compare(string(sa), string(sb))
	case fastjson.TypeNumber:
		da, err1 := ParseNumeric(string(a.MarshalTo(nil)))
		db, err2 := ParseNumeric(string(b.MarshalTo(nil)))
		if err1 != nil || err2 != nil {
			return 0
		}
		return CompareDecimal(da, db)
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return cmpInt(int64(ra), int64(rb)) + cmpBool(a.Type() == fastjson.TypeTrue, b.Type() == fastjson.TypeTrue)
	case fastjson.TypeArray:
		ea, _ := a.Array()
		eb, _ := b.Array()
		if len(ea) != len(eb) {
			return cmpInt(int64(len(ea)), int64(len(eb)))
		}
		for i := range ea {
			if c := compareJSONBValue(ea[i], eb[i], false); c != 0 {
				return c
			}
		}
	case fastjson.TypeObject:
		oa, _ := a.Object()
		ob, _ := b.Object()
		if oa.Len() != ob.Len() {
			return cmpInt(int64(oa.Len()), int64(ob.Len()))
		}
		type kv struct {
			k string
			v *fastjson.Value
		}
		var kvs []kv
		ob.Visit(func(k []byte, v *fastjson.Value) { kvs = append(kvs, kv{string(k), v}) })
		c, i := 0, 0
		oa.Visit(func(k []byte, v *fastjson.Value) {
			if c == 0 {
				if c = strings.Compare(string(k), kvs[i].k); c == 0 {
					c = compareJSONBValue(v, kvs[i].v, false)
				}
			}
			i++
		})
		return c
	}
	return 0
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
