package schema

import (
	"maps"
	"slices"
	"strings"
)

// Filter chooses between live and soft-deleted subjects and versions.
type Filter int

// The filters: the API's default, ?deleted=true and ?deletedOnly=true.
const (
	LiveOnly Filter = iota
	IncludeDeleted
	DeletedOnly
)

func (f Filter) keep(deleted bool) bool {
	switch f {
	case IncludeDeleted:
		return true
	case DeletedOnly:
		return deleted
	}
	return !deleted
}

// subjectSchema copies a version out of the state.
func (st *state) subjectSchema(v *versionEntry) SubjectSchema {
	return SubjectSchema{Subject: v.subject, Version: v.version, Deleted: v.deleted, Schema: st.schema(v.id)}
}

func (st *state) schema(id int) Schema {
	e := st.schemas[id]
	return Schema{ID: id, Type: e.Type, Text: e.Schema, References: slices.Clone(e.References)}
}

// SchemaByID returns the schema id names: 40403 unless some version of a
// subject, live or soft-deleted, holds it.
func (r *Registry) SchemaByID(id int) (Schema, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.mu.st.uses[id] == 0 {
		return Schema{}, errSchemaNotFound(id)
	}
	return r.mu.st.schema(id), nil
}

// SubjectVersion returns version (a number, or Latest: the highest live
// one) of subject; a soft-deleted version only with deleted. 40401 when the
// subject has no versions (no live ones without deleted), 40402 when it
// lacks this one.
func (r *Registry) SubjectVersion(subject string, version int, deleted bool) (SubjectSchema, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.mu.st
	sub := st.subjects[subject]
	if sub == nil {
		return SubjectSchema{}, errSubjectNotFound(subject)
	}
	var e *versionEntry
	if version == Latest {
		e = sub.latest()
	} else if v := sub.versions[version]; v != nil && (deleted || !v.deleted) {
		e = v
	}
	if e != nil {
		return st.subjectSchema(e), nil
	}
	if !deleted && sub.live() == 0 {
		return SubjectSchema{}, errSubjectNotFound(subject)
	}
	return SubjectSchema{}, errVersionNotFound(version)
}

// Subjects returns the subjects that have versions, sorted. A subject is
// soft-deleted when all its versions are.
func (r *Registry) Subjects(f Filter) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := []string{}
	for name, sub := range r.mu.st.subjects {
		if f.keep(sub.live() == 0) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Versions returns the version numbers of subject, ascending. 40401 when
// the subject has no versions, or only soft-deleted ones and f is LiveOnly
// (as Confluent: a soft-deleted subject is not found without ?deleted).
func (r *Registry) Versions(subject string, f Filter) ([]int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	sub := r.mu.st.subjects[subject]
	if sub == nil || (f == LiveOnly && sub.live() == 0) {
		return nil, errSubjectNotFound(subject)
	}
	out := []int{}
	for _, n := range slices.Sorted(maps.Keys(sub.versions)) {
		if f.keep(sub.versions[n].deleted) {
			out = append(out, n)
		}
	}
	return out, nil
}

// VersionsOfID returns the versions holding schema id, by subject then
// version; soft-deleted ones only with deleted. 40403 when the id is not
// served.
func (r *Registry) VersionsOfID(id int, deleted bool) ([]SubjectVersion, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.mu.st
	if st.uses[id] == 0 {
		return nil, errSchemaNotFound(id)
	}
	out := []SubjectVersion{}
	for _, v := range st.nonces {
		if v.id == id && (deleted || !v.deleted) {
			out = append(out, SubjectVersion{Subject: v.subject, Version: v.version})
		}
	}
	slices.SortFunc(out, func(a, b SubjectVersion) int {
		if c := strings.Compare(a.Subject, b.Subject); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	return out, nil
}

// SubjectsOfID returns the subjects with a version holding schema id,
// sorted; soft-deleted versions count only with deleted. 40403 when the id
// is not served.
func (r *Registry) SubjectsOfID(id int, deleted bool) ([]string, error) {
	versions, err := r.VersionsOfID(id, deleted)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, v := range versions {
		if len(out) == 0 || out[len(out)-1] != v.Subject {
			out = append(out, v.Subject)
		}
	}
	return out, nil
}

// ReferencedBy returns the ids of the live schemas that reference version
// (a number, soft-deleted included, or Latest) of subject, ascending.
func (r *Registry) ReferencedBy(subject string, version int) ([]int, error) {
	target, err := r.SubjectVersion(subject, version, true)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.mu.st.referencesTo(subject, target.Version), nil
}

// referencesTo returns the ids of live versions whose schema references
// subject's version, ascending and without repeats.
func (st *state) referencesTo(subject string, version int) []int {
	seen := map[int]bool{}
	for _, v := range st.nonces {
		if v.deleted || seen[v.id] {
			continue
		}
		for _, ref := range st.schemas[v.id].References {
			if ref.Subject == subject && ref.Version == version {
				seen[v.id] = true
				break
			}
		}
	}
	out := slices.AppendSeq([]int{}, maps.Keys(seen)) // [], not null, in JSON
	slices.Sort(out)
	return out
}

// AllSchemas returns the versions of every subject whose name starts with
// prefix, by subject then version: live ones (soft-deleted too with
// deleted), or each subject's latest live version only with latestOnly.
func (r *Registry) AllSchemas(prefix string, deleted, latestOnly bool) []SubjectSchema {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.mu.st
	out := []SubjectSchema{}
	for _, name := range slices.Sorted(maps.Keys(st.subjects)) {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		sub := st.subjects[name]
		if latestOnly {
			if e := sub.latest(); e != nil {
				out = append(out, st.subjectSchema(e))
			}
			continue
		}
		for _, v := range sub.sorted(deleted) {
			out = append(out, st.subjectSchema(v))
		}
	}
	return out
}

// Parsed returns the schema id names, parsed, its references resolved.
func (r *Registry) Parsed(id int) (Parsed, error) {
	if _, err := r.SchemaByID(id); err != nil {
		return nil, err
	}
	return r.parsedByID(id, 0)
}
