package expr

import (
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/tide-data/tide/internal/sql/ast"
	"github.com/tide-data/tide/internal/sql/types"
	"github.com/valyala/fastjson"
)

// JSON values are jsonb in canonical text form (see types.ParseJSON).
// Access parses the text with a pooled fastjson parser; the parsed tree
// lives only for the call.
var jsonParsers fastjson.ParserPool

// jsonPath is one step of a path: an object key, or an array index when
// the step reads as an integer.
type jsonPath []string

// jsonLookup follows path in doc and calls found with the value, or
// reports not found.
func jsonLookup(doc string, path jsonPath, intIndex []bool, found func(v *fastjson.Value) (types.Value, error), missing types.Value) (types.Value, error) {
	p := jsonParsers.Get()
	defer jsonParsers.Put(p)
	v, err := p.Parse(doc)
	if err != nil {
		return missing, &types.Error{Code: types.CodeInvalidTextRepresentation, Message: "invalid input syntax for type json"}
	}
	for i, step := range path {
		switch v.Type() {
		case fastjson.TypeObject:
			if intIndex != nil && intIndex[i] {
				return missing, nil
			}
			o, _ := v.Object()
			v = o.Get(step)
		case fastjson.TypeArray:
			n, err := strconv.Atoi(step)
			if err != nil {
				return missing, nil
			}
			a, _ := v.Array()
			if n < 0 {
				n += len(a)
			}
			if n < 0 || n >= len(a) {
				return missing, nil
			}
			v = a[n]
		default:
			return missing, nil
		}
		if v == nil {
			return missing, nil
		}
	}
	return found(v)
}

func jsonAsJSON(v *fastjson.Value) (types.Value, error) {
	b, err := types.AppendJSONB(nil, v)
	if err != nil {
		return types.Value{}, err
	}
	return types.NewJSON(string(b)), nil
}

func jsonAsText(v *fastjson.Value) (types.Value, error) {
	switch v.Type() {
	case fastjson.TypeNull:
		return types.Null(tText), nil
	case fastjson.TypeString:
		sb, _ := v.StringBytes()
		return types.NewText(string(sb)), nil
	}
	b, err := types.AppendJSONB(nil, v)
	if err != nil {
		return types.Value{}, err
	}
	return types.NewText(string(b)), nil
}

// parseTextArray reads a Postgres text[] literal such as '{a,b,"c d"}' as
// a path.
func parseTextArray(s string) (jsonPath, error) {
	t := strings.TrimSpace(s)
	if len(t) < 2 || t[0] != '{' || t[len(t)-1] != '}' {
		return nil, types.Errorf(types.CodeInvalidTextRepresentation, "malformed array literal: %q", s)
	}
	t = t[1 : len(t)-1]
	var out jsonPath
	if strings.TrimSpace(t) == "" {
		return out, nil
	}
	var cur strings.Builder
	inQ := false
	quoted := false
	for i := 0; i < len(t); i++ {
		ch := t[i]
		switch {
		case ch == '\\' && i+1 < len(t):
			i++
			cur.WriteByte(t[i])
		case ch == '"':
			inQ = !inQ
			quoted = true
		case ch == ',' && !inQ:
			el := cur.String()
			if !quoted {
				el = strings.TrimSpace(el)
			}
			out = append(out, el)
			cur.Reset()
			quoted = false
		default:
			cur.WriteByte(ch)
		}
	}
	el := cur.String()
	if !quoted {
		el = strings.TrimSpace(el)
	}
	return append(out, el), nil
}

// jsonOp compiles -> ->> #> #>>.
func (c *compiler) jsonOp(pos ast.Pos, op string, l, r *node) (*node, error) {
	var err error
	if l.unknown {
		if l, err = c.coerce(l, tJSON); err != nil {
			return nil, err
		}
	}
	if l.typ != tJSON && l.typ != types.KindNull {
		return nil, opError(pos, op, l.typ, r.typ)
	}
	asText := strings.HasSuffix(op, ">>") && op != ">>"
	ret := tJSON
	found := jsonAsJSON
	if asText {
		ret, found = tText, jsonAsText
	}
	null := types.Null(ret)
	if op == "#>" || op == "#>>" {
		if r, err = c.coerceText(r, op); err != nil {
			return nil, err
		}
		return c.binaryFn(pos, ret, l, r, func(a, b types.Value) (types.Value, error) {
			path, err := parseTextArray(b.Text())
			if err != nil {
				return null, err
			}
			return jsonLookup(a.Text(), path, nil, found, null)
		}), nil
	}
	if r.unknown || r.typ == types.KindNull {
		// Postgres resolves an unknown (or NULL) key to text: j -> NULL is NULL.
		if r, err = c.coerce(r, tText); err != nil {
			return nil, err
		}
	}
	switch {
	case r.typ == tText:
		return c.binaryFn(pos, ret, l, r, func(a, b types.Value) (types.Value, error) {
			return jsonLookup(a.Text(), jsonPath{b.Text()}, []bool{false}, func(v *fastjson.Value) (types.Value, error) {
				return found(v)
			}, null)
		}), nil
	case r.typ.IsInteger():
		return c.binaryFn(pos, ret, l, r, func(a, b types.Value) (types.Value, error) {
			return jsonLookup(a.Text(), jsonPath{strconv.FormatInt(b.Int(), 10)}, []bool{true}, found, null)
		}), nil
	}
	return nil, opError(pos, op, l.typ, r.typ)
}

