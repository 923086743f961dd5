package schema

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/tide-data/tide/internal/transport"
)

// Special versions.
const (
	// Latest names a subject's highest live (not soft-deleted) version.
	Latest = -1
	// AllVersions asks TestCompatibility to check the new schema as a
	// registration would: against the live versions its level covers.
	AllVersions = -2
)

// maxRegisterAttempts bounds the retries of a registration whose claim
// lost to another worker's (doc.go).
const maxRegisterAttempts = 16

// maxReferenceDepth bounds how deep references nest (a cycle would
// otherwise recurse for ever).
const maxReferenceDepth = 32

// Input is a schema as a client submits it.
type Input struct {
	Type       Type // "" is AVRO
	Text       string
	References []Reference
}

// RegisterOptions refine Register.
type RegisterOptions struct {
	// Normalize stores the schema's canonical text (Parsed.Canonical)
	// rather than the text as given, for a schema new to the registry.
	Normalize bool
	// ID and Version, when positive, ask for that id and version: ids only
	// in IMPORT mode, versions in IMPORT mode or when they are the next.
	ID      int
	Version int
}

// Schema is what an id names.
type Schema struct {
	ID         int
	Type       Type
	Text       string
	References []Reference
}

// SubjectSchema is one version of a subject.
type SubjectSchema struct {
	Subject string
	Version int
	Deleted bool
	Schema
}

// SubjectVersion names one version of a subject.
type SubjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// prepared is a submitted schema, parsed, with its references resolved.
type prepared struct {
	typ    Type
	text   string
	parsed Parsed
	refs   []Reference
	hash   string
}

// prepare parses a submitted schema: a 42201 when its type is not served,
// it does not parse, or a reference names no version.
func (r *Registry) prepare(in Input) (*prepared, error) {
	typ := Type(strings.ToUpper(strings.TrimSpace(string(in.Type))))
	if typ == "" {
		typ = Avro
	}
	f, ok := r.formats[typ]
	if !ok {
		served := make([]string, 0, len(r.formats))
		for _, t := range r.Types() {
			served = append(served, string(t))
		}
		return nil, newError(CodeInvalidSchema, "Unsupported schema type %s (this registry serves %s)", in.Type, strings.Join(served, ", "))
	}
	if strings.TrimSpace(in.Text) == "" {
		return nil, newError(CodeInvalidSchema, "Empty schema")
	}
	resolved, refs, err := r.resolveReferences(in.References, 0)
	if err != nil {
		return nil, err
	}
	parsed, err := f.Parse(in.Text, resolved)
	if err != nil {
		return nil, &Error{Code: CodeInvalidSchema, Message: fmt.Sprintf("Invalid schema of type %s, details: %v", typ, err), Err: err}
	}
	return &prepared{typ: typ, text: in.Text, parsed: parsed, refs: refs, hash: hashOf(typ, parsed.Canonical(), refs)}, nil
}

// hashOf identifies a schema: its type, canonical text and references.
func hashOf(typ Type, canonical string, refs []Reference) string {
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write([]byte(canonical))
	for _, ref := range refs {
		h.Write([]byte{0})
		h.Write([]byte(ref.Name))
		h.Write([]byte{0})
		h.Write([]byte(ref.Subject))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(ref.Version)))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// resolveReferences parses the schemas that refs name (soft-deleted
// versions included; -1 is the latest live one) and returns them by name,
// and refs with their versions made concrete.
func (r *Registry) resolveReferences(refs []Reference, depth int) (map[string]Parsed, []Reference, error) {
	if len(refs) == 0 {
		return nil, nil, nil
	}
	if depth > maxReferenceDepth {
		return nil, nil, newError(CodeInvalidSchema, "Invalid schema: references nest deeper than %d (a cycle?)", maxReferenceDepth)
	}
	out := make(map[string]Parsed, len(refs))
	concrete := make([]Reference, 0, len(refs))
	for _, ref := range refs {
		if ref.Name == "" || ref.Subject == "" {
			return nil, nil, newError(CodeInvalidSchema, "Invalid schema: a reference needs a name and a subject")
		}
		r.mu.RLock()
		var e *versionEntry
		if sub := r.mu.st.subjects[ref.Subject]; sub != nil {
			if ref.Version == Latest {
				e = sub.latest()
			} else {
				e = sub.versions[ref.Version]
			}
		}
		var id, version int
		if e != nil {
			id, version = e.id, e.version
		}
		r.mu.RUnlock()
		if e == nil {
			return nil, nil, newError(CodeInvalidSchema, "Invalid schema: reference %q to subject '%s' version %d not found", ref.Name, ref.Subject, ref.Version)
		}
		p, err := r.parsedByID(id, depth+1)
		if err != nil {
			return nil, nil, err
		}
		out[ref.Name] = p
		concrete = append(concrete, Reference{Name: ref.Name, Subject: ref.Subject, Version: version})
	}
	return out, concrete, nil
}

