package jsonschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	jsv "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tide-data/tide/internal/schema"
)

// rootURL is where a schema being parsed is placed for the compiler: the
// base against which its relative "$ref"s, and the relative names of its
// references, resolve. It never leaves the package; error messages show
// locations relative to it ("#/properties/x").
const (
	rootBase = "mem://tide/"
	rootURL  = rootBase + "__root__.json"
)

// Format returns the JSON Schema language. The value is stateless and
// safe for concurrent use; it also implements schema.Validator.
func Format() schema.Format { return format{} }

type format struct{}

var (
	_ schema.Format    = format{}
	_ schema.Validator = format{}
	_ schema.Parsed    = (*parsed)(nil)
)

// parsed is a compiled schema. It is immutable once Parse returns and
// safe for concurrent use: Validate and Compatible only read it.
type parsed struct {
	doc       any // the decoded text, numbers as json.Number
	canonical string
	compiled  *jsv.Schema
	// fast is compiled from compiled for validating payloads from their
	// bytes (fastpath_*.go); nil when the root schema itself is outside
	// the fast path's subset.
	fast *fastNode
	// refs are the direct references, sorted by name. A schema referring
	// to this one gives the compiler their documents too, placed relative
	// to where it places this one.
	refs []reference
}

type reference struct {
	name string // Reference.Name, as the referring "$ref" spells it
	p    *parsed
}

func (format) Type() schema.Type { return schema.JSON }

func (p *parsed) Type() schema.Type { return schema.JSON }

// Canonical is the schema as compact JSON with object keys sorted, so two
// texts that differ only in layout or key order share an id. Numbers keep
// their spelling (1.0 and 1 differ).
func (p *parsed) Canonical() string { return p.canonical }

// Parse decodes text and compiles it as a JSON Schema of the draft its
// "$schema" names (draft 7 when it names none, as Confluent does). refs
// holds the referenced schemas by the name the "$ref"s use: an absolute
// URL, or a name relative to the schema's location (or its "$id"). An
// error wraps schema.ErrInvalid with the compiler's reason.
//
// Nothing is fetched: a "$ref" to a document that is neither in refs nor
// a JSON Schema metaschema makes the schema invalid.
func (format) Parse(text string, refs map[string]schema.Parsed) (schema.Parsed, error) {
	doc, err := jsv.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("%w: not JSON: %w", schema.ErrInvalid, err)
	}
	canonical, err := canonicalJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", schema.ErrInvalid, err)
	}
	direct, err := directReferences(refs)
	if err != nil {
		return nil, err
	}
	compiled, err := compile(doc, direct)
	if err != nil {
		return nil, err
	}
	var fast *fastNode
	if n := compileFast(compiled); !n.fallback {
		fast = n
	}
	return &parsed{doc: doc, canonical: canonical, compiled: compiled, fast: fast, refs: direct}, nil
}

func directReferences(refs map[string]schema.Parsed) ([]reference, error) {
	out := make([]reference, 0, len(refs))
	for _, name := range sortedKeys(refs) {
		p, ok := refs[name].(*parsed)
		if !ok || p == nil {
			return nil, fmt.Errorf("%w: reference %q is not a JSON schema", schema.ErrInvalid, name)
		}
		out = append(out, reference{name, p})
	}
	return out, nil
}

// maxReferenceDepth bounds chains of references (they cannot loop: a
// schema refers only to schemas registered before it).
const maxReferenceDepth = 64

