package schema

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

func TestRegisterLookUpAndRead(t *testing.T) {
	t.Parallel()
	r := newRegistry(t)
	ctx := ctxT(t)

	id, v := register(t, r, "s", "a")
	if id != 1 || v != 1 {
		t.Fatalf("first registration: id %d version %d", id, v)
	}
	// Again, and again with a text of the same canonical form: the same
	// version, nothing new.
	for _, text := range []string{"a", " a "} {
		if id2, v2 := register(t, r, "s", text); id2 != 1 || v2 != 1 {
			t.Fatalf("re-registration of %q: id %d version %d", text, id2, v2)
		}
	}
	// The same schema under another subject keeps its id.
	if id2, v2 := register(t, r, "t", "a"); id2 != 1 || v2 != 1 {
		t.Fatalf("under t: id %d version %d", id2, v2)
	}
	if id2, v2 := register(t, r, "s", "a,b?"); id2 != 2 || v2 != 2 {
		t.Fatalf("second schema: id %d version %d", id2, v2)
	}

	got := must[SubjectSchema](t)(r.LookUp("s", in("a"), false))
	if got.Version != 1 || got.ID != 1 || got.Text != "a" || got.Type != Avro {
		t.Errorf("LookUp: %+v", got)
	}
	_, err := r.LookUp("s", in("zz"), false)
	wantCode(t, err, CodeSchemaNotFound)
	_, err = r.LookUp("nope", in("a"), false)
	wantCode(t, err, CodeSubjectNotFound)
	_, err = r.LookUp("s", in("bad field!"), false)
	wantCode(t, err, CodeInvalidSchema)

	s := must[Schema](t)(r.SchemaByID(2))
	if s.Text != "a,b?" || s.Type != Avro {
		t.Errorf("SchemaByID(2): %+v", s)
	}
	_, err = r.SchemaByID(99)
	wantCode(t, err, CodeSchemaNotFound)

	latest := must[SubjectSchema](t)(r.SubjectVersion("s", Latest, false))
	if latest.Version != 2 || latest.ID != 2 {
		t.Errorf("latest: %+v", latest)
	}
	_, err = r.SubjectVersion("s", 3, false)
	wantCode(t, err, CodeVersionNotFound)
	_, err = r.SubjectVersion("nope", 1, false)
	wantCode(t, err, CodeSubjectNotFound)

	if got := must[[]int](t)(r.Versions("s", LiveOnly)); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("versions: %v", got)
	}
	if got := r.Subjects(LiveOnly); !slices.Equal(got, []string{"s", "t"}) {
		t.Errorf("subjects: %v", got)
	}
	if got := must[[]string](t)(r.SubjectsOfID(1, false)); !slices.Equal(got, []string{"s", "t"}) {
		t.Errorf("subjects of id 1: %v", got)
	}
	if got := must[[]SubjectVersion](t)(r.VersionsOfID(1, false)); !slices.Equal(got, []SubjectVersion{{"s", 1}, {"t", 1}}) {
		t.Errorf("versions of id 1: %v", got)
	}
	if got := r.AllSchemas("", false, true); len(got) != 2 || got[0].Version != 2 || got[1].Subject != "t" {
		t.Errorf("latest of all: %+v", got)
	}

	// Types: unserved ones and bad texts are 42201; JSON is a type of its own.
	_, _, err = r.Register(ctx, "s", Input{Type: "PROTOBUF", Text: "a"}, RegisterOptions{})
	wantCode(t, err, CodeInvalidSchema)
	_, _, err = r.Register(ctx, "s", Input{Text: "  "}, RegisterOptions{})
	wantCode(t, err, CodeInvalidSchema)
	_, _, err = r.Register(ctx, "s", Input{Text: "a,"}, RegisterOptions{})
	wantCode(t, err, CodeInvalidSchema)
	if id, _, err := r.Register(ctx, "j", Input{Type: "json", Text: "a"}, RegisterOptions{}); err != nil || id != 3 {
		t.Errorf("the same text as JSON: id %d, %v", id, err)
	}
	// A JSON schema after an Avro one is incompatible at any level but NONE.
	_, _, err = r.Register(ctx, "s", Input{Type: JSON, Text: "a,b?"}, RegisterOptions{})
	wantCode(t, err, CodeIncompatibleSchema)
	// Normalize stores the canonical text of a new schema.
	id, _, err = r.Register(ctx, "n", in(" c?, a "), RegisterOptions{Normalize: true})
	if err != nil || must[Schema](t)(r.SchemaByID(id)).Text != "a,c?" {
		t.Errorf("normalized: %v %+v", err, must[Schema](t)(r.SchemaByID(id)))
	}
	if got := r.Types(); !slices.Equal(got, []Type{Avro, JSON}) {
		t.Errorf("types: %v", got)
	}
}

