package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Explain renders the pipeline's dataflow as an indented tree, sink at
// the top, the way EXPLAIN prints plans:
//
//	Sink big_orders (connector = 'topic', format = 'json', topic = 'big')
//	  key: input key
//	└─ Project id :: bigint, amount * 2 AS doubled :: numeric
//	   └─ Filter amount > 100
//	      └─ Source orders (connector = 'topic', topic = 'orders'; one task per input partition)
//	           watermark: placed_at - INTERVAL '5' SECOND
//
// An aggregation adds its node between Project and Filter:
//
//	Sink per_minute (connector = 'stdout')
//	  key: group key (customer, window_start, window_end)
//	└─ Project customer :: text, window_start :: timestamp with time zone, count(*) AS count :: bigint
//	   └─ Aggregate keys: customer; window: TUMBLE(TABLE orders, DESCRIPTOR(placed_at), INTERVAL '1' MINUTE); aggs: count(*)
//	        having: count(*) > 1
//	      └─ Source orders (...)
//
// testdata/explain.golden holds more examples.
func (p *Pipeline) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Sink %s (%s)\n", p.Name, describeConnector(p.Connector, p.Options))
	if len(p.Union) > 0 {
		how := "each read and written by tasks of its own"
		if slices.ContainsFunc(append([]*Pipeline{p}, p.Union...), (*Pipeline).Stateful) {
			how = "each run as a pipeline of its own, with its own inputs, stateful stages and state, writing the sink"
		}
		fmt.Fprintf(&b, "└─ Union all (%d queries, %s)\n", len(p.Union)+1, how)
		for i, q := range append([]*Pipeline{p}, p.Union...) {
			branch, rest := "├─ ", "│  "
			if i == len(p.Union) {
				branch, rest = "└─ ", "   "
			}
			lines := strings.Split(strings.TrimSuffix(q.explainQuery(), "\n"), "\n")
			fmt.Fprintf(&b, "   %sQuery (%s)\n", branch, strings.TrimSpace(lines[0])) // its key
			for _, line := range lines[1:] {
				fmt.Fprintf(&b, "   %s%s\n", rest, line)
			}
		}
		return b.String()
	}
	b.WriteString(p.explainQuery())
	return b.String()
}

