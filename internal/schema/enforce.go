package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Enforcement modes of a topic (its schema.validation config).
const (
	EnforceNone   = "none"
	EnforceFramed = "framed"
	EnforceStrict = "strict"
)

// ErrRefused marks a value CheckValue refuses.
var ErrRefused = errors.New("schema: value refused")

// subjectCacheTTL bounds how long a decision that an id is (or is not) a
// live version of a subject is reused: a version deleted or registered is
// seen by the checks within it.
const subjectCacheTTL = 5 * time.Second

// enforcement caches what CheckValue looks up per record.
type enforcement struct {
	mu       sync.Mutex
	subjects map[subjectID]subjectDecision
	latest   map[string]latestDecision // by topic
}

type subjectID struct {
	subject string
	id      int
}

type subjectDecision struct {
	live bool
	at   time.Time
}

// ValueSubject is the subject of a topic's values (Confluent's
// TopicNameStrategy).
func ValueSubject(topic string) string { return topic + "-value" }

// CheckValue checks a value produced to topic under an enforcement mode:
// framed — the Confluent frame (magic byte 0, a big-endian 4-byte schema
// id) names a registered schema; strict — also a live version of the
// topic's value subject, and the payload after the frame is valid for that
// schema. A refused value is an error wrapping ErrRefused that says why;
// none accepts everything.
func (r *Registry) CheckValue(topic, mode string, value []byte) error {
	if mode == EnforceNone || mode == "" {
		return nil
	}
	if len(value) < 5 || value[0] != 0 {
		return fmt.Errorf("%w: the value is not framed for the schema registry (magic byte 0 and a 4-byte schema id)", ErrRefused)
	}
	id := int(binary.BigEndian.Uint32(value[1:5]))
	p, err := r.parsedByID(id, 0)
	if err != nil {
		return fmt.Errorf("%w: schema id %d: %w", ErrRefused, id, err)
	}
	if mode == EnforceFramed {
		return nil
	}
	subject := ValueSubject(topic)
	if !r.liveVersionOf(subject, id) {
		return fmt.Errorf("%w: schema id %d is not a version of subject %s", ErrRefused, id, subject)
	}
	v, ok := r.formats[p.Type()].(Validator)
	if !ok {
		return fmt.Errorf("%w: %s payloads cannot be validated", ErrRefused, p.Type())
	}
	if err := v.Validate(p, value[5:]); err != nil {
		return fmt.Errorf("%w: schema id %d: %w", ErrRefused, id, err)
	}
	return nil
}

// liveVersionOf reports whether id is a live version of subject, from a
// cache refreshed every subjectCacheTTL.
func (r *Registry) liveVersionOf(subject string, id int) bool {
	key := subjectID{subject, id}
	r.enforce.mu.Lock()
	d, ok := r.enforce.subjects[key]
	r.enforce.mu.Unlock()
	if ok && time.Since(d.at) < subjectCacheTTL {
		return d.live
	}
	live := false
	if versions, err := r.Versions(subject, LiveOnly); err == nil {
		for _, v := range versions {
			if ss, err := r.SubjectVersion(subject, v, false); err == nil && ss.ID == id {
				live = true
				break
			}
		}
	}
	r.enforce.mu.Lock()
	if r.enforce.subjects == nil || len(r.enforce.subjects) > 100_000 {
		r.enforce.subjects = map[subjectID]subjectDecision{}
	}
	r.enforce.subjects[key] = subjectDecision{live: live, at: time.Now()}
	r.enforce.mu.Unlock()
	return live
}

// latestCacheTTL bounds how long the latest version of a subject is reused
// by EncodeJSON: a new version is used within it.
const latestCacheTTL = 5 * time.Second

type latestDecision struct {
	id int
	p  Parsed
	at time.Time
}

// AppendFramedJSON appends the framed value of a JSON document ingested
// into topic: encoded for the latest version of the topic's value subject
// (Avro binary; a JSON Schema payload is the document), after the frame
// naming that version's schema id. A document the schema refuses is an
// error wrapping ErrRefused that names the failing path. For many
// documents, JSONFramerFor resolves the version once.
func (r *Registry) AppendFramedJSON(dst []byte, topic string, doc []byte) ([]byte, error) {
	f, err := r.JSONFramerFor(topic)
	if err != nil {
		return dst, err
	}
	return f.Append(dst, doc)
}

// JSONFramer encodes JSON documents for one schema version and frames
// them with its id. It is immutable: safe for concurrent use.
type JSONFramer struct {
	id  int
	p   Parsed
	enc JSONEncoder
}

// JSONFramerFor returns the framer of topic's value subject's latest
// version (as AppendFramedJSON uses it), or an error wrapping ErrRefused
// when there is none JSON can be encoded into.
func (r *Registry) JSONFramerFor(topic string) (*JSONFramer, error) {
	d, err := r.latestOf(topic)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	enc, ok := r.formats[d.p.Type()].(JSONEncoder)
	if !ok {
		return nil, fmt.Errorf("%w: subject %s holds a %s schema, which JSON cannot be encoded into", ErrRefused, ValueSubject(topic), d.p.Type())
	}
	return &JSONFramer{id: d.id, p: d.p, enc: enc}, nil
}

// Append appends doc's framed value to dst; see AppendFramedJSON.
func (f *JSONFramer) Append(dst, doc []byte) ([]byte, error) {
	n := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(dst[n+1:], uint32(f.id))
	out, err := f.enc.AppendJSON(dst, f.p, doc)
	if err != nil {
		return dst[:n], fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return out, nil
}

// latestOf returns the latest live version of topic's value subject,
// parsed, from a cache refreshed every latestCacheTTL. The cache is keyed
// by topic: a hit builds no subject name (this runs per ingested event).
func (r *Registry) latestOf(topic string) (latestDecision, error) {
	r.enforce.mu.Lock()
	d, ok := r.enforce.latest[topic]
	r.enforce.mu.Unlock()
	if ok && time.Since(d.at) < latestCacheTTL {
		return d, nil
	}
	subject := ValueSubject(topic)
	ss, err := r.SubjectVersion(subject, Latest, false)
	if err != nil {
		return latestDecision{}, fmt.Errorf("subject %s: %w", subject, err)
	}
	p, err := r.parsedByID(ss.ID, 0)
	if err != nil {
		return latestDecision{}, err
	}
	d = latestDecision{id: ss.ID, p: p, at: time.Now()}
	r.enforce.mu.Lock()
	if r.enforce.latest == nil || len(r.enforce.latest) > 10_000 {
		r.enforce.latest = map[string]latestDecision{}
	}
	r.enforce.latest[topic] = d
	r.enforce.mu.Unlock()
	return d, nil
}
