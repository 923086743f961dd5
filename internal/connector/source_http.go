package connector

import (
	"context"
	"errors"
	"strings"

	"github.com/tide-data/tide/internal/format"
)

// newHTTPSourceFromOptions is the 'http' source: what clients POST to
// /v1/topics/{topic}/records (internal/ingest) lands in that topic, so the
// source is the topic source on it, with the same options (topic,
// scan.startup.mode, commit.interval, topic.create, topic.partitions). It
// exists so that a pipeline says where its data comes from:
//
//	CREATE SOURCE orders (...) WITH (connector = 'http', topic = 'orders')
//
// The HTTP endpoint serves every topic, declared or not; declaring the
// source creates the topic (topic.create, default 'true'), so the
// endpoint accepts it even with auto-creation off.
func newHTTPSourceFromOptions(cols []format.Column, opts map[string]string, env Env) (Source, error) {
	if env.Transport == nil {
		// CheckSource: the options are all there is to check.
		if _, err := parseTopicSourceOptions(opts); err != nil {
			if rest, ok := strings.CutPrefix(err.Error(), "connector topic"); ok {
				return nil, errors.New("connector http" + rest)
			}
			return nil, err
		}
		return checkedOnly{}, nil
	}
	return newTopicSourceFromOptions(cols, opts, env)
}

// checkedOnly is what CheckSource gets for an http source: options that
// were valid, and nothing to read or close.
type checkedOnly struct{}

func (checkedOnly) Read(context.Context) (Batch, error) {
	return Batch{}, errors.New("connector http: checked only, not connected")
}
func (checkedOnly) Close(context.Context) error { return nil }
