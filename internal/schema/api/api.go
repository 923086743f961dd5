package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/tide-data/tide/internal/schema"
)

// Media types: Confluent's, which its clients send and accept.
const (
	mediaV1      = "application/vnd.schemaregistry.v1+json"
	mediaDefault = "application/vnd.schemaregistry+json"
	mediaJSON    = "application/json"
	mediaOctets  = "application/octet-stream" // Confluent's "generic request"
)

// maxBodyBytes bounds a request body: a schema and its references' names.
const maxBodyBytes = 16 << 20

// Handler serves the Confluent Schema Registry REST API over reg, at the
// root paths (/subjects, /schemas, /config, /mode, /compatibility). It is
// safe for concurrent use; writes return once applied on this worker.
func Handler(reg *schema.Registry) http.Handler {
	a := &api{reg: reg, mux: http.NewServeMux()}
	a.routeSchemas()
	a.routeSubjects()
	a.routeCompatibility()
	a.routeConfig()
	return a
}

// Prefixes returns the ServeMux patterns under which Handler serves: a
// server mounts it on each.
func Prefixes() []string {
	return []string{"/schemas", "/schemas/", "/subjects", "/subjects/", "/compatibility/", "/config", "/config/", "/mode", "/mode/"}
}

type api struct {
	reg *schema.Registry
	mux *http.ServeMux
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	}
	if _, pattern := a.mux.Handler(r); pattern == "" {
		// Confluent answers unknown paths and methods in its own form.
		status := http.StatusNotFound
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			other := r.Clone(r.Context())
			other.Method = m
			if _, p := a.mux.Handler(other); p != "" && m != r.Method {
				status = http.StatusMethodNotAllowed
				break
			}
		}
		writeJSON(w, r, status, errorBody{Code: status, Message: "HTTP " + strconv.Itoa(status) + " " + http.StatusText(status)})
		return
	}
	if r.ContentLength != 0 && (r.Method == http.MethodPost || r.Method == http.MethodPut) && !acceptedContentType(r.Header.Get("Content-Type")) {
		status := http.StatusUnsupportedMediaType
		writeJSON(w, r, status, errorBody{Code: status, Message: "HTTP 415 Unsupported Media Type"})
		return
	}
	a.mux.ServeHTTP(w, r)
}

func acceptedContentType(v string) bool {
	if v == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(v)
	if err != nil {
		return false
	}
	switch mt {
	case mediaV1, mediaDefault, mediaJSON, mediaOctets:
		return true
	}
	return false
}

// responseType picks the answer's media type from Accept, preferring
// Confluent's own as its server does.
func responseType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	switch {
	case accept == "" || strings.Contains(accept, mediaV1) || strings.Contains(accept, "*/*"):
		return mediaV1
	case strings.Contains(accept, mediaDefault):
		return mediaDefault
	case strings.Contains(accept, mediaJSON):
		return mediaJSON
	}
	return mediaV1
}

type errorBody struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", responseType(r))
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeRaw answers a schema's text as it is, as Confluent's /schema
// endpoints do.
func writeRaw(w http.ResponseWriter, r *http.Request, text string) {
	w.Header().Set("Content-Type", responseType(r))
	_, _ = io.WriteString(w, text)
}

// writeError answers err in Confluent's form: its code, and the HTTP
// status the code starts with; a 5xx also says what failed underneath.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *schema.Error
	if !errors.As(err, &e) {
		e = &schema.Error{Code: schema.CodeStoreError, Message: "Error in the backend data store", Err: err}
	}
	msg := e.Message
	if e.Err != nil && e.Status() >= 500 {
		msg += ": " + e.Err.Error()
	}
	writeJSON(w, r, e.Status(), errorBody{Code: e.Code, Message: msg})
}

// readBody decodes a JSON request body into v: a 400 for JSON that does
// not parse, a 422 for an empty body or one of the wrong shape (as
// Confluent's server answers). Unknown fields (metadata, ruleSet) are
// ignored.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeJSON(w, r, http.StatusRequestEntityTooLarge, errorBody{Code: http.StatusRequestEntityTooLarge, Message: "Request body too large"})
			return false
		}
		writeJSON(w, r, http.StatusBadRequest, errorBody{Code: http.StatusBadRequest, Message: "Reading the request body: " + err.Error()})
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		writeJSON(w, r, http.StatusUnprocessableEntity, errorBody{Code: http.StatusUnprocessableEntity, Message: "The request body may not be empty"})
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			writeJSON(w, r, http.StatusUnprocessableEntity, errorBody{Code: http.StatusUnprocessableEntity, Message: "Unprocessable request body: " + err.Error()})
			return false
		}
		writeJSON(w, r, http.StatusBadRequest, errorBody{Code: http.StatusBadRequest, Message: "Malformed JSON in the request body: " + err.Error()})
		return false
	}
	return true
}

// flag reads a boolean query parameter as JAX-RS does: "true" in any case.
func flag(r *http.Request, name string) bool {
	return strings.EqualFold(strings.TrimSpace(r.URL.Query().Get(name)), "true")
}

// filter reads ?deleted and ?deletedOnly (which wins).
func filter(r *http.Request) schema.Filter {
	switch {
	case flag(r, "deletedOnly"):
		return schema.DeletedOnly
	case flag(r, "deleted"):
		return schema.IncludeDeleted
	}
	return schema.LiveOnly
}

// parseVersion reads a version path segment: 1..2^31-1, "latest" or -1.
func parseVersion(s string) (int, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "latest") {
		return schema.Latest, nil
	}
	n, err := strconv.ParseInt(t, 10, 32)
	if err != nil || (n <= 0 && n != -1) {
		return 0, schema.ErrInvalidVersion(s)
	}
	if n == -1 {
		return schema.Latest, nil
	}
	return int(n), nil
}

// schemaType renders a type for a response: omitted (empty) for AVRO, the
// default, as Confluent does.
func schemaType(t schema.Type) string {
	if t == schema.Avro {
		return ""
	}
	return string(t)
}
