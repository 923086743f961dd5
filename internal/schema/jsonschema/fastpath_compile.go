package jsonschema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"

	jsv "github.com/santhosh-tekuri/jsonschema/v6"
)

// The fast path validates a payload straight from its bytes against a
// tree of fastNodes compiled from the library's own compiled schema, so
// every draft difference (draft 4's boolean exclusiveMinimum, items and
// additionalItems before 2020-12, format asserted or not) has been
// settled by the library already. A subschema using a keyword outside
// the subset below compiles to a fallback node: a payload reaching it is
// handed to the library whole. See the package doc for the rules.

// typeMask is the set of JSON types of a "type" keyword.
type typeMask uint8

const (
	typeNull typeMask = 1 << iota
	typeBoolean
	typeNumber // every number
	typeInteger
	typeString
	typeArray
	typeObject
)

// The checks a fastNode makes beyond its type, as bits, so a node without
// any is recognised at once.
type checkSet uint16

const (
	checkEnum checkSet = 1 << iota
	checkConst
	checkFormat
	checkMinimum
	checkMaximum
	checkExclusiveMinimum
	checkExclusiveMaximum
	checkMultipleOf
	checkMinLength
	checkMaxLength
	checkPattern
	checkMinItems
	checkMaxItems

	checksNumber = checkMinimum | checkMaximum | checkExclusiveMinimum | checkExclusiveMaximum | checkMultipleOf
	checksString = checkMinLength | checkMaxLength | checkPattern | checkFormat
	checksValues = checkEnum | checkConst
)

// fastNode is one compiled subschema. Nodes are immutable once compiled
// and shared by every goroutine validating with their schema.
type fastNode struct {
	// fallback: the subschema uses a keyword the fast path does not
	// implement (reason says which); a value reaching it is decided by
	// the library, for the whole payload.
	fallback bool
	reason   string
	// never: the false schema.
	never bool

	types  typeMask // 0: no "type" keyword
	checks checkSet

	enum, konst valueSet
	format      func(any) error

	minimum, maximum, exclusiveMinimum, exclusiveMaximum decimal
	multipleOf                                           multiple

	minLength, maxLength int
	pattern              *regexp.Regexp

	// Objects: the declared properties and the required names, each once.
	// The required ones come first; entry i < 64 has bit 1<<i in
	// requiredMask.
	entries      []fastEntry
	index        map[string]int // name -> entry, for many entries
	requiredMask uint64
	additional   *fastNode // the schema of other properties; never nil
	closed       bool      // additionalProperties: false

	// Arrays: prefix[i] is item i's schema, rest the others'.
	prefix             []*fastNode
	rest               *fastNode // never nil
	restClosed         bool      // no items past the prefix
	minItems, maxItems int
}

type fastEntry struct {
	name string
	node *fastNode // the property's schema, or the additional one; never nil
	bit  uint64
}

// anyNode accepts every value (the true schema, {}, an absent
// subschema); neverNode none.
var (
	anyNode   = &fastNode{}
	neverNode = &fastNode{never: true}
)

func init() {
	anyNode.additional, anyNode.rest = anyNode, anyNode
}

// maxLinearEntries is the number of properties up to which a key is
// looked up by comparing it with each name, faster than hashing it.
const maxLinearEntries = 8

// lookup returns the entry of property key, -1 when it has none. Keys
// mostly come in the order of the schema's entries, so guess, the entry
// after the previous key's, is tried first.
func (n *fastNode) lookup(key []byte, guess int) int {
	if guess < len(n.entries) && n.entries[guess].name == string(key) {
		return guess
	}
	if n.index != nil {
		if i, ok := n.index[string(key)]; ok {
			return i
		}
		return -1
	}
	for i := range n.entries {
		if n.entries[i].name == string(key) {
			return i
		}
	}
	return -1
}

// valueSet is the scalar values of an enum or a const.
type valueSet struct {
	hasNull, hasTrue, hasFalse bool
	strings                    map[string]struct{}
	numbers                    []decimal
}

func (v *valueSet) hasString(s []byte) bool {
	_, ok := v.strings[string(s)]
	return ok
}

// hasLiteral reports whether the set holds the literal starting with c:
// true, false or null.
func (v *valueSet) hasLiteral(c byte) bool {
	switch c {
	case 't':
		return v.hasTrue
	case 'f':
		return v.hasFalse
	}
	return v.hasNull
}

func (v *valueSet) hasNumber(d decimal) bool {
	for _, x := range v.numbers {
		if x.cmp(d) == 0 {
			return true
		}
	}
	return false
}

// unsupported is why a subschema cannot be compiled.
type unsupported string

// compileFast compiles s for the fast path; the root may be a fallback
// node.
func compileFast(s *jsv.Schema) *fastNode {
	return compileNode(s, 0)
}

// maxCompileDepth bounds the nesting of subschemas compiled; deeper ones
// are left to the library.
const maxCompileDepth = 256