// explainQuery renders the query's part of the tree: its key, then the
// nodes from Project down to its sources.
func (p *Pipeline) explainQuery() string {
	var b strings.Builder
	switch a := p.Aggregation; {
	case p.Key != nil:
		fmt.Fprintf(&b, "  key: %s\n", p.KeyText)
	case p.Outer != nil:
		fmt.Fprintf(&b, "  key: group key (%s)\n", p.Outer.Aggregation.groupText())
	case p.TopN != nil:
		fmt.Fprintf(&b, "  key: partition and row number (%s)\n", strings.Join(append(slices.Clip(p.TopN.PartitionText), "row_number"), ", "))
	case a != nil:
		fmt.Fprintf(&b, "  key: group key (%s)\n", a.groupText())
	default:
		b.WriteString("  key: input key\n")
	}
	indent := ""
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, "%s└─ %s\n", indent, fmt.Sprintf(format, args...))
		indent += "   "
	}
	items := make([]string, len(p.Outputs))
	for i, o := range p.Outputs {
		items[i] = o.Text
		if o.Text != o.Name {
			items[i] += " AS " + o.Name
		}
		items[i] += " :: " + o.Type.String()
	}
	line("Project %s", strings.Join(items, ", "))
	if t := p.TopN; t != nil {
		order := make([]string, len(t.Order))
		for i, o := range t.Order {
			order[i] = o.Text
		}
		how := "updating: emits a changelog"
		if !t.Updating() {
			how = "each partition emitted once the watermark passes " + t.PartitionText[t.Time]
			if t.Window != nil || t.Over != nil {
				how = "each window's rows emitted once the watermark passes its end"
			}
		}
		over := "ORDER BY " + strings.Join(order, ", ")
		if len(t.PartitionText) > 0 {
			over = "PARTITION BY " + strings.Join(t.PartitionText, ", ") + " " + over
		}
		line("Top %d per partition by %s() OVER (%s) AS %s (%s)", t.Limit, t.Func, over, t.Columns[t.RankColumn].Name, how)
		if t.Filter != nil {
			fmt.Fprintf(&b, "%s  filter: %s\n", indent, t.FilterText)
		}
		if t.Window != nil {
			fmt.Fprintf(&b, "%s  window: %s (each row ranked in each of its windows)\n", indent, t.WindowText)
		}
		switch {
		case t.Retracting && t.Over != nil:
			line("Project %s (each changed group's row, to the top-N's tasks at each checkpoint, with the row it replaces taken back; every group kept)", selectText(t.Over))
		case t.Over != nil:
			line("Project %s (each window's rows, to the top-N's tasks as the windows close)", selectText(t.Over))
		}
	}
	if o := p.Outer; o != nil {
		over, rows := "over the subquery's rows, taking back each one its group replaces", "each group's row as it changes: the new one added, the old one taken back"
		if p.Aggregation.Window != nil {
			over, rows = "over the subquery's windows' rows", "each window's rows, as the windows close"
		}
		line("Aggregate %s; %s, in a further stateful stage", aggregateText(o.Aggregation), over)
		if o.Aggregation.Having != nil {
			fmt.Fprintf(&b, "%s  having: %s\n", indent, o.Aggregation.HavingText)
		}
		if o.Filter != nil {
			line("Filter %s", o.FilterText)
		}
		line("Project %s (%s)", selectText(o.Over), rows)
	}
	if a := p.Aggregation; a != nil {
		s := aggregateText(a)
		switch {
		case p.StreamJoin != nil && p.StreamJoin.Grouped:
			s += "; over the joined rows, in the join's tasks (the group key holds the join key)"
		case p.StreamJoin != nil:
			s += "; over the joined rows, in a stateful stage of its own"
		}
		line("Aggregate %s", s)
		if a.Having != nil {
			fmt.Fprintf(&b, "%s  having: %s\n", indent, a.HavingText)
		}
	}
	if p.Filter != nil {
		line("Filter %s", p.FilterText)
	}
	tables := func(first *Join, when string) {
		// The last table joined is the node nearest the top.
		joins := slices.Collect(first.Joins())
		slices.Reverse(joins)
		for _, j := range joins {
			kind := "Join"
			if j.Left {
				kind = "Left join"
			}
			line("%s table %s AS %s ON %s = %s.%s (the latest row per key, looked up as %s)",
				kind, j.Table.Name, j.Alias, j.KeyText, j.Alias, j.Table.PrimaryKey, when)
			fmt.Fprintf(&b, "%s  table: %s\n", indent, describeConnector(j.Table.Connector, j.Table.Options))
		}
	}
	if p.Join != nil {
		tables(p.Join, "each event is processed")
		if j := p.Join; j.StreamFilter != nil {
			line("Filter %s (before the lookup)", j.StreamFilterText)
		}
	}
	if last := p.StreamJoin; last != nil {
		if last.Tables != nil {
			tables(last.Tables, "the join's task makes each joined row")
		}
		chain := last.Chain()
		slices.Reverse(chain) // the last join is the node nearest the top
		for _, j := range chain {
			kind := map[string]string{"INNER": "Join", "LEFT": "Left join", "RIGHT": "Right join", "FULL": "Full join"}[j.Kind()]
			line("%s stream %s AS %s ON %s (rows shuffled by key to the join tasks; pairs emitted as they meet)", kind, j.Right.Name, j.RightAlias, j.ConditionText)
			fmt.Fprintf(&b, "%s  keys: %s\n", indent, strings.Join(j.KeyText, ", "))
			left, right := j.Keep()
			fmt.Fprintf(&b, "%s  state: %s rows for %s, %s rows for %s after their event time\n", indent, j.LeftAlias, keepText(left), j.RightAlias, keepText(right))
			for side, alias := range []string{j.LeftAlias, j.RightAlias} {
				if j.Updating[side] {
					fmt.Fprintf(&b, "%s  updating: each %s row without a partner is emitted at once with NULLs, and taken back when its first partner comes\n", indent, alias)
				}
			}
			if len(j.RightFeeds) > 0 {
				fmt.Fprintf(&b, "%s  %s: %s\n", indent, j.RightAlias, feedsText(j.Right, j.RightFeeds, "the join, as its right side"))
				writeFeeds(&b, indent+"    ", j.Right, j.RightFeeds)
			} else {
				fmt.Fprintf(&b, "%s  %s: %s\n", indent, j.RightAlias, describeConnector(j.Right.Connector, j.Right.Options))
			}
			if j.RightWindow != nil {
				fmt.Fprintf(&b, "%s  %s window: %s\n", indent, j.RightAlias, j.RightWindowText)
			}
			if j.RightFilter != nil {
				fmt.Fprintf(&b, "%s  %s filter: %s\n", indent, j.RightAlias, j.RightFilterText)
			}
			if j.LeftWindow != nil {
				fmt.Fprintf(&b, "%s  %s window: %s\n", indent, j.LeftAlias, j.LeftWindowText)
			}
			if j.Before != nil {
				t := j.Before.Row()[j.LeftTime].Name
				fmt.Fprintf(&b, "%s  %s: the pairs of the join below, sent on at its checkpoints; their event time %s, at most %s behind its watermark\n",
					indent, j.LeftAlias, t, keepText(j.LeftLag))
			}
			if j.LeftFilter != nil {
				line("Filter %s", j.LeftFilterText)
			}
		}
	}
	s := p.Source
	if len(p.Feeds) > 0 {
		to := "the aggregation"
		switch {
		case p.StreamJoin != nil:
			to = "the join, as its left side"
		case p.TopN != nil:
			to = "the top-N"
		}
		line("%s", feedsText(s, p.Feeds, to))
		writeFeeds(&b, indent, s, p.Feeds)
		return b.String()
	}
	line("Source %s (%s; one task per input partition)", s.Name, describeConnector(s.Connector, s.Options))
	if s.Watermark != nil {
		fmt.Fprintf(&b, "%s  watermark: %s\n", indent, s.Watermark.Text)
	}
	return b.String()
}

