package schema

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/tide-data/tide/internal/transport"
)

// Record kinds: the "kind" of a key in the schemas topic (doc.go draws the
// layout).
const (
	kindSchema  = "schema"
	kindVersion = "version"
	kindDeleted = "deleted"
	kindConfig  = "config"
	kindMode    = "mode"
)

// recordKey is the key of every record in the topic. json.Marshal of it is
// deterministic, which compaction needs: one logical key, one byte string.
type recordKey struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject,omitempty"`
	ID      int    `json:"id,omitempty"`
	Nonce   string `json:"nonce,omitempty"`
}

// schemaValue claims an id for a schema (kind "schema").
type schemaValue struct {
	ID         int         `json:"id"`
	Type       Type        `json:"schemaType"`
	Schema     string      `json:"schema"`
	References []Reference `json:"references,omitempty"`
	Hash       string      `json:"hash"`
}

// versionValue claims a version of a subject for a schema id (kind
// "version"). Hash names the schema the writer meant: the claim holds only
// if the id is that schema's.
type versionValue struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Hash    string `json:"hash"`
}

// deletedValue soft-deletes the version claimed under the same nonce (kind
// "deleted").
type deletedValue struct {
	Deleted bool `json:"deleted"`
}

// settingValue is a config or mode record's value; the zero value is
// written as a tombstone.
type settingValue struct {
	Compatibility Compatibility `json:"compatibilityLevel,omitempty"`
	Mode          Mode          `json:"mode,omitempty"`
}

func encodeKey(k recordKey) []byte {
	b, _ := json.Marshal(k) // plain fields: cannot fail
	return b
}

func newRecord(k recordKey, v any) *transport.Record {
	rec := &transport.Record{Topic: Topic, Partition: 0, Key: encodeKey(k)}
	if v != nil {
		rec.Value, _ = json.Marshal(v) // plain fields: cannot fail
	}
	return rec
}

func settingRecord(kind, subject string, v settingValue) *transport.Record {
	k := recordKey{Kind: kind, Subject: subject}
	if v == (settingValue{}) {
		return newRecord(k, nil)
	}
	return newRecord(k, v)
}

// schemaEntry is a schema holding an id, and the nonce of the claim that
// won it. Entries are never removed: an id names one schema for ever.
type schemaEntry struct {
	schemaValue
	nonce string
}

// versionEntry is a version of a subject.
type versionEntry struct {
	nonce   string
	subject string
	version int
	id      int
	deleted bool
}

// subjectState holds a subject's versions, live and soft-deleted.
type subjectState struct {
	versions map[int]*versionEntry
}

// live counts the versions not soft-deleted.
func (s *subjectState) live() int {
	n := 0
	for _, v := range s.versions {
		if !v.deleted {
			n++
		}
	}
	return n
}

// sorted returns the versions in ascending order, soft-deleted ones only
// with deleted.
func (s *subjectState) sorted(deleted bool) []*versionEntry {
	var out []*versionEntry
	for _, n := range slices.Sorted(maps.Keys(s.versions)) {
		if v := s.versions[n]; deleted || !v.deleted {
			out = append(out, v)
		}
	}
	return out
}

// latest returns the highest live version, or nil.
func (s *subjectState) latest() *versionEntry {
	var best *versionEntry
	for _, v := range s.versions {
		if !v.deleted && (best == nil || v.version > best.version) {
			best = v
		}
	}
	return best
}

// next is the version a new registration takes: one past the highest,
// soft-deleted ones included (hard-deleted numbers are reused).
func (s *subjectState) next() int {
	n := 0
	for v := range s.versions {
		n = max(n, v)
	}
	return n + 1
}

// liveWithID returns the live version holding id, or nil.
func (s *subjectState) liveWithID(id int) *versionEntry {
	for _, v := range s.versions {
		if !v.deleted && v.id == id {
			return v
		}
	}
	return nil
}

// state is what the topic's records add up to. Every worker applies the
// same records in the same (offset) order, so every worker holds the same
// state; doc.go states the rules and why they survive compaction.
type state struct {
	schemas  map[int]*schemaEntry
	byHash   map[string]int
	maxID    int
	nonces   map[string]*versionEntry
	uses     map[int]int // id -> versions holding it, soft-deleted included
	subjects map[string]*subjectState
	config   map[string]Compatibility // "" is the global level
	mode     map[string]Mode          // "" is the global mode
}

func newState() *state {
	return &state{
		schemas:  map[int]*schemaEntry{},
		byHash:   map[string]int{},
		nonces:   map[string]*versionEntry{},
		uses:     map[int]int{},
		subjects: map[string]*subjectState{},
		config:   map[string]Compatibility{},
		mode:     map[string]Mode{},
	}
}

func (st *state) globalCompatibility() Compatibility {
	if c, ok := st.config[""]; ok {
		return c
	}
	return DefaultCompatibility
}

func (st *state) compatibilityInScope(subject string) Compatibility {
	if c, ok := st.config[subject]; ok {
		return c
	}
	return st.globalCompatibility()
}