func compileNode(s *jsv.Schema, depth int) *fastNode {
	if s == nil {
		return anyNode
	}
	n, why := compileOwn(s, depth)
	if why != "" {
		return &fastNode{fallback: true, reason: string(why)}
	}
	return n
}

// compileOwn compiles one subschema and, recursively, its children.
func compileOwn(s *jsv.Schema, depth int) (*fastNode, unsupported) {
	if depth > maxCompileDepth {
		return nil, "nested too deep"
	}
	if s.Bool != nil {
		if *s.Bool {
			return anyNode, ""
		}
		return neverNode, ""
	}
	if why := unsupportedKeyword(s); why != "" {
		return nil, why
	}
	n := &fastNode{}
	var why unsupported
	if s.Types != nil {
		for _, name := range s.Types.ToStrings() {
			n.types |= typeMaskNamed(name)
		}
	}
	if s.Enum != nil {
		n.checks |= checkEnum
		if n.enum, why = valueSetOf(s.Enum.Values); why != "" {
			return nil, "enum: " + why
		}
	}
	if s.Const != nil {
		n.checks |= checkConst
		if n.konst, why = valueSetOf([]any{*s.Const}); why != "" {
			return nil, "const: " + why
		}
	}
	if s.Format != nil {
		if !builtinFormats[s.Format.Name] || s.Format.Validate == nil {
			return nil, unsupported("format " + s.Format.Name)
		}
		n.checks |= checkFormat
		n.format = s.Format.Validate
	}
	for _, b := range []struct {
		r     *big.Rat
		check checkSet
		to    *decimal
		name  string
	}{
		{s.Minimum, checkMinimum, &n.minimum, "minimum"},
		{s.Maximum, checkMaximum, &n.maximum, "maximum"},
		{s.ExclusiveMinimum, checkExclusiveMinimum, &n.exclusiveMinimum, "exclusiveMinimum"},
		{s.ExclusiveMaximum, checkExclusiveMaximum, &n.exclusiveMaximum, "exclusiveMaximum"},
	} {
		if b.r == nil {
			continue
		}
		d, ok := decimalOfRat(b.r)
		if !ok {
			return nil, unsupported(b.name + " " + b.r.RatString())
		}
		n.checks |= b.check
		*b.to = d
	}
	if s.MultipleOf != nil {
		m, ok := multipleOfRat(s.MultipleOf)
		if !ok {
			return nil, unsupported("multipleOf " + s.MultipleOf.RatString())
		}
		n.checks |= checkMultipleOf
		n.multipleOf = m
	}
	if s.MinLength != nil {
		n.checks |= checkMinLength
		n.minLength = *s.MinLength
	}
	if s.MaxLength != nil {
		n.checks |= checkMaxLength
		n.maxLength = *s.MaxLength
	}
	if s.Pattern != nil {
		// Parse never changes the regexp engine: patterns are Go's
		// regexp, the very value the library matches with.
		re, ok := s.Pattern.(*regexp.Regexp)
		if !ok {
			return nil, unsupported(fmt.Sprintf("pattern engine %T", s.Pattern))
		}
		n.checks |= checkPattern
		n.pattern = re
	}
	if s.MinItems != nil {
		n.checks |= checkMinItems
		n.minItems = *s.MinItems
	}
	if s.MaxItems != nil {
		n.checks |= checkMaxItems
		n.maxItems = *s.MaxItems
	}
	if why := n.compileObject(s, depth); why != "" {
		return nil, why
	}
	if why := n.compileArray(s, depth); why != "" {
		return nil, why
	}
	return n, ""
}

func (n *fastNode) compileObject(s *jsv.Schema, depth int) unsupported {
	n.additional = anyNode
	switch a := s.AdditionalProperties.(type) {
	case nil:
	case bool:
		n.closed = !a
	case *jsv.Schema:
		n.additional = compileNode(a, depth+1)
	default:
		return unsupported(fmt.Sprintf("additionalProperties of type %T", a))
	}
	// A required name that is not a declared property is checked as an
	// additional one would be.
	undeclared := n.additional
	if n.closed {
		undeclared = neverNode
	}
	at := map[string]int{}
	for _, name := range s.Required {
		if _, dup := at[name]; dup {
			continue
		}
		if len(n.entries) == 64 {
			return "more than 64 required properties"
		}
		node := undeclared
		if p, ok := s.Properties[name]; ok {
			node = compileNode(p, depth+1)
		}
		at[name] = len(n.entries)
		bit := uint64(1) << len(n.entries)
		n.requiredMask |= bit
		n.entries = append(n.entries, fastEntry{name: name, node: node, bit: bit})
	}
	for _, name := range sortedKeys(s.Properties) {
		if _, ok := at[name]; ok {
			continue
		}
		at[name] = len(n.entries)
		n.entries = append(n.entries, fastEntry{name: name, node: compileNode(s.Properties[name], depth+1)})
	}
	if len(n.entries) > maxLinearEntries {
		n.index = at
	}
	return ""
}

