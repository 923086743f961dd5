package jsonschema

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	jsv "github.com/santhosh-tekuri/jsonschema/v6"
)

// compareBase compares the own keywords of two schemas, neither of which
// is a union, a conjunction or a reference any more. Keywords that only
// apply to one JSON type are compared only when the writer can write
// values of that type the reader accepts.
func (c *checker) compareBase(w, r node) []problem {
	ws, rs := w.s, r.s
	var out []problem

	wt := declared(ws)
	if w.only != 0 {
		wt &= w.only
	}
	wValues, wFinite := enumOf(w)
	if wFinite {
		wt &= typesOf(wValues)
	}
	rt := declared(rs)
	if missing := wt &^ rt; missing != 0 {
		verb := "narrowed"
		if wt&rt == 0 {
			verb = "changed"
		}
		out = append(out, problem{msg: fmt.Sprintf("type %s from %s to %s", verb, wt, rt)})
		wt &= rt
		if wt == 0 {
			return out
		}
	}

	if rValues, ok := enumOf(r); ok {
		keyword := enumKeyword(r)
		if !wFinite {
			msg := fmt.Sprintf("enum added: the reader allows %d values, the writer's are not limited", len(rValues))
			if keyword == "const" {
				msg = "const added: the reader allows only " + jsonText(rValues[0])
			}
			out = append(out, problem{msg: msg})
		} else {
			allowed := map[string]bool{}
			for _, v := range rValues {
				allowed[valueKey(v)] = true
			}
			var removed []string
			for _, v := range wValues {
				if typeOfValue(v)&wt != 0 && !allowed[valueKey(v)] {
					removed = append(removed, jsonText(v))
				}
			}
			if len(removed) > 0 {
				out = append(out, problem{msg: narrowed(keyword, removed)})
			}
		}
	}

	out = append(out, c.compareNot(w, r, wt)...)
	if wt&(tNumber|tInteger) != 0 {
		out = append(out, compareNumbers(ws, rs, wt)...)
	}
	if wt&tString != 0 {
		out = append(out, compareStrings(ws, rs)...)
	}
	if wt&tObject != 0 {
		out = append(out, c.compareObjects(ws, rs)...)
	}
	if wt&tArray != 0 {
		out = append(out, c.compareArrays(ws, rs)...)
	}
	out = append(out, unanalysed(ws, rs, wt)...)
	return out
}

func typesOf(values []any) typeSet {
	var t typeSet
	for _, v := range values {
		t |= typeOfValue(v)
	}
	return t
}

// compareNot: a reader's "not" excludes values; the writer must exclude
// them too (its own "not" excluding at least as much), or be unable to
// write a value of the excluded schema's types.
func (c *checker) compareNot(w, r node, wt typeSet) []problem {
	if r.s.Not == nil {
		return nil
	}
	if w.s.Not != nil && len(c.check(node{s: r.s.Not}, node{s: w.s.Not})) == 0 {
		return nil
	}
	if isFalse(node{s: r.s.Not}) || declared(r.s.Not)&wt == 0 {
		return nil
	}
	verb := "added"
	if w.s.Not != nil {
		verb = "changed"
	}
	return []problem{{path: "/not", msg: "not " + verb + " (not analysed)"}}
}

// bound is one end of a numeric range.
type bound struct {
	v         *big.Rat
	exclusive bool
}

// lowerBound is the tighter of minimum and exclusiveMinimum; nil when
// there is none. (Draft 4's boolean exclusiveMinimum was compiled into
// the same value as minimum, made exclusive.)
func lowerBound(s *jsv.Schema) *bound {
	var b *bound
	if s.Minimum != nil {
		b = &bound{v: s.Minimum}
	}
	if e := s.ExclusiveMinimum; e != nil && (b == nil || e.Cmp(b.v) >= 0) {
		b = &bound{v: e, exclusive: true}
	}
	return b
}

func upperBound(s *jsv.Schema) *bound {
	var b *bound
	if s.Maximum != nil {
		b = &bound{v: s.Maximum}
	}
	if e := s.ExclusiveMaximum; e != nil && (b == nil || e.Cmp(b.v) <= 0) {
		b = &bound{v: e, exclusive: true}
	}
	return b
}