func (st *state) globalMode() Mode {
	if m, ok := st.mode[""]; ok {
		return m
	}
	return DefaultMode
}

func (st *state) modeInScope(subject string) Mode {
	if m, ok := st.mode[subject]; ok {
		return m
	}
	return st.globalMode()
}

// outcome is what applying one record did.
type outcome int

const (
	applied outcome = iota // changed the state, or repeated what it holds
	ignored                // a claim that lost or a record for nothing: its key may be tombstoned
	invalid                // unreadable: logged and skipped
)

// apply folds one record into the state.
func (st *state) apply(key, value []byte) outcome {
	var k recordKey
	if err := json.Unmarshal(key, &k); err != nil {
		return invalid
	}
	switch k.Kind {
	case kindSchema:
		return st.applySchema(k, value)
	case kindVersion:
		return st.applyVersion(k, value)
	case kindDeleted:
		return st.applyDeleted(k, value)
	case kindConfig, kindMode:
		return st.applySetting(k, value)
	}
	return invalid
}

// applySchema: the first claim of an id holds it; a claim of a held id for
// another schema, or of a second id for a schema that has one, loses.
// Tombstones change nothing (only losers are tombstoned).
func (st *state) applySchema(k recordKey, value []byte) outcome {
	if value == nil {
		return applied
	}
	var v schemaValue
	if err := json.Unmarshal(value, &v); err != nil || v.ID != k.ID || v.ID <= 0 || v.Hash == "" || k.Nonce == "" {
		return invalid
	}
	if held, ok := st.schemas[v.ID]; ok {
		if held.nonce == k.Nonce {
			return applied // the same record again
		}
		return ignored // lost, or the same claim under another nonce: redundant
	}
	if _, ok := st.byHash[v.Hash]; ok {
		return ignored
	}
	st.schemas[v.ID] = &schemaEntry{schemaValue: v, nonce: k.Nonce}
	st.byHash[v.Hash] = v.ID
	st.maxID = max(st.maxID, v.ID)
	return applied
}

// applyVersion: a claim holds if its id is the schema it names, its
// version of the subject is free, and no live version of the subject holds
// that id already (the same schema registered twice keeps its first
// version). A tombstone hard-deletes the version claimed under the nonce.
func (st *state) applyVersion(k recordKey, value []byte) outcome {
	if value == nil {
		held, ok := st.nonces[k.Nonce]
		if !ok {
			return applied
		}
		delete(st.nonces, k.Nonce)
		if st.uses[held.id]--; st.uses[held.id] <= 0 {
			delete(st.uses, held.id)
		}
		sub := st.subjects[held.subject]
		delete(sub.versions, held.version)
		if len(sub.versions) == 0 {
			delete(st.subjects, held.subject)
		}
		return applied
	}
	var v versionValue
	if err := json.Unmarshal(value, &v); err != nil || v.Subject != k.Subject || v.Version <= 0 || k.Nonce == "" {
		return invalid
	}
	if _, ok := st.nonces[k.Nonce]; ok {
		return applied // the same record again
	}
	if s, ok := st.schemas[v.ID]; !ok || s.Hash != v.Hash {
		return ignored
	}
	sub := st.subjects[v.Subject]
	if sub != nil {
		if _, taken := sub.versions[v.Version]; taken {
			return ignored
		}
		if sub.liveWithID(v.ID) != nil {
			return ignored
		}
	} else {
		sub = &subjectState{versions: map[int]*versionEntry{}}
		st.subjects[v.Subject] = sub
	}
	e := &versionEntry{nonce: k.Nonce, subject: v.Subject, version: v.Version, id: v.ID}
	sub.versions[v.Version] = e
	st.nonces[k.Nonce] = e
	st.uses[v.ID]++
	return applied
}

// applyDeleted soft-deletes the version claimed under the nonce; a marker
// for no version (hard-deleted meanwhile, or a claim that lost) is ignored.
// Tombstones accompany hard deletes and change nothing themselves.
func (st *state) applyDeleted(k recordKey, value []byte) outcome {
	if value == nil {
		return applied
	}
	var v deletedValue
	if err := json.Unmarshal(value, &v); err != nil || !v.Deleted {
		return invalid
	}
	e, ok := st.nonces[k.Nonce]
	if !ok {
		return ignored
	}
	e.deleted = true
	return applied
}

// applySetting: the latest record per key holds (last writer wins), as
// compaction keeps it.
func (st *state) applySetting(k recordKey, value []byte) outcome {
	if value == nil {
		if k.Kind == kindConfig {
			delete(st.config, k.Subject)
		} else {
			delete(st.mode, k.Subject)
		}
		return applied
	}
	var v settingValue
	if err := json.Unmarshal(value, &v); err != nil {
		return invalid
	}
	if k.Kind == kindConfig {
		c, err := ParseCompatibility(string(v.Compatibility))
		if err != nil {
			return invalid
		}
		st.config[k.Subject] = c
	} else {
		m, err := ParseMode(string(v.Mode))
		if err != nil {
			return invalid
		}
		st.mode[k.Subject] = m
	}
	return applied
}
