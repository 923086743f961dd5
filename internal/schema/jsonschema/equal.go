package jsonschema

import (
	"math/big"
	"slices"

	jsv "github.com/santhosh-tekuri/jsonschema/v6"
)

// equalSchemas reports whether two compiled schemas assert the same
// thing keyword for keyword, following references. Annotations (title,
// description, default, examples, ...), $id and anchors are ignored.
// It is how the checker tells "unchanged" from "changed" for the keywords
// it does not analyse.
func equalSchemas(a, b *jsv.Schema) bool {
	e := equality{seen: map[[2]*jsv.Schema]bool{}}
	return e.schema(a, b)
}

// equality compares schemas; seen holds the pairs under comparison, taken
// as equal when met again (recursive schemas). The assumption is sound
// within one top-level comparison: if it was wrong, that comparison's
// answer is false anyway, so a fresh equality is used for each.
type equality struct {
	seen map[[2]*jsv.Schema]bool
}

func (e *equality) schema(a, b *jsv.Schema) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a == b {
		return true
	}
	k := [2]*jsv.Schema{a, b}
	if e.seen[k] {
		return true
	}
	e.seen[k] = true
	return e.fields(a, b)
}

func (e *equality) fields(a, b *jsv.Schema) bool {
	return equalBools(a.Bool, b.Bool) &&
		e.schema(a.Ref, b.Ref) && e.schema(a.RecursiveRef, b.RecursiveRef) && a.RecursiveAnchor == b.RecursiveAnchor &&
		e.dynamicRef(a.DynamicRef, b.DynamicRef) && a.DynamicAnchor == b.DynamicAnchor &&
		equalTypes(a.Types, b.Types) && equalEnums(a.Enum, b.Enum) && equalConsts(a.Const, b.Const) &&
		e.schema(a.Not, b.Not) && e.list(a.AllOf, b.AllOf) && e.list(a.AnyOf, b.AnyOf) && e.list(a.OneOf, b.OneOf) &&
		e.schema(a.If, b.If) && e.schema(a.Then, b.Then) && e.schema(a.Else, b.Else) &&
		equalFormats(a.Format, b.Format) &&
		// object
		equalInts(a.MaxProperties, b.MaxProperties) && equalInts(a.MinProperties, b.MinProperties) &&
		equalSets(a.Required, b.Required) && e.schema(a.PropertyNames, b.PropertyNames) &&
		e.schemaMap(a.Properties, b.Properties) && e.patterns(a, b) &&
		e.additional(a.AdditionalProperties, b.AdditionalProperties) && e.dependencies(a.Dependencies, b.Dependencies) &&
		equalRequiredMaps(a.DependentRequired, b.DependentRequired) && e.schemaMap(a.DependentSchemas, b.DependentSchemas) &&
		e.schema(a.UnevaluatedProperties, b.UnevaluatedProperties) &&
		// array
		equalInts(a.MinItems, b.MinItems) && equalInts(a.MaxItems, b.MaxItems) && a.UniqueItems == b.UniqueItems &&
		e.schema(a.Contains, b.Contains) && equalInts(a.MinContains, b.MinContains) && equalInts(a.MaxContains, b.MaxContains) &&
		e.items(a.Items, b.Items) && e.additional(a.AdditionalItems, b.AdditionalItems) &&
		e.list(a.PrefixItems, b.PrefixItems) && e.schema(a.Items2020, b.Items2020) && e.schema(a.UnevaluatedItems, b.UnevaluatedItems) &&
		// string
		equalInts(a.MinLength, b.MinLength) && equalInts(a.MaxLength, b.MaxLength) && equalPatterns(a.Pattern, b.Pattern) &&
		equalNamed(a.ContentEncoding, b.ContentEncoding, func(d *jsv.Decoder) string { return d.Name }) &&
		equalNamed(a.ContentMediaType, b.ContentMediaType, func(m *jsv.MediaType) string { return m.Name }) &&
		e.schema(a.ContentSchema, b.ContentSchema) &&
		// number
		equalRats(a.Maximum, b.Maximum) && equalRats(a.Minimum, b.Minimum) &&
		equalRats(a.ExclusiveMaximum, b.ExclusiveMaximum) && equalRats(a.ExclusiveMinimum, b.ExclusiveMinimum) &&
		equalRats(a.MultipleOf, b.MultipleOf) &&
		len(a.Extensions) == 0 && len(b.Extensions) == 0
}

func (e *equality) list(a, b []*jsv.Schema) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !e.schema(a[i], b[i]) {
			return false
		}
	}
	return true
}

func (e *equality) schemaMap(a, b map[string]*jsv.Schema) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || !e.schema(x, y) {
			return false
		}
	}
	return true
}

func (e *equality) patterns(a, b *jsv.Schema) bool {
	pa, pb := patternsOf(a), patternsOf(b)
	if len(pa) != len(pb) {
		return false
	}
	for i := range pa {
		if pa[i].text != pb[i].text || !e.schema(pa[i].schema, pb[i].schema) {
			return false
		}
	}
	return true
}

// additional compares additionalProperties or additionalItems: nil, a
// bool or a schema.
func (e *equality) additional(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case *jsv.Schema:
		bs, ok := b.(*jsv.Schema)
		return ok && e.schema(a, bs)
	}
	return false
}

// items compares pre-2020 items: nil, a schema or a list of schemas.
func (e *equality) items(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case *jsv.Schema:
		bs, ok := b.(*jsv.Schema)
		return ok && e.schema(a, bs)
	case []*jsv.Schema:
		bs, ok := b.([]*jsv.Schema)
		return ok && e.list(a, bs)
	}
	return false
}

func (e *equality) dependencies(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok {
			return false
		}
		switch x := x.(type) {
		case []string:
			ys, ok := y.([]string)
			if !ok || !equalSets(x, ys) {
				return false
			}
		case *jsv.Schema:
			ys, ok := y.(*jsv.Schema)
			if !ok || !e.schema(x, ys) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func (e *equality) dynamicRef(a, b *jsv.DynamicRef) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Anchor == b.Anchor && e.schema(a.Ref, b.Ref)
}

func equalBools(a, b *bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalInts(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalRats(a, b *big.Rat) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Cmp(b) == 0
}

func equalTypes(a, b *jsv.Types) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalEnums(a, b *jsv.Enum) bool {
	if a == nil || b == nil {
		return a == b
	}
	return equalValueSets(a.Values, b.Values)
}

func equalConsts(a, b *any) bool {
	if a == nil || b == nil {
		return a == b
	}
	return valueKey(*a) == valueKey(*b)
}

func equalValueSets(a, b []any) bool {
	keys := func(vs []any) []string {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = valueKey(v)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(keys(a), keys(b))
}

func equalFormats(a, b *jsv.Format) bool {
	return equalNamed(a, b, func(f *jsv.Format) string { return f.Name })
}

func equalNamed[T any](a, b *T, name func(*T) string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return name(a) == name(b)
}

func equalPatterns(a, b jsv.Regexp) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.String() == b.String()
}

func equalSets(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

func equalRequiredMaps(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || !equalSets(x, y) {
			return false
		}
	}
	return true
}