func (c *compiler) jsonConcat(pos ast.Pos, l, r *node) (*node, error) {
	return c.binaryFn(pos, tJSON, l, r, func(a, b types.Value) (types.Value, error) {
		p := jsonParsers.Get()
		defer jsonParsers.Put(p)
		x, err := p.Parse(a.Text())
		if err != nil {
			return types.Value{}, err
		}
		var q fastjson.Parser
		y, err := q.Parse(b.Text())
		if err != nil {
			return types.Value{}, err
		}
		var arena fastjson.Arena
		var out *fastjson.Value
		switch {
		case x.Type() == fastjson.TypeObject && y.Type() == fastjson.TypeObject:
			out = arena.NewObject()
			ox, _ := x.Object()
			oy, _ := y.Object()
			ox.Visit(func(key []byte, v *fastjson.Value) { out.Set(string(key), v) })
			oy.Visit(func(key []byte, v *fastjson.Value) { out.Set(string(key), v) })
		default:
			out = arena.NewArray()
			i := 0
			for _, side := range []*fastjson.Value{x, y} {
				if side.Type() == fastjson.TypeArray {
					arr, _ := side.Array()
					for _, e := range arr {
						out.SetArrayItem(i, e)
						i++
					}
				} else {
					out.SetArrayItem(i, side)
					i++
				}
			}
		}
		return jsonAsJSON(out)
	}), nil
}

// jsonScalarCast is jsonb::numeric/integer/double/boolean/text.
func jsonScalarCast(to types.Kind) castFunc {
	want := map[types.Kind]fastjson.Type{tNum: fastjson.TypeNumber, tInt2: fastjson.TypeNumber, tInt4: fastjson.TypeNumber,
		tInt8: fastjson.TypeNumber, tFloat: fastjson.TypeNumber, tBool: fastjson.TypeTrue}
	if _, ok := want[to]; !ok {
		return nil
	}
	return func(v types.Value) (types.Value, error) {
		p := jsonParsers.Get()
		defer jsonParsers.Put(p)
		j, err := p.Parse(v.Text())
		if err != nil {
			return types.Value{}, err
		}
		t := j.Type()
		if to == tBool {
			if t != fastjson.TypeTrue && t != fastjson.TypeFalse {
				return types.Value{}, types.Errorf(types.CodeInvalidParameterValue, "cannot cast jsonb %s to type boolean", jsonTypeName(j))
			}
			return types.NewBool(t == fastjson.TypeTrue), nil
		}
		if t != fastjson.TypeNumber {
			return types.Value{}, types.Errorf(types.CodeInvalidParameterValue, "cannot cast jsonb %s to type %s", jsonTypeName(j), to)
		}
		d, err := types.ParseNumeric(string(j.MarshalTo(nil)))
		if err != nil {
			return types.Value{}, err
		}
		switch to {
		case tNum:
			return types.NewNumeric(d), nil
		case tFloat:
			f, _ := types.DecimalToFloat(d)
			return types.NewFloat8(f), nil
		}
		return numericToInt(d, to)
	}
}

func jsonTypeName(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeObject:
		return "object"
	case fastjson.TypeArray:
		return "array"
	case fastjson.TypeString:
		return "string"
	case fastjson.TypeNumber:
		return "number"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "boolean"
	}
	return "null"
}

