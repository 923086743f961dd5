package protobuf

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tide-data/tide/internal/schema"
)

// Compatible returns why messages written with writer cannot be read with
// reader, by the subset of Confluent's Protobuf rules (its SchemaDiff, with
// the writer as the original and the reader as the update) that decide
// most real cases:
//
//   - the package is the same;
//   - every message of the writer is in the reader (by name, at the same
//     nesting; map entries aside);
//   - a field number present in both keeps its kind (scalar, message, map)
//     and, for a scalar, its wire-compatible group: {int32, int64, uint32,
//     uint64, bool, enums}, {sint32, sint64}, {string, bytes}, {fixed32,
//     sfixed32}, {fixed64, sfixed64}, {float}, {double}; a message field
//     keeps its message's name (relative to the package), and that
//     message is compared in turn;
//   - no required field (proto2) is added or removed;
//   - no field of a oneof is removed; no two fields move into one oneof,
//     and no field moves into a oneof that holds fields of an old one.
//
// Adding or removing optional fields, messages of the reader, enums and
// enum values, and renaming fields are compatible, as in Confluent. Each
// message names the message and field.
func (format) Compatible(reader, writer schema.Parsed) []string {
	r, ok := reader.(*Schema)
	if !ok || r == nil {
		return []string{fmt.Sprintf("the reader schema is %s, not PROTOBUF", reader.Type())}
	}
	w, ok := writer.(*Schema)
	if !ok || w == nil {
		return []string{fmt.Sprintf("the writer schema is %s, not PROTOBUF", writer.Type())}
	}
	d := differ{seen: map[[2]protoreflect.FullName]bool{}}
	if w.file.Package() != r.file.Package() {
		d.add("package differs: reader's %q, writer's %q", r.file.Package(), w.file.Package())
	}
	d.messages(w.file.Messages(), r.file.Messages())
	return d.msgs
}

// differ compares a writer's descriptors (the original) with a reader's
// (the update).
type differ struct {
	msgs []string
	seen map[[2]protoreflect.FullName]bool // message pairs compared
}

func (d *differ) add(format string, args ...any) {
	d.msgs = append(d.msgs, fmt.Sprintf(format, args...))
}

func (d *differ) messages(writer, reader protoreflect.MessageDescriptors) {
	for i := range writer.Len() {
		wm := writer.Get(i)
		if wm.IsMapEntry() {
			continue
		}
		rm := reader.ByName(wm.Name())
		if rm == nil {
			d.add("message %s is in the writer's schema, not the reader's", wm.FullName())
			continue
		}
		d.message(wm, rm)
	}
}

func (d *differ) message(wm, rm protoreflect.MessageDescriptor) {
	key := [2]protoreflect.FullName{wm.FullName(), rm.FullName()}
	if d.seen[key] {
		return
	}
	d.seen[key] = true

	wfs, rfs := wm.Fields(), rm.Fields()
	for i := range wfs.Len() {
		wf := wfs.Get(i)
		rf := rfs.ByNumber(wf.Number())
		switch {
		case rf != nil:
			d.field(rm, wf, rf)
		case wf.Cardinality() == protoreflect.Required:
			d.add("message %s: required field %s = %d is in the writer's schema, not the reader's", rm.FullName(), wf.Name(), wf.Number())
		case realOneof(wf) != nil:
			d.add("message %s: field %s = %d of oneof %s is in the writer's schema, not the reader's",
				rm.FullName(), wf.Name(), wf.Number(), realOneof(wf).Name())
		}
	}
	for i := range rfs.Len() {
		rf := rfs.Get(i)
		if rf.Cardinality() == protoreflect.Required && wfs.ByNumber(rf.Number()) == nil {
			d.add("message %s: required field %s = %d is in the reader's schema, not the writer's", rm.FullName(), rf.Name(), rf.Number())
		}
	}

	// Fields moved into a oneof: the writer may have set them together.
	oneofs := rm.Oneofs()
	for i := range oneofs.Len() {
		ro := oneofs.Get(i)
		if ro.IsSynthetic() {
			continue
		}
		var moved []string
		existing := 0
		fields := ro.Fields()
		for j := range fields.Len() {
			wf := wfs.ByNumber(fields.Get(j).Number())
			switch {
			case wf == nil:
			case realOneof(wf) == nil:
				moved = append(moved, string(wf.Name()))
			default:
				existing++
			}
		}
		switch {
		case len(moved) > 1:
			d.add("message %s: the writer's fields %s are in the reader's oneof %s together",
				rm.FullName(), strings.Join(moved, ", "), ro.Name())
		case len(moved) == 1 && existing > 0:
			d.add("message %s: the writer's field %s is in the reader's oneof %s with fields of a writer's oneof",
				rm.FullName(), moved[0], ro.Name())
		}
	}

	d.messages(wm.Messages(), rm.Messages())
}

