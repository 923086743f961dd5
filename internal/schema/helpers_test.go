package schema

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
	"github.com/tide-data/tide/internal/transport/embedded/embeddedtest"
)

// fieldsFormat is a toy schema language for the core's tests: a schema is
// a comma-separated list of fields, "?" marking one that has a default
// ("a,b?"). A field "ref:NAME" needs a reference named NAME. Readers can
// read a writer's data when every field they lack a default for is in the
// writer.
type fieldsFormat struct{ typ Type }

type fieldsSchema struct {
	typ    Type
	fields map[string]bool // name -> has a default
}

func (s *fieldsSchema) Type() Type { return s.typ }

func (s *fieldsSchema) Canonical() string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(s.fields)) {
		if s.fields[name] {
			name += "?"
		}
		parts = append(parts, name)
	}
	return strings.Join(parts, ",")
}

var fieldName = regexp.MustCompile(`^[a-z0-9_]+(:[a-z0-9_]+)?$`)

func (f fieldsFormat) Type() Type { return f.typ }

func (f fieldsFormat) Parse(text string, refs map[string]Parsed) (Parsed, error) {
	s := &fieldsSchema{typ: f.typ, fields: map[string]bool{}}
	for _, field := range strings.Split(text, ",") {
		field = strings.TrimSpace(field)
		name, optional := strings.CutSuffix(field, "?")
		if !fieldName.MatchString(name) {
			return nil, fmt.Errorf("%w: bad field %q", ErrInvalid, field)
		}
		if ref, ok := strings.CutPrefix(name, "ref:"); ok && refs[ref] == nil {
			return nil, fmt.Errorf("%w: no reference named %q", ErrInvalid, ref)
		}
		s.fields[name] = optional
	}
	return s, nil
}

func (f fieldsFormat) Compatible(reader, writer Parsed) []string {
	r, w := reader.(*fieldsSchema), writer.(*fieldsSchema)
	var out []string
	for _, name := range slices.Sorted(maps.Keys(r.fields)) {
		if _, ok := w.fields[name]; !ok && !r.fields[name] {
			out = append(out, fmt.Sprintf("reader field '%s' has no default and is missing from the writer", name))
		}
	}
	return out
}

var testFormats = []Format{fieldsFormat{Avro}, fieldsFormat{JSON}}

// openNode opens an embedded log, coordinator and transport in dir.
func openNode(t *testing.T, dir string) *embeddedtest.Node { return embeddedtest.Open(t, dir) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openRegistry(t *testing.T, tr transport.Transport, worker string) *Registry {
	t.Helper()
	r, err := Open(ctxT(t), tr, testFormats, Options{WorkerID: worker})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func closeRegistry(t *testing.T, r *Registry) {
	t.Helper()
	if err := r.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// newRegistry opens a registry on a fresh node; both close at the end of
// the test.
func newRegistry(t *testing.T) *Registry {
	t.Helper()
	n := openNode(t, t.TempDir())
	r := openRegistry(t, n.Transport, "w1")
	t.Cleanup(func() {
		closeRegistry(t, r)
		n.Close(t)
	})
	return r
}

func in(text string, refs ...Reference) Input {
	return Input{Text: text, References: refs}
}

func register(t *testing.T, r *Registry, subject, text string, refs ...Reference) (int, int) {
	t.Helper()
	id, version, err := r.Register(ctxT(t), subject, in(text, refs...), RegisterOptions{})
	if err != nil {
		t.Fatalf("register %s %q: %v", subject, text, err)
	}
	return id, version
}

// wantCode fails unless err is an *Error with code.
func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want code %d", err, code)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// catchUp waits until r has applied everything in the topic.
func catchUp(t *testing.T, r *Registry) {
	t.Helper()
	if err := r.lockWrites(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	r.unlockWrites()
}

// snapshot renders r's whole state, for comparing registries.
func snapshot(r *Registry) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.mu.st
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(st.schemas)) {
		e := st.schemas[id]
		fmt.Fprintf(&b, "schema %d %s %q %v\n", id, e.Type, e.Schema, e.References)
	}
	for _, name := range slices.Sorted(maps.Keys(st.subjects)) {
		for _, v := range st.subjects[name].sorted(true) {
			fmt.Fprintf(&b, "version %s %d id=%d deleted=%v\n", name, v.version, v.id, v.deleted)
		}
	}
	for _, s := range slices.Sorted(maps.Keys(st.config)) {
		fmt.Fprintf(&b, "config %q %s\n", s, st.config[s])
	}
	for _, s := range slices.Sorted(maps.Keys(st.mode)) {
		fmt.Fprintf(&b, "mode %q %s\n", s, st.mode[s])
	}
	fmt.Fprintf(&b, "maxID %d\n", st.maxID)
	return b.String()
}