func compareNumbers(ws, rs *jsv.Schema, wt typeSet) []problem {
	var out []problem
	if rl := lowerBound(rs); rl != nil {
		wl := lowerBound(ws)
		name := "minimum"
		if rl.exclusive {
			name = "exclusiveMinimum"
		}
		switch {
		case wl == nil:
			out = append(out, problem{msg: fmt.Sprintf("%s added: %s", name, ratText(rl.v))})
		case wl.v.Cmp(rl.v) < 0 || (wl.v.Cmp(rl.v) == 0 && rl.exclusive && !wl.exclusive):
			out = append(out, problem{msg: boundChange(name, "increased", wl, rl, ">")})
		}
	}
	if ru := upperBound(rs); ru != nil {
		wu := upperBound(ws)
		name := "maximum"
		if ru.exclusive {
			name = "exclusiveMaximum"
		}
		switch {
		case wu == nil:
			out = append(out, problem{msg: fmt.Sprintf("%s added: %s", name, ratText(ru.v))})
		case wu.v.Cmp(ru.v) > 0 || (wu.v.Cmp(ru.v) == 0 && ru.exclusive && !wu.exclusive):
			out = append(out, problem{msg: boundChange(name, "decreased", wu, ru, "<")})
		}
	}
	if rm := rs.MultipleOf; rm != nil && rm.Sign() > 0 {
		wm := ws.MultipleOf
		switch {
		case wm != nil && new(big.Rat).Quo(wm, rm).IsInt():
		case wt&tNumber == 0 && new(big.Rat).Inv(rm).IsInt():
			// Every integer is a multiple of 1/n.
		case wm == nil:
			out = append(out, problem{msg: "multipleOf added: " + ratText(rm)})
		default:
			out = append(out, problem{msg: fmt.Sprintf("multipleOf changed from %s to %s", ratText(wm), ratText(rm))})
		}
	}
	return out
}

// boundChange words a tightened bound. When the writer's and the
// reader's bounds are of different kinds the comparison is spelled out
// (">= 0 to > 0").
func boundChange(name, verb string, w, r *bound, strict string) string {
	if w.exclusive == r.exclusive {
		return fmt.Sprintf("%s %s from %s to %s", name, verb, ratText(w.v), ratText(r.v))
	}
	op := func(b *bound) string {
		if b.exclusive {
			return strict
		}
		return strict + "="
	}
	return fmt.Sprintf("%s %s from %s %s to %s %s", name, verb, op(w), ratText(w.v), op(r), ratText(r.v))
}