func TestCompatibilityLevels(t *testing.T) {
	t.Parallel()
	// History: v1 "a", v2 "a?,b?" (compatible both ways with v1 at every level).
	cases := []struct {
		level      Compatibility
		candidate  string
		compatible bool
	}{
		{None, "z", true},
		// BACKWARD: the new schema reads the latest's data.
		{Backward, "a?,b?,c?", true}, // adds a field with a default
		{Backward, "a?,b?,c", false}, // adds one without
		{Backward, "b?", true},       // removes a field
		{Backward, "b", true},        // reads v2 (has b) though not v1: not transitive
		{BackwardTransitive, "b", false},
		{BackwardTransitive, "a?,b?,c?", true},
		// FORWARD: the latest reads the new schema's data.
		{Forward, "a,b", true},          // adds fields
		{Forward, "a?", true},           // removes one with a default in v2
		{Forward, "c", true},            // v2 has defaults for everything
		{ForwardTransitive, "c", false}, // v1 needs a
		{ForwardTransitive, "a,c", true},
		// FULL: both.
		{Full, "a?,b?,c?", true},
		{Full, "a?,b?,c", false},
		{Full, "b", true},
		{FullTransitive, "b", false},
		{FullTransitive, "a?", true},
	}
	r := newRegistry(t)
	ctx := ctxT(t)
	for i, c := range cases {
		subject := fmt.Sprintf("s%d", i)
		register(t, r, subject, "a")
		register(t, r, subject, "a?,b?")
		if err := r.SetConfig(ctx, subject, c.level); err != nil {
			t.Fatal(err)
		}
		ok, msgs, err := r.TestCompatibility(subject, AllVersions, in(c.candidate))
		if err != nil || ok != c.compatible {
			t.Errorf("%s %q: compatible %v (%q), %v; want %v", c.level, c.candidate, ok, msgs, err, c.compatible)
		}
		if !ok && (len(msgs) < 2 || !strings.Contains(msgs[len(msgs)-1], string(c.level))) {
			t.Errorf("%s %q: messages %q", c.level, c.candidate, msgs)
		}
		_, _, err = r.Register(ctx, subject, in(c.candidate), RegisterOptions{})
		if c.compatible && err != nil {
			t.Errorf("%s %q: register: %v", c.level, c.candidate, err)
		}
		if !c.compatible {
			wantCode(t, err, CodeIncompatibleSchema)
			if !strings.Contains(err.Error(), "reader field") {
				t.Errorf("409 without the reasons: %v", err)
			}
		}
	}

	// Against one version, whatever the level's reach.
	register(t, r, "one", "a")
	register(t, r, "one", "a?,b?")
	if ok, _, err := r.TestCompatibility("one", 1, in("b")); err != nil || ok {
		t.Errorf("b against v1: %v, %v", ok, err)
	}
	if ok, _, err := r.TestCompatibility("one", Latest, in("b")); err != nil || !ok {
		t.Errorf("b against latest: %v, %v", ok, err)
	}
	_, _, err := r.TestCompatibility("one", 7, in("b"))
	wantCode(t, err, CodeVersionNotFound)
	_, _, err = r.TestCompatibility("none", 1, in("b"))
	wantCode(t, err, CodeVersionNotFound)
	if ok, _, err := r.TestCompatibility("none", Latest, in("b")); err != nil || !ok {
		t.Errorf("against the latest of nothing: %v, %v", ok, err)
	}
	_, _, err = r.TestCompatibility("one", Latest, in("!"))
	wantCode(t, err, CodeInvalidSchema)
}

