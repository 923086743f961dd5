package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// clearScreen moves the cursor home and clears the terminal (ANSI).
const clearScreen = "\x1b[H\x1b[2J"

func newStatusCommand(e *env) *cobra.Command {
	var (
		url           string
		asJSON, watch bool
		all           bool
		interval      time.Duration
		timeout       time.Duration
	)
	def := defaultURL
	if v := e.getenv(EnvURL); v != "" {
		def = v
	}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a running server's topics, pipelines, groups, lag, throughput and active alerts",
		Long: `Show a running server on one screen, from its HTTP API (GET /v1/status):

  TOPICS     partitions, end offsets (summed) and records written per second
  PIPELINES  state, records in, out and dead-lettered, records per second,
             lag (records and the age of the oldest unconsumed record), the
             lag objective (lag_slo) and whether its alert fires
  GROUPS     every consumer group's members and lag (Tide's internal "__"
             groups only with --all)
  ALERTS     lag objectives missed now, with the scale-out recommendation

Rates cover the interval since the server's previous sample (at least a
second: the first request after a quiet minute waits one). "-" marks what
is not known. --watch redraws the screen every --interval until Ctrl-C;
--json prints the server's JSON instead (one document per refresh).`,
		Example: "  tide status\n  tide status --watch\n  tide status --json --url http://tide-1:8080",
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return usageErrorf("--interval must be positive")
			}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			defer tr.CloseIdleConnections()
			c := &statusClient{url: strings.TrimRight(url, "/"), http: &http.Client{Timeout: timeout, Transport: tr}, json: asJSON, all: all}
			ctx := cmd.Context()
			if !watch {
				return c.show(ctx, e.stdout)
			}
			return c.watch(ctx, e.stdout, interval)
		}),
	}
	cmd.Flags().StringVar(&url, "url", def, "the server's HTTP `address` ($"+EnvURL+" sets the default)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "refresh every --interval until interrupted")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "refresh `interval` of --watch")
	cmd.Flags().BoolVar(&all, "all", false, "include internal groups")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "bound on each request")
	return cmd
}

// status is GET /v1/status's JSON, as much as the screen shows.
type statusDoc struct {
	Backend             string  `json:"backend"`
	Worker              string  `json:"worker"`
	UptimeSeconds       float64 `json:"uptime_seconds"`
	RateIntervalSeconds float64 `json:"rate_interval_seconds"`
	Topics              []struct {
		Name             string   `json:"name"`
		Partitions       int32    `json:"partitions"`
		EndOffset        int64    `json:"end_offset"`
		RecordsPerSecond *float64 `json:"records_per_second"`
	} `json:"topics"`
	Pipelines []struct {
		Name          string   `json:"name"`
		Source        string   `json:"source"`
		Connector     string   `json:"connector"`
		State         string   `json:"state"`
		In            int64    `json:"in"`
		Out           int64    `json:"out"`
		DeadLettered  int64    `json:"dead_lettered"`
		LastError     string   `json:"last_error"`
		InPerSecond   *float64 `json:"in_per_second"`
		OutPerSecond  *float64 `json:"out_per_second"`
		LagRecords    *int64   `json:"lag_records"`
		LagSeconds    *float64 `json:"lag_seconds"`
		LagSLOSeconds float64  `json:"lag_slo_seconds"`
		Alert         string   `json:"alert"`
	} `json:"pipelines"`
	Groups []struct {
		Name       string  `json:"name"`
		State      string  `json:"state"`
		Members    int     `json:"members"`
		Internal   bool    `json:"internal"`
		Partitions int     `json:"partitions"`
		LagRecords int64   `json:"lag_records"`
		LagSeconds float64 `json:"lag_seconds"`
	} `json:"groups"`
	Alerts []struct {
		Pipeline       string    `json:"pipeline"`
		LagSeconds     float64   `json:"lag_seconds"`
		LagRecords     int64     `json:"lag_records"`
		SLOSeconds     float64   `json:"slo_seconds"`
		StartedAt      time.Time `json:"started_at"`
		Action         string    `json:"action"`
		Recommendation string    `json:"recommendation"`
	} `json:"alerts"`
	Errors []string `json:"errors"`
}

type statusClient struct {
	url  string
	http *http.Client
	json bool
	all  bool
}

