package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// getJSON GETs path and decodes the answer into v; it returns the status.
func (ts *testServer) getJSON(t *testing.T, path string, v any) int {
	t.Helper()
	resp, err := http.Get(ts.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode
}

type sseEvent struct {
	name string
	data map[string]any
}

// subscribe opens path as Server-Sent Events and sends each event on
// the channel until the test ends.
func (ts *testServer) subscribe(t *testing.T, path string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.url+path, nil)
	resp, err := http.DefaultClient.Do(req) //nolint:bodyclose // the reading goroutine closes it
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("subscribe: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan sseEvent, 1024)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data)
			case line == "" && ev.name != "":
				events <- ev
				ev = sseEvent{}
			}
		}
	}()
	return events
}

// A view over HTTP: its rows (all, by key), a subscriber that sees the
// snapshot and then every change in order, and ad-hoc queries.
func TestViewsOverHTTP(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ts.mustSQL(t, `CREATE SOURCE orders (id bigint, customer text, amount integer) WITH (connector = 'http', topic = 'orders');
		CREATE MATERIALIZED VIEW spend AS SELECT customer, count(*) AS orders, sum(amount) AS total FROM orders GROUP BY customer`)
	events := ts.subscribe(t, "/v1/views/spend/subscribe")
	if ev := <-events; ev.name != "ready" || ev.data["rows"] != float64(0) {
		t.Fatalf("first event of an empty view: %+v", ev)
	}
	var body strings.Builder
	want := map[string][2]int64{}
	for i := range 60 {
		customer := []string{"alice", "bob", "carol"}[i%3]
		amount := int64(i * 7 % 50)
		fmt.Fprintf(&body, `{"id": %d, "customer": %q, "amount": %d}`+"\n", i, customer, amount)
		w := want[customer]
		want[customer] = [2]int64{w[0] + 1, w[1] + amount}
	}
	resp, err := http.Post(ts.url+"/v1/topics/orders/records", "application/x-ndjson", strings.NewReader(body.String()))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %d", resp.StatusCode)
	}

	type viewBody struct {
		Rows []struct {
			Key string `json:"key"`
			Row struct {
				Customer string `json:"customer"`
				Orders   int64  `json:"orders"`
				Total    int64  `json:"total"`
			} `json:"row"`
		} `json:"rows"`
		Columns []map[string]string `json:"columns"`
	}
	rowsOf := func(b viewBody) map[string][2]int64 {
		out := map[string][2]int64{}
		for _, r := range b.Rows {
			out[r.Key] = [2]int64{r.Row.Orders, r.Row.Total}
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var b viewBody
		if status := ts.getJSON(t, "/v1/views/spend", &b); status != http.StatusOK {
			t.Fatalf("GET /v1/views/spend: %d", status)
		}
		if maps.Equal(rowsOf(b), want) {
			if len(b.Columns) != 3 || b.Columns[0]["name"] != "customer" || b.Columns[2]["type"] != "bigint" {
				t.Fatalf("columns %v", b.Columns)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the view never had the orders' totals: %v, want %v", rowsOf(b), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var one viewBody
	if ts.getJSON(t, "/v1/views/spend?key=bob", &one); len(one.Rows) != 1 || rowsOf(one)["bob"] != want["bob"] {
		t.Fatalf("?key=bob: %+v", one)
	}
	if ts.getJSON(t, "/v1/views/spend?limit=2", &one); len(one.Rows) != 2 || one.Rows[0].Key != "alice" {
		t.Fatalf("?limit=2: %+v", one)
	}

	// The subscriber: applying the changes in order gives the view.
	got := map[string][2]int64{}
	lastOffset := -1.0
	for !maps.Equal(got, want) {
		select {
		case ev := <-events:
			if ev.name != "upsert" {
				t.Fatalf("event %+v", ev)
			}
			if off := ev.data["offset"].(float64); off <= lastOffset {
				t.Fatalf("offset %v after %v", off, lastOffset)
			} else {
				lastOffset = off
			}
			row := ev.data["row"].(map[string]any)
			got[ev.data["key"].(string)] = [2]int64{int64(row["orders"].(float64)), int64(row["total"].(float64))}
		case <-time.After(30 * time.Second):
			t.Fatalf("the subscriber's changes add up to %v, want %v", got, want)
		}
	}

	// Queries.
	post := func(body string) (int, map[string]any) {
		resp, err := http.Post(ts.url+"/v1/query", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}
	status, res := post(`{"sql": "SELECT customer, total FROM spend WHERE orders = 20 AND total > 0", "limit": 2}`)
	if status != http.StatusOK || len(res["rows"].([]any)) != 2 || fmt.Sprint(res["columns"]) != "[customer total]" {
		t.Fatalf("query: %d %v", status, res)
	}
	for body, code := range map[string]string{
		`{"sql": "SELECT * FROM nowhere"}`:                           "sql_invalid",
		`{"sql": "SELECT customer, count(*) FROM spend GROUP BY 1"}`: "sql_not_supported",
		`{"sql": ""}`:      "invalid_query",
		`not json`:         "invalid_json",
		`{"sql": "SELEC"}`: "sql_syntax_error",
	} {
		status, res := post(body)
		if e, _ := res["error"].(map[string]any); status/100 != 4 || e == nil || e["code"] != code {
			t.Errorf("query %s: %d %v, want a 4xx with code %s", body, status, res, code)
		}
	}
	var missing map[string]any
	if status := ts.getJSON(t, "/v1/views/nowhere", &missing); status != http.StatusNotFound {
		t.Errorf("GET of a missing view: %d %v", status, missing)
	}
	if status := ts.getJSON(t, "/v1/views/spend?limit=x", &missing); status != http.StatusBadRequest {
		t.Errorf("limit=x: %d %v", status, missing)
	}
	var list struct {
		Views []map[string]any `json:"views"`
	}
	if ts.getJSON(t, "/v1/views", &list); len(list.Views) != 1 || list.Views[0]["name"] != "spend" || list.Views[0]["rows"] != float64(3) {
		t.Errorf("GET /v1/views: %+v", list)
	}
}

// A subscriber that stops reading does not hold Shutdown: its stream
// ends with the server instead of blocking in a write until the timeout.
func TestStalledSubscriberShutdown(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", func(c *Config) { c.ShutdownTimeout = 8 * time.Second })
	ts.mustSQL(t, `CREATE SOURCE docs (id bigint, body text) WITH (connector = 'http', topic = 'docs');
		CREATE MATERIALIZED VIEW latest AS SELECT id, body FROM docs KEY BY id`)
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Subscribe, then never read.
	if _, err := fmt.Fprintf(conn, "GET /v1/views/latest/subscribe HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 64<<10)
	const rows = 160
	for part := range 4 {
		var body strings.Builder
		for i := range rows / 4 {
			fmt.Fprintf(&body, `{"id": %d, "body": %q}`+"\n", part*rows/4+i, big)
		}
		resp, err := http.Post(ts.url+"/v1/topics/docs/records", "application/x-ndjson", strings.NewReader(body.String()))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("ingest: %d", resp.StatusCode)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list struct {
			Views []map[string]any `json:"views"`
		}
		if ts.getJSON(t, "/v1/views", &list); len(list.Views) == 1 && list.Views[0]["rows"] == float64(rows) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the view never had its rows")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the handler writes what the socket takes, then blocks
	start := time.Now()
	var err2 error
	ts.once.Do(func() { err2 = ts.srv.Shutdown() })
	if took := time.Since(start); err2 != nil || took > 4*time.Second {
		t.Fatalf("Shutdown with a stalled subscriber: %v after %v", err2, took)
	}
}
