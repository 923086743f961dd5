package format

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/tide-data/tide/internal/sql/types"
)

// memSchemas is an in-memory stand-in for the schema registry's reads and
// registrations (the registry itself is tested in internal/schema, and the
// formats against it in internal/server): ids from 1, one subject's
// versions in order, an identical text registered once.
type memSchemas struct {
	mu       sync.Mutex
	byID     map[int]RegisteredSchema
	subjects map[string][]int
	refuse   error // Register's answer when set
}

func newMemSchemas() *memSchemas {
	return &memSchemas{byID: map[int]RegisteredSchema{}, subjects: map[string][]int{}}
}

func (m *memSchemas) ByID(id int) (RegisteredSchema, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byID[id]
	if !ok {
		return s, fmt.Errorf("schema %d not found", id)
	}
	return s, nil
}

func (m *memSchemas) Latest(subject string) (RegisteredSchema, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := m.subjects[subject]
	if len(ids) == 0 {
		return RegisteredSchema{}, fmt.Errorf("%w: subject %s", ErrNotRegistered, subject)
	}
	return m.byID[ids[len(ids)-1]], nil
}

func (m *memSchemas) Register(subject, typ, text string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refuse != nil {
		return 0, m.refuse
	}
	for id, s := range m.byID {
		if s.Type == typ && s.Text == text {
			for _, v := range m.subjects[subject] {
				if v == id {
					return id, nil
				}
			}
			m.subjects[subject] = append(m.subjects[subject], id)
			return id, nil
		}
	}
	s := RegisteredSchema{ID: len(m.byID) + 1, Type: typ, Text: text}
	if typ == SchemaAvro {
		// A cache per schema, as the registry has (hamba's default one is
		// process-wide).
		parsed, err := hamba.ParseWithCache(text, "", &hamba.SchemaCache{})
		if err != nil {
			return 0, err
		}
		s.Avro = parsed
	}
	m.byID[s.ID] = s
	m.subjects[subject] = append(m.subjects[subject], s.ID)
	return s.ID, nil
}

func (m *memSchemas) mustRegister(t testing.TB, subject, typ, text string) int {
	t.Helper()
	id, err := m.Register(subject, typ, text)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// The registry formats refuse to work without a registry or a subject.
func TestRegistryFormatsNeedRegistry(t *testing.T) {
	cols := []Column{{Name: "a", Type: types.KindText}}
	for _, name := range []string{"avro", "json_sr"} {
		if _, err := NewDecoder(name, cols, nil, Env{Subject: "t-value"}); err == nil || !errors.Is(err, ErrNoRegistry) {
			t.Errorf("%s without a registry: %v", name, err)
		}
		if _, err := NewEncoder(name, cols, nil, Env{Schemas: newMemSchemas()}); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s without a subject: %v", name, err)
		}
		if _, err := NewEncoder(name, cols, map[string]string{name + ".subject": "x"}, Env{Schemas: newMemSchemas(), Name: "s"}); err != nil {
			t.Errorf("%s with %s.subject: %v", name, name, err)
		}
	}
	m := newMemSchemas()
	m.refuse = errors.New("incompatible: field a removed")
	if _, err := NewEncoder("avro", cols, nil, Env{Schemas: m, Subject: "t-value", Name: "s"}); err == nil || !errors.Is(err, m.refuse) {
		t.Errorf("a refused registration: %v", err)
	}
}