func TestDeleteRules(t *testing.T) {
	t.Parallel()
	r := newRegistry(t)
	ctx := ctxT(t)
	must0 := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must0(r.SetConfig(ctx, "", None))
	register(t, r, "s", "a")    // id 1
	register(t, r, "s", "b")    // id 2
	register(t, r, "s", "c")    // id 3
	register(t, r, "keep", "b") // id 2 elsewhere too

	// Versions: soft, then soft again (40406), permanent only after soft.
	_, err := r.DeleteVersion(ctx, "s", 1, true)
	wantCode(t, err, CodeVersionNotSoftDeleted)
	if v, err := r.DeleteVersion(ctx, "s", 1, false); err != nil || v != 1 {
		t.Fatalf("soft delete v1: %d, %v", v, err)
	}
	_, err = r.DeleteVersion(ctx, "s", 1, false)
	wantCode(t, err, CodeVersionSoftDeleted)
	_, err = r.SubjectVersion("s", 1, false)
	wantCode(t, err, CodeVersionNotFound)
	if got := must[SubjectSchema](t)(r.SubjectVersion("s", 1, true)); !got.Deleted || got.ID != 1 {
		t.Errorf("soft-deleted v1 with deleted: %+v", got)
	}
	if got := must[[]int](t)(r.Versions("s", LiveOnly)); !slices.Equal(got, []int{2, 3}) {
		t.Errorf("live versions: %v", got)
	}
	if got := must[[]int](t)(r.Versions("s", DeletedOnly)); !slices.Equal(got, []int{1}) {
		t.Errorf("deleted versions: %v", got)
	}
	// The id still resolves; lookups see it only with deleted.
	must[Schema](t)(r.SchemaByID(1))
	_, err = r.LookUp("s", in("a"), false)
	wantCode(t, err, CodeSchemaNotFound)
	if got := must[SubjectSchema](t)(r.LookUp("s", in("a"), true)); got.Version != 1 {
		t.Errorf("LookUp deleted: %+v", got)
	}
	// Latest moves down when the latest is deleted.
	if v, err := r.DeleteVersion(ctx, "s", Latest, false); err != nil || v != 3 {
		t.Fatalf("delete latest: %d, %v", v, err)
	}
	if got := must[SubjectSchema](t)(r.SubjectVersion("s", Latest, false)); got.Version != 2 {
		t.Errorf("latest after delete: %+v", got)
	}
	_, err = r.DeleteVersion(ctx, "s", 9, false)
	wantCode(t, err, CodeVersionNotFound)
	_, err = r.DeleteVersion(ctx, "nope", 1, false)
	wantCode(t, err, CodeSubjectNotFound)
	// Permanent after soft: gone, even with deleted; its id too, once no
	// version anywhere holds it.
	if v, err := r.DeleteVersion(ctx, "s", 1, true); err != nil || v != 1 {
		t.Fatalf("hard delete v1: %d, %v", v, err)
	}
	_, err = r.SubjectVersion("s", 1, true)
	wantCode(t, err, CodeVersionNotFound)
	_, err = r.SchemaByID(1)
	wantCode(t, err, CodeSchemaNotFound)

	// Re-registering a soft-deleted schema: a new version, the same id, and
	// the soft-deleted version is dropped.
	if id, v := register(t, r, "s", "c"); id != 3 || v != 4 {
		t.Errorf("re-register c: id %d version %d", id, v)
	}
	if got := must[[]int](t)(r.Versions("s", IncludeDeleted)); !slices.Equal(got, []int{2, 4}) {
		t.Errorf("versions after re-registering: %v", got)
	}
	// A hard-deleted schema registered again gets its id back.
	if id, _ := register(t, r, "s2", "a"); id != 1 {
		t.Errorf("a again: id %d", id)
	}

	// Subjects: soft (the live versions), then 40404, permanent only after.
	_, err = r.DeleteSubject(ctx, "s", true)
	wantCode(t, err, CodeSubjectNotSoftDeleted)
	must0(r.SetConfig(ctx, "s", Full))
	if got, err := r.DeleteSubject(ctx, "s", false); err != nil || !slices.Equal(got, []int{2, 4}) {
		t.Fatalf("soft delete s: %v, %v", got, err)
	}
	_, err = r.DeleteSubject(ctx, "s", false)
	wantCode(t, err, CodeSubjectSoftDeleted)
	_, err = r.Versions("s", LiveOnly)
	wantCode(t, err, CodeSubjectNotFound)
	_, err = r.SubjectVersion("s", Latest, false)
	wantCode(t, err, CodeSubjectNotFound)
	if got := r.Subjects(LiveOnly); slices.Contains(got, "s") {
		t.Errorf("soft-deleted subject listed: %v", got)
	}
	if got := r.Subjects(DeletedOnly); !slices.Equal(got, []string{"s"}) {
		t.Errorf("deleted subjects: %v", got)
	}
	// The subject's own level went with it.
	_, err = r.Config("s", false)
	wantCode(t, err, CodeSubjectCompatibilityNotSet)
	// A soft-deleted subject continues its numbering.
	if _, v := register(t, r, "s", "z"); v != 5 {
		t.Errorf("register into a soft-deleted subject: version %d", v)
	}
	must[int](t)(r.DeleteVersion(ctx, "s", 5, false))
	if got, err := r.DeleteSubject(ctx, "s", true); err != nil || !slices.Equal(got, []int{2, 4, 5}) {
		t.Fatalf("hard delete s: %v, %v", got, err)
	}
	_, err = r.DeleteSubject(ctx, "s", false)
	wantCode(t, err, CodeSubjectNotFound)
	if got := r.Subjects(IncludeDeleted); slices.Contains(got, "s") {
		t.Errorf("hard-deleted subject listed: %v", got)
	}
	// After a permanent delete, numbering starts again.
	if _, v := register(t, r, "s", "q"); v != 1 {
		t.Errorf("register after hard delete: version %d", v)
	}

	// References: a referenced version cannot be deleted.
	baseID, _ := register(t, r, "base", "x")
	ref := Reference{Name: "base", Subject: "base", Version: 1}
	userID, _ := register(t, r, "user", "y,ref:base", ref)
	if got := must[[]int](t)(r.ReferencedBy("base", 1)); !slices.Equal(got, []int{userID}) {
		t.Errorf("referenced by: %v", got)
	}
	_, err = r.DeleteVersion(ctx, "base", 1, false)
	wantCode(t, err, CodeReferenceExists)
	_, err = r.DeleteSubject(ctx, "base", false)
	wantCode(t, err, CodeReferenceExists)
	got := must[Schema](t)(r.SchemaByID(userID))
	if !slices.Equal(got.References, []Reference{ref}) || baseID == userID {
		t.Errorf("schema with a reference: %+v", got)
	}
	// A reference to nothing, or a schema missing its reference, is invalid.
	_, _, err = r.Register(ctx, "user", in("y,ref:base", Reference{Name: "base", Subject: "base", Version: 9}), RegisterOptions{})
	wantCode(t, err, CodeInvalidSchema)
	_, _, err = r.Register(ctx, "user", in("y,ref:base"), RegisterOptions{})
	wantCode(t, err, CodeInvalidSchema)
	// Once the referencing version is gone, the base can go.
	must[[]int](t)(r.DeleteSubject(ctx, "user", false))
	must[int](t)(r.DeleteVersion(ctx, "base", 1, false))
}

