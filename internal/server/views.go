package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tide-data/tide/internal/engine"
	"github.com/tide-data/tide/internal/view"
)

// Materialized views over HTTP:
//
//	GET  /v1/views                     the views, their columns and row counts
//	GET  /v1/views/{view}[?key=&limit=] rows as JSON objects, in key order
//	GET  /v1/views/{view}/subscribe    Server-Sent Events: the rows, then every change
//	POST /v1/query                     {"sql": "SELECT ... FROM view [WHERE ...]", "limit": n}

// subscribeBuffer is how many changes a subscriber may fall behind by
// before it is dropped (view.ErrSlowSubscriber).
const subscribeBuffer = 4096

// streamWriteTimeout bounds one write to a subscriber: a client that
// stops reading is dropped instead of holding its handler for ever.
const streamWriteTimeout = 30 * time.Second

// keepAlive is how often an idle subscription gets an SSE comment, so
// that proxies and clients do not time it out.
const keepAlive = 15 * time.Second

type viewColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func viewColumns(v engine.View) []viewColumn {
	cols := make([]viewColumn, len(v.Columns))
	for i, c := range v.Columns {
		cols[i] = viewColumn{Name: c.Name, Type: c.Type.String()}
	}
	return cols
}

func (s *Server) handleViews(w http.ResponseWriter, _ *http.Request) {
	views := s.engine.Views()
	slices.SortFunc(views, func(a, b engine.View) int { return strings.Compare(a.Name, b.Name) })
	out := make([]map[string]any, len(views))
	for i, v := range views {
		out[i] = map[string]any{"name": v.Name, "columns": viewColumns(v), "rows": v.Table.Len()}
	}
	writeJSON(w, http.StatusOK, map[string]any{"views": out})
}

// lookupView answers 404 for a name that is not a view.
func (s *Server) lookupView(w http.ResponseWriter, r *http.Request) (engine.View, bool) {
	name := r.PathValue("view")
	v, ok := s.engine.View(name)
	if !ok {
		writeJSON(w, http.StatusNotFound, apiError("view_not_found", fmt.Sprintf("no materialized view %q (GET /v1/views lists them)", name)))
	}
	return v, ok
}

// row is one row as the API gives it: its key (the view's row key: one
// group value's text, or a JSON array of several) and its columns.
type row struct {
	Key string          `json:"key"`
	Row json.RawMessage `json:"row,omitempty"`
}

func (s *Server) handleView(w http.ResponseWriter, r *http.Request) {
	v, ok := s.lookupView(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit := 0
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeJSON(w, http.StatusBadRequest, apiError("invalid_limit", fmt.Sprintf("limit must be a positive integer, not %q", l)))
			return
		}
		limit = n
	}
	var key *string
	if q.Has("key") {
		k := q.Get("key")
		key = &k
	}
	rows := v.Table.Rows(key, limit)
	out := make([]row, len(rows))
	for i, r := range rows {
		out[i] = row{Key: r.Key, Row: r.Value}
	}
	writeJSON(w, http.StatusOK, map[string]any{"view": v.Name, "columns": viewColumns(v), "rows": out})
}

// handleSubscribe streams a view as Server-Sent Events: an event "row"
// per row now (data {"key", "row"}), then "ready" (data {"rows": n}),
// then per change "upsert" (data {"key", "row", "offset"}) or "delete"
// (data {"key", "offset"}), in the order the view's topic holds them. A
// subscriber that falls behind by more than 4,096 changes gets "error"
// (data {"code": "slow_subscriber", ...}) and the stream ends.
func (s *Server) handleSubscribe(w http.ResponseWriter, r *http.Request) {
	v, ok := s.lookupView(w, r)
	if !ok {
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeJSON(w, http.StatusInternalServerError, apiError("streaming_unsupported", "this connection cannot stream"))
		return
	}
	rows, sub := v.Table.Subscribe(subscribeBuffer)
	defer sub.Close()
	// A write blocked on a client that does not read sees neither the
	// shutdown nor the subscription's end: deadlines end it. On shutdown
	// the deadline becomes now, under mu so that no write extends it.
	rc := http.NewResponseController(w)
	var mu sync.Mutex
	ended := false
	extend := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if !ended {
			_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		}
		return !ended
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-s.streams:
		case <-done:
			return
		}
		mu.Lock()
		defer mu.Unlock()
		ended = true
		_ = rc.SetWriteDeadline(time.Now())
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, data any) error {
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		if !extend() {
			return http.ErrServerClosed
		}
		_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		return err
	}
	for _, r := range rows {
		if err := send("row", row{Key: r.Key, Row: r.Value}); err != nil {
			return
		}
	}
	if err := send("ready", map[string]int{"rows": len(rows)}); err != nil {
		return
	}
	flusher.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.streams:
			return
		case <-tick.C:
			if !extend() {
				return
			}
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		case ch, open := <-sub.Changes():
			if !open {
				if errors.Is(sub.Err(), view.ErrSlowSubscriber) {
					_ = send("error", map[string]string{"code": "slow_subscriber", "message": sub.Err().Error()})
				}
				flusher.Flush()
				return
			}
			var err error
			if ch.Value == nil {
				err = send("delete", map[string]any{"key": ch.Key, "offset": ch.Offset})
			} else {
				err = send("upsert", map[string]any{"key": ch.Key, "row": json.RawMessage(ch.Value), "offset": ch.Offset})
			}
			if err != nil {
				return
			}
			// Flush when nothing more is queued: a burst goes out in one
			// write, a lone change at once.
			if len(sub.Changes()) == 0 {
				flusher.Flush()
			}
		}
	}
}

type queryRequest struct {
	SQL   string `json:"sql"`
	Limit int    `json:"limit"`
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSQLBytes))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError("request_too_large", fmt.Sprintf("the request body exceeds %d bytes", maxSQLBytes)))
		return
	}
	var req queryRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError("invalid_json", `the body is not JSON of the form {"sql": "SELECT ...", "limit": n}: `+err.Error()))
		return
	}
	if strings.TrimSpace(req.SQL) == "" || req.Limit < 0 {
		writeJSON(w, http.StatusBadRequest, apiError("invalid_query", `give "sql", a SELECT over a materialized view, and optionally "limit", a positive number of rows`))
		return
	}
	res, err := s.engine.Query(r.Context(), req.SQL, req.Limit)
	if err != nil {
		var e *engine.Error
		if !errors.As(err, &e) {
			// Not the query's fault (a stored row that does not decode):
			// the server's.
			writeJSON(w, http.StatusInternalServerError, apiError("query_failed", err.Error()))
			return
		}
		body := map[string]any{"code": e.Code, "message": e.Message}
		if e.Hint != "" {
			body["hint"] = e.Hint
		}
		if e.Pos.Line > 0 {
			body["line"], body["column"] = e.Pos.Line, e.Pos.Col
		}
		writeJSON(w, sqlStatus(e.Code), map[string]any{"error": body})
		return
	}
	if res.Rows == nil {
		res.Rows = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, res)
}
