package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// startServer starts a node on loopback ports over dir (a fresh
// directory if empty), changed by configure; it is shut down when the
// test ends unless stop was called before.
func startServer(t *testing.T, dir string, configure func(*Config)) *testServer {
	t.Helper()
	cfg := testConfig(t, dir)
	if configure != nil {
		configure(&cfg)
	}
	srv, err := Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, url: "http://" + srv.HTTPAddr().String()}
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

func testConfig(t *testing.T, dir string) Config {
	t.Helper()
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "data")
	}
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Fsync = "never"
	// More than net/http's 5 s: Shutdown counts a connection that never
	// sent a request (a client's spare dial) as active for 5 s, which made
	// a 5 s budget expire under load.
	cfg.ShutdownTimeout = 20 * time.Second
	return cfg
}

type testServer struct {
	srv  *Server
	url  string
	once sync.Once
}

func (ts *testServer) stop(t *testing.T) {
	ts.once.Do(func() {
		if err := ts.srv.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}

// sqlResponse is the body of a /v1/sql answer, decoded loosely so that
// the test sees exactly which fields are there.
type sqlResponse struct {
	Error   map[string]any   `json:"error"`
	Results []map[string]any `json:"results"`
}

// post sends body to /v1/sql with the content type and decodes the answer.
func (ts *testServer) post(t *testing.T, contentType, body string) (int, sqlResponse) {
	t.Helper()
	resp, err := http.Post(ts.url+"/v1/sql", contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("answer Content-Type %q", ct)
	}
	var r sqlResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("answer %s is not JSON: %v", raw, err)
	}
	if resp.StatusCode == http.StatusOK && r.Results == nil {
		t.Errorf("200 without results: %s", raw)
	}
	return resp.StatusCode, r
}

// sql posts text as JSON, the CLI's form.
func (ts *testServer) sql(t *testing.T, text string) (int, sqlResponse) {
	t.Helper()
	body, err := json.Marshal(map[string]string{"sql": text})
	if err != nil {
		t.Fatal(err)
	}
	return ts.post(t, "application/json", string(body))
}

// mustSQL posts text and fails the test unless it answers 200.
func (ts *testServer) mustSQL(t *testing.T, text string) []map[string]any {
	t.Helper()
	status, r := ts.sql(t, text)
	if status != http.StatusOK || r.Error != nil {
		t.Fatalf("%s\n-> %d %v", text, status, r.Error)
	}
	return r.Results
}

// rowNames returns the first cell of each row of a result.
func rowNames(res map[string]any) []string {
	var out []string
	rows, _ := res["rows"].([]any)
	for _, r := range rows {
		out = append(out, r.([]any)[0].(string))
	}
	return out
}

const (
	ordersSQL = `CREATE SOURCE orders (id bigint, amount integer) WITH (connector = 'topic', topic = 'orders');`
	bigSQL    = `CREATE SINK big WITH (connector = 'topic', topic = 'big') AS SELECT id FROM orders WHERE amount > 100;`
)

func TestSQLEndpoint(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)

	// JSON body, any charset parameter.
	status, r := ts.post(t, "application/json; charset=utf-8", `{"sql": "`+ordersSQL+` SHOW SOURCES"}`)
	if status != http.StatusOK || r.Error != nil || len(r.Results) != 2 {
		t.Fatalf("JSON: %d %+v", status, r)
	}
	if r.Results[0]["statement"] != "CREATE SOURCE" || r.Results[0]["message"] != "created source orders" {
		t.Errorf("first result %v", r.Results[0])
	}
	if got := rowNames(r.Results[1]); len(got) != 1 || got[0] != "orders" {
		t.Errorf("SHOW SOURCES rows %v", got)
	}
	// A text/plain body is the SQL itself; so is a body without a type.
	for _, ct := range []string{"text/plain", ""} {
		status, r = ts.post(t, ct, "SHOW SINKS;\n\nSHOW SOURCES;\n")
		if status != http.StatusOK || len(r.Results) != 2 || r.Results[1]["statement"] != "SHOW SOURCES" {
			t.Errorf("content type %q: %d %+v", ct, status, r)
		}
	}
	status, r = ts.post(t, "text/plain; charset=utf-8", bigSQL)
	if status != http.StatusOK || len(r.Results) != 1 || r.Results[0]["statement"] != "CREATE SINK" {
		t.Errorf("text/plain CREATE SINK: %d %+v", status, r)
	}
	if got := rowNames(ts.mustSQL(t, "SHOW SINKS")[0]); len(got) != 1 || got[0] != "big" {
		t.Errorf("SHOW SINKS rows %v", got)
	}
	// Health and readiness.
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", path, resp.Status)
		}
	}
	// Only POST runs SQL.
	resp, err := http.Get(ts.url + "/v1/sql")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/sql: %s", resp.Status)
	}
}

func TestSQLErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ts.mustSQL(t, ordersSQL+bigSQL)
	cases := []struct {
		name, contentType, body string
		status                  int
		code                    string
		results                 int    // results of the statements before the failing one
		statement               int    // index of the failing statement, -1: no statement field
		line, column            int    // 0: no position fields
		hint                    string // in the hint field; empty: no hint field
		message                 string
	}{
		{name: "syntax error with position", body: "SHOW SINKS;\nSHOW SOURCES;\nCREATE SOURCE x (a int) WITH (connector = 'topic', topic = 'x'",
			status: 400, code: "sql_syntax_error", results: 2, statement: 2, line: 3, column: 63, message: "line 3:63"},
		{name: "syntax error with a hint", body: "CREATE SORCE x (a int)",
			status: 400, code: "sql_syntax_error", statement: 0, line: 1, column: 8, hint: "SOURCE"},
		{name: "invalid", body: "SHOW SINKS; CREATE SINK k WITH (connector = 'blackhole') AS SELECT nope FROM orders",
			status: 400, code: "sql_invalid", results: 1, statement: 1, line: 1, column: 68, hint: "Perhaps", message: `column "nope" does not exist`},
		{name: "not supported", body: "CREATE SINK k WITH (connector = 'blackhole') AS SELECT DISTINCT id FROM orders",
			status: 400, code: "sql_not_supported", statement: 0, line: 1, column: 49, hint: "GROUP BY"},
		{name: "not found", body: "SHOW SINKS; DROP SINK nothing",
			status: 404, code: "object_not_found", results: 1, statement: 1, line: 1, column: 13, message: `sink "nothing" does not exist`},
		{name: "describe not found", body: "DESCRIBE nothing",
			status: 404, code: "object_not_found", statement: 0, line: 1, column: 1, hint: "SHOW SOURCES"},
		{name: "exists", body: ordersSQL,
			status: 409, code: "object_exists", statement: 0, hint: "IF NOT EXISTS", message: `source "orders" already exists`},
		{name: "dependent", body: "DROP SOURCE orders",
			status: 409, code: "dependent_objects", statement: 0, line: 1, column: 1, hint: "drop the sinks first", message: "sink big reads it"},
		{name: "empty body", body: "",
			status: 400, code: "empty_sql", statement: -1},
		{name: "blank body", contentType: "text/plain", body: " \n\t",
			status: 400, code: "empty_sql", statement: -1},
		{name: "empty JSON sql", contentType: "application/json", body: `{"sql": "  "}`,
			status: 400, code: "empty_sql", statement: -1},
		{name: "JSON without sql", contentType: "application/json", body: `{"query": "SHOW SINKS"}`,
			status: 400, code: "empty_sql", statement: -1},
		{name: "bad JSON", contentType: "application/json", body: `{"sql": `,
			status: 400, code: "invalid_json", statement: -1},
		{name: "too large", body: "SHOW SINKS;" + strings.Repeat(" ", maxSQLBytes),
			status: 413, code: "request_too_large", statement: -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ct := c.contentType
			if ct == "" {
				ct = "text/plain"
			}
			status, r := ts.post(t, ct, c.body)
			if status != c.status || r.Error == nil || r.Error["code"] != c.code {
				t.Fatalf("%d %v, want %d %s", status, r.Error, c.status, c.code)
			}
			if msg, _ := r.Error["message"].(string); msg == "" || !strings.Contains(msg, c.message) {
				t.Errorf("message %q lacks %q", msg, c.message)
			}
			if c.statement < 0 {
				// Errors about the request itself: no statement, no results.
				if _, ok := r.Error["statement"]; ok || r.Results != nil {
					t.Errorf("request error carries a statement or results: %v %v", r.Error, r.Results)
				}
				return
			}
			if len(r.Results) != c.results {
				t.Errorf("%d results, want %d: %v", len(r.Results), c.results, r.Results)
			}
			if r.Results == nil {
				t.Error("no results field: want [] when no statement ran")
			}
			if got, _ := r.Error["statement"].(float64); int(got) != c.statement {
				t.Errorf("statement %v, want %d", r.Error["statement"], c.statement)
			}
			line, hasLine := r.Error["line"].(float64)
			column, _ := r.Error["column"].(float64)
			if c.line == 0 && hasLine || c.line != 0 && (int(line) != c.line || int(column) != c.column) {
				t.Errorf("line %v column %v, want %d:%d", r.Error["line"], r.Error["column"], c.line, c.column)
			}
			hint, hasHint := r.Error["hint"].(string)
			if c.hint == "" && hasHint || !strings.Contains(hint, c.hint) {
				t.Errorf("hint %q, want one containing %q", hint, c.hint)
			}
		})
	}
}