func TestConfigAndMode(t *testing.T) {
	t.Parallel()
	r := newRegistry(t)
	ctx := ctxT(t)
	if c := must[Compatibility](t)(r.Config("", false)); c != Backward {
		t.Errorf("default level %s", c)
	}
	if err := r.SetConfig(ctx, "", "full_transitive"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, r.SetConfig(ctx, "", "SIDEWAYS"), CodeInvalidCompatibilityLevel)
	_, err := r.Config("s", false)
	wantCode(t, err, CodeSubjectCompatibilityNotSet)
	if c := must[Compatibility](t)(r.Config("s", true)); c != FullTransitive {
		t.Errorf("defaultToGlobal: %s", c)
	}
	if err := r.SetConfig(ctx, "s", None); err != nil {
		t.Fatal(err)
	}
	if c := must[Compatibility](t)(r.Config("s", false)); c != None {
		t.Errorf("subject level %s", c)
	}
	if c, err := r.DeleteConfig(ctx, "s"); err != nil || c != None {
		t.Errorf("delete subject level: %s, %v", c, err)
	}
	_, err = r.DeleteConfig(ctx, "s")
	wantCode(t, err, CodeSubjectNotFound)
	if c, err := r.DeleteConfig(ctx, ""); err != nil || c != FullTransitive {
		t.Errorf("delete global level: %s, %v", c, err)
	}
	if c := must[Compatibility](t)(r.Config("", false)); c != Backward {
		t.Errorf("global after delete: %s", c)
	}

	// Modes.
	register(t, r, "s", "a")
	if m := must[Mode](t)(r.Mode("", false)); m != ReadWrite {
		t.Errorf("default mode %s", m)
	}
	_, err = r.Mode("s", false)
	wantCode(t, err, CodeSubjectModeNotSet)
	wantCode(t, r.SetMode(ctx, "", "SOMETIMES", false), CodeInvalidMode)
	if err := r.SetMode(ctx, "s", ReadOnly, false); err != nil {
		t.Fatal(err)
	}
	_, _, err = r.Register(ctx, "s", in("a,b?"), RegisterOptions{})
	wantCode(t, err, CodeOperationNotPermitted)
	// What is registered already is answered, as a serializer expects.
	if id, v := register(t, r, "s", "a"); id != 1 || v != 1 {
		t.Errorf("existing schema in READONLY: id %d version %d", id, v)
	}
	_, err = r.DeleteVersion(ctx, "s", 1, false)
	wantCode(t, err, CodeOperationNotPermitted)
	_, err = r.DeleteSubject(ctx, "s", false)
	wantCode(t, err, CodeOperationNotPermitted)
	register(t, r, "other", "a") // the global mode is still READWRITE
	if m, err := r.DeleteMode(ctx, "s"); err != nil || m != ReadOnly {
		t.Errorf("delete mode: %s, %v", m, err)
	}
	_, err = r.DeleteMode(ctx, "s")
	wantCode(t, err, CodeSubjectNotFound)

	// IMPORT: refused where schemas exist unless forced; then only
	// registrations that name their id, which keep it.
	wantCode(t, r.SetMode(ctx, "", Import, false), CodeOperationNotPermitted)
	if err := r.SetMode(ctx, "imported", Import, false); err != nil {
		t.Fatalf("IMPORT on an empty subject: %v", err)
	}
	if err := r.SetMode(ctx, "", Import, true); err != nil {
		t.Fatal(err)
	}
	_, _, err = r.Register(ctx, "imported", in("m"), RegisterOptions{})
	wantCode(t, err, CodeOperationNotPermitted)
	id, v, err := r.Register(ctx, "imported", in("m"), RegisterOptions{ID: 100, Version: 7})
	if err != nil || id != 100 || v != 7 {
		t.Fatalf("import: id %d version %d, %v", id, v, err)
	}
	// Idempotent; another schema cannot take a held id.
	if id, v, err := r.Register(ctx, "imported", in("m"), RegisterOptions{ID: 100, Version: 7}); err != nil || id != 100 || v != 7 {
		t.Errorf("import again: %d %d %v", id, v, err)
	}
	_, _, err = r.Register(ctx, "imported", in("n"), RegisterOptions{ID: 100, Version: 8})
	wantCode(t, err, CodeOperationNotPermitted)
	// IMPORT checks no compatibility.
	if _, _, err := r.Register(ctx, "imported", in("zz"), RegisterOptions{ID: 50, Version: 3}); err != nil {
		t.Errorf("incompatible import: %v", err)
	}
	if err := r.SetMode(ctx, "", ReadWrite, false); err != nil {
		t.Fatal(err)
	}
	_, _, err = r.Register(ctx, "other", in("m2"), RegisterOptions{ID: 101})
	wantCode(t, err, CodeOperationNotPermitted)
	// Subject "imported" still has IMPORT of its own.
	if err := r.SetMode(ctx, "imported", ReadWrite, false); err != nil {
		t.Fatal(err)
	}
	if id, v := register(t, r, "imported", "m,x?"); id != 101 || v != 8 {
		t.Errorf("after import: id %d version %d", id, v)
	}
}

