package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tide-data/tide/internal/engine"
)

// maxSQLBytes bounds a /v1/sql request body.
const maxSQLBytes = 1 << 20

// openEngine starts the SQL engine on the transport (restoring every
// persisted pipeline) and applies the SQL directory.
func (s *Server) openEngine() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	cfg := engine.Config{Transport: s.transport, Logger: s.logger, WorkerID: s.workerID(), Metrics: s.metrics, Tracer: s.tracer}
	if s.cfg.DataDir != "" {
		cfg.StateDir = filepath.Join(s.cfg.DataDir, "state")
	}
	if s.schemas != nil {
		cfg.Schemas = formatSchemas{s.schemas}
	}
	s.engine, err = engine.Open(ctx, cfg)
	if err != nil {
		return err
	}
	if s.cfg.SQLDir != "" {
		return s.applySQLDir(ctx, s.cfg.SQLDir)
	}
	return nil
}

// applySQLDir executes every .sql file in dir, in name order. Objects that
// exist with the same definition are left alone, so the directory can be
// applied at every start (GitOps). ${NAME} in a file is replaced by the
// environment variable NAME; a file that names a variable that is unset
// or empty is skipped as a whole (and logged), so optional parts of a
// deployment — a Postgres sink when a DSN is given — live in files of
// their own.
func (s *Server) applySQLDir(ctx context.Context, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("sql_dir: %w", err)
		}
		text, missing := expandEnv(string(raw), os.Getenv)
		if len(missing) > 0 {
			s.logger.Info("sql_dir skipped a file: it needs environment variables that are not set",
				"file", filepath.Base(f), "missing", strings.Join(missing, ","))
			continue
		}
		results, err := s.engine.Execute(ctx, text, engine.ExecOptions{Idempotent: true})
		if err != nil {
			return fmt.Errorf("sql_dir: %s: %w", f, err)
		}
		for _, r := range results {
			s.logger.Info("sql_dir applied", "file", filepath.Base(f), "statement", r.Statement, "result", r.Message)
		}
	}
	return nil
}

// sqlRequest is the JSON form of a /v1/sql request; a text/plain body is
// the SQL itself.
type sqlRequest struct {
	SQL string `json:"sql"`
}

// handleSQL runs statements: POST /v1/sql with {"sql": "..."} or the SQL
// as text/plain. 200 with {"results": [...]} when every statement ran;
// otherwise the error (with the results of the statements before it).
func (s *Server) handleSQL(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSQLBytes))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError("request_too_large", fmt.Sprintf("the request body exceeds %d bytes", maxSQLBytes)))
		return
	}
	text := string(body)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		var req sqlRequest
		if err := json.Unmarshal(body, &req); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError("invalid_json", "the body is not JSON of the form {\"sql\": \"...\"}: "+err.Error()))
			return
		}
		text = req.SQL
	}
	if strings.TrimSpace(text) == "" {
		writeJSON(w, http.StatusBadRequest, apiError("empty_sql", "no SQL statement in the request"))
		return
	}
	results, err := s.engine.Execute(r.Context(), text, engine.ExecOptions{})
	if results == nil {
		results = []engine.Result{}
	}
	if err != nil {
		var e *engine.Error
		if !errors.As(err, &e) {
			e = &engine.Error{Code: engine.CodeUnavailable, Message: err.Error()}
		}
		body := map[string]any{"code": e.Code, "message": e.Message, "statement": e.Statement}
		if e.Hint != "" {
			body["hint"] = e.Hint
		}
		if e.Pos.Line > 0 {
			body["line"], body["column"] = e.Pos.Line, e.Pos.Col
		}
		writeJSON(w, sqlStatus(e.Code), map[string]any{"error": body, "results": results})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

func sqlStatus(code string) int {
	switch code {
	case engine.CodeNotFound:
		return http.StatusNotFound
	case engine.CodeExists, engine.CodeDependent:
		return http.StatusConflict
	case engine.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// envRef matches ${NAME}.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces each ${NAME} in text by getenv(NAME) and returns the
// names that were unset or empty (then the text is not to be used).
func expandEnv(text string, getenv func(string) string) (string, []string) {
	var missing []string
	out := envRef.ReplaceAllStringFunc(text, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v := getenv(name)
		if v == "" && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
		return v
	})
	return out, missing
}