// compile gives doc and its references to a fresh compiler. A reference
// is placed at its name resolved against each location its referrer was
// placed at, and against the referrer's "$id": where the referrer's
// "$ref" resolves to; and at its own absolute "$id". Its own references
// are placed relative to it in turn.
func compile(doc any, refs []reference) (*jsv.Schema, error) {
	c := jsv.NewCompiler()
	c.DefaultDraft(jsv.Draft7)
	c.UseLoader(refusingLoader{})

	placed := map[string]string{} // location -> canonical text
	// put places a document at loc; it reports whether loc is new.
	put := func(loc string, r reference) (bool, error) {
		if prev, ok := placed[loc]; ok {
			if prev != r.p.canonical {
				at := withoutBase(loc)
				if at == "" {
					at = "the schema's own location"
				}
				return false, fmt.Errorf("%w: reference %q and another schema are both at %s", schema.ErrInvalid, r.name, at)
			}
			return false, nil
		}
		placed[loc] = r.p.canonical
		if err := c.AddResource(loc, r.p.doc); err != nil {
			return false, invalid(err)
		}
		return true, nil
	}
	var place func(bases []*url.URL, refs []reference, depth int) error
	place = func(bases []*url.URL, refs []reference, depth int) error {
		if depth > maxReferenceDepth {
			return fmt.Errorf("%w: references nested more than %d deep", schema.ErrInvalid, maxReferenceDepth)
		}
		for _, r := range refs {
			name, err := url.Parse(r.name)
			if err != nil || r.name == "" {
				return fmt.Errorf("%w: reference name %q is not a URL", schema.ErrInvalid, r.name)
			}
			var at []*url.URL
			for _, base := range bases {
				loc := base.ResolveReference(name)
				loc.Fragment = ""
				fresh, err := put(loc.String(), r)
				if err != nil {
					return err
				}
				if fresh {
					at = append(at, loc)
				}
			}
			if id, ok := idOf(r.p.doc); ok {
				// A "$ref" may name the document by its "$id" too.
				fresh, err := put(id.String(), r)
				if err != nil {
					return err
				}
				if fresh {
					at = append(at, id)
				}
			}
			// Its references were placed already when it was.
			if len(at) > 0 {
				if err := place(at, r.p.refs, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	bases := []*url.URL{mustParseURL(rootURL)}
	if id, ok := idOf(doc); ok {
		bases = append(bases, id)
	}
	placed[rootURL] = ""
	if err := place(bases, refs, 0); err != nil {
		return nil, err
	}
	if err := c.AddResource(rootURL, doc); err != nil {
		return nil, invalid(err)
	}
	s, err := c.Compile(rootURL)
	if err != nil {
		return nil, invalid(err)
	}
	return s, nil
}

// invalid wraps a compiler error in schema.ErrInvalid, showing locations
// in the schema being parsed as plain fragments ("#/properties/x").
func invalid(err error) error {
	msg := withoutBase(err.Error())
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(strings.TrimSpace(l), "- ")
	}
	return fmt.Errorf("%w: %s", schema.ErrInvalid, strings.Join(lines, "; "))
}

// withoutBase removes the compiler's locations for the schema being parsed
// and for references placed relative to it from a message.
func withoutBase(msg string) string {
	return strings.ReplaceAll(strings.ReplaceAll(msg, rootURL, ""), rootBase, "")
}

// idOf returns the absolute "$id" (or draft 4 "id") of a root document,
// without its (empty) fragment.
func idOf(doc any) (*url.URL, bool) {
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, false
	}
	for _, key := range []string{"$id", "id"} {
		s, ok := obj[key].(string)
		if !ok {
			continue
		}
		u, err := url.Parse(s)
		if err == nil && u.IsAbs() {
			u.Fragment = ""
			return u, true
		}
	}
	return nil, false
}

func mustParseURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// errNotProvided is what the compiler hears when a schema refers to a
// document it was not given: the registry never fetches.
var errNotProvided = errors.New("not provided as a reference (the registry does not fetch schemas)")

type refusingLoader struct{}

func (refusingLoader) Load(u string) (any, error) { return nil, errNotProvided }

// canonicalJSON writes v compactly with object keys sorted (encoding/json
// sorts map keys) and without HTML escaping.
func canonicalJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte{'\n'})), nil
}

// asParsed returns p as this package's schema, or an error naming what it
// is instead.
func asParsed(p schema.Parsed) (*parsed, error) {
	if d, ok := p.(*parsed); ok && d != nil {
		return d, nil
	}
	if p == nil {
		return nil, errors.New("jsonschema: no schema")
	}
	return nil, fmt.Errorf("jsonschema: a %s schema is not a JSON schema", p.Type())
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
