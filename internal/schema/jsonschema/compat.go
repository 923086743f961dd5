package jsonschema

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	jsv "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tide-data/tide/internal/schema"
)

// Compatible returns why a document written with writer may not be valid
// for reader, one message per problem, none when every document the writer
// allows is one the reader allows (as far as the rules in the package doc
// can tell). Each message starts with the JSON pointer of the schema
// location, e.g.
//
//	#/properties/amount: type narrowed from [number string] to [number]
//
// BACKWARD is Compatible(new, latest), FORWARD Compatible(latest, new).
func (format) Compatible(reader, writer schema.Parsed) []string {
	r, err := asParsed(reader)
	if err != nil {
		return []string{"#: reader: " + err.Error()}
	}
	w, err := asParsed(writer)
	if err != nil {
		return []string{"#: writer: " + err.Error()}
	}
	c := newChecker()
	return render(c.check(node{s: w.compiled}, node{s: r.compiled}))
}

// maxSteps bounds the pairs of subschemas one Compatible call compares.
// Matching union branches is quadratic at each level; a schema built to
// blow that up gets a conservative answer instead of a hung registry.
const maxSteps = 100_000

// maxRefHops bounds following a chain of bare "$ref"s ({"$ref": "#"}
// refers to itself).
const maxRefHops = 64

// view selects which part of a schema a node stands for. A schema is the
// conjunction of its own keywords, its "$ref" (draft 2019-09 on, where
// siblings count), each allOf branch, its anyOf and its oneOf; the
// checker splits it into those parts.
type view uint8

const (
	viewFull  view = iota // the whole schema
	viewBase              // its own keywords only: no $ref, allOf, anyOf, oneOf
	viewAnyOf             // only its anyOf
	viewOneOf             // only its oneOf
)

// node is a schema, or a part of one, on one side of the comparison.
type node struct {
	s    *jsv.Schema
	view view
	// only restricts a writer to the values of these types (0: no
	// restriction), used to match a multi-type writer against a union
	// one type at a time.
	only typeSet
}

type pair struct{ w, r node }

// problem is one finding. path is a JSON pointer relative to the pair
// being compared; render makes it absolute ("#" + path).
type problem struct {
	path string
	msg  string
}

// anySchema stands for "any value": an absent keyword, true.
var anySchema = &jsv.Schema{}

// checker compares a writer's schema with a reader's. It is used for one
// Compatible call by one goroutine.
type checker struct {
	steps  int
	budget int // maxSteps; lowered by tests
	memo   map[pair][]problem
	// active are the pairs being compared further up the stack: meeting
	// one again (a recursive schema) assumes it compatible, and results
	// that depended on such an assumption are not memoized.
	active      map[pair]bool
	assumptions int
}

func newChecker() *checker {
	return &checker{budget: maxSteps, memo: map[pair][]problem{}, active: map[pair]bool{}}
}

func (c *checker) check(w, r node) []problem {
	w, r = resolve(w), resolve(r)
	if w == r {
		return nil
	}
	k := pair{w, r}
	if p, ok := c.memo[k]; ok {
		return p
	}
	if c.active[k] {
		c.assumptions++
		return nil
	}
	c.steps++
	if c.steps > c.budget {
		return []problem{{msg: "not analysed: the schemas are too large or too branched to compare, so they are taken as incompatible"}}
	}
	c.active[k] = true
	before := c.assumptions
	p := slices.Clip(c.compare(w, r))
	delete(c.active, k)
	if c.assumptions == before {
		c.memo[k] = p
	}
	return p
}

// compare is check without the bookkeeping. The order matters: a reader
// that is a conjunction is split first (the writer must satisfy every
// part); then a writer that is a conjunction (one part implying the
// reader is enough); then a writer union (every branch must be readable),
// before a reader union (some branch must read the whole writer).
func (c *checker) compare(w, r node) []problem {
	if isFalse(w) || isTrue(r) {
		return nil
	}
	if w.only != 0 && declared(w.s)&w.only == 0 {
		return nil // the writer writes no value of the types it is restricted to
	}
	if isFalse(r) {
		return []problem{{msg: "the reader's schema is false: it accepts no value"}}
	}
	if values, ok := finiteValues(w, r); ok {
		return c.checkValues(values, r)
	}
	if parts := conjuncts(r); len(parts) > 1 || parts[0].n != r {
		var out []problem
		for _, p := range parts {
			out = append(out, prefix(p.path, c.check(w, p.n))...)
		}
		return out
	}
	if parts := conjuncts(w); len(parts) > 1 || parts[0].n != w {
		return c.anyConjunct(parts, r)
	}
	if w.view == viewAnyOf || w.view == viewOneOf {
		return c.writerBranches(w, r)
	}
	if r.view == viewAnyOf || r.view == viewOneOf {
		return c.readerBranches(w, r, true)
	}
	return c.compareBase(w, r)
}