// writeSQLDir writes files (name -> SQL) into a new directory.
func writeSQLDir(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSQLDir applies a directory of SQL files at start, restarts the
// server on the same data with the same directory (a no-op), then with a
// changed definition, which fails the start with a clear error.
func TestSQLDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	data, sqlDir := filepath.Join(root, "data"), filepath.Join(root, "sql")
	// Files apply in name order: the sink's file names a source from an
	// earlier one; files not ending in .sql are ignored.
	writeSQLDir(t, sqlDir, map[string]string{
		"10_sources.sql": ordersSQL + "\n" + `CREATE SOURCE clicks (url text) WITH (connector = 'topic', topic = 'clicks');`,
		"20_sinks.sql":   "-- the big orders\n" + bigSQL,
		"README.md":      "not SQL",
	})
	withDir := func(c *Config) { c.SQLDir = sqlDir }
	ts := startServer(t, data, withDir)
	if got := rowNames(ts.mustSQL(t, "SHOW SINKS")[0]); len(got) != 1 || got[0] != "big" {
		t.Fatalf("SHOW SINKS after applying sql_dir: %v", got)
	}
	describe := ts.mustSQL(t, "DESCRIBE big")[0]["message"]
	ts.stop(t)

	// Same data, same directory: everything is already there.
	ts = startServer(t, data, withDir)
	if got := rowNames(ts.mustSQL(t, "SHOW SOURCES")[0]); strings.Join(got, ",") != "clicks,orders" {
		t.Errorf("SHOW SOURCES after restart: %v", got)
	}
	// The sink was not re-created: same group (its ID is in the group name).
	if got := ts.mustSQL(t, "DESCRIBE big")[0]["message"]; got != describe {
		t.Errorf("DESCRIBE after restart:\n%v\nwant:\n%v", got, describe)
	}
	ts.stop(t)

	// A changed definition fails the start, naming the file and the object.
	writeSQLDir(t, sqlDir, map[string]string{"20_sinks.sql": strings.Replace(bigSQL, "> 100", "> 200", 1)})
	cfg := testConfig(t, data)
	withDir(&cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.KafkaAddr = ln.Addr().String() // a fixed port, to check it is released
	ln.Close()
	srv, err := Start(cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		_ = srv.Shutdown()
		t.Fatal("start with a changed definition in sql_dir succeeded")
	}
	for _, want := range []string{"sql_dir", "20_sinks.sql", `sink "big" already exists`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start error %q lacks %q", err, want)
		}
	}
	// The failed start released everything: the data directory and the
	// Kafka port can be used again.
	ln, err = net.Listen("tcp", cfg.KafkaAddr)
	if err != nil {
		t.Errorf("the failed start kept the Kafka port: %v", err)
	} else {
		ln.Close()
	}
	writeSQLDir(t, sqlDir, map[string]string{"20_sinks.sql": bigSQL})
	ts = startServer(t, data, withDir)
	if got := rowNames(ts.mustSQL(t, "SHOW SINKS")[0]); len(got) != 1 || got[0] != "big" {
		t.Errorf("SHOW SINKS after the failed start: %v", got)
	}
}

// TestSQLDirErrors checks the start fails on a bad file, with its name.
func TestSQLDirErrors(t *testing.T) {
	t.Parallel()
	sqlDir := filepath.Join(t.TempDir(), "sql")
	writeSQLDir(t, sqlDir, map[string]string{"a.sql": "CREATE SOURCE x (a int) WITH (connector = 'nope')"})
	cfg := testConfig(t, "")
	cfg.SQLDir = sqlDir
	srv, err := Start(cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		_ = srv.Shutdown()
		t.Fatal("started with a bad sql_dir file")
	}
	if !strings.Contains(err.Error(), "a.sql") || !strings.Contains(err.Error(), `unknown source connector "nope"`) {
		t.Errorf("start error %q", err)
	}
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"DSN": "postgres://x", "EMPTY": ""}
	getenv := func(k string) string { return env[k] }
	got, missing := expandEnv("url = '${DSN}', again '${DSN}', $NOTREF, ${ NOTREF }", getenv)
	if got != "url = 'postgres://x', again 'postgres://x', $NOTREF, ${ NOTREF }" || len(missing) != 0 {
		t.Errorf("expandEnv = %q, missing %v", got, missing)
	}
	if _, missing := expandEnv("${DSN} ${UNSET} ${EMPTY} ${UNSET}", getenv); !slices.Equal(missing, []string{"UNSET", "EMPTY"}) {
		t.Errorf("missing = %v, want [UNSET EMPTY]", missing)
	}
}