func TestRestartRebuildsState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := openNode(t, dir)
	r := openRegistry(t, n.Transport, "w1")
	ctx := ctxT(t)
	register(t, r, "s", "a")
	register(t, r, "s", "a,b?")
	register(t, r, "t", "c")
	register(t, r, "base", "x")
	register(t, r, "user", "y,ref:base", Reference{Name: "base", Subject: "base", Version: 1})
	must[int](t)(r.DeleteVersion(ctx, "s", 1, false))
	must[[]int](t)(r.DeleteSubject(ctx, "t", false))
	must[[]int](t)(r.DeleteSubject(ctx, "t", true))
	if err := r.SetConfig(ctx, "s", Full); err != nil {
		t.Fatal(err)
	}
	if err := r.SetMode(ctx, "base", ReadOnly, false); err != nil {
		t.Fatal(err)
	}
	before := snapshot(r)
	closeRegistry(t, r)
	n.Close(t)

	n = openNode(t, dir)
	defer n.Close(t)
	r = openRegistry(t, n.Transport, "w1")
	defer closeRegistry(t, r)
	if after := snapshot(r); after != before {
		t.Fatalf("state after restart:\n%s\nwant:\n%s", after, before)
	}
	// Ids continue past the highest ever held (c's 3 included).
	if id, v := register(t, r, "s", "a,b?,c?"); id != 6 || v != 3 {
		t.Errorf("after restart: id %d version %d", id, v)
	}
	if id, _ := register(t, r, "t", "c"); id != 3 {
		t.Errorf("c keeps its id: %d", id)
	}
}