func init() {
	typeOf := overload{args: k(tJSON), ret: tText, fn1: func(a types.Value) (types.Value, error) {
		p := jsonParsers.Get()
		defer jsonParsers.Put(p)
		v, err := p.Parse(a.Text())
		if err != nil {
			return types.Value{}, err
		}
		return types.NewText(jsonTypeName(v)), nil
	}}
	register("jsonb_typeof", typeOf)
	register("json_typeof", typeOf)
	arrLen := overload{args: k(tJSON), ret: tInt4, fn1: func(a types.Value) (types.Value, error) {
		p := jsonParsers.Get()
		defer jsonParsers.Put(p)
		v, err := p.Parse(a.Text())
		if err != nil {
			return types.Value{}, err
		}
		if v.Type() != fastjson.TypeArray {
			return types.Value{}, types.Errorf(types.CodeInvalidParameterValue, "cannot get array length of a non-array")
		}
		arr, _ := v.Array()
		return types.NewInt4(int32(len(arr))), nil
	}}
	register("jsonb_array_length", arrLen)
	register("json_array_length", arrLen)
	path := func(asText bool) overload {
		ret, found := tJSON, jsonAsJSON
		if asText {
			ret, found = tText, jsonAsText
		}
		return overload{args: k(tJSON), variadic: tText, ret: ret, fn: func(a []types.Value) (types.Value, error) {
			p := make(jsonPath, len(a)-1)
			for i, v := range a[1:] {
				p[i] = v.Text()
			}
			return jsonLookup(a[0].Text(), p, nil, found, types.Null(ret))
		}}
	}
	register("jsonb_extract_path", path(false))
	register("json_extract_path", path(false))
	register("jsonb_extract_path_text", path(true))
	register("json_extract_path_text", path(true))
	toJSON := func(c *compiler, f *ast.Func, args []*node) (*node, error) {
		if len(args) != 1 {
			return nil, c.noFunction(f, string(f.Name), args)
		}
		a := args[0]
		if a.unknown {
			a, _ = c.coerce(a, tText)
		}
		af := a.fn
		return c.newNode(tJSON, f.Pos, func(row types.Row) (types.Value, error) {
			v, err := af(row)
			if err != nil || v.IsNull() {
				return types.Null(tJSON), err
			}
			return types.NewJSON(string(appendToJSON(nil, v))), nil
		}, a), nil
	}
	specials["to_json"] = toJSON
	specials["to_jsonb"] = toJSON
	build := func(c *compiler, f *ast.Func, args []*node) (*node, error) {
		if len(args)%2 != 0 {
			return nil, errorf(f.Pos, types.CodeInvalidParameterValue, "argument list must have even number of elements")
		}
		for i, a := range args {
			if a.unknown {
				args[i], _ = c.coerce(a, tText)
			}
		}
		fns := fnsOf(args)
		return c.newNode(tJSON, f.Pos, func(row types.Row) (types.Value, error) {
			var buf []byte
			buf = append(buf, '{')
			for i := 0; i < len(fns); i += 2 {
				kv, err := fns[i](row)
				if err != nil {
					return kv, err
				}
				if kv.IsNull() {
					return types.Value{}, types.Errorf(types.CodeInvalidParameterValue, "argument %d: key must not be null", i+1)
				}
				vv, err := fns[i+1](row)
				if err != nil {
					return vv, err
				}
				if i > 0 {
					buf = append(buf, ',')
				}
				key := kv.Text()
				if kv.Kind() != tText {
					key = string(kv.AppendText(nil))
				}
				buf = types.AppendJSONString(buf, key)
				buf = append(buf, ':')
				if vv.IsNull() {
					buf = append(buf, "null"...)
				} else {
					buf = appendToJSON(buf, vv)
				}
			}
			buf = append(buf, '}')
			return types.ParseJSON(string(buf))
		}, args...), nil
	}
	specials["jsonb_build_object"] = build
	specials["json_build_object"] = build
}

// appendToJSON is to_jsonb of a scalar: numbers and booleans as
// themselves, JSON as is, timestamps in ISO 8601 with T, everything else
// as a JSON string of its text output.
func appendToJSON(dst []byte, v types.Value) []byte {
	switch v.Kind() {
	case tInt2, tInt4, tInt8, tNum:
		if v.Kind() == tNum && v.Decimal().Form != apd.Finite {
			return types.AppendJSONString(dst, v.String())
		}
		return v.AppendText(dst)
	case tFloat:
		s := v.String()
		if s == "NaN" || strings.HasSuffix(s, "Infinity") {
			return types.AppendJSONString(dst, s)
		}
		// A jsonb number is a numeric: Postgres reads float8's text as one
		// (1e+20 is 100000000000000000000, -0 is 0).
		if d, err := types.ParseNumeric(s); err == nil {
			return types.NewNumeric(d).AppendText(dst)
		}
		return append(dst, s...)
	case tBool:
		if v.Bool() {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case tJSON:
		return append(dst, v.Text()...)
	case tTS, tTSTZ:
		s := v.String()
		if len(s) > 10 && s[10] == ' ' {
			s = s[:10] + "T" + s[11:]
		}
		if v.Kind() == tTSTZ && strings.HasSuffix(s, "+00") {
			s += ":00"
		}
		return types.AppendJSONString(dst, s)
	}
	return types.AppendJSONString(dst, v.String())
}
