package cli

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sqlURL is the test server's HTTP address, for --url.
func (ts *testServer) sqlURL() string { return "http://" + ts.srv.HTTPAddr().String() }

// sql runs tide sql against ts: args get --url.
func (ts *testServer) sql(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return tide(t, stdin, append([]string{"sql", "--url", ts.sqlURL()}, args...)...)
}

const (
	sqlOrders = `CREATE SOURCE orders (id bigint, amount integer) WITH (connector = 'topic', topic = 'orders');`
	sqlBig    = `CREATE SINK big WITH (connector = 'topic', topic = 'big') AS SELECT id, amount FROM orders WHERE amount > 100;`
)

func TestSQLCommand(t *testing.T) {
	t.Parallel()
	ts := startServer(t)

	// -c: several statements, printed as psql prints them.
	r := ts.sql(t, "", "-c", sqlOrders+" SHOW SOURCES; DESCRIBE orders").ok(t)
	want := `created source orders
 name   | connector | options          | columns | capture
--------+-----------+------------------+---------+---------
 orders | topic     | topic = 'orders' | 2       |
(1 row)
 column | type    | detail
--------+---------+--------
 id     | bigint  |
 amount | integer |
(2 rows)
source orders (topic)
` + strings.TrimSuffix(sqlOrders, ";") + "\n"
	if r.stdout != want || r.stderr != "" {
		t.Errorf("-c printed:\n%s\nwant:\n%s\nstderr %q", r.stdout, want, r.stderr)
	}

	// -f file.
	file := filepath.Join(t.TempDir(), "pipeline.sql")
	if err := os.WriteFile(file, []byte("-- the big orders\n"+sqlBig+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = ts.sql(t, "", "-f", file).ok(t)
	if r.stdout != "created sink big; its pipeline is running\n" {
		t.Errorf("-f printed %q", r.stdout)
	}

	// -f - and piped standard input read the statements from stdin; an
	// empty table prints its header and (0 rows).
	for _, args := range [][]string{{"-f", "-"}, {}} {
		r = ts.sql(t, "SHOW SINKS;\nDROP SINK big;\nSHOW SINKS;\n"+sqlBig, args...).ok(t)
		lines := lines(r.stdout)
		if len(lines) < 8 || !strings.HasPrefix(lines[0], " name | source | connector | options") || lines[2] != " big  | orders | topic     | topic = 'big' | running | 0          | 0           | 0        | 0" ||
			lines[3] != "(1 row)" || lines[4] != "dropped sink big" || lines[7] != "(0 rows)" || lines[len(lines)-1] != "created sink big; its pipeline is running" {
			t.Errorf("%v printed:\n%s", args, r.stdout)
		}
	}

	// Statements without columns or a message print their name.
	r = ts.sql(t, "", "-c", "DROP SINK IF EXISTS nothing").ok(t)
	if r.stdout != "sink nothing does not exist, skipping\n" {
		t.Errorf("DROP IF EXISTS printed %q", r.stdout)
	}

	// Empty input runs nothing.
	if r := ts.sql(t, " \n").ok(t); r.stdout != "" {
		t.Errorf("empty input printed %q", r.stdout)
	}
}

func TestSQLCommandJSON(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	r := ts.sql(t, "", "--json", "-c", sqlOrders+"SHOW SOURCES").ok(t)
	lines := lines(r.stdout)
	if len(lines) != 2 {
		t.Fatalf("--json printed %q, want one line per statement", r.stdout)
	}
	var results []sqlResult
	for _, line := range lines {
		var res sqlResult
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		results = append(results, res)
	}
	if results[0].Statement != "CREATE SOURCE" || results[0].Message != "created source orders" || results[1].Statement != "SHOW SOURCES" ||
		strings.Join(results[1].Columns, ",") != "name,connector,options,columns,capture" || len(results[1].Rows) != 1 || results[1].Rows[0][0] != "orders" {
		t.Errorf("--json results %+v", results)
	}
}

// TestSQLCommandErrors checks that a statement the server rejects exits 2
// with one line naming the error's code, after printing what ran before
// it; that an unreachable server exits 1; and that bad flags are usage
// errors.
func TestSQLCommandErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.sql(t, "", "-c", sqlOrders+sqlBig).ok(t)

	file := filepath.Join(t.TempDir(), "x.sql")
	if err := os.WriteFile(file, []byte("SHOW SINKS"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		args   []string
		stdin  string
		stdout string // printed before the error
		want   []string
	}{
		{"syntax error", []string{"-c", "SHOW SOURCES;\nCREATE SORCE x (a int)"}, "", "orders",
			[]string{"line 2:8", "[sql_syntax_error]", "(hint: "}},
		{"invalid", []string{"-c", "CREATE SINK k WITH (connector = 'blackhole') AS SELECT nope FROM orders"}, "", "",
			[]string{`line 1:56: column "nope" does not exist`, "[sql_invalid]"}},
		{"not supported", []string{"-f", "-"}, "SELECT 1", "",
			[]string{"ad-hoc SELECT is not supported yet", "[sql_not_supported]"}},
		{"exists", []string{"-c", sqlOrders}, "", "", []string{`source "orders" already exists`, "[object_exists]"}},
		{"not found", []string{}, "DROP SINK nothing", "", []string{`sink "nothing" does not exist`, "[object_not_found]"}},
		{"dependent", []string{"-c", "DROP SOURCE orders"}, "", "", []string{"sink big reads it", "[dependent_objects]"}},
		{"-c and -f", []string{"-c", "SHOW SINKS", "-f", file}, "", "", []string{"give -c or -f, not both"}},
		{"missing file", []string{"-f", filepath.Join(t.TempDir(), "nope.sql")}, "", "", []string{"nope.sql"}},
		{"arguments", []string{"SHOW SINKS"}, "", "", []string{`unknown command "SHOW SINKS"`}},
	} {
		// Not parallel: in-process runs share http.DefaultTransport, whose
		// dial races would leave connections that never send a request,
		// which the server's graceful shutdown waits 5 s for.
		t.Run(c.name, func(t *testing.T) {
			r := ts.sql(t, c.stdin, c.args...)
			if r.code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr %q", r.code, ExitUsage, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "tide: ") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr is not one line starting \"tide: \": %q", r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
			if !strings.Contains(r.stdout, c.stdout) || (c.stdout == "" && r.stdout != "") {
				t.Errorf("stdout %q, want the results before the error (%q)", r.stdout, c.stdout)
			}
		})
	}
}

func TestSQLCommandServerUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	never := "http://" + ln.Addr().String()
	ln.Close()
	r := tide(t, "", "sql", "--url", never, "--timeout", "2s", "-c", "SHOW SINKS")
	if r.code != ExitFailure || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "server at "+never) || r.stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and one line naming the server", r.code, r.stdout, r.stderr)
	}
	// A server that answers something else than the SQL API.
	ts := startServer(t)
	r = tide(t, "", "sql", "--url", ts.sqlURL()+"/elsewhere", "-c", "SHOW SINKS")
	if r.code != ExitFailure || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "404 Not Found") {
		t.Errorf("wrong URL: exit %d, stderr %q; want 1 and the HTTP status", r.code, r.stderr)
	}
}

