package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/chzyer/readline"
	"github.com/spf13/cobra"
)

// EnvURL names the environment variable that sets the default of --url.
const EnvURL = "TIDE_URL"

const defaultURL = "http://127.0.0.1:8080"

func newSQLCommand(e *env) *cobra.Command {
	var (
		url, command, file string
		asJSON             bool
		timeout            time.Duration
	)
	def := defaultURL
	if v := e.getenv(EnvURL); v != "" {
		def = v
	}
	cmd := &cobra.Command{
		Use:   "sql",
		Short: "Run SQL statements on a running server (interactive, -c or -f)",
		Long: `Run SQL statements on a running server, through its HTTP API (POST /v1/sql).

  tide sql                        an interactive shell: end statements with ';'
  tide sql -c 'SHOW SINKS'        run one statement (or several, separated by ';')
  tide sql -f pipeline.sql        run a file ('-' reads standard input)

Statements from -c or -f run in order and stop at the first error, which is
printed with its line:column and exits 2. Without a terminal, statements are
read from standard input like -f -.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			// Its own transport, closed at the end: no idle connection
			// outlives the command (a server's graceful shutdown waits for them).
			tr := http.DefaultTransport.(*http.Transport).Clone()
			defer tr.CloseIdleConnections()
			c := &sqlClient{url: strings.TrimRight(url, "/"), http: &http.Client{Timeout: timeout, Transport: tr}, out: e.stdout, json: asJSON}
			ctx := cmd.Context()
			switch {
			case command != "" && file != "":
				return usageErrorf("give -c or -f, not both")
			case command != "":
				return c.run(ctx, command)
			case file == "-":
				return c.runReader(ctx, e.stdin)
			case file != "":
				text, err := os.ReadFile(file)
				if err != nil {
					return usageError(err)
				}
				return c.run(ctx, string(text))
			}
			if f, ok := e.stdin.(*os.File); ok && readline.IsTerminal(int(f.Fd())) {
				return c.shell(ctx, e)
			}
			return c.runReader(ctx, e.stdin)
		}),
	}
	cmd.Flags().StringVar(&url, "url", def, "the server's HTTP `address` ($"+EnvURL+" sets the default)")
	cmd.Flags().StringVarP(&command, "command", "c", "", "run these `statements` and exit")
	cmd.Flags().StringVarP(&file, "file", "f", "", "run the statements in `file` ('-' for standard input) and exit")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print results as JSON, one object per statement")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "bound on each request")
	return cmd
}

type sqlClient struct {
	url  string
	http *http.Client
	out  io.Writer
	json bool
}

type sqlResult struct {
	Statement string     `json:"statement"`
	Message   string     `json:"message"`
	Columns   []string   `json:"columns"`
	Rows      [][]string `json:"rows"`
}

type sqlResponse struct {
	Results []sqlResult `json:"results"`
	Error   *struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Hint      string `json:"hint"`
		Statement int    `json:"statement"`
	} `json:"error"`
}

// sqlError is a statement the server rejected: bad input, exit 2.
type sqlError struct{ code, message, hint string }

func (e *sqlError) Error() string {
	s := e.message
	if e.hint != "" {
		s += " (hint: " + e.hint + ")"
	}
	return s + " [" + e.code + "]"
}

// run sends text and prints the results; a rejected statement is a usage
// error (exit 2), an unreachable server a failure (exit 1).
func (c *sqlClient) run(ctx context.Context, text string) error {
	body, err := json.Marshal(map[string]string{"sql": text})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/v1/sql", bytes.NewReader(body))
	if err != nil {
		return usageError(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("server at %s: %w", c.url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var r sqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("server at %s answered %s without a readable body: %w", c.url, resp.Status, err)
	}
	for _, res := range r.Results {
		c.print(res)
	}
	if r.Error != nil {
		return usageError(&sqlError{code: r.Error.Code, message: r.Error.Message, hint: r.Error.Hint})
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server at %s answered %s", c.url, resp.Status)
	}
	return nil
}

func (c *sqlClient) print(res sqlResult) {
	if c.json {
		b, _ := json.Marshal(res)
		fmt.Fprintf(c.out, "%s\n", b)
		return
	}
	if len(res.Columns) > 0 {
		printTable(c.out, res.Columns, res.Rows)
	}
	if res.Message != "" {
		fmt.Fprintln(c.out, res.Message)
	} else if len(res.Columns) == 0 {
		fmt.Fprintln(c.out, res.Statement)
	}
}

// printTable prints rows aligned under their columns, as psql does.
func printTable(w io.Writer, columns []string, rows [][]string) {
	widths := make([]int, len(columns))
	for i, c := range columns {
		widths[i] = len(c)
	}
	for _, r := range rows {
		for i, v := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], len(v))
			}
		}
	}
	line := func(cells []string) {
		parts := make([]string, len(columns))
		for i := range columns {
			v := ""
			if i < len(cells) {
				v = cells[i]
			}
			parts[i] = fmt.Sprintf(" %-*s ", widths[i], v)
		}
		fmt.Fprintln(w, strings.TrimRight(strings.Join(parts, "|"), " "))
	}
	line(columns)
	seps := make([]string, len(columns))
	for i := range columns {
		seps[i] = strings.Repeat("-", widths[i]+2)
	}
	fmt.Fprintln(w, strings.Join(seps, "+"))
	for _, r := range rows {
		line(r)
	}
	fmt.Fprintf(w, "(%d row%s)\n", len(rows), map[bool]string{true: "", false: "s"}[len(rows) == 1])
}

// runReader runs a whole script from r, like -f.
func (c *sqlClient) runReader(ctx context.Context, r io.Reader) error {
	text, err := io.ReadAll(bufio.NewReader(r))
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(text)) == "" {
		return nil
	}
	return c.run(ctx, string(text))
}

// shell is the interactive loop: lines accumulate until one ends with
// ';', then the statement runs; errors are printed and the shell goes on.
func (c *sqlClient) shell(ctx context.Context, e *env) error {
	rl, err := readline.NewEx(&readline.Config{Prompt: "tide> ", Stdout: e.stdout, Stderr: e.stderr, HistoryFile: historyFile()})
	if err != nil {
		return err
	}
	defer func() { _ = rl.Close() }()
	fmt.Fprintf(e.stdout, "Connected to %s. End statements with ';', \\q to quit.\n", c.url)
	var buf strings.Builder
	for ctx.Err() == nil {
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			buf.Reset()
			rl.SetPrompt("tide> ")
			continue
		}
		if err != nil { // io.EOF: ^D
			return nil
		}
		if buf.Len() == 0 && (strings.TrimSpace(line) == `\q` || strings.TrimSpace(line) == "quit" || strings.TrimSpace(line) == "exit") {
			return nil
		}
		buf.WriteString(line)
		buf.WriteByte('\n')
		if !strings.HasSuffix(strings.TrimSpace(line), ";") {
			rl.SetPrompt("  -> ")
			continue
		}
		text := buf.String()
		buf.Reset()
		rl.SetPrompt("tide> ")
		if err := c.run(ctx, text); err != nil {
			fmt.Fprintf(e.stderr, "ERROR: %s\n", err)
		}
	}
	return nil
}

func historyFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return home + "/.tide_sql_history"
}