func (n *fastNode) compileArray(s *jsv.Schema, depth int) unsupported {
	n.rest = anyNode
	if s.DraftVersion >= 2020 {
		for _, p := range s.PrefixItems {
			n.prefix = append(n.prefix, compileNode(p, depth+1))
		}
		if s.Items2020 != nil {
			n.rest = compileNode(s.Items2020, depth+1)
		}
		return ""
	}
	switch items := s.Items.(type) {
	case nil:
	case *jsv.Schema:
		n.rest = compileNode(items, depth+1)
	case []*jsv.Schema:
		for _, p := range items {
			n.prefix = append(n.prefix, compileNode(p, depth+1))
		}
	default:
		return unsupported(fmt.Sprintf("items of type %T", items))
	}
	// additionalItems: only after an items array, as the library
	// applies it (it is only loaded with one).
	switch a := s.AdditionalItems.(type) {
	case nil:
	case bool:
		if _, tuple := s.Items.([]*jsv.Schema); tuple {
			n.restClosed = !a
		}
	case *jsv.Schema:
		if _, tuple := s.Items.([]*jsv.Schema); tuple {
			n.rest = compileNode(a, depth+1)
		}
	default:
		return unsupported(fmt.Sprintf("additionalItems of type %T", a))
	}
	return ""
}

// unsupportedKeyword names the first keyword of s the fast path leaves
// to the library, "" when there is none. TestFastSchemaFields keeps this
// list in step with the library's Schema.
func unsupportedKeyword(s *jsv.Schema) unsupported {
	switch {
	case s.Ref != nil:
		return "$ref"
	case s.RecursiveRef != nil:
		return "$recursiveRef"
	case s.DynamicRef != nil:
		return "$dynamicRef"
	case s.Not != nil:
		return "not"
	case len(s.AllOf) > 0:
		return "allOf"
	case len(s.AnyOf) > 0:
		return "anyOf"
	case len(s.OneOf) > 0:
		return "oneOf"
	case s.If != nil || s.Then != nil || s.Else != nil:
		return "if/then/else"
	case s.MaxProperties != nil:
		return "maxProperties"
	case s.MinProperties != nil:
		return "minProperties"
	case s.PropertyNames != nil:
		return "propertyNames"
	case len(s.PatternProperties) > 0:
		return "patternProperties"
	case len(s.Dependencies) > 0:
		return "dependencies"
	case len(s.DependentRequired) > 0:
		return "dependentRequired"
	case len(s.DependentSchemas) > 0:
		return "dependentSchemas"
	case s.UnevaluatedProperties != nil:
		return "unevaluatedProperties"
	case s.UniqueItems:
		return "uniqueItems"
	case s.Contains != nil || s.MinContains != nil || s.MaxContains != nil:
		return "contains"
	case s.UnevaluatedItems != nil:
		return "unevaluatedItems"
	case s.ContentEncoding != nil || s.ContentMediaType != nil || s.ContentSchema != nil:
		return "content keywords"
	case len(s.Extensions) > 0:
		return "vocabulary extensions"
	}
	return ""
}

// builtinFormats are the library's own formats: each ignores values that
// are not strings and depends on nothing but the string.
var builtinFormats = map[string]bool{
	"json-pointer": true, "relative-json-pointer": true, "uuid": true, "duration": true,
	"period": true, "ipv4": true, "ipv6": true, "hostname": true, "email": true, "date": true,
	"time": true, "date-time": true, "uri": true, "iri": true, "uri-reference": true,
	"iri-reference": true, "uri-template": true, "semver": true, "regex": true,
}

func typeMaskNamed(name string) typeMask {
	switch name {
	case "null":
		return typeNull
	case "boolean":
		return typeBoolean
	case "number":
		return typeNumber
	case "integer":
		return typeInteger
	case "string":
		return typeString
	case "array":
		return typeArray
	case "object":
		return typeObject
	}
	return 0
}

// valueSetOf compiles the values of an enum or const; objects and arrays
// are not supported.
func valueSetOf(values []any) (valueSet, unsupported) {
	var set valueSet
	for _, v := range values {
		switch v := v.(type) {
		case nil:
			set.hasNull = true
		case bool:
			if v {
				set.hasTrue = true
			} else {
				set.hasFalse = true
			}
		case string:
			if set.strings == nil {
				set.strings = map[string]struct{}{}
			}
			set.strings[v] = struct{}{}
		case json.Number:
			if !numberIsSmall(string(v)) {
				return set, unsupported("number " + string(v))
			}
			r, ok := new(big.Rat).SetString(string(v))
			if !ok {
				return set, unsupported("number " + string(v))
			}
			d, ok := decimalOfRat(r)
			if !ok {
				return set, unsupported("number " + string(v))
			}
			set.numbers = append(set.numbers, d)
		default:
			return set, unsupported(fmt.Sprintf("a value of type %T", v))
		}
	}
	return set, ""
}
