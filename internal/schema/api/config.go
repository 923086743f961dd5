package api

import (
	"net/http"

	"github.com/tide-data/tide/internal/schema"
)

func (a *api) routeCompatibility() {
	check := func(w http.ResponseWriter, r *http.Request, version int) {
		var req schemaRequest
		if !readBody(w, r, &req) {
			return
		}
		ok, msgs, err := a.reg.TestCompatibility(r.PathValue("subject"), version, req.input())
		if err != nil {
			writeError(w, r, err)
			return
		}
		// With ?verbose the reasons come along (Confluent's messages).
		res := compatibilityBody{IsCompatible: ok}
		if flag(r, "verbose") {
			res.Messages = msgs
		}
		writeJSON(w, r, http.StatusOK, res)
	}
	a.mux.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", func(w http.ResponseWriter, r *http.Request) {
		version, err := parseVersion(r.PathValue("version"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		check(w, r, version)
	})
	a.mux.HandleFunc("POST /compatibility/subjects/{subject}/versions", func(w http.ResponseWriter, r *http.Request) {
		check(w, r, schema.AllVersions)
	})
}

// compatibilityBody answers a compatibility check.
type compatibilityBody struct {
	IsCompatible bool     `json:"is_compatible"`
	Messages     []string `json:"messages,omitempty"`
}

// levelBody is a compatibility level as GET and DELETE answer it.
type levelBody struct {
	Level schema.Compatibility `json:"compatibilityLevel"`
}

// levelUpdate is PUT's body and answer.
type levelUpdate struct {
	Compatibility string `json:"compatibility"`
}

type modeBody struct {
	Mode string `json:"mode"`
}

func (a *api) routeConfig() {
	for _, path := range []string{"/config", "/config/{subject}"} {
		a.mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			level, err := a.reg.Config(r.PathValue("subject"), flag(r, "defaultToGlobal"))
			if err != nil {
				writeError(w, r, err)
				return
			}
			writeJSON(w, r, http.StatusOK, levelBody{level})
		})
		a.mux.HandleFunc("PUT "+path, func(w http.ResponseWriter, r *http.Request) {
			var req levelUpdate
			if !readBody(w, r, &req) {
				return
			}
			level, err := schema.ParseCompatibility(req.Compatibility)
			if err == nil {
				err = a.reg.SetConfig(r.Context(), r.PathValue("subject"), level)
			}
			if err != nil {
				writeError(w, r, err)
				return
			}
			writeJSON(w, r, http.StatusOK, levelUpdate{string(level)})
		})
		a.mux.HandleFunc("DELETE "+path, func(w http.ResponseWriter, r *http.Request) {
			old, err := a.reg.DeleteConfig(r.Context(), r.PathValue("subject"))
			if err != nil {
				writeError(w, r, err)
				return
			}
			writeJSON(w, r, http.StatusOK, levelBody{old})
		})
	}
	for _, path := range []string{"/mode", "/mode/{subject}"} {
		a.mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			mode, err := a.reg.Mode(r.PathValue("subject"), flag(r, "defaultToGlobal"))
			if err != nil {
				writeError(w, r, err)
				return
			}
			writeJSON(w, r, http.StatusOK, modeBody{string(mode)})
		})
		a.mux.HandleFunc("PUT "+path, func(w http.ResponseWriter, r *http.Request) {
			var req modeBody
			if !readBody(w, r, &req) {
				return
			}
			mode, err := schema.ParseMode(req.Mode)
			if err == nil {
				err = a.reg.SetMode(r.Context(), r.PathValue("subject"), mode, flag(r, "force"))
			}
			if err != nil {
				writeError(w, r, err)
				return
			}
			writeJSON(w, r, http.StatusOK, modeBody{string(mode)})
		})
		a.mux.HandleFunc("DELETE "+path, func(w http.ResponseWriter, r *http.Request) {
			old, err := a.reg.DeleteMode(r.Context(), r.PathValue("subject"))
			if err != nil {
				writeError(w, r, err)
				return
			}
			writeJSON(w, r, http.StatusOK, modeBody{string(old)})
		})
	}
}