// parsedByID returns the registered schema id, parsed (and cached: an id
// names one schema for ever).
func (r *Registry) parsedByID(id, depth int) (Parsed, error) {
	r.parsed.Lock()
	p, ok := r.parsed.byID[id]
	r.parsed.Unlock()
	if ok {
		return p, nil
	}
	r.mu.RLock()
	e, ok := r.mu.st.schemas[id]
	var v schemaValue
	if ok {
		v = e.schemaValue
	}
	r.mu.RUnlock()
	if !ok {
		return nil, errSchemaNotFound(id)
	}
	f, ok := r.formats[v.Type]
	if !ok {
		return nil, newError(CodeInvalidSchema, "Schema %d is of type %s, which this registry does not serve", id, v.Type)
	}
	resolved, _, err := r.resolveReferences(v.References, depth)
	if err != nil {
		return nil, err
	}
	p, err = f.Parse(v.Schema, resolved)
	if err != nil {
		return nil, &Error{Code: CodeInvalidSchema, Message: fmt.Sprintf("Registered schema %d does not parse any more: %v", id, err), Err: err}
	}
	r.parsed.Lock()
	r.parsed.byID[id] = p
	r.parsed.Unlock()
	return p, nil
}

// Register registers a schema under subject and returns its id and
// version, once its records are applied here. A schema already live under
// the subject returns its id and version (nothing is written); a schema
// registered elsewhere keeps its id. The schema must be compatible with the
// subject's live versions at the subject's level (409 otherwise), except in
// IMPORT mode. See doc.go for how concurrent registrations on several
// workers agree.
func (r *Registry) Register(ctx context.Context, subject string, in Input, opts RegisterOptions) (id, version int, err error) {
	if subject == "" || strings.ContainsFunc(subject, unicode.IsControl) {
		return 0, 0, newError(CodeInvalidSubject, "Invalid subject %q: empty, or a control character in it", subject)
	}
	opts.ID, opts.Version = max(opts.ID, 0), max(opts.Version, 0)
	// Ids travel in 4-byte frames and versions are int32 in the API: an
	// import past them would push every later id out of range too.
	if opts.ID > math.MaxInt32 {
		return 0, 0, newError(CodeOperationNotPermitted, "Schema id %d is out of range (1 to %d)", opts.ID, math.MaxInt32)
	}
	if opts.Version > math.MaxInt32 {
		return 0, 0, newError(CodeInvalidVersion, "The specified version '%d' is not a valid version id (1 to %d)", opts.Version, math.MaxInt32)
	}
	for range maxRegisterAttempts {
		id, version, done, err := r.registerOnce(ctx, subject, in, opts)
		if err != nil || done {
			return id, version, err
		}
	}
	return 0, 0, newError(CodeStoreError, "Registration under subject '%s' kept losing to concurrent ones; try again", subject)
}