// realOneof is the oneof a field belongs to, leaving out the synthetic
// ones of proto3 optional fields.
func realOneof(f protoreflect.FieldDescriptor) protoreflect.OneofDescriptor {
	if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
		return o
	}
	return nil
}

func (d *differ) field(rm protoreflect.MessageDescriptor, wf, rf protoreflect.FieldDescriptor) {
	where := fmt.Sprintf("message %s: field %s = %d", rm.FullName(), rf.Name(), rf.Number())
	d.types(where, wf, rf)
}

// types compares the types of two fields (or of map keys or values).
func (d *differ) types(where string, wf, rf protoreflect.FieldDescriptor) {
	wk, rk := kindOf(wf), kindOf(rf)
	if wk != rk {
		d.add("%s: reader's %s cannot read writer's %s", where, describe(rf), describe(wf))
		return
	}
	switch wk {
	case "map":
		d.types(where+" (map key)", wf.MapKey(), rf.MapKey())
		d.types(where+" (map value)", wf.MapValue(), rf.MapValue())
	case "message":
		wmd, rmd := wf.Message(), rf.Message()
		if localName(wmd) != localName(rmd) {
			d.add("%s: reader's message %s cannot read writer's message %s", where, rmd.FullName(), wmd.FullName())
			return
		}
		d.message(wmd, rmd)
	default:
		if scalarGroup(wf.Kind()) != scalarGroup(rf.Kind()) {
			d.add("%s: reader's %s cannot read writer's %s", where, describe(rf), describe(wf))
		}
	}
}

func kindOf(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap():
		return "map"
	case f.Kind() == protoreflect.MessageKind || f.Kind() == protoreflect.GroupKind:
		return "message"
	}
	return "scalar"
}

func describe(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap():
		return "map<" + describe(f.MapKey()) + ", " + describe(f.MapValue()) + ">"
	case f.Kind() == protoreflect.MessageKind || f.Kind() == protoreflect.GroupKind:
		return "message " + string(f.Message().FullName())
	case f.Kind() == protoreflect.EnumKind:
		return "enum " + string(f.Enum().FullName())
	}
	return f.Kind().String()
}

// scalarGroup returns the group of scalar kinds that read each other's
// values on the wire (Protobuf's "updating a message type" rules, as
// Confluent groups them).
func scalarGroup(k protoreflect.Kind) int {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind,
		protoreflect.BoolKind, protoreflect.EnumKind:
		return 1
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return 2
	case protoreflect.StringKind, protoreflect.BytesKind:
		return 3
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return 4
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return 5
	case protoreflect.FloatKind:
		return 6
	case protoreflect.DoubleKind:
		return 7
	}
	return 0
}

// localName is a message's full name without its file's package.
func localName(md protoreflect.MessageDescriptor) string {
	pkg := string(md.ParentFile().Package())
	name := string(md.FullName())
	if pkg == "" {
		return name
	}
	return strings.TrimPrefix(name, pkg+".")
}