// TestSQLURLFromEnvironment checks that $TIDE_URL sets the default of
// --url, and that the flag wins.
func TestSQLURLFromEnvironment(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	var stdout, stderr syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		if k == EnvURL {
			return ts.sqlURL() + "/"
		}
		return ""
	}}
	if code := run(context.Background(), []string{"sql", "-c", "SHOW SOURCES"}, e); code != 0 || !strings.Contains(stdout.String(), "(0 rows)") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	if code := run(context.Background(), []string{"sql", "--url", "http://127.0.0.1:1", "--timeout", "2s", "-c", "SHOW SOURCES"}, e); code != ExitFailure {
		t.Errorf("--url did not override $%s: exit %d", EnvURL, code)
	}
}

// TestServeFlagsForSQL checks the serve flags of the SQL features
// through --print-config: --kafka-brokers takes a comma-separated list,
// --sql-dir a directory.
func TestServeFlagsForSQL(t *testing.T) {
	t.Parallel()
	r := tide(t, "", "serve", "--print-config", "--kafka-brokers", "kafka-1:9092, kafka-2:9092", "--sql-dir", "/etc/tide/sql").ok(t)
	for _, want := range []string{`kafka_brokers: "kafka-1:9092,kafka-2:9092"`, `sql_dir: "/etc/tide/sql"`} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("--print-config lacks %s:\n%s", want, r.stdout)
		}
	}
	r = tide(t, "", "serve", "--print-config", "--kafka-brokers", "kafka-1")
	if r.code != ExitUsage || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, `broker "kafka-1" is not host:port`) {
		t.Errorf("bad broker: exit %d, stderr %q", r.code, r.stderr)
	}
}