// registerOnce makes one attempt: done is false when its claim lost to a
// concurrent one and the registration must be decided again.
func (r *Registry) registerOnce(ctx context.Context, subject string, in Input, opts RegisterOptions) (id, version int, done bool, err error) {
	if err := r.lockWrites(ctx); err != nil {
		return 0, 0, false, err
	}
	defer r.unlockWrites()

	p, err := r.prepare(in)
	if err != nil {
		return 0, 0, false, err
	}

	r.mu.RLock()
	st := r.mu.st
	mode := st.modeInScope(subject)
	existing, known := st.byHash[p.hash]
	sub := st.subjects[subject]
	if sub == nil {
		sub = &subjectState{}
	}
	// Already registered: its id and version, whatever the mode (as
	// Confluent answers a serializer re-registering in READONLY).
	if known && opts.Version == 0 && (opts.ID == 0 || opts.ID == existing) {
		if v := sub.liveWithID(existing); v != nil {
			r.mu.RUnlock()
			return existing, v.version, true, nil
		}
	}
	var refused *Error
	switch {
	case mode == ReadOnly:
		refused = newError(CodeOperationNotPermitted, "Subject %s is in read-only mode", subject)
	case opts.ID > 0 && mode != Import:
		refused = newError(CodeOperationNotPermitted, "Subject %s is not in import mode", subject)
	case opts.ID == 0 && mode != ReadWrite:
		refused = newError(CodeOperationNotPermitted, "Subject %s is not in read-write mode", subject)
	}
	if refused != nil {
		r.mu.RUnlock()
		return 0, 0, false, refused
	}
	if opts.ID > 0 {
		if held, ok := st.schemas[opts.ID]; ok && held.Hash != p.hash {
			r.mu.RUnlock()
			return 0, 0, false, newError(CodeOperationNotPermitted, "Overwrite new schema with id %d is not permitted.", opts.ID)
		}
		if known && existing != opts.ID {
			r.mu.RUnlock()
			return 0, 0, false, newError(CodeOperationNotPermitted, "Schema already registered with id %d, not %d", existing, opts.ID)
		}
	}
	switch {
	case known:
		id = existing
	case opts.ID > 0:
		id = opts.ID
	default:
		id = st.maxID + 1
		if id > math.MaxInt32 {
			r.mu.RUnlock()
			return 0, 0, false, newError(CodeOperationNotPermitted, "No schema id is left: ids end at %d (an import took the last)", math.MaxInt32)
		}
	}
	version = sub.next()
	if opts.Version > 0 {
		if mode != Import && opts.Version != version {
			r.mu.RUnlock()
			return 0, 0, false, newError(CodeInvalidSchema, "Version is not one more than previous version")
		}
		version = opts.Version
		if held := sub.versions[version]; held != nil {
			r.mu.RUnlock()
			if held.id == id && !held.deleted {
				return id, version, true, nil
			}
			return 0, 0, false, newError(CodeOperationNotPermitted, "Version %d of subject '%s' holds another schema", version, subject)
		}
	}
	live := sub.sorted(false)
	var stale []*versionEntry // soft-deleted versions of the same schema, which Confluent drops
	for _, v := range sub.sorted(true) {
		// A version another live schema references stays: dropping it would
		// break that schema's references (as DeleteVersion refuses, 42206).
		if v.deleted && v.id == id && v.version < version && len(st.referencesTo(subject, v.version)) == 0 {
			stale = append(stale, v)
		}
	}
	level := st.compatibilityInScope(subject)
	r.mu.RUnlock()

	if mode != Import {
		msgs, err := r.check(p, level, live)
		if err != nil {
			return 0, 0, false, err
		}
		if len(msgs) > 0 {
			return 0, 0, false, newError(CodeIncompatibleSchema, "Schema being registered is incompatible with an earlier schema for subject \"%s\", details: [%s]",
				subject, strings.Join(msgs, ", "))
		}
	}

	if r.beforeClaim != nil {
		r.beforeClaim()
	}
	nonce := newNonce()
	var recs []*transport.Record
	if !known {
		text := p.text
		if opts.Normalize {
			text = p.parsed.Canonical()
		}
		recs = append(recs, newRecord(recordKey{Kind: kindSchema, ID: id, Nonce: nonce},
			schemaValue{ID: id, Type: p.typ, Schema: text, References: p.refs, Hash: p.hash}))
	}
	for _, v := range stale {
		recs = append(recs, hardDeleteRecords(v)...)
	}
	recs = append(recs, newRecord(recordKey{Kind: kindVersion, Subject: subject, Nonce: nonce},
		versionValue{Subject: subject, Version: version, ID: id, Hash: p.hash}))
	if err := r.produce(ctx, "registering a schema", recs...); err != nil {
		return 0, 0, false, err
	}
	r.mu.RLock()
	e, won := r.mu.st.nonces[nonce]
	if won {
		id, version = e.id, e.version
	}
	r.mu.RUnlock()
	return id, version, won, nil
}

