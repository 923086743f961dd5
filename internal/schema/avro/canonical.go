package avro

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	hamba "github.com/hamba/avro/v2"
	"github.com/valyala/fastjson"
)

// builder walks a schema's JSON text alongside the tree hamba/avro parsed
// from it. The text gives what hamba's tree loses or alters (defaults
// exactly as written: hamba turns the bytes default "\u00ff" into base64
// and truncates the int default 1.5 to 1; custom attributes with large
// numbers); the tree gives the resolved full names. The walk writes the
// canonical form and collects the per-record and per-enum tables the
// codecs use.
type builder struct {
	buf     []byte
	records map[*hamba.RecordSchema]*recordInfo
	order   []*recordInfo // records in the order they were defined
	enums   map[*hamba.EnumSchema]map[string]int
	plans   map[hamba.NamedSchema]*plan // the plans of named types, built on demand
}

// recordInfo is what EncodeJSON needs of a record beyond hamba's tree.
type recordInfo struct {
	rec      *hamba.RecordSchema
	index    map[string]int // field name -> position
	defaults [][]byte       // Avro binary of each field's default; nil when it has none

	// While parsing only.
	rawDefaults []*fastjson.Value
	state       []defaultState
}

type defaultState uint8

const (
	defaultPending defaultState = iota
	defaultComputing
	defaultDone
)

func newBuilder() *builder {
	return &builder{
		records: map[*hamba.RecordSchema]*recordInfo{},
		enums:   map[*hamba.EnumSchema]map[string]int{},
		plans:   map[hamba.NamedSchema]*plan{},
	}
}

// Attributes each kind of schema object defines; the others are custom
// attributes (logicalType among them), kept in the canonical form.
var (
	recordKeys    = []string{"type", "name", "namespace", "doc", "aliases", "fields"}
	fieldKeys     = []string{"name", "type", "default", "order", "aliases", "doc"}
	enumKeys      = []string{"type", "name", "namespace", "aliases", "doc", "symbols", "default"}
	fixedKeys     = []string{"type", "name", "namespace", "aliases", "size"}
	arrayKeys     = []string{"type", "items"}
	mapKeys       = []string{"type", "values"}
	primitiveKeys = []string{"type"}
)

func outOfStep(path string) error {
	return fmt.Errorf("avro: internal error: schema walk out of step with the parser at %s", pointerOrRoot(path))
}

