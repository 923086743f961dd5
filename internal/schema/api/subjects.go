package api

import (
	"net/http"
	"strings"

	"github.com/tide-data/tide/internal/schema"
)

// schemaRequest is the body of a registration, a lookup and a compatibility
// check. ID and Version come with registrations in IMPORT mode.
type schemaRequest struct {
	Schema     string             `json:"schema"`
	SchemaType string             `json:"schemaType"`
	References []schema.Reference `json:"references"`
	ID         int                `json:"id"`
	Version    int                `json:"version"`
}

func (q *schemaRequest) input() schema.Input {
	return schema.Input{Type: schema.Type(q.SchemaType), Text: q.Schema, References: q.References}
}

func (a *api) routeSubjects() {
	a.mux.HandleFunc("GET /subjects", func(w http.ResponseWriter, r *http.Request) {
		subjects := a.reg.Subjects(filter(r))
		if prefix := r.URL.Query().Get("subjectPrefix"); prefix != "" {
			kept := subjects[:0]
			for _, s := range subjects {
				if strings.HasPrefix(s, prefix) {
					kept = append(kept, s)
				}
			}
			subjects = kept
		}
		writeJSON(w, r, http.StatusOK, subjects)
	})
	// Is this schema registered under the subject?
	a.mux.HandleFunc("POST /subjects/{subject}", func(w http.ResponseWriter, r *http.Request) {
		var req schemaRequest
		if !readBody(w, r, &req) {
			return
		}
		s, err := a.reg.LookUp(r.PathValue("subject"), req.input(), flag(r, "deleted"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, r, http.StatusOK, subjectSchemaOf(s))
	})
	a.mux.HandleFunc("DELETE /subjects/{subject}", func(w http.ResponseWriter, r *http.Request) {
		versions, err := a.reg.DeleteSubject(r.Context(), r.PathValue("subject"), flag(r, "permanent"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, r, http.StatusOK, versions)
	})
	a.mux.HandleFunc("GET /subjects/{subject}/versions", func(w http.ResponseWriter, r *http.Request) {
		versions, err := a.reg.Versions(r.PathValue("subject"), filter(r))
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, r, http.StatusOK, versions)
	})
	a.mux.HandleFunc("POST /subjects/{subject}/versions", func(w http.ResponseWriter, r *http.Request) {
		var req schemaRequest
		if !readBody(w, r, &req) {
			return
		}
		id, _, err := a.reg.Register(r.Context(), r.PathValue("subject"), req.input(),
			schema.RegisterOptions{Normalize: flag(r, "normalize"), ID: req.ID, Version: req.Version})
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, r, http.StatusOK, struct {
			ID int `json:"id"`
		}{id})
	})
	a.mux.HandleFunc("GET /subjects/{subject}/versions/{version}", func(w http.ResponseWriter, r *http.Request) {
		if s, ok := a.subjectVersion(w, r); ok {
			writeJSON(w, r, http.StatusOK, subjectSchemaOf(s))
		}
	})
	a.mux.HandleFunc("GET /subjects/{subject}/versions/{version}/schema", func(w http.ResponseWriter, r *http.Request) {
		if s, ok := a.subjectVersion(w, r); ok {
			writeRaw(w, r, s.Text)
		}
	})
	a.mux.HandleFunc("GET /subjects/{subject}/versions/{version}/referencedby", func(w http.ResponseWriter, r *http.Request) {
		version, err := parseVersion(r.PathValue("version"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		ids, err := a.reg.ReferencedBy(r.PathValue("subject"), version)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, r, http.StatusOK, ids)
	})
	a.mux.HandleFunc("DELETE /subjects/{subject}/versions/{version}", func(w http.ResponseWriter, r *http.Request) {
		version, err := parseVersion(r.PathValue("version"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		deleted, err := a.reg.DeleteVersion(r.Context(), r.PathValue("subject"), version, flag(r, "permanent"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, r, http.StatusOK, deleted)
	})
}

func (a *api) subjectVersion(w http.ResponseWriter, r *http.Request) (schema.SubjectSchema, bool) {
	version, err := parseVersion(r.PathValue("version"))
	if err == nil {
		var s schema.SubjectSchema
		s, err = a.reg.SubjectVersion(r.PathValue("subject"), version, flag(r, "deleted"))
		if err == nil {
			return s, true
		}
	}
	writeError(w, r, err)
	return schema.SubjectSchema{}, false
}