func ratText(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func compareStrings(ws, rs *jsv.Schema) []problem {
	var out []problem
	out = append(out, minCount("minLength", ws.MinLength, rs.MinLength)...)
	out = append(out, maxCount("maxLength", ws.MaxLength, rs.MaxLength)...)
	if rs.Pattern != nil {
		switch {
		case ws.Pattern == nil:
			out = append(out, problem{msg: fmt.Sprintf("pattern added: %q", rs.Pattern.String())})
		case ws.Pattern.String() != rs.Pattern.String():
			out = append(out, problem{msg: fmt.Sprintf("pattern changed from %q to %q", ws.Pattern.String(), rs.Pattern.String())})
		}
	}
	if rs.Format != nil {
		switch {
		case ws.Format == nil:
			out = append(out, problem{msg: fmt.Sprintf("format added: %q", rs.Format.Name)})
		case ws.Format.Name != rs.Format.Name:
			out = append(out, problem{msg: fmt.Sprintf("format changed from %q to %q", ws.Format.Name, rs.Format.Name)})
		}
	}
	return out
}

// minCount compares a lower limit on a count (minLength, minItems,
// minProperties): the reader's may not exceed the writer's.
func minCount(name string, w, r *int) []problem {
	switch {
	case r == nil || *r <= 0:
		return nil
	case w == nil:
		return []problem{{msg: fmt.Sprintf("%s added: %d", name, *r)}}
	case *w < *r:
		return []problem{{msg: fmt.Sprintf("%s increased from %d to %d", name, *w, *r)}}
	}
	return nil
}

// maxCount compares an upper limit on a count: the reader's may not be
// below the writer's.
func maxCount(name string, w, r *int) []problem {
	switch {
	case r == nil:
		return nil
	case w == nil:
		return []problem{{msg: fmt.Sprintf("%s added: %d", name, *r)}}
	case *w > *r:
		return []problem{{msg: fmt.Sprintf("%s decreased from %d to %d", name, *w, *r)}}
	}
	return nil
}

// slot is what one side allows at one property name or array index:
// anything (no keyword, or true), nothing (false), or a schema.
type slot struct {
	s      *jsv.Schema
	open   bool
	closed bool
}

func slotOf(s *jsv.Schema) slot {
	switch {
	case s == nil:
		return slot{open: true}
	case s.Bool != nil && *s.Bool:
		return slot{open: true}
	case s.Bool != nil:
		return slot{closed: true}
	}
	return slot{s: s}
}

// slotOfAdditional reads additionalProperties or additionalItems: nil, a
// bool or a schema.
func slotOfAdditional(v any) slot {
	switch v := v.(type) {
	case bool:
		if v {
			return slot{open: true}
		}
		return slot{closed: true}
	case *jsv.Schema:
		return slotOf(v)
	}
	return slot{open: true}
}

func (s slot) node() node {
	if s.s == nil {
		return node{s: anySchema}
	}
	return node{s: s.s}
}

// slotWords are the messages of a slot comparison.
type slotWords struct {
	removed   string // the reader closed it, the writer writes there
	narrowed  string // the writer left it open, the reader constrains it
	uncovered string // the writer's schema there does not fit the reader's
}

// compareSlot: what the writer may write in a slot must fit the reader's
// slot. uncovered may be "": the details alone are reported.
func (c *checker) compareSlot(ws, rs slot, words slotWords) []problem {
	if rs.open || ws.closed {
		return nil
	}
	if rs.closed {
		return []problem{{msg: words.removed}}
	}
	probs := c.check(ws.node(), rs.node())
	if len(probs) == 0 {
		return nil
	}
	if ws.open {
		return []problem{{msg: words.narrowed}}
	}
	if words.uncovered == "" {
		return probs
	}
	return append([]problem{{msg: words.uncovered}}, probs...)
}

// pattern is one entry of patternProperties.
type pattern struct {
	text   string
	re     jsv.Regexp
	schema *jsv.Schema
}

// patternsOf returns s's patternProperties sorted by pattern text, so
// that messages come out in the same order every time.
func patternsOf(s *jsv.Schema) []pattern {
	out := make([]pattern, 0, len(s.PatternProperties))
	for re, sch := range s.PatternProperties {
		out = append(out, pattern{re.String(), re, sch})
	}
	slices.SortFunc(out, func(a, b pattern) int { return strings.Compare(a.text, b.text) })
	return out
}

func findPattern(ps []pattern, text string) (*jsv.Schema, bool) {
	for _, p := range ps {
		if p.text == text {
			return p.schema, true
		}
	}
	return nil, false
}

// writerProperty is the writer's slot for a property name: its property
// schema, else the first matching pattern's, else additionalProperties.
// (A value under a name matching several keywords satisfies all of them,
// so any one of them bounds what the writer writes.)
func writerProperty(s *jsv.Schema, name string) (slot, string) {
	if p, ok := s.Properties[name]; ok {
		return slotOf(p), "properties"
	}
	for _, p := range patternsOf(s) {
		if p.re.MatchString(name) {
			return slotOf(p.schema), "patternProperties"
		}
	}
	return slotOfAdditional(s.AdditionalProperties), "additionalProperties"
}

// readerSlot is one constraint the reader puts on a property name.
type readerSlot struct {
	slot
	path string
}

// readerProperty lists the reader's constraints on a property name: its
// property schema and every matching pattern's, or additionalProperties
// when there are none.
func readerProperty(s *jsv.Schema, name string) []readerSlot {
	var out []readerSlot
	if p, ok := s.Properties[name]; ok {
		out = append(out, readerSlot{slotOf(p), "/properties/" + escapeToken(name)})
	}
	for _, p := range patternsOf(s) {
		if p.re.MatchString(name) {
			out = append(out, readerSlot{slotOf(p.schema), "/patternProperties/" + escapeToken(p.text)})
		}
	}
	if len(out) == 0 {
		out = append(out, readerSlot{slotOfAdditional(s.AdditionalProperties), "/additionalProperties"})
	}
	return out
}

func (c *checker) compareObjects(ws, rs *jsv.Schema) []problem {
	var out []problem

	names := sortedKeys(ws.Properties)
	for _, name := range sortedKeys(rs.Properties) {
		if _, ok := ws.Properties[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		out = append(out, c.compareProperty(ws, rs, name)...)
	}

	// Names in neither "properties": patterns and additionalProperties.
	wp, rp := patternsOf(ws), patternsOf(rs)
	for _, r := range rp {
		path := "/patternProperties/" + escapeToken(r.text)
		if w, ok := findPattern(wp, r.text); ok {
			out = append(out, prefix(path, c.check(node{s: w}, node{s: r.schema}))...)
			continue
		}
		// A pattern new to the reader: names matching it may have been
		// written under any of the writer's patterns or its
		// additionalProperties.
		candidates := []slot{slotOfAdditional(ws.AdditionalProperties)}
		for _, w := range wp {
			candidates = append(candidates, slotOf(w.schema))
		}
		for _, ws := range candidates {
			out = append(out, prefix(path, c.compareSlot(ws, slotOf(r.schema), slotWords{
				narrowed:  "patternProperties added: the writer may have written any value under names matching it",
				uncovered: "patternProperties added: the writer's values under names matching it do not fit",
			}))...)
		}
	}
	for _, w := range wp {
		if _, ok := findPattern(rp, w.text); ok {
			continue
		}
		out = append(out, prefix("/patternProperties/"+escapeToken(w.text), c.compareSlot(slotOf(w.schema), slotOfAdditional(rs.AdditionalProperties), slotWords{
			removed:   "patternProperties removed: the reader's additionalProperties rejects names the writer's pattern allows",
			uncovered: "patternProperties removed: the reader's additionalProperties does not fit the writer's values under names matching it",
		}))...)
	}
	out = append(out, prefix("/additionalProperties", c.compareSlot(slotOfAdditional(ws.AdditionalProperties), slotOfAdditional(rs.AdditionalProperties), slotWords{
		removed:  "additionalProperties removed: the reader rejects properties the writer may write",
		narrowed: "additionalProperties narrowed: the writer's additional properties were unconstrained",
	}))...)

	out = append(out, compareRequired(ws, rs)...)
	out = append(out, minCount("minProperties", ws.MinProperties, rs.MinProperties)...)
	out = append(out, maxCount("maxProperties", ws.MaxProperties, rs.MaxProperties)...)
	return out
}

// compareProperty compares what the two sides allow under one name that
// at least one of them declares in "properties".
func (c *checker) compareProperty(ws, rs *jsv.Schema, name string) []problem {
	path := "/properties/" + escapeToken(name)
	_, wHas := ws.Properties[name]
	_, rHas := rs.Properties[name]
	wSlot, wFrom := writerProperty(ws, name)
	var out []problem
	for _, rc := range readerProperty(rs, name) {
		if rc.open || wSlot.closed {
			continue
		}
		if rc.closed {
			msg := "property removed from closed content model"
			switch {
			case rc.path == path:
				msg = "property forbidden (false schema) in the reader"
			case strings.HasPrefix(rc.path, "/patternProperties/"):
				msg = "property forbidden by the reader's patternProperties"
			}
			out = append(out, problem{path: path, msg: msg})
			continue
		}
		probs := c.check(wSlot.node(), rc.node())
		if len(probs) == 0 {
			continue
		}
		switch {
		case wHas && rHas:
			out = append(out, prefix(rc.path, probs)...)
		case wSlot.open:
			out = append(out, problem{path: path, msg: "property added to open content model: the writer may have written any value under this name"})
		case !wHas:
			out = append(out, problem{path: path, msg: "property added is not covered by the writer's " + wFrom})
			out = append(out, prefix(rc.path, probs)...)
		default:
			out = append(out, problem{path: path, msg: "property removed is not covered by the reader's " + rc.path[1:]})
			out = append(out, prefix(rc.path, probs)...)
		}
	}
	return out
}

// compareRequired: a property the reader requires must be required by
// the writer too. As Confluent does, a newly required property whose
// reader schema has a default is let through.
func compareRequired(ws, rs *jsv.Schema) []problem {
	var out []problem
	done := map[string]bool{}
	for _, name := range rs.Required {
		if done[name] || slices.Contains(ws.Required, name) {
			continue
		}
		done[name] = true
		p, rHas := rs.Properties[name]
		if rHas && resolve(node{s: p}).s.Default != nil {
			continue
		}
		_, wHas := ws.Properties[name]
		switch {
		case rHas && wHas:
			out = append(out, problem{path: "/properties/" + escapeToken(name), msg: "property became required"})
		case rHas:
			out = append(out, problem{path: "/properties/" + escapeToken(name), msg: "required property added"})
		case wHas:
			out = append(out, problem{path: "/required", msg: fmt.Sprintf("property %q became required", name)})
		default:
			out = append(out, problem{path: "/required", msg: fmt.Sprintf("required property %q added", name)})
		}
	}

	wDeps, rDeps := dependentRequired(ws), dependentRequired(rs)
	keyword := "dependentRequired"
	if rs.DraftVersion < 2019 {
		keyword = "dependencies"
	}
	for _, name := range sortedKeys(rDeps) {
		for _, needed := range rDeps[name] {
			if slices.Contains(ws.Required, needed) || slices.Contains(wDeps[name], needed) {
				continue
			}
			out = append(out, problem{
				path: "/" + keyword + "/" + escapeToken(name),
				msg:  fmt.Sprintf("%s added: %q now requires %q", keyword, name, needed),
			})
		}
	}
	return out
}

// dependentRequired merges dependentRequired and the array form of
// draft 4-7 dependencies.
func dependentRequired(s *jsv.Schema) map[string][]string {
	out := map[string][]string{}
	for name, deps := range s.DependentRequired {
		out[name] = append(out[name], deps...)
	}
	for name, dep := range s.Dependencies {
		if deps, ok := dep.([]string); ok {
			out[name] = append(out[name], deps...)
		}
	}
	return out
}

// tupleOf returns an array schema's per-position item schemas and the
// slot of the items after them, across drafts (items as an array and
// additionalItems before 2020-12; prefixItems and items from 2020-12).
func tupleOf(s *jsv.Schema) ([]*jsv.Schema, slot) {
	if len(s.PrefixItems) > 0 || s.Items2020 != nil {
		return s.PrefixItems, slotOf(s.Items2020)
	}
	switch items := s.Items.(type) {
	case *jsv.Schema:
		return nil, slotOf(items)
	case []*jsv.Schema:
		return items, slotOfAdditional(s.AdditionalItems)
	}
	return nil, slot{open: true}
}

func slotAt(prefixItems []*jsv.Schema, rest slot, i int) slot {
	if i < len(prefixItems) {
		return slotOf(prefixItems[i])
	}
	return rest
}

func (c *checker) compareArrays(ws, rs *jsv.Schema) []problem {
	var out []problem
	wPrefix, wRest := tupleOf(ws)
	rPrefix, rRest := tupleOf(rs)
	itemsKeyword, restKeyword := "items", "items"
	if rs.DraftVersion >= 2020 {
		itemsKeyword = "prefixItems"
	} else if len(rPrefix) > 0 {
		restKeyword = "additionalItems"
	}
	for i := range max(len(wPrefix), len(rPrefix)) {
		path := "/" + itemsKeyword + "/" + strconv.Itoa(i)
		words := slotWords{
			removed:   "item removed from closed content model",
			narrowed:  "item added to open content model: the writer may have written any value at this position",
			uncovered: "item added is not covered by the writer's additional items",
		}
		if i < len(wPrefix) && i < len(rPrefix) {
			words.uncovered = ""
		} else if i < len(wPrefix) {
			words.uncovered = "item removed is not covered by the reader's additional items"
		}
		out = append(out, prefix(path, c.compareSlot(slotAt(wPrefix, wRest, i), slotAt(rPrefix, rRest, i), words))...)
	}
	out = append(out, prefix("/"+restKeyword, c.compareSlot(wRest, rRest, slotWords{
		removed:  "additional items removed: the reader rejects items the writer may write",
		narrowed: "items narrowed: the writer's items were unconstrained",
	}))...)
	out = append(out, minCount("minItems", ws.MinItems, rs.MinItems)...)
	out = append(out, maxCount("maxItems", ws.MaxItems, rs.MaxItems)...)
	if rs.UniqueItems && !ws.UniqueItems {
		out = append(out, problem{msg: "uniqueItems added"})
	}
	return out
}

func minContains(s *jsv.Schema) int {
	if s.MinContains != nil {
		return *s.MinContains
	}
	return 1
}

// unanalysed covers the keywords whose effect is not worked out. Each is
// a pure assertion, so a reader without it accepts more and is fine;
// a reader with it is fine only when the writer has the very same
// subschema. Anything else is reported, saying it was not analysed.
func unanalysed(ws, rs *jsv.Schema, wt typeSet) []problem {
	var out []problem
	note := func(path, keyword string, writerHas, same bool) {
		if same {
			return
		}
		verb := "added"
		if writerHas {
			verb = "changed"
		}
		out = append(out, problem{path: path, msg: fmt.Sprintf("%s %s (not analysed)", keyword, verb)})
	}
	if rs.If != nil {
		same := equalSchemas(ws.If, rs.If) && equalSchemas(ws.Then, rs.Then) && equalSchemas(ws.Else, rs.Else)
		note("", "if/then/else", ws.If != nil, same)
	}
	if rs.RecursiveRef != nil {
		note("", "$recursiveRef", ws.RecursiveRef != nil, equalSchemas(ws.RecursiveRef, rs.RecursiveRef))
	}
	if rs.DynamicRef != nil {
		same := ws.DynamicRef != nil && ws.DynamicRef.Anchor == rs.DynamicRef.Anchor && equalSchemas(ws.DynamicRef.Ref, rs.DynamicRef.Ref)
		note("", "$dynamicRef", ws.DynamicRef != nil, same)
	}
	if wt&tObject != 0 {
		if rs.PropertyNames != nil {
			note("/propertyNames", "propertyNames", ws.PropertyNames != nil, equalSchemas(ws.PropertyNames, rs.PropertyNames))
		}
		if rs.UnevaluatedProperties != nil {
			note("/unevaluatedProperties", "unevaluatedProperties", ws.UnevaluatedProperties != nil, equalSchemas(ws.UnevaluatedProperties, rs.UnevaluatedProperties))
		}
		for _, name := range sortedKeys(rs.DependentSchemas) {
			w, ok := ws.DependentSchemas[name]
			note("/dependentSchemas/"+escapeToken(name), "dependentSchemas", ok, ok && equalSchemas(w, rs.DependentSchemas[name]))
		}
		for _, name := range sortedKeys(rs.Dependencies) {
			r, ok := rs.Dependencies[name].(*jsv.Schema)
			if !ok {
				continue // the array form is analysed with required
			}
			w, ok := ws.Dependencies[name].(*jsv.Schema)
			note("/dependencies/"+escapeToken(name), "dependencies", ok, ok && equalSchemas(w, r))
		}
	}
	if wt&tArray != 0 {
		if rs.Contains != nil {
			// The same contains schema, needed no more often and allowed
			// no less often, is fine.
			same := equalSchemas(ws.Contains, rs.Contains) &&
				minContains(ws) >= minContains(rs) &&
				(rs.MaxContains == nil || (ws.MaxContains != nil && *ws.MaxContains <= *rs.MaxContains))
			note("/contains", "contains", ws.Contains != nil, same)
		}
		if rs.UnevaluatedItems != nil {
			note("/unevaluatedItems", "unevaluatedItems", ws.UnevaluatedItems != nil, equalSchemas(ws.UnevaluatedItems, rs.UnevaluatedItems))
		}
	}
	if rs.ContentSchema != nil || rs.ContentEncoding != nil || rs.ContentMediaType != nil {
		same := equalSchemas(ws.ContentSchema, rs.ContentSchema) &&
			(ws.ContentEncoding == nil) == (rs.ContentEncoding == nil) && (ws.ContentEncoding == nil || ws.ContentEncoding.Name == rs.ContentEncoding.Name) &&
			(ws.ContentMediaType == nil) == (rs.ContentMediaType == nil) && (ws.ContentMediaType == nil || ws.ContentMediaType.Name == rs.ContentMediaType.Name)
		note("", "content keywords", ws.ContentEncoding != nil || ws.ContentMediaType != nil, same)
	}
	if len(rs.Extensions) > 0 {
		note("", "vocabulary extensions", len(ws.Extensions) > 0, false)
	}
	return out
}