// TestRegistriesRace runs two registries (two workers) over one transport,
// registering concurrently, often the same schemas and subjects: every
// schema must end with one id, every subject with distinct versions, both
// registries (and a third that replays the topic, whole or compacted) with
// the same state.
func TestRegistriesRace(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.Close(t)
	a := openRegistry(t, n.Transport, "a")
	defer closeRegistry(t, a)
	b := openRegistry(t, n.Transport, "b")
	defer closeRegistry(t, b)
	ctx := ctxT(t)
	if err := a.SetConfig(ctx, "", None); err != nil {
		t.Fatal(err)
	}
	catchUp(t, b)

	type result struct {
		subject, text string
		id, version   int
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	const goroutines, each = 8, 12
	for g := range goroutines {
		r := a
		if g%2 == 1 {
			r = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Few subjects and overlapping texts: the same version
				// claimed for different schemas, the same id for different
				// schemas, and the same schema from both sides.
				subject := fmt.Sprintf("s%d", (g+i)%3)
				text := fmt.Sprintf("f%d", (g*each+i)%20)
				id, version, err := r.Register(ctx, subject, in(text), RegisterOptions{})
				if err != nil {
					t.Errorf("register %s %s: %v", subject, text, err)
					return
				}
				mu.Lock()
				results = append(results, result{subject, text, id, version})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	catchUp(t, a)
	catchUp(t, b)
	sa, sb := snapshot(a), snapshot(b)
	if sa != sb {
		t.Fatalf("registries disagree:\n%s\nvs\n%s", sa, sb)
	}
	idOf, textOf := map[string]int{}, map[int]string{}
	for _, res := range results {
		if id, ok := idOf[res.text]; ok && id != res.id {
			t.Errorf("%s has ids %d and %d", res.text, id, res.id)
		}
		if text, ok := textOf[res.id]; ok && text != res.text {
			t.Errorf("id %d names %s and %s", res.id, text, res.text)
		}
		idOf[res.text], textOf[res.id] = res.id, res.text
		// What each writer was told is what both registries hold.
		for _, r := range []*Registry{a, b} {
			got, err := r.SubjectVersion(res.subject, res.version, false)
			if err != nil || got.ID != res.id || got.Text != res.text {
				t.Errorf("%s v%d: %+v, %v; writer was told id %d %s", res.subject, res.version, got, err, res.id, res.text)
			}
		}
	}
	for _, subject := range a.Subjects(LiveOnly) {
		seen := map[int]bool{}
		for _, v := range must[[]int](t)(a.Versions(subject, LiveOnly)) {
			id := must[SubjectSchema](t)(a.SubjectVersion(subject, v, false)).ID
			if seen[id] {
				t.Errorf("%s holds id %d twice", subject, id)
			}
			seen[id] = true
		}
	}

	// A third registry replaying the topic agrees.
	c := openRegistry(t, n.Transport, "c")
	if sc := snapshot(c); sc != sa {
		t.Errorf("replay disagrees:\n%s\nvs\n%s", sc, sa)
	}
	closeRegistry(t, c)

	// So does a replay of the topic as compaction would leave it: the
	// latest record of each key, in offset order.
	recs := readAll(t, n.Transport)
	if got := replay(compact(recs)); got != sa {
		t.Errorf("compacted replay disagrees:\n%s\nvs\n%s", got, sa)
	}
	t.Logf("%d registrations, %d records (%d claims lost), %d after compaction", len(results), len(recs), losses(recs), len(compact(recs)))
}

// TestLostClaimIsRetried puts another worker's registration between a
// registration's decision and its claims: the claims lose, and the writer
// decides again on the new state.
func TestLostClaimIsRetried(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.Close(t)
	a := openRegistry(t, n.Transport, "a")
	defer closeRegistry(t, a)
	b := openRegistry(t, n.Transport, "b")
	defer closeRegistry(t, b)
	ctx := ctxT(t)
	if err := a.SetConfig(ctx, "s", None); err != nil {
		t.Fatal(err)
	}
	catchUp(t, b)
	var sneak func()
	a.beforeClaim = func() {
		if sneak != nil {
			sneak()
			sneak = nil
		}
	}

	// a decides id 1, s v1 for x; b takes both for y first.
	sneak = func() { register(t, b, "s", "y") }
	if id, v := register(t, a, "s", "x"); id != 2 || v != 2 {
		t.Errorf("x after losing: id %d version %d, want 2, 2", id, v)
	}
	// a decides u v1 for p; b registers q there first, which p cannot
	// follow at BACKWARD: the retry answers 409.
	sneak = func() { register(t, b, "u", "q") }
	_, _, err := a.Register(ctx, "u", in("p"), RegisterOptions{})
	wantCode(t, err, CodeIncompatibleSchema)
	// b registers the very schema a is registering: a finds it.
	sneak = func() { register(t, b, "w", "same") }
	if id, v := register(t, a, "w", "same"); id != 4 || v != 1 {
		t.Errorf("same schema: id %d version %d, want 4, 1", id, v)
	}

	catchUp(t, a)
	catchUp(t, b)
	if sa, sb := snapshot(a), snapshot(b); sa != sb {
		t.Fatalf("registries disagree:\n%s\nvs\n%s", sa, sb)
	}
	recs := readAll(t, n.Transport)
	if lost := losses(recs); lost < 4 {
		t.Errorf("%d claims lost, want at least 4 (x's id and version, p's, same's)", lost)
	}
	if got, want := replay(compact(recs)), snapshot(a); got != want {
		t.Errorf("compacted replay disagrees:\n%s\nvs\n%s", got, want)
	}
}

// losses counts the records that applying recs ignores.
func losses(recs []*transport.Record) int {
	st, n := newState(), 0
	for _, rec := range recs {
		if st.apply(rec.Key, rec.Value) == ignored {
			n++
		}
	}
	return n
}

// TestCompactionKeepsDecisions replays hand-made histories compacted: a
// claim that lost must stay lost once the claim that beat it is superseded
// or removed (the sweep's tombstones see to it).
func TestCompactionKeepsDecisions(t *testing.T) {
	t.Parallel()
	rec := newRecord
	x := schemaValue{ID: 1, Type: Avro, Schema: "x", Hash: "hx"}
	y := schemaValue{ID: 1, Type: Avro, Schema: "y", Hash: "hy"}
	y2 := schemaValue{ID: 2, Type: Avro, Schema: "y", Hash: "hy"}
	history := []*transport.Record{
		rec(recordKey{Kind: kindSchema, ID: 1, Nonce: "a"}, x),
		rec(recordKey{Kind: kindVersion, Subject: "s", Nonce: "a"}, versionValue{Subject: "s", Version: 1, ID: 1, Hash: "hx"}),
		// B proposed id 1 and version 1 too: both lose...
		rec(recordKey{Kind: kindSchema, ID: 1, Nonce: "b"}, y),
		rec(recordKey{Kind: kindVersion, Subject: "s", Nonce: "b"}, versionValue{Subject: "s", Version: 1, ID: 1, Hash: "hy"}),
		// ...are swept...
		rec(recordKey{Kind: kindSchema, ID: 1, Nonce: "b"}, nil),
		rec(recordKey{Kind: kindVersion, Subject: "s", Nonce: "b"}, nil),
		// ...and B tries again.
		rec(recordKey{Kind: kindSchema, ID: 2, Nonce: "c"}, y2),
		rec(recordKey{Kind: kindVersion, Subject: "s", Nonce: "c"}, versionValue{Subject: "s", Version: 2, ID: 2, Hash: "hy"}),
		// A soft-deletes, then hard-deletes its version.
		rec(recordKey{Kind: kindDeleted, Subject: "s", Nonce: "a"}, deletedValue{Deleted: true}),
		rec(recordKey{Kind: kindVersion, Subject: "s", Nonce: "a"}, nil),
		rec(recordKey{Kind: kindDeleted, Subject: "s", Nonce: "a"}, nil),
	}
	for i := range history {
		history[i].Offset = int64(i)
		prefix := history[:i+1]
		if whole, compacted := replay(prefix), replay(compact(prefix)); whole != compacted {
			t.Errorf("after record %d: compacted\n%s\nwhole\n%s", i, compacted, whole)
		}
	}
	want := "schema 1 AVRO \"x\" []\nschema 2 AVRO \"y\" []\nversion s 2 id=2 deleted=false\nmaxID 2\n"
	if got := replay(compact(history)); got != want {
		t.Errorf("final state:\n%s\nwant\n%s", got, want)
	}
}

// readAll reads the whole registry topic.
func readAll(t *testing.T, tr transport.Transport) []*transport.Record {
	t.Helper()
	ctx := ctxT(t)
	ends, err := tr.EndOffsets(ctx, Topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []*transport.Record
	for off := int64(0); off < ends[0]; {
		recs, err := tr.ReadAt(ctx, transport.TopicPartition{Topic: Topic}, off, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		out = append(out, recs...)
		off = recs[len(recs)-1].Offset + 1
	}
	return out
}

// compact keeps the latest record of each key, tombstones included, in
// offset order: what log compaction leaves before it drops tombstones.
func compact(recs []*transport.Record) []*transport.Record {
	last := map[string]int64{}
	for _, r := range recs {
		last[string(r.Key)] = r.Offset
	}
	var out []*transport.Record
	for _, r := range recs {
		if last[string(r.Key)] == r.Offset {
			out = append(out, r)
		}
	}
	return out
}

// replay applies records to a fresh state and renders it.
func replay(recs []*transport.Record) string {
	r := &Registry{}
	r.mu.st = newState()
	for _, rec := range recs {
		r.mu.st.apply(rec.Key, rec.Value)
	}
	return snapshot(r)
}

func TestRegisterOnClosedRegistry(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.Close(t)
	r := openRegistry(t, n.Transport, "w")
	closeRegistry(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := r.Register(ctx, "s", in("a"), RegisterOptions{})
	if code := CodeOf(err); code != CodeStoreError && code != CodeOperationTimeout {
		t.Errorf("register after close: %v", err)
	}
}