// part is one conjunct of a schema and its path from the schema.
type part struct {
	n    node
	path string
}

// conjuncts splits a whole schema into the parts it is the conjunction
// of; any other node is its own only part.
func conjuncts(n node) []part {
	s := n.s
	if n.view != viewFull || s.Bool != nil {
		return []part{{n: n}}
	}
	var parts []part
	if hasOwnKeywords(s) {
		parts = append(parts, part{n: node{s, viewBase, n.only}})
	}
	if s.Ref != nil {
		parts = append(parts, part{n: node{s.Ref, viewFull, n.only}})
	}
	for i, a := range s.AllOf {
		parts = append(parts, part{n: node{a, viewFull, n.only}, path: "/allOf/" + strconv.Itoa(i)})
	}
	if len(s.AnyOf) > 0 {
		parts = append(parts, part{n: node{s, viewAnyOf, n.only}})
	}
	if len(s.OneOf) > 0 {
		parts = append(parts, part{n: node{s, viewOneOf, n.only}})
	}
	if len(parts) == 0 {
		parts = append(parts, part{n: node{s, viewBase, n.only}})
	}
	return parts
}

// anyConjunct: a writer that is a conjunction only writes values every
// part allows, so one part the reader accepts is enough. (The parts are
// not merged: a writer that needs two allOf branches together to satisfy
// the reader is reported incompatible.) When none fits, the closest
// part's problems are reported.
func (c *checker) anyConjunct(parts []part, r node) []problem {
	var best []problem
	for i, p := range parts {
		probs := c.check(p.n, r)
		if len(probs) == 0 {
			return nil
		}
		if i == 0 || len(probs) < len(best) {
			best = probs
		}
	}
	return best
}

// writerBranches: every branch of a writer's union must be readable.
func (c *checker) writerBranches(w, r node) []problem {
	branches, kw := branchesOf(w)
	var out []problem
	for i, b := range branches {
		bn := resolve(node{b, viewFull, w.only})
		var probs []problem
		if r.view == viewAnyOf || r.view == viewOneOf {
			probs = c.readerBranches(bn, r, false)
		} else {
			probs = c.check(bn, r)
		}
		out = append(out, prefix("/"+kw+"/"+strconv.Itoa(i), probs)...)
	}
	return out
}

// readerBranches: some branch of the reader's union must accept all the
// writer writes. A writer of several types is matched one type at a time
// ({"type": ["string", "null"]} against anyOf [{"type": "string"},
// {"type": "null"}]). oneOf's "exactly one" is not analysed: it is read
// as anyOf. detailsAtBranch puts the closest branch's problems under its
// path in the reader's union; otherwise they stay relative to the writer.
func (c *checker) readerBranches(w, r node, detailsAtBranch bool) []problem {
	branches, kw := branchesOf(r)
	var out []problem
	for _, x := range splitByType(w) {
		var best []problem
		bestAt, bestScore, matched := 0, 0, false
		for j, b := range branches {
			probs := c.check(x, node{s: b})
			if len(probs) == 0 {
				matched = true
				break
			}
			if score := mismatch(probs); j == 0 || score < bestScore {
				best, bestAt, bestScore = probs, j, score
			}
		}
		if matched {
			continue
		}
		what := "the writer's schema"
		if x.only != 0 {
			what = "the writer's " + x.only.String() + " values"
		}
		out = append(out, problem{msg: fmt.Sprintf("%s narrowed: no branch of the reader's %s accepts all of %s", kw, kw, what)})
		at := ""
		if detailsAtBranch {
			at = "/" + kw + "/" + strconv.Itoa(bestAt)
		}
		out = append(out, prefix(at, best)...)
	}
	return out
}

// mismatch scores how far a candidate branch is from the writer, to
// report the closest one: a branch of another type is farther than any
// number of differences inside a branch of the same type.
func mismatch(probs []problem) int {
	score := len(probs)
	for _, p := range probs {
		if p.path == "" && strings.HasPrefix(p.msg, "type changed") {
			score += 1 << 20
		}
	}
	return score
}

func branchesOf(n node) ([]*jsv.Schema, string) {
	if n.view == viewOneOf {
		return n.s.OneOf, "oneOf"
	}
	return n.s.AnyOf, "anyOf"
}

// splitByType returns a writer of several declared types as one node per
// type (number and integer count as one), or the writer itself.
func splitByType(w node) []node {
	if w.only != 0 || w.view == viewAnyOf || w.view == viewOneOf {
		return []node{w}
	}
	t := declared(w.s)
	if t == tAll {
		return []node{w}
	}
	var out []node
	for _, g := range []typeSet{tNull, tBoolean, tNumber | tInteger, tString, tArray, tObject} {
		if t&g != 0 {
			out = append(out, node{w.s, w.view, t & g})
		}
	}
	if len(out) < 2 {
		return []node{w}
	}
	return out
}

