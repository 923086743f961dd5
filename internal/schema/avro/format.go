package avro

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	hamba "github.com/hamba/avro/v2"
	"github.com/valyala/fastjson"

	"github.com/tide-data/tide/internal/schema"
)

// Format returns the Avro schema language. The value also implements
// schema.Validator. It holds no state and is safe for concurrent use.
func Format() schema.Format { return format{} }

type format struct{}

var (
	_ schema.Format    = format{}
	_ schema.Validator = format{}
	_ schema.Parsed    = (*Schema)(nil)
)

func (format) Type() schema.Type { return schema.Avro }

// Parse checks text and resolves the named types it uses from refs, which
// must be Schemas this package parsed (a reference's own references come
// along with it). An invalid schema is an error wrapping schema.ErrInvalid
// whose text is the reason (a JSON syntax error with its line and column,
// hamba/avro's message, or a bad default named by record and field).
func (format) Parse(text string, refs map[string]schema.Parsed) (schema.Parsed, error) {
	return Parse(text, refs)
}

// Parse is Format().Parse returning the concrete type.
func Parse(text string, refs map[string]schema.Parsed) (*Schema, error) {
	if !utf8.ValidString(text) {
		// JSON text is UTF-8; an invalid byte would be read as U+FFFD by
		// one parser and kept by another, and the canonical form unstable.
		return nil, fmt.Errorf("%w: the schema is not valid UTF-8", schema.ErrInvalid)
	}
	deps, err := directDeps(refs)
	if err != nil {
		return nil, err
	}
	b := newBuilder()
	cache := &hamba.SchemaCache{}
	// The referenced schemas are parsed again, into a cache private to
	// this call: hamba's parser rewrites the trees it resolves names
	// into, so a tree another Schema owns (and another goroutine may be
	// reading) must never reach it.
	for _, d := range transitiveDeps(deps) {
		raw, err := parseJSON(d.text)
		if err == nil {
			_, err = b.parseText(raw, d.text, cache)
		}
		if err == nil {
			err = b.computeDefaults()
		}
		if err != nil {
			return nil, fmt.Errorf("%w: reference %s no longer parses: %w", schema.ErrInvalid, d.Name(), err)
		}
	}

	raw, err := parseJSON(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", schema.ErrInvalid, err)
	}
	// First without the field defaults, into a copy of the cache: the
	// defaults are checked by this package, with messages that name the
	// field, before hamba/avro converts them (it allocates a fixed's
	// declared size for a fixed default, whatever the default's length).
	probe := b.clone()
	probeCache := &hamba.SchemaCache{}
	probeCache.AddAll(cache)
	if _, err := probe.parseText(raw, string(withoutDefaults(nil, raw)), probeCache); err != nil {
		return nil, fmt.Errorf("%w: %w", schema.ErrInvalid, err)
	}
	if err := probe.computeDefaults(); err != nil {
		return nil, fmt.Errorf("%w: %w", schema.ErrInvalid, err)
	}
	hs, err := b.parseText(raw, text, cache)
	if err == nil {
		err = b.computeDefaults()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", schema.ErrInvalid, err)
	}
	return &Schema{
		avro:      hs,
		text:      text,
		canonical: string(b.buf),
		deps:      deps,
		records:   b.records,
		enums:     b.enums,
		plan:      b.planFor(hs),
	}, nil
}

// Schema is a parsed Avro schema. It is immutable and safe for concurrent
// use; the hamba/avro tree Avro returns is shared and must not be changed.
type Schema struct {
	avro      hamba.Schema
	text      string
	canonical string
	deps      []*Schema // direct references, by reference name

	records map[*hamba.RecordSchema]*recordInfo
	enums   map[*hamba.EnumSchema]map[string]int // symbol -> index
	plan    *plan                                // what EncodeJSON walks
}

// Type is schema.Avro.
func (*Schema) Type() schema.Type { return schema.Avro }

// Canonical is the schema's normalized JSON: see the package doc for what
// it keeps and drops.
func (s *Schema) Canonical() string { return s.canonical }

// Avro returns the hamba/avro tree, with referenced named types resolved.
func (s *Schema) Avro() hamba.Schema { return s.avro }

// Name is the full name of a named top-level type ("com.acme.Order"), or
// the type ("string", "union") of an unnamed one.
func (s *Schema) Name() string {
	if n, ok := deref(s.avro).(hamba.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.avro.Type())
}