// hardDeleteRecords are the tombstones that remove a version.
func hardDeleteRecords(v *versionEntry) []*transport.Record {
	return []*transport.Record{
		newRecord(recordKey{Kind: kindVersion, Subject: v.subject, Nonce: v.nonce}, nil),
		newRecord(recordKey{Kind: kindDeleted, Subject: v.subject, Nonce: v.nonce}, nil),
	}
}

// check returns why p may not follow the versions prev (live, ascending)
// at level: messages from the first version found incompatible, the latest
// first; none when compatible.
func (r *Registry) check(p *prepared, level Compatibility, prev []*versionEntry) ([]string, error) {
	if level == None || len(prev) == 0 {
		return nil, nil
	}
	targets := prev
	if !level.transitive() {
		targets = prev[len(prev)-1:]
	}
	f := r.formats[p.typ]
	for i := len(targets) - 1; i >= 0; i-- {
		old, err := r.parsedByID(targets[i].id, 0)
		if err != nil {
			return nil, err
		}
		var msgs []string
		if old.Type() != p.typ {
			msgs = append(msgs, fmt.Sprintf("Incompatible because of different schema type: %s follows %s", p.typ, old.Type()))
		} else {
			if level.backward() {
				msgs = append(msgs, f.Compatible(p.parsed, old)...)
			}
			if level.forward() {
				msgs = append(msgs, f.Compatible(old, p.parsed)...)
			}
		}
		if len(msgs) > 0 {
			return append(msgs, fmt.Sprintf("{oldSchemaVersion: %d, compatibility: '%s'}", targets[i].version, level)), nil
		}
	}
	return nil, nil
}

// LookUp finds schema among subject's versions: the live one holding it,
// or with deleted a soft-deleted one too. 40401 when the subject has no
// versions (no live ones without deleted), 40403 when none holds the
// schema, 42201 when it does not parse.
func (r *Registry) LookUp(subject string, in Input, deleted bool) (SubjectSchema, error) {
	p, err := r.prepare(in)
	if err != nil {
		return SubjectSchema{}, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.mu.st
	sub := st.subjects[subject]
	if id, ok := st.byHash[p.hash]; ok && sub != nil {
		var found *versionEntry
		for _, v := range sub.sorted(deleted) {
			if v.id == id && (found == nil || found.deleted) {
				found = v
			}
		}
		if found != nil {
			return st.subjectSchema(found), nil
		}
	}
	if sub == nil || (!deleted && sub.live() == 0) {
		return SubjectSchema{}, errSubjectNotFound(subject)
	}
	return SubjectSchema{}, errSchemaNotFoundPlain()
}

// TestCompatibility checks schema against version of subject (Latest, a
// number, or AllVersions) at the subject's level and returns whether it is
// compatible, and why not. Against Latest of a subject without versions it
// is compatible; a version that is not live is a 40402.
func (r *Registry) TestCompatibility(subject string, version int, in Input) (bool, []string, error) {
	r.mu.RLock()
	level := r.mu.st.compatibilityInScope(subject)
	sub := r.mu.st.subjects[subject]
	var prev []*versionEntry
	switch {
	case version == AllVersions:
		if sub != nil {
			prev = sub.sorted(false)
		}
	case sub == nil:
	case version == Latest:
		if e := sub.latest(); e != nil {
			prev = []*versionEntry{e}
		}
	default:
		if e := sub.versions[version]; e != nil && !e.deleted {
			prev = []*versionEntry{e}
		}
	}
	r.mu.RUnlock()
	if version != AllVersions && version != Latest && len(prev) == 0 {
		return false, nil, errVersionNotFound(version)
	}
	p, err := r.prepare(in)
	if err != nil {
		return false, nil, err
	}
	msgs, err := r.check(p, level, prev)
	if err != nil {
		return false, nil, err
	}
	return len(msgs) == 0, msgs, nil
}