// feedsText names the node of the queries that feed src: a UNION ALL's,
// or a join side's one subquery.
func feedsText(src *Source, feeds []*Pipeline, to string) string {
	if len(feeds) == 1 {
		return fmt.Sprintf("Subquery %s (read by tasks of its own; its rows shuffled to %s)", src.Name, to)
	}
	return fmt.Sprintf("Union all %s (%d queries, each read by tasks of its own; their rows shuffled to %s)", src.Name, len(feeds), to)
}

// writeFeeds writes the queries that feed src, a UNION ALL's or a join
// side's, under the node above them at indent: src's watermark, then a
// branch per query.
func writeFeeds(b *strings.Builder, indent string, src *Source, feeds []*Pipeline) {
	if src.Watermark != nil {
		fmt.Fprintf(b, "%s  watermark: %s (each query's rows its source's)\n", indent, src.Watermark.Text)
	}
	for i, q := range feeds {
		branch, rest := "├─ ", "│  "
		if i == len(feeds)-1 {
			branch, rest = "└─ ", "   "
		}
		lines := strings.Split(strings.TrimSuffix(q.explainQuery(), "\n"), "\n")
		fmt.Fprintf(b, "%s%sQuery\n", indent, branch)
		for _, line := range lines[1:] { // not its key: the stateful stage keys the rows
			fmt.Fprintf(b, "%s%s%s\n", indent, rest, line)
		}
	}
}

// selectText is a select list as written, with the names given.
func selectText(outputs []Output) string {
	items := make([]string, len(outputs))
	for i, o := range outputs {
		items[i] = o.Text
		if o.Text != o.Name {
			items[i] += " AS " + o.Name
		}
	}
	return strings.Join(items, ", ")
}

// aggregateText describes an aggregation: its keys, window and
// aggregates.
func aggregateText(a *Aggregation) string {
	var parts []string
	switch {
	case len(a.Keys) > 0:
		keys := make([]string, len(a.Keys))
		for i, k := range a.Keys {
			keys[i] = k.Text
		}
		parts = append(parts, "keys: "+strings.Join(keys, ", "))
	case a.Window == nil:
		parts = append(parts, "keys: none")
	}
	if a.Window != nil {
		parts = append(parts, "window: "+a.WindowText)
	}
	if len(a.Aggs) > 0 {
		aggs := make([]string, len(a.Aggs))
		for i, c := range a.Aggs {
			aggs[i] = c.Text
		}
		parts = append(parts, "aggs: "+strings.Join(aggs, ", "))
	}
	s := strings.Join(parts, "; ")
	if a.Window == nil {
		s += " (updating: emits a changelog)"
	}
	return s
}

func describeConnector(kind string, opts map[string]string) string {
	parts := append([]string{"connector = '" + kind + "'"}, SortedOptions(opts)...)
	return strings.Join(parts, ", ")
}

// groupText names what an aggregation's rows are keyed by: its keys and
// window bounds.
func (a *Aggregation) groupText() string {
	var parts []string
	for _, k := range a.Keys {
		parts = append(parts, k.Text)
	}
	if a.Window != nil {
		parts = append(parts, ColWindowStart, ColWindowEnd)
	}
	if len(parts) == 0 {
		return "none: a single group"
	}
	return strings.Join(parts, ", ")
}

// keepText renders a join side's retention.
func keepText(us int64) string {
	if us == Forever {
		return "ever (no time bound; see 'state.ttl')"
	}
	return (time.Duration(max(us, 0)) * time.Microsecond).String() // the operator keeps a row at least until it is late
}