func directDeps(refs map[string]schema.Parsed) ([]*Schema, error) {
	names := make([]string, 0, len(refs))
	for name := range refs {
		names = append(names, name)
	}
	slices.Sort(names)
	deps := make([]*Schema, 0, len(refs))
	for _, name := range names {
		s, ok := refs[name].(*Schema)
		if !ok || s == nil {
			return nil, fmt.Errorf("%w: reference %q is not an Avro schema", schema.ErrInvalid, name)
		}
		deps = append(deps, s)
	}
	return deps, nil
}

// transitiveDeps orders deps and their own references so that every schema
// comes after the ones it uses.
func transitiveDeps(deps []*Schema) []*Schema {
	var out []*Schema
	seen := map[*Schema]bool{}
	var visit func(s *Schema)
	visit = func(s *Schema) {
		if seen[s] {
			return
		}
		seen[s] = true
		for _, d := range s.deps {
			visit(d)
		}
		out = append(out, s)
	}
	for _, d := range deps {
		visit(d)
	}
	return out
}

// parseJSON checks that text is one JSON value without duplicate keys and
// returns it parsed.
func parseJSON(text string) (*fastjson.Value, error) {
	if err := checkSyntax(text); err != nil {
		return nil, err
	}
	// A parser per text: its values must stay valid until the builder has
	// encoded the defaults.
	var p fastjson.Parser
	raw, err := p.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("avro: %w", err)
	}
	if err := checkDuplicateKeys(raw, ""); err != nil {
		return nil, err
	}
	return raw, nil
}

// parseText has hamba/avro parse text (raw is its JSON, or the JSON text
// was derived from) into cache, which gains its named types, then walks
// the two together: b.buf holds the canonical form afterwards.
func (b *builder) parseText(raw *fastjson.Value, text string, cache *hamba.SchemaCache) (hamba.Schema, error) {
	hs, err := parseHamba(text, cache)
	if err != nil {
		return nil, err
	}
	b.buf = b.buf[:0]
	if err := b.schema(raw, hs, ""); err != nil {
		return nil, err
	}
	return hs, nil
}

// parseHamba runs hamba's parser, turning a panic on hostile input into an
// error: the registry parses text from the network.
func parseHamba(text string, cache *hamba.SchemaCache) (s hamba.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("avro: schema parser failed: %v", r)
		}
	}()
	return hamba.ParseWithCache(text, "", cache)
}

// checkSyntax rejects text that is not one JSON value, naming the line and
// column of the first error. (hamba/avro reads text that is not JSON as a
// bare type name, so `int` unquoted would pass.)
func checkSyntax(text string) error {
	if json.Valid([]byte(text)) {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	var v json.RawMessage
	err := dec.Decode(&v)
	var se *json.SyntaxError
	switch {
	case err == nil:
		off := int(dec.InputOffset())
		off += len(text[off:]) - len(strings.TrimLeft(text[off:], " \t\r\n"))
		line, col := lineCol(text, off)
		return fmt.Errorf("avro: JSON syntax error at line %d, column %d: text after the schema", line, col)
	case errors.As(err, &se):
		// Offset counts the bytes read, the offending one included.
		line, col := lineCol(text, int(se.Offset)-1)
		return fmt.Errorf("avro: JSON syntax error at line %d, column %d: %w", line, col, se)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("avro: JSON syntax error: the text ends inside the schema")
	}
	return fmt.Errorf("avro: JSON syntax error: %w", err)
}

func lineCol(text string, off int) (line, col int) {
	off = min(max(off, 0), len(text))
	line = 1 + strings.Count(text[:off], "\n")
	col = off - strings.LastIndexByte(text[:off], '\n')
	return line, col
}

// checkDuplicateKeys rejects an object with a key twice: parsers disagree
// on which one counts (hamba/avro takes the last), so the text's meaning
// would be ambiguous.
func checkDuplicateKeys(v *fastjson.Value, path string) error {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		var err error
		seen := make(map[string]bool, o.Len())
		o.Visit(func(k []byte, child *fastjson.Value) {
			if err != nil {
				return
			}
			key := string(k)
			if seen[key] {
				err = fmt.Errorf("avro: key %q appears twice in the object at %s", key, pointerOrRoot(path))
				return
			}
			seen[key] = true
			err = checkDuplicateKeys(child, path+"/"+escapePointer(key))
		})
		return err
	case fastjson.TypeArray:
		a, _ := v.Array()
		for i, child := range a {
			if err := checkDuplicateKeys(child, fmt.Sprintf("%s/%d", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func pointerOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// escapePointer escapes a JSON Pointer (RFC 6901) reference token.
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// deref follows a reference to a named type already defined.
func deref(s hamba.Schema) hamba.Schema {
	if r, ok := s.(*hamba.RefSchema); ok {
		return r.Schema()
	}
	return s
}