// schema walks raw (a schema in JSON) and hs, what hamba parsed from it;
// path is raw's JSON Pointer in the text, for messages.
func (b *builder) schema(raw *fastjson.Value, hs hamba.Schema, path string) error {
	if raw == nil {
		// hamba matches attribute names regardless of case ("tYpe"); the
		// specification's names are case-sensitive, and such a schema is
		// refused rather than read two ways.
		return fmt.Errorf("no \"type\" at %s (Avro attribute names are case-sensitive)", pointerOrRoot(path))
	}
	hs = deref(hs)
	switch raw.Type() {
	case fastjson.TypeString, fastjson.TypeNull:
		// A primitive type or a reference to a named type.
		b.typeName(hs)
		return nil
	case fastjson.TypeArray:
		us, ok := hs.(*hamba.UnionSchema)
		if !ok {
			return outOfStep(path)
		}
		branches, _ := raw.Array()
		if len(branches) != len(us.Types()) {
			return outOfStep(path)
		}
		b.buf = append(b.buf, '[')
		for i, br := range branches {
			if i > 0 {
				b.buf = append(b.buf, ',')
			}
			if err := b.schema(br, us.Types()[i], path+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		b.buf = append(b.buf, ']')
		return nil
	case fastjson.TypeObject:
	default:
		return outOfStep(path)
	}

	o, _ := raw.Object()
	typ := o.Get("type")
	if typ != nil && typ.Type() == fastjson.TypeArray {
		// {"type": [...]}: hamba/avro reads it as the union.
		return b.schema(typ, hs, path+"/type")
	}
	if typ == nil || typ.Type() != fastjson.TypeString {
		return outOfStep(path)
	}
	switch t := hamba.Type(typ.GetStringBytes()); t {
	case hamba.Record, hamba.Error:
		rec, ok := hs.(*hamba.RecordSchema)
		if !ok {
			return outOfStep(path)
		}
		return b.record(o, string(t), rec, path)
	case hamba.Enum:
		es, ok := hs.(*hamba.EnumSchema)
		if !ok {
			return outOfStep(path)
		}
		b.enum(o, es)
		return nil
	case hamba.Fixed:
		fs, ok := hs.(*hamba.FixedSchema)
		if !ok {
			return outOfStep(path)
		}
		b.start(`{"type":"fixed","name":`)
		b.str(fs.FullName())
		b.aliases(fs.Aliases())
		b.start(`,"size":`)
		b.buf = strconv.AppendInt(b.buf, int64(fs.Size()), 10)
		b.props(o, fixedKeys)
		b.buf = append(b.buf, '}')
		return nil
	case hamba.Array:
		as, ok := hs.(*hamba.ArraySchema)
		if !ok {
			return outOfStep(path)
		}
		b.start(`{"type":"array","items":`)
		if err := b.schema(o.Get("items"), as.Items(), path+"/items"); err != nil {
			return err
		}
		b.props(o, arrayKeys)
		b.buf = append(b.buf, '}')
		return nil
	case hamba.Map:
		ms, ok := hs.(*hamba.MapSchema)
		if !ok {
			return outOfStep(path)
		}
		b.start(`{"type":"map","values":`)
		if err := b.schema(o.Get("values"), ms.Values(), path+"/values"); err != nil {
			return err
		}
		b.props(o, mapKeys)
		b.buf = append(b.buf, '}')
		return nil
	case hamba.Null, hamba.Boolean, hamba.Int, hamba.Long, hamba.Float, hamba.Double, hamba.Bytes, hamba.String:
		if o.Len() == 1 {
			b.str(string(t))
			return nil
		}
		b.start(`{"type":`)
		b.str(string(t))
		b.props(o, primitiveKeys)
		b.buf = append(b.buf, '}')
		return nil
	default:
		// {"type": "com.acme.Money", ...}: a reference; hamba/avro
		// ignores the other attributes, and so does the canonical form.
		b.typeName(hs)
		return nil
	}
}

func (b *builder) record(o *fastjson.Object, typ string, rec *hamba.RecordSchema, path string) error {
	fields := rec.Fields()
	ri := b.records[rec]
	if ri == nil {
		ri = &recordInfo{
			rec:         rec,
			index:       make(map[string]int, len(fields)),
			defaults:    make([][]byte, len(fields)),
			rawDefaults: make([]*fastjson.Value, len(fields)),
			state:       make([]defaultState, len(fields)),
		}
		for i, f := range fields {
			ri.index[f.Name()] = i
		}
		b.records[rec] = ri
		b.order = append(b.order, ri)
	}

	b.start(`{"type":`)
	b.str(typ)
	b.start(`,"name":`)
	b.str(rec.FullName())
	b.aliases(rec.Aliases())
	b.doc(o)
	b.start(`,"fields":[`)
	var rawFields []*fastjson.Value
	if v := o.Get("fields"); v != nil && v.Type() == fastjson.TypeArray {
		rawFields, _ = v.Array()
	}
	if len(rawFields) != len(fields) {
		return outOfStep(path)
	}
	for i, rf := range rawFields {
		fo, err := rf.Object()
		if err != nil {
			return outOfStep(path)
		}
		f := fields[i]
		fpath := path + "/fields/" + strconv.Itoa(i)
		if i > 0 {
			b.buf = append(b.buf, ',')
		}
		b.start(`{"name":`)
		b.str(f.Name())
		b.start(`,"type":`)
		if err := b.schema(fo.Get("type"), f.Type(), fpath+"/type"); err != nil {
			return err
		}
		if d := fo.Get("default"); d != nil {
			b.start(`,"default":`)
			b.json(d)
			ri.rawDefaults[i] = d
		}
		if f.Order() != "" && f.Order() != hamba.Asc {
			b.start(`,"order":`)
			b.str(string(f.Order()))
		}
		if len(f.Aliases()) > 0 {
			b.start(`,"aliases":`)
			b.strs(f.Aliases())
		}
		b.doc(fo)
		b.props(fo, fieldKeys)
		b.buf = append(b.buf, '}')
	}
	b.buf = append(b.buf, ']')
	b.props(o, recordKeys)
	b.buf = append(b.buf, '}')
	return nil
}

func (b *builder) enum(o *fastjson.Object, es *hamba.EnumSchema) {
	if _, ok := b.enums[es]; !ok {
		idx := make(map[string]int, len(es.Symbols()))
		for i, s := range es.Symbols() {
			idx[s] = i
		}
		b.enums[es] = idx
	}
	b.start(`{"type":"enum","name":`)
	b.str(es.FullName())
	b.aliases(es.Aliases())
	b.doc(o)
	b.start(`,"symbols":`)
	b.strs(es.Symbols())
	if d := o.Get("default"); d != nil {
		b.start(`,"default":`)
		b.json(d)
	}
	b.props(o, enumKeys)
	b.buf = append(b.buf, '}')
}

// typeName writes a reference to hs: a named type's full name, or a
// primitive's name.
func (b *builder) typeName(hs hamba.Schema) {
	if n, ok := hs.(hamba.NamedSchema); ok {
		b.str(n.FullName())
		return
	}
	b.str(string(hs.Type()))
}

func (b *builder) start(s string) { b.buf = append(b.buf, s...) }

func (b *builder) str(s string) { b.buf = appendJSONString(b.buf, s) }

func (b *builder) strs(ss []string) {
	b.buf = append(b.buf, '[')
	for i, s := range ss {
		if i > 0 {
			b.buf = append(b.buf, ',')
		}
		b.str(s)
	}
	b.buf = append(b.buf, ']')
}

func (b *builder) aliases(aliases []string) {
	if len(aliases) == 0 {
		return
	}
	b.start(`,"aliases":`)
	b.strs(aliases)
}

func (b *builder) doc(o *fastjson.Object) {
	if d := o.Get("doc"); d != nil {
		b.start(`,"doc":`)
		b.json(d)
	}
}

// props writes the object's custom attributes, sorted by key.
func (b *builder) props(o *fastjson.Object, reserved []string) {
	for _, kv := range sortedMembers(o) {
		if slices.Contains(reserved, kv.key) {
			continue
		}
		b.buf = append(b.buf, ',')
		b.str(kv.key)
		b.buf = append(b.buf, ':')
		b.json(kv.value)
	}
}

func (b *builder) json(v *fastjson.Value) { b.buf = appendJSON(b.buf, v) }

// appendJSON writes v compactly with object keys sorted and strings
// escaped one way; numbers keep their text. (fastjson's MarshalTo quotes
// strings the Go way, "\a", which JSON does not allow.)
func appendJSON(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		for i, kv := range sortedMembers(o) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, kv.key)
			dst = append(dst, ':')
			dst = appendJSON(dst, kv.value)
		}
		return append(dst, '}')
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, e := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e)
		}
		return append(dst, ']')
	case fastjson.TypeString:
		return appendJSONString(dst, string(v.GetStringBytes()))
	}
	return v.MarshalTo(dst) // numbers, true, false, null
}