// resolve follows bare "$ref"s: a schema that is nothing but a reference
// is the schema it refers to.
func resolve(n node) node {
	for i := 0; i < maxRefHops && n.view == viewFull && n.s.Ref != nil && n.s.Bool == nil &&
		len(n.s.AllOf)+len(n.s.AnyOf)+len(n.s.OneOf) == 0 && !hasOwnKeywords(n.s); i++ {
		n.s = n.s.Ref
	}
	return n
}

// isTrue: the node accepts every value.
func isTrue(n node) bool {
	s := n.s
	if s.Bool != nil {
		return *s.Bool
	}
	switch n.view {
	case viewFull:
		return s.Ref == nil && len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) == 0 && !hasOwnKeywords(s)
	case viewBase:
		return !hasOwnKeywords(s)
	}
	return false
}

// isFalse: the node accepts no value.
func isFalse(n node) bool { return n.s.Bool != nil && !*n.s.Bool }

// hasOwnKeywords reports whether s asserts anything besides $ref and the
// combinators. Annotations (title, default, ...) assert nothing.
func hasOwnKeywords(s *jsv.Schema) bool {
	return s.Types != nil || s.Enum != nil || s.Const != nil || s.Not != nil ||
		s.If != nil || s.Then != nil || s.Else != nil || s.Format != nil ||
		s.RecursiveRef != nil || s.DynamicRef != nil ||
		s.MaxProperties != nil || s.MinProperties != nil || len(s.Required) > 0 ||
		s.PropertyNames != nil || len(s.Properties) > 0 || len(s.PatternProperties) > 0 ||
		s.AdditionalProperties != nil || len(s.Dependencies) > 0 || len(s.DependentRequired) > 0 ||
		len(s.DependentSchemas) > 0 || s.UnevaluatedProperties != nil ||
		s.MinItems != nil || s.MaxItems != nil || s.UniqueItems || s.Contains != nil ||
		s.MinContains != nil || s.MaxContains != nil || s.Items != nil || s.AdditionalItems != nil ||
		len(s.PrefixItems) > 0 || s.Items2020 != nil || s.UnevaluatedItems != nil ||
		s.MinLength != nil || s.MaxLength != nil || s.Pattern != nil ||
		s.ContentEncoding != nil || s.ContentMediaType != nil || s.ContentSchema != nil ||
		s.Maximum != nil || s.Minimum != nil || s.ExclusiveMaximum != nil || s.ExclusiveMinimum != nil ||
		s.MultipleOf != nil || len(s.Extensions) > 0
}

// prefix returns probs with path put in front of their paths. It always
// copies: results are memoized and shared.
func prefix(path string, probs []problem) []problem {
	if len(probs) == 0 {
		return nil
	}
	out := make([]problem, len(probs))
	for i, p := range probs {
		out[i] = problem{path: path + p.path, msg: p.msg}
	}
	return out
}

// render writes problems as "#<path>: <message>", dropping repeats.
func render(probs []problem) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range probs {
		line := "#" + p.path + ": " + p.msg
		if !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	return out
}

// typeSet is a set of JSON types. Numbers are split in two: tInteger is
// the integers, tNumber the others, so "number" is tNumber|tInteger and
// an integer writer fits a number reader but not the other way round.
type typeSet uint8

const (
	tNull typeSet = 1 << iota
	tBoolean
	tNumber
	tInteger
	tString
	tArray
	tObject

	tAll = tNull | tBoolean | tNumber | tInteger | tString | tArray | tObject
)

// declared returns the types s's "type" keyword allows, tAll without one.
func declared(s *jsv.Schema) typeSet {
	if s.Bool != nil {
		if *s.Bool {
			return tAll
		}
		return 0
	}
	if s.Types == nil {
		return tAll
	}
	var t typeSet
	for _, name := range s.Types.ToStrings() {
		t |= typeNamed(name)
	}
	return t
}

func typeNamed(name string) typeSet {
	switch name {
	case "null":
		return tNull
	case "boolean":
		return tBoolean
	case "number":
		return tNumber | tInteger
	case "integer":
		return tInteger
	case "string":
		return tString
	case "array":
		return tArray
	case "object":
		return tObject
	}
	return 0
}

// String writes t as a JSON Schema type list: "[number string]", "any".
func (t typeSet) String() string {
	if t == tAll {
		return "any"
	}
	var names []string
	for _, e := range []struct {
		t    typeSet
		name string
	}{{tNull, "null"}, {tBoolean, "boolean"}, {tNumber, "number"}, {tInteger, "integer"}, {tString, "string"}, {tArray, "array"}, {tObject, "object"}} {
		if t&e.t == 0 || (e.t == tInteger && t&tNumber != 0) {
			continue
		}
		names = append(names, e.name)
	}
	return "[" + strings.Join(names, " ") + "]"
}