// fetch returns the server's status document, raw.
func (c *statusClient) fetch(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/v1/status", nil)
	if err != nil {
		return nil, usageError(err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("server at %s: %w", c.url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("server at %s: %w", c.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("server at %s answered %s: %s", c.url, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// show prints one status: the JSON as the server sent it, or the screen.
func (c *statusClient) show(ctx context.Context, w io.Writer) error {
	body, err := c.fetch(ctx)
	if err != nil {
		return err
	}
	if c.json {
		_, err = w.Write(append(bytes.TrimRight(body, "\n"), '\n'))
		return err
	}
	var st statusDoc
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("server at %s: status is not readable: %w", c.url, err)
	}
	var b bytes.Buffer
	c.render(&b, &st, time.Now())
	_, err = w.Write(b.Bytes())
	return err
}

// watch redraws the status every interval until ctx ends (exit 0); a
// failed request is shown on the screen and retried at the next refresh.
func (c *statusClient) watch(ctx context.Context, w io.Writer, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		var screen bytes.Buffer
		if !c.json {
			screen.WriteString(clearScreen)
			fmt.Fprintf(&screen, "Every %s: tide status (%s)  %s\n\n", interval, c.url, time.Now().Format(time.TimeOnly))
		}
		if err := c.show(ctx, &screen); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintf(&screen, "tide: %s\n", oneLine(err.Error()))
		}
		if _, err := w.Write(screen.Bytes()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// render draws the screen: a header line, then the sections.
func (c *statusClient) render(out io.Writer, st *statusDoc, now time.Time) {
	rates := "rates: not yet"
	if st.RateIntervalSeconds > 0 {
		rates = fmt.Sprintf("rates over %.1fs", st.RateIntervalSeconds)
	}
	fmt.Fprintf(out, "Tide on %s, worker %s, up %s; %s\n", st.Backend, st.Worker, statusSeconds(st.UptimeSeconds).Round(time.Second), rates)
	for _, e := range st.Errors {
		fmt.Fprintf(out, "! %s\n", e)
	}

	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "\nTOPICS (%d)\n", len(st.Topics))
	if len(st.Topics) > 0 {
		fmt.Fprintln(w, "NAME\tPARTITIONS\tEND OFFSET\tRECORDS/S")
		for _, t := range st.Topics {
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", t.Name, t.Partitions, t.EndOffset, statusRate(t.RecordsPerSecond))
		}
	}

	fmt.Fprintf(w, "\nPIPELINES (%d)\n", len(st.Pipelines))
	if len(st.Pipelines) > 0 {
		fmt.Fprintln(w, "NAME\tSOURCE\tCONNECTOR\tSTATE\tIN\tOUT\tDEAD\tIN/S\tOUT/S\tLAG\tLAG AGE\tSLO\tALERT")
		for _, p := range st.Pipelines {
			lagRecords, lagAge, slo := "-", "-", "-"
			if p.LagRecords != nil {
				lagRecords = strconv.FormatInt(*p.LagRecords, 10)
			}
			if p.LagSeconds != nil {
				lagAge = statusAge(*p.LagSeconds)
			}
			if p.LagSLOSeconds > 0 {
				slo = statusSeconds(p.LagSLOSeconds).String()
			}
			alertText := "-"
			if p.Alert != "" {
				alertText = strings.ToUpper(p.Alert)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Source, p.Connector, p.State,
				p.In, p.Out, p.DeadLettered, statusRate(p.InPerSecond), statusRate(p.OutPerSecond), lagRecords, lagAge, slo, alertText)
		}
	}

	shown, hidden := 0, 0
	for _, g := range st.Groups {
		if g.Internal && !c.all {
			hidden++
		} else {
			shown++
		}
	}
	fmt.Fprintf(w, "\nGROUPS (%d)\n", shown)
	if shown > 0 {
		fmt.Fprintln(w, "NAME\tSTATE\tMEMBERS\tPARTITIONS\tLAG\tLAG AGE")
		for _, g := range st.Groups {
			if g.Internal && !c.all {
				continue
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%s\n", g.Name, orDash(g.State), g.Members, g.Partitions, g.LagRecords, statusAge(g.LagSeconds))
		}
	}
	if hidden > 0 {
		fmt.Fprintf(w, "(%d internal group(s) not shown: --all shows them)\n", hidden)
	}

	fmt.Fprintf(w, "\nALERTS (%d)\n", len(st.Alerts))
	if len(st.Alerts) == 0 {
		fmt.Fprintln(w, "no lag objective missed")
	} else {
		fmt.Fprintln(w, "PIPELINE\tFIRING FOR\tLAG\tLAG AGE\tSLO\tACTION")
		for _, a := range st.Alerts {
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", a.Pipeline, now.Sub(a.StartedAt).Round(time.Second), a.LagRecords,
				statusAge(a.LagSeconds), statusSeconds(a.SLOSeconds), a.Action)
		}
	}
	_ = w.Flush()
	for _, a := range st.Alerts {
		fmt.Fprintf(out, "  %s: %s\n", a.Pipeline, a.Recommendation)
	}
	for _, p := range st.Pipelines {
		if p.LastError != "" {
			fmt.Fprintf(out, "  %s last error: %s\n", p.Name, p.LastError)
		}
	}
}

func statusSeconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// age prints a lag in seconds to a tenth.
func statusAge(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) + "s" }

func statusRate(r *float64) string {
	if r == nil {
		return "-"
	}
	return strconv.FormatFloat(*r, 'f', 1, 64)
}
