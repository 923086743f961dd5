package avro

import (
	"fmt"
	"slices"
	"strings"

	hamba "github.com/hamba/avro/v2"

	"github.com/tide-data/tide/internal/schema"
)

// Compatible returns why data written with writer cannot be read with
// reader, following the schema resolution rules of the Avro specification
// as Avro's Java SchemaCompatibility (which Confluent uses) applies them:
//
//   - types match, or the writer's promotes to the reader's: int to long,
//     float or double; long to float or double; float to double; string
//     to bytes and bytes to string;
//   - records, enums and fixed match when their unqualified names are equal
//     or a reader alias is the writer's full name; fixed sizes are equal;
//   - every reader field is in the writer's record (by name, or a reader
//     field alias) or has a default; writer fields the reader lacks are
//     skipped;
//   - every writer enum symbol is in the reader's enum, unless the reader
//     has a default symbol;
//   - every branch of a writer union is readable by the reader; a writer
//     type is readable by a reader union when one of its branches reads it;
//   - arrays and maps by their items and values.
//
// Logical types are not compared (a decimal's scale may change), as in
// Avro and Confluent. Each message names the place in the reader schema as
// a JSON Pointer, and the field when there is one:
//
//	field 'amount' at /fields/2/type: reader's type double cannot read writer's string
//
// Recursive types are handled: a pair of records already being compared
// is assumed compatible, and each pair of records is reported once.
func (format) Compatible(reader, writer schema.Parsed) []string {
	r, ok := reader.(*Schema)
	if !ok || r == nil {
		return []string{fmt.Sprintf("the reader schema is %s, not AVRO", reader.Type())}
	}
	w, ok := writer.(*Schema)
	if !ok || w == nil {
		return []string{fmt.Sprintf("the writer schema is %s, not AVRO", writer.Type())}
	}
	return Compatible(r.avro, w.avro)
}

// Compatible is the check of Format().Compatible on hamba/avro trees.
func Compatible(reader, writer hamba.Schema) []string {
	c := checker{memo: map[recordPair]pairState{}}
	c.check(reader, writer, "", "", true)
	return c.msgs
}

type recordPair struct{ reader, writer *hamba.RecordSchema }

type pairState uint8

const (
	pairUnknown pairState = iota
	pairInProgress
	pairCompatible
	pairIncompatible         // found in a trial, not reported
	pairIncompatibleReported // its messages are in msgs
)

type checker struct {
	msgs []string
	memo map[recordPair]pairState
}

func (c *checker) problem(report bool, path, field, format string, args ...any) bool {
	if !report {
		return false
	}
	where := "at " + pointerOrRoot(path)
	if field != "" {
		where = "field '" + field + "' " + where
	}
	c.msgs = append(c.msgs, where+": "+fmt.Sprintf(format, args...))
	return false
}

