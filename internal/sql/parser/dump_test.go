package parser

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/tide-data/tide/internal/sql/ast"
)

// dump renders a tree compactly for golden files: one node per line as
// Type@line:col followed by its scalar fields, children indented under the
// field that holds them. It walks the tree by reflection, so fields added
// to ast show up without changes here.
func dump(n any) string {
	var b strings.Builder
	dumpValue(&b, reflect.ValueOf(n), "", 0)
	return b.String()
}

var (
	posType  = reflect.TypeFor[ast.Pos]()
	typeType = reflect.TypeFor[ast.TypeName]()
	nodeType = reflect.TypeFor[ast.Node]()
)

func dumpValue(b *strings.Builder, v reflect.Value, label string, depth int) {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	b.WriteString(strings.Repeat("  ", depth))
	if label != "" {
		b.WriteString(label + ": ")
	}
	b.WriteString(v.Type().Name())
	if p := v.FieldByName("Pos"); p.IsValid() && p.Type() == posType {
		pos := p.Interface().(ast.Pos)
		fmt.Fprintf(b, "@%d:%d", pos.Line, pos.Col)
	}
	type child struct {
		label string
		v     reflect.Value
	}
	var children []child
	for i := range v.NumField() {
		f, fv := v.Type().Field(i), v.Field(i)
		if f.Type == posType || fv.IsZero() {
			continue
		}
		switch {
		case f.Type == typeType:
			b.WriteString(" " + f.Name + "=" + scalar(ast.FormatType(fv.Interface().(ast.TypeName))))
		case f.Type.Kind() == reflect.Bool:
			b.WriteString(" " + f.Name)
		case f.Type.Kind() == reflect.String:
			b.WriteString(" " + f.Name + "=" + scalar(fv.String()))
		case f.Type.Kind() == reflect.Uint8:
			b.WriteString(" " + f.Name + "=" + strconv.FormatUint(fv.Uint(), 10))
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Bool:
			b.WriteString(" " + f.Name + "=" + strconv.FormatBool(fv.Elem().Bool()))
		case f.Type.Kind() == reflect.Slice && !isStructy(f.Type.Elem()):
			parts := make([]string, fv.Len())
			for j := range parts {
				parts[j] = scalar(fmt.Sprint(fv.Index(j).Interface()))
			}
			b.WriteString(" " + f.Name + "=[" + strings.Join(parts, " ") + "]")
		case f.Type.Kind() == reflect.Slice:
			for j := range fv.Len() {
				children = append(children, child{fmt.Sprintf("%s[%d]", f.Name, j), fv.Index(j)})
			}
		default:
			children = append(children, child{f.Name, fv})
		}
	}
	b.WriteByte('\n')
	for _, c := range children {
		dumpValue(b, c.v, c.label, depth+1)
	}
}

func isStructy(t reflect.Type) bool {
	return t.Kind() == reflect.Struct || t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface || t.Implements(nodeType)
}

// scalar prints s bare when that is unambiguous, else quoted.
func scalar(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if !plainRune(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func plainRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.-+*/%^<>=!~|@#&$()[],:", r)
}
