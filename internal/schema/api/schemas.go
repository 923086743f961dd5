package api

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/tide-data/tide/internal/schema"
)

// schemaBody is a schema by id: GET /schemas/ids/{id}.
type schemaBody struct {
	SchemaType string             `json:"schemaType,omitempty"`
	References []schema.Reference `json:"references,omitempty"`
	Schema     string             `json:"schema"`
}

// subjectSchemaBody is a version of a subject, in Confluent's field order.
type subjectSchemaBody struct {
	Subject    string             `json:"subject"`
	Version    int                `json:"version"`
	ID         int                `json:"id"`
	SchemaType string             `json:"schemaType,omitempty"`
	References []schema.Reference `json:"references,omitempty"`
	Schema     string             `json:"schema"`
}

func subjectSchemaOf(s schema.SubjectSchema) subjectSchemaBody {
	return subjectSchemaBody{Subject: s.Subject, Version: s.Version, ID: s.ID, SchemaType: schemaType(s.Type), References: s.References, Schema: s.Text}
}

func (a *api) routeSchemas() {
	a.mux.HandleFunc("GET /schemas/types", func(w http.ResponseWriter, r *http.Request) {
		types := a.reg.Types()
		out := make([]string, len(types))
		for i, t := range types {
			out[i] = string(t)
		}
		writeJSON(w, r, http.StatusOK, out)
	})
	a.mux.HandleFunc("GET /schemas", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		out := []subjectSchemaBody{}
		for _, s := range a.reg.AllSchemas(q.Get("subjectPrefix"), flag(r, "deleted"), flag(r, "latestOnly")) {
			out = append(out, subjectSchemaOf(s))
		}
		writeJSON(w, r, http.StatusOK, out)
	})
	a.mux.HandleFunc("GET /schemas/ids/{id}", func(w http.ResponseWriter, r *http.Request) {
		if s, ok := a.schemaByID(w, r); ok {
			writeJSON(w, r, http.StatusOK, schemaBody{SchemaType: schemaType(s.Type), References: s.References, Schema: s.Text})
		}
	})
	a.mux.HandleFunc("GET /schemas/ids/{id}/schema", func(w http.ResponseWriter, r *http.Request) {
		if s, ok := a.schemaByID(w, r); ok {
			writeRaw(w, r, s.Text)
		}
	})
	a.mux.HandleFunc("GET /schemas/ids/{id}/subjects", func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		subjects, err := a.reg.SubjectsOfID(id, flag(r, "deleted"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		if s := r.URL.Query().Get("subject"); s != "" {
			subjects = slices.DeleteFunc(subjects, func(name string) bool { return name != s })
		}
		writeJSON(w, r, http.StatusOK, subjects)
	})
	a.mux.HandleFunc("GET /schemas/ids/{id}/versions", func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		versions, err := a.reg.VersionsOfID(id, flag(r, "deleted"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		if s := r.URL.Query().Get("subject"); s != "" {
			versions = slices.DeleteFunc(versions, func(v schema.SubjectVersion) bool { return v.Subject != s })
		}
		writeJSON(w, r, http.StatusOK, versions)
	})
}

// schemaByID answers the schema of the path's id; ?subject asks that the
// subject hold it (40403 otherwise), as Confluent's does.
func (a *api) schemaByID(w http.ResponseWriter, r *http.Request) (schema.Schema, bool) {
	id, ok := pathID(w, r)
	if !ok {
		return schema.Schema{}, false
	}
	// ?subject= (sent by Confluent's deserializers) chooses a schema
	// context in Confluent's registry; it does not filter: an id names one
	// schema whatever subject holds it. Tide has the default context only.
	s, err := a.reg.SchemaByID(id)
	if err != nil {
		writeError(w, r, err)
		return schema.Schema{}, false
	}
	return s, true
}

func pathID(w http.ResponseWriter, r *http.Request) (int, bool) {
	text := r.PathValue("id")
	id, err := strconv.ParseInt(text, 10, 32)
	if err != nil {
		writeError(w, r, &schema.Error{Code: schema.CodeSchemaNotFound, Message: "Schema " + text + " not found"})
		return 0, false
	}
	return int(id), true
}
