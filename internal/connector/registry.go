package connector

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/tide-data/tide/internal/format"
)

// The registry is fixed at compile time: a connector is added by adding
// its constructor here.
var (
	sourceKinds = map[string]func(cols []format.Column, opts map[string]string, env Env) (Source, error){
		"topic":     newTopicSourceFromOptions,
		"datagen":   NewDatagen,
		"nexmark":   NewNexmark,
		"http":      newHTTPSourceFromOptions,
		PostgresCDC: newCDCSourceFromOptions,
	}
	sinkKinds = map[string]func(opts map[string]string, env Env) (Sink, error){
		"topic":     newTopicSinkFromOptions,
		"stdout":    NewStdout,
		"blackhole": NewBlackhole,
		"postgres":  newPostgresSinkFromOptions,
		"http":      NewHTTP,
		"file":      NewFile,
	}
)

// NewSource returns a source of the given kind (WITH (connector='...'))
// for cols, the source's declared columns (datagen generates them; other
// kinds ignore them). opts holds the connector's WITH options, keys in
// lower case, without 'connector' and the format's options; an unknown or
// missing option is an error listing the valid ones. Constructors that
// talk to the transport (topic) bound their calls by setupTimeout.
func NewSource(kind string, cols []format.Column, opts map[string]string, env Env) (Source, error) {
	newSource, ok := sourceKinds[kind]
	if !ok {
		return nil, fmt.Errorf("connector: unknown source connector '%s' (known: %s)", kind, quoteKeys(SourceKinds()))
	}
	return newSource(cols, opts, env)
}

// NewSink returns a sink of the given kind; opts as for NewSource.
func NewSink(kind string, opts map[string]string, env Env) (Sink, error) {
	newSink, ok := sinkKinds[kind]
	if !ok {
		return nil, fmt.Errorf("connector: unknown sink connector '%s' (known: %s)", kind, quoteKeys(SinkKinds()))
	}
	return newSink(opts, env)
}

// SourceKinds returns the source connector names, sorted.
func SourceKinds() []string { return slices.Sorted(maps.Keys(sourceKinds)) }

// SinkKinds returns the sink connector names, sorted.
func SinkKinds() []string { return slices.Sorted(maps.Keys(sinkKinds)) }

// CheckSource checks a source's options without connecting to anything,
// so a CREATE SOURCE with a typo fails at once rather than when a
// pipeline first reads it.
func CheckSource(kind string, cols []format.Column, opts map[string]string) error {
	if kind == "topic" {
		_, err := parseTopicSourceOptions(opts)
		return err
	}
	src, err := NewSource(kind, cols, opts, Env{})
	if err != nil {
		return err
	}
	return src.Close(context.Background())
}

// CheckSink checks a sink's options without connecting to anything.
func CheckSink(kind string, opts map[string]string) error {
	if kind == "topic" {
		_, err := parseTopicSinkOptions(opts)
		return err
	}
	sink, err := NewSink(kind, opts, Env{})
	if err != nil {
		return err
	}
	return sink.Close(context.Background())
}
