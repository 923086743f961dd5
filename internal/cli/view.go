package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newViewCommand(e *env) *cobra.Command {
	var (
		server, key   string
		limit         int
		asJSON, watch bool
	)
	def := defaultURL
	if v := e.getenv(EnvURL); v != "" {
		def = v
	}
	cmd := &cobra.Command{
		Use:   "view NAME",
		Short: "Show a materialized view's rows, or watch its changes",
		Long: `Show a materialized view (CREATE MATERIALIZED VIEW) of a running server, from its
HTTP API: its rows in key order as a table (GET /v1/views/NAME), one row with
--key, at most --limit rows.

--watch prints the rows, then one line per change as it happens, until
interrupted (GET /v1/views/NAME/subscribe): "upsert KEY ROW" or "delete KEY".
--json prints the server's JSON instead: the document, or with --watch one
event per line.`,
		Example: "  tide view spend\n  tide view spend --key alice\n  tide view spend --watch",
		Args:    cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usageErrorf("--limit must not be negative")
			}
			base := strings.TrimRight(server, "/") + "/v1/views/" + url.PathEscape(args[0])
			if watch {
				if cmd.Flags().Changed("key") || limit > 0 {
					return usageErrorf("--watch shows every row and change: it takes no --key or --limit")
				}
				return watchView(cmd.Context(), e.stdout, base+"/subscribe", asJSON)
			}
			q := url.Values{}
			if cmd.Flags().Changed("key") {
				q.Set("key", key)
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			if len(q) > 0 {
				base += "?" + q.Encode()
			}
			return showView(cmd.Context(), e.stdout, base, asJSON)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&server, "url", def, "the server's HTTP `address` ($"+EnvURL+" sets the default)")
	f.StringVar(&key, "key", "", "show the row of this key only (a group's value, or a JSON array of several)")
	f.IntVar(&limit, "limit", 0, "show at most this many rows (0: all)")
	f.BoolVarP(&watch, "watch", "w", false, "print the rows, then every change until interrupted")
	f.BoolVar(&asJSON, "json", false, "print the server's JSON")
	return cmd
}

// viewDoc is GET /v1/views/NAME's answer.
type viewDoc struct {
	Columns []struct {
		Name string `json:"name"`
	} `json:"columns"`
	Rows []struct {
		Key string                     `json:"key"`
		Row map[string]json.RawMessage `json:"row"`
	} `json:"rows"`
}

func viewRequest(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			return nil, fmt.Errorf("%s (%s)", e.Error.Message, e.Error.Code)
		}
		return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return resp, nil
}

func showView(ctx context.Context, w io.Writer, u string, asJSON bool) error {
	resp, err := viewRequest(ctx, u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if asJSON {
		_, err := w.Write(body)
		return err
	}
	var doc viewDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("the server's answer: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	names := make([]string, len(doc.Columns))
	for i, c := range doc.Columns {
		names[i] = strings.ToUpper(c.Name)
	}
	fmt.Fprintln(tw, strings.Join(names, "\t"))
	for _, r := range doc.Rows {
		cells := make([]string, len(doc.Columns))
		for i, c := range doc.Columns {
			cells[i] = cellText(r.Row[c.Name])
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "(%d rows)\n", len(doc.Rows))
	return err
}

// cellText shows a JSON value as a cell: strings without their quotes,
// NULL (or a missing column) as null.
func cellText(v json.RawMessage) string {
	// Before Unmarshal, which takes null into a string as "".
	if len(v) == 0 || string(v) == "null" {
		return "null"
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

func watchView(ctx context.Context, w io.Writer, u string, asJSON bool) error {
	resp, err := viewRequest(ctx, u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := strings.TrimPrefix(line, "data: ")
			if asJSON {
				fmt.Fprintf(w, `{"event":%q,"data":%s}`+"\n", event, data)
				continue
			}
			var d struct {
				Key  string          `json:"key"`
				Row  json.RawMessage `json:"row"`
				Rows int             `json:"rows"`
				Code string          `json:"code"`
				Msg  string          `json:"message"`
			}
			if err := json.Unmarshal([]byte(data), &d); err != nil {
				return fmt.Errorf("the server's event %s: %w", data, err)
			}
			switch event {
			case "row", "upsert":
				fmt.Fprintf(w, "%s %s %s\n", event, d.Key, d.Row)
			case "delete":
				fmt.Fprintf(w, "delete %s\n", d.Key)
			case "ready":
				fmt.Fprintf(w, "-- %d rows; changes follow --\n", d.Rows)
			case "error":
				return fmt.Errorf("the server ended the subscription: %s (%s)", d.Msg, d.Code)
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("the server ended the subscription")
}
