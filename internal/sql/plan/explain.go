package plan

import (
	"fmt"
	"strings"
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
// testdata/explain.golden holds more examples.
func (p *Pipeline) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Sink %s (%s)\n", p.Name, describeConnector(p.Connector, p.Options))
	if p.Key != nil {
		fmt.Fprintf(&b, "  key: %s\n", p.KeyText)
	} else {
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
	if p.Filter != nil {
		line("Filter %s", p.FilterText)
	}
	s := p.Source
	line("Source %s (%s; one task per input partition)", s.Name, describeConnector(s.Connector, s.Options))
	if s.Watermark != nil {
		fmt.Fprintf(&b, "%s  watermark: %s\n", indent, s.Watermark.Text)
	}
	return b.String()
}

func describeConnector(kind string, opts map[string]string) string {
	parts := append([]string{"connector = '" + kind + "'"}, SortedOptions(opts)...)
	return strings.Join(parts, ", ")
}