// withoutDefaults writes the schema v with its fields' defaults left out,
// everything else as in v.
func withoutDefaults(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeArray: // a union
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, e := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = withoutDefaults(dst, e)
		}
		return append(dst, ']')
	case fastjson.TypeObject:
	default:
		return appendJSON(dst, v)
	}
	o, _ := v.Object()
	typ := string(o.Get("type").GetStringBytes())
	dst = append(dst, '{')
	for i, kv := range sortedMembers(o) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, kv.key)
		dst = append(dst, ':')
		switch {
		case kv.key == "type" && kv.value.Type() != fastjson.TypeString,
			kv.key == "items" && typ == "array",
			kv.key == "values" && typ == "map":
			dst = withoutDefaults(dst, kv.value)
		case kv.key == "fields" && (typ == "record" || typ == "error") && kv.value.Type() == fastjson.TypeArray:
			fields, _ := kv.value.Array()
			dst = append(dst, '[')
			for j, f := range fields {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = fieldWithoutDefault(dst, f)
			}
			dst = append(dst, ']')
		default:
			dst = appendJSON(dst, kv.value)
		}
	}
	return append(dst, '}')
}

func fieldWithoutDefault(dst []byte, f *fastjson.Value) []byte {
	if f.Type() != fastjson.TypeObject {
		return appendJSON(dst, f)
	}
	o, _ := f.Object()
	dst = append(dst, '{')
	n := 0
	for _, kv := range sortedMembers(o) {
		if kv.key == "default" {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = appendJSONString(dst, kv.key)
		dst = append(dst, ':')
		if kv.key == "type" {
			dst = withoutDefaults(dst, kv.value)
		} else {
			dst = appendJSON(dst, kv.value)
		}
	}
	return append(dst, '}')
}

type member struct {
	key   string
	value *fastjson.Value
}

func sortedMembers(o *fastjson.Object) []member {
	ms := make([]member, 0, o.Len())
	o.Visit(func(k []byte, v *fastjson.Value) {
		ms = append(ms, member{string(k), v})
	})
	slices.SortFunc(ms, func(a, b member) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	return ms
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, everything else as UTF-8 (invalid bytes
// become U+FFFD).
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// computeDefaults encodes every field default found by the walk, which
// checks it strictly: an int default must be an integer in range, a fixed
// default must have the fixed's size, a union default must match the
// union's first branch.
func (b *builder) computeDefaults() error {
	for _, ri := range b.order {
		for i := range ri.rec.Fields() {
			if _, err := b.ensureDefault(ri, i); err != nil {
				return err
			}
		}
	}
	for _, ri := range b.order {
		ri.rawDefaults, ri.state = nil, nil
	}
	b.order = b.order[:0]
	return nil
}

// clone returns a builder that knows the records and enums b knows, for
// a trial parse that must not add to b's tables.
func (b *builder) clone() *builder {
	c := newBuilder()
	maps.Copy(c.records, b.records)
	maps.Copy(c.enums, b.enums)
	return c
}

// ensureDefault returns the encoded default of field i of ri, encoding it
// first if needed; nil when the field has no default.
func (b *builder) ensureDefault(ri *recordInfo, i int) ([]byte, error) {
	if ri.state == nil { // computed by an earlier computeDefaults
		return ri.defaults[i], nil
	}
	switch ri.state[i] {
	case defaultDone:
		return ri.defaults[i], nil
	case defaultComputing:
		return nil, fmt.Errorf("avro: the default of field %q of %s contains itself", ri.rec.Fields()[i].Name(), ri.rec.FullName())
	}
	raw := ri.rawDefaults[i]
	if raw == nil {
		ri.state[i] = defaultDone
		return nil, nil
	}
	ri.state[i] = defaultComputing
	f := ri.rec.Fields()[i]
	// The default is written out as JSON again (numbers as in the text)
	// for the encoder; a missing field of a record in it takes its own
	// default, computed now if it has not been.
	e := encoder{builder: b, strict: true}
	defer e.release()
	out, derr := e.encode(make([]byte, 0, 16), b.planFor(f.Type()), appendJSON(nil, raw), true)
	if derr != nil {
		derr = derr.finish()
		where := ""
		if derr.Path != "" {
			where = " at " + derr.Path
		}
		return nil, fmt.Errorf("avro: invalid default for field %q of %s%s: %s", f.Name(), ri.rec.FullName(), where, derr.Reason)
	}
	ri.defaults[i] = out
	ri.state[i] = defaultDone
	return out, nil
}
