package types

import (
	"encoding/json"
	"sort"
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
	if err != nil {
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