// check tells whether reader can read what writer wrote, adding why not
// to msgs when report is set. path is the reader's place, field the
// innermost field around it.
func (c *checker) check(reader, writer hamba.Schema, path, field string, report bool) bool {
	r, w := deref(reader), deref(writer)

	if wu, ok := w.(*hamba.UnionSchema); ok {
		// Whichever branch was written, the reader must read it.
		compatible := true
		for _, wb := range wu.Types() {
			if !c.check(r, wb, path, field, report) {
				compatible = false
				if !report {
					return false
				}
			}
		}
		return compatible
	}
	if ru, ok := r.(*hamba.UnionSchema); ok {
		for _, rb := range ru.Types() {
			if c.check(rb, w, path, field, false) {
				return true
			}
		}
		if !report {
			return false
		}
		// A branch of the same kind and name is what the writer meant:
		// say why it does not fit.
		for i, rb := range ru.Types() {
			if sameKind(deref(rb), w) {
				return c.check(rb, w, fmt.Sprintf("%s/%d", path, i), field, true)
			}
		}
		return c.problem(report, path, field, "reader's %s has no branch that can read writer's %s", describe(r), describe(w))
	}

	if r.Type() != w.Type() {
		if promotes(w.Type(), r.Type()) {
			return true
		}
		return c.problem(report, path, field, "reader's type %s cannot read writer's %s", describe(r), describe(w))
	}

	switch r := r.(type) {
	case *hamba.ArraySchema:
		return c.check(r.Items(), w.(*hamba.ArraySchema).Items(), path+"/items", field, report)
	case *hamba.MapSchema:
		return c.check(r.Values(), w.(*hamba.MapSchema).Values(), path+"/values", field, report)
	case *hamba.FixedSchema:
		wf := w.(*hamba.FixedSchema)
		if !c.names(r, wf, path, field, report) {
			return false
		}
		if r.Size() != wf.Size() {
			return c.problem(report, path, field, "reader's fixed %s has size %d, writer's %s has size %d",
				r.FullName(), r.Size(), wf.FullName(), wf.Size())
		}
		return true
	case *hamba.EnumSchema:
		we := w.(*hamba.EnumSchema)
		if !c.names(r, we, path, field, report) {
			return false
		}
		if r.HasDefault() {
			return true
		}
		var missing []string
		for _, s := range we.Symbols() {
			if !slices.Contains(r.Symbols(), s) {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			return c.problem(report, path, field, "reader's enum %s lacks the writer's symbols %s and has no default",
				r.FullName(), strings.Join(missing, ", "))
		}
		return true
	case *hamba.RecordSchema:
		return c.record(r, w.(*hamba.RecordSchema), path, field, report)
	}
	return true // primitives of the same type
}

func (c *checker) record(r, w *hamba.RecordSchema, path, field string, report bool) bool {
	key := recordPair{r, w}
	switch c.memo[key] {
	case pairInProgress, pairCompatible:
		return true
	case pairIncompatibleReported:
		return false
	case pairIncompatible:
		if !report {
			return false
		}
	}
	c.memo[key] = pairInProgress

	compatible := c.names(r, w, path, field, report)
	if compatible {
		byName := make(map[string]*hamba.Field, len(w.Fields()))
		for _, wf := range w.Fields() {
			byName[wf.Name()] = wf
		}
		for i, rf := range r.Fields() {
			fpath := fmt.Sprintf("%s/fields/%d", path, i)
			wf := writerField(byName, rf)
			if wf == nil {
				if rf.HasDefault() {
					continue
				}
				compatible = c.problem(report, fpath, rf.Name(), "not in the writer's record %s and has no default", w.FullName())
			} else if !c.check(rf.Type(), wf.Type(), fpath+"/type", rf.Name(), report) {
				compatible = false
			}
			if !compatible && !report {
				break
			}
		}
	}
	switch {
	case compatible:
		c.memo[key] = pairCompatible
	case report:
		c.memo[key] = pairIncompatibleReported
	default:
		c.memo[key] = pairIncompatible
	}
	return compatible
}

// writerField finds the writer's field a reader field reads: the one of
// the same name, or else the first one a reader field alias names.
func writerField(byName map[string]*hamba.Field, rf *hamba.Field) *hamba.Field {
	if wf := byName[rf.Name()]; wf != nil {
		return wf
	}
	for _, a := range rf.Aliases() {
		if wf := byName[a]; wf != nil {
			return wf
		}
	}
	return nil
}

// names checks that two named types match: equal unqualified names, or a
// reader alias that is the writer's full name (Avro's Java rule).
func (c *checker) names(r, w hamba.NamedSchema, path, field string, report bool) bool {
	if r.Name() == w.Name() || slices.Contains(r.Aliases(), w.FullName()) {
		return true
	}
	return c.problem(report, path, field, "reader's %s %s does not match writer's %s (the reader needs an alias %q)",
		r.Type(), r.FullName(), w.FullName(), w.FullName())
}

// sameKind tells whether a reader union branch is the one a writer type
// was meant for: the same type and, for named types, a matching name.
func sameKind(r, w hamba.Schema) bool {
	if r.Type() != w.Type() {
		return false
	}
	rn, ok := r.(hamba.NamedSchema)
	if !ok {
		return true
	}
	wn := w.(hamba.NamedSchema)
	return rn.Name() == wn.Name() || slices.Contains(rn.Aliases(), wn.FullName())
}

// promotes tells whether a writer's type promotes to a reader's.
func promotes(writer, reader hamba.Type) bool {
	switch writer {
	case hamba.Int:
		return reader == hamba.Long || reader == hamba.Float || reader == hamba.Double
	case hamba.Long:
		return reader == hamba.Float || reader == hamba.Double
	case hamba.Float:
		return reader == hamba.Double
	case hamba.String:
		return reader == hamba.Bytes
	case hamba.Bytes:
		return reader == hamba.String
	}
	return false
}

// describe names a type for messages: "long", "record com.acme.Order",
// "array<string>", "union [null, string]".
func describe(s hamba.Schema) string {
	s = deref(s)
	switch s := s.(type) {
	case hamba.NamedSchema:
		return string(s.Type()) + " " + s.FullName()
	case *hamba.ArraySchema:
		return "array<" + describe(s.Items()) + ">"
	case *hamba.MapSchema:
		return "map<" + describe(s.Values()) + ">"
	case *hamba.UnionSchema:
		return "union " + describeUnion(s.Types())
	case *hamba.PrimitiveSchema:
		if l := s.Logical(); l != nil {
			return string(s.Type()) + " (" + string(l.Type()) + ")"
		}
	}
	return string(s.Type())
}

func describeUnion(types hamba.Schemas) string {
	parts := make([]string, len(types))
	for i, t := range types {
		t = deref(t)
		if n, ok := t.(hamba.NamedSchema); ok {
			parts[i] = n.FullName()
		} else {
			parts[i] = describe(t)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
