package avro

import (
	hamba "github.com/hamba/avro/v2"
)

// A plan is what the JSON encoder needs of one node of a schema, worked
// out once by Parse so that encoding a document does no map look-up of
// records or enums and no type switch on hamba's tree. Plans are
// immutable once Parse returns and shared by every goroutine encoding
// with the Schema. A recursive schema has a cyclic plan: a named record
// has one plan, which every reference to it points to.
type plan struct {
	kind planKind
	// accepts is the JSON types a value of this node may have (a bit per
	// jsonType): a union skips the branches that cannot take a value
	// without building an error for each.
	accepts uint8
	// name is the full name of a record, enum or fixed, for messages.
	name string
	// typ names an unsupported type in its message.
	typ hamba.Type

	size    int            // fixed
	items   *plan          // array items, map values
	symbols map[string]int // enum: symbol -> index

	// record
	record *recordInfo // defaults; nil is an internal error, reported when used
	fields []fieldPlan

	// union
	branches []*plan
	types    hamba.Schemas // for messages
	tags     []unionTag    // the names of Avro's JSON encoding, in branch order
	only     int           // the only non-null branch, -1 unless there is exactly one
}

type planKind uint8

const (
	kindUnsupported planKind = iota
	kindNull
	kindBoolean
	kindInt
	kindLong
	kindFloat
	kindDouble
	kindString
	kindBytes
	kindFixed
	kindEnum
	kindArray
	kindMap
	kindRecord
	kindUnion
	kindUnsupportedPrimitive
)

// fieldPlan is one field of a record.
type fieldPlan struct {
	name string
	// plain is set when the name needs no escaping in JSON, so that a key
	// equal to it byte for byte, quotes around, is the field.
	plain bool
	plan  *plan
}

// unionTag is a name that designates a branch in Avro's JSON encoding of
// a union, {"name": value}.
type unionTag struct {
	name   string
	branch int
}

// planFor returns the plan of s, building the plans of the named types it
// meets once. The builder's record and enum tables must already hold
// every named type s uses.
func (b *builder) planFor(s hamba.Schema) *plan {
	s = deref(s)
	switch s := s.(type) {
	case *hamba.NullSchema:
		return &plan{kind: kindNull, accepts: jsonNull.bit()}
	case *hamba.PrimitiveSchema:
		return primitivePlan(s.Type())
	case *hamba.RecordSchema:
		if p := b.plans[s]; p != nil {
			return p
		}
		p := &plan{kind: kindRecord, accepts: jsonObject.bit(), name: s.FullName(), record: b.records[s]}
		b.plans[s] = p // before the fields: they may refer to s
		fields := s.Fields()
		p.fields = make([]fieldPlan, len(fields))
		for i, f := range fields {
			p.fields[i] = fieldPlan{name: f.Name(), plain: plainJSONString(f.Name()), plan: b.planFor(f.Type())}
		}
		return p
	case *hamba.EnumSchema:
		if p := b.plans[s]; p != nil {
			return p
		}
		p := &plan{kind: kindEnum, accepts: jsonString.bit(), name: s.FullName(), symbols: b.enums[s]}
		b.plans[s] = p
		return p
	case *hamba.FixedSchema:
		if p := b.plans[s]; p != nil {
			return p
		}
		p := &plan{kind: kindFixed, accepts: jsonString.bit(), name: s.FullName(), size: s.Size()}
		b.plans[s] = p
		return p
	case *hamba.ArraySchema:
		return &plan{kind: kindArray, accepts: jsonArray.bit(), items: b.planFor(s.Items())}
	case *hamba.MapSchema:
		return &plan{kind: kindMap, accepts: jsonObject.bit(), items: b.planFor(s.Values())}
	case *hamba.UnionSchema:
		types := s.Types()
		p := &plan{kind: kindUnion, accepts: anyJSON, types: types, only: -1, branches: make([]*plan, len(types))}
		nonNulls := 0
		for i, t := range types {
			p.branches[i] = b.planFor(t)
			t = deref(t)
			if n, ok := t.(hamba.NamedSchema); ok {
				p.tags = append(p.tags, unionTag{n.FullName(), i}, unionTag{n.Name(), i})
			} else {
				p.tags = append(p.tags, unionTag{string(t.Type()), i})
			}
			if t.Type() != hamba.Null {
				nonNulls++
				p.only = i
			}
		}
		if nonNulls != 1 {
			p.only = -1
		}
		return p
	}
	return &plan{kind: kindUnsupported, accepts: anyJSON, typ: s.Type()}
}

func primitivePlan(t hamba.Type) *plan {
	switch t {
	case hamba.Null:
		return &plan{kind: kindNull, accepts: jsonNull.bit()}
	case hamba.Boolean:
		return &plan{kind: kindBoolean, accepts: jsonBoolean.bit()}
	case hamba.Int:
		return &plan{kind: kindInt, accepts: jsonNumber.bit()}
	case hamba.Long:
		return &plan{kind: kindLong, accepts: jsonNumber.bit()}
	case hamba.Float:
		return &plan{kind: kindFloat, accepts: jsonNumber.bit() | jsonString.bit()}
	case hamba.Double:
		return &plan{kind: kindDouble, accepts: jsonNumber.bit() | jsonString.bit()}
	case hamba.String:
		return &plan{kind: kindString, accepts: jsonString.bit()}
	case hamba.Bytes:
		return &plan{kind: kindBytes, accepts: jsonString.bit()}
	}
	return &plan{kind: kindUnsupportedPrimitive, accepts: anyJSON, typ: t}
}

// tag returns the branch a name of Avro's JSON encoding of the union
// designates, -1 for none: the first branch whose type (a primitive's
// name, "array", "map") or full or short name (a named type) it is.
func (p *plan) tag(name []byte) int {
	for _, t := range p.tags {
		if t.name == string(name) {
			return t.branch
		}
	}
	return -1
}

// plainJSONString reports whether s is written in JSON as itself between
// quotes, with no escape.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
