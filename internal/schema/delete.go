package schema

import (
	"context"
	"slices"

	"github.com/tide-data/tide/internal/transport"
)

// DeleteVersion deletes version (a number or Latest) of subject and
// returns its number. A soft delete hides the version (its id keeps
// resolving); a permanent one removes it and is allowed only after a soft
// one (40407), as Confluent. A version referenced by a live schema cannot
// be deleted (42206); READONLY refuses (42205). Soft-deleting the last live
// version also drops the subject's own compatibility level and mode.
func (r *Registry) DeleteVersion(ctx context.Context, subject string, version int, permanent bool) (int, error) {
	if err := r.lockWrites(ctx); err != nil {
		return 0, err
	}
	defer r.unlockWrites()

	r.mu.RLock()
	st := r.mu.st
	sub := st.subjects[subject]
	var e *versionEntry
	if sub != nil {
		if version == Latest {
			e = sub.latest()
		} else {
			e = sub.versions[version]
		}
	}
	var (
		mode     = st.modeInScope(subject)
		refs     []int
		entry    versionEntry
		settings []*transport.Record
	)
	if e != nil {
		entry = *e
		refs = st.referencesTo(subject, e.version)
		if !e.deleted && sub.live() == 1 {
			settings = st.dropSubjectSettings(subject)
		}
	}
	r.mu.RUnlock()

	switch {
	case e == nil && sub == nil:
		return 0, errSubjectNotFound(subject)
	case e == nil:
		return 0, errVersionNotFound(version)
	case entry.deleted && !permanent:
		return 0, newError(CodeVersionSoftDeleted, "Subject '%s' Version %d was soft deleted.Set permanent=true to delete permanently", subject, entry.version)
	case mode == ReadOnly:
		return 0, newError(CodeOperationNotPermitted, "Subject %s is in read-only mode", subject)
	case len(refs) > 0:
		return 0, newError(CodeReferenceExists, "One or more references exist to the schema {subject=%s,version=%d}: ids %v", subject, entry.version, refs)
	case permanent && !entry.deleted:
		return 0, newError(CodeVersionNotSoftDeleted, "Subject '%s' Version %d was not deleted first before being permanently deleted", subject, entry.version)
	}
	var recs []*transport.Record
	if permanent {
		recs = hardDeleteRecords(&entry)
	} else {
		recs = append(append(recs, softDeleteRecord(&entry)), settings...)
	}
	if err := r.produce(ctx, "deleting a version", recs...); err != nil {
		return 0, err
	}
	return entry.version, nil
}

// DeleteSubject deletes every version of subject and returns their
// numbers, ascending: a soft delete the live ones (40404 when there are
// none), a permanent one all of them, allowed only once none is live
// (40405). A subject with a version referenced by a live schema cannot be
// deleted (42206); READONLY refuses (42205). A soft delete also drops the
// subject's own compatibility level and mode.
func (r *Registry) DeleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error) {
	if err := r.lockWrites(ctx); err != nil {
		return nil, err
	}
	defer r.unlockWrites()

	r.mu.RLock()
	st := r.mu.st
	mode := st.modeInScope(subject)
	sub := st.subjects[subject]
	var (
		targets    []versionEntry
		live       int
		referenced *versionEntry
		settings   = st.dropSubjectSettings(subject)
	)
	if sub != nil {
		live = sub.live()
		for _, v := range sub.sorted(permanent) {
			targets = append(targets, *v)
			if referenced == nil && len(st.referencesTo(subject, v.version)) > 0 {
				referenced = v
			}
		}
	}
	r.mu.RUnlock()

	switch {
	case mode == ReadOnly:
		return nil, newError(CodeOperationNotPermitted, "Subject %s is in read-only mode", subject)
	case sub == nil:
		return nil, errSubjectNotFound(subject)
	case !permanent && live == 0:
		return nil, newError(CodeSubjectSoftDeleted, "Subject '%s' was soft deleted.Set permanent=true to delete permanently", subject)
	case referenced != nil:
		return nil, newError(CodeReferenceExists, "One or more references exist to the schema {subject=%s,version=%d}", subject, referenced.version)
	case permanent && live > 0:
		return nil, newError(CodeSubjectNotSoftDeleted, "Subject '%s' was not deleted first before being permanently deleted", subject)
	}
	var recs []*transport.Record
	versions := make([]int, 0, len(targets))
	for i := range targets {
		v := &targets[i]
		versions = append(versions, v.version)
		if permanent {
			recs = append(recs, hardDeleteRecords(v)...)
		} else {
			recs = append(recs, softDeleteRecord(v))
		}
	}
	if !permanent {
		recs = append(recs, settings...)
	}
	if err := r.produce(ctx, "deleting a subject", recs...); err != nil {
		return nil, err
	}
	slices.Sort(versions)
	return versions, nil
}

func softDeleteRecord(v *versionEntry) *transport.Record {
	return newRecord(recordKey{Kind: kindDeleted, Subject: v.subject, Nonce: v.nonce}, deletedValue{Deleted: true})
}

// dropSubjectSettings are the tombstones of the level and mode subject
// has of its own, if any.
func (st *state) dropSubjectSettings(subject string) []*transport.Record {
	var out []*transport.Record
	if _, ok := st.config[subject]; ok {
		out = append(out, settingRecord(kindConfig, subject, settingValue{}))
	}
	if _, ok := st.mode[subject]; ok {
		out = append(out, settingRecord(kindMode, subject, settingValue{}))
	}
	return out
}
