package engine

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tide-data/tide/internal/sql/plan"
)

// PipelineInfo describes one running pipeline for monitoring: what it
// reads, the consumer group it commits as, its lag objective and its
// counters.
type PipelineInfo struct {
	Name string
	// Source names the sources, comma-separated (a join's or a UNION
	// ALL's); Topics are the topics Group reads, the first source's
	// (empty for a source that reads no topic).
	Source string
	Topics []string
	// Group is the consumer group the pipeline commits its (first)
	// input's offsets as, Groups its other inputs' (<group>.right,
	// <group>.union<N>): its lag is theirs together.
	Group     string
	Groups    []string
	Connector string
	// LagSLO is the sink's lag_slo option; 0 without one.
	LagSLO time.Duration
	// DeadLetterTopic receives what the pipeline cannot process.
	DeadLetterTopic string

	State                           string
	In, Out, Filtered, DeadLettered int64
	LastError                       string
}

// Pipelines describes every pipeline running on this worker, sorted by
// name.
func (e *Engine) Pipelines() []PipelineInfo {
	e.mu.Lock()
	pipes := make([]*pipeline, 0, len(e.mu.pipelines))
	for _, name := range slices.Sorted(maps.Keys(e.mu.pipelines)) {
		pipes = append(pipes, e.mu.pipelines[name])
	}
	e.mu.Unlock()
	out := make([]PipelineInfo, 0, len(pipes))
	for _, p := range pipes {
		st := p.status()
		info := PipelineInfo{
			Name: p.plan.Name, Source: sourceNames(p.sinkPlan()), Group: p.group, Connector: p.plan.Connector,
			LagSLO: p.lagSLO, DeadLetterTopic: p.dlqTopic,
			State: st.State, In: st.In, Out: st.Out, Filtered: st.Filtered, DeadLettered: st.DeadLettered, LastError: st.LastError,
		}
		for _, in := range p.inputs[1:] {
			info.Groups = append(info.Groups, in.group)
		}
		for _, part := range p.parts { // a UNION ALL's queries run apart
			for _, in := range part.inputs {
				info.Groups = append(info.Groups, in.group)
			}
		}
		if src := p.inputs[0].def; sourceReadsTopic(src.Connector) && src.Options["topic"] != "" {
			t := src.Options["topic"]
			info.Topics = []string{t}
		}
		out = append(out, info)
	}
	return out
}

// sourceReadsTopic reports whether a source connector consumes the topic
// its 'topic' option names through the pipeline's group.
func sourceReadsTopic(name string) bool { return name == "topic" || name == "http" }

// sourceNames names the sources a pipeline reads, comma-separated.
func sourceNames(pl *plan.Pipeline) string {
	var names []string
	for _, src := range pl.Sources() {
		names = append(names, src.Name)
	}
	return strings.Join(names, ", ")
}
