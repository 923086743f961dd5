package connector

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options reads a connector's WITH options. Every key read is marked;
// check then reports the ones nobody read, listing the valid ones, so a
// typo ('scan.startup-mode') is an error rather than a silent default.
type options struct {
	kind  string
	m     map[string]string
	valid []string // keys the connector documents, for error messages
	used  map[string]bool
	err   error // first error of a read
}

func newOptions(kind string, m map[string]string, valid ...string) *options {
	return &options{kind: kind, m: m, valid: valid, used: make(map[string]bool, len(m))}
}

func (o *options) fail(format string, args ...any) {
	if o.err == nil {
		o.err = fmt.Errorf("connector %s: "+format, append([]any{o.kind}, args...)...)
	}
}

func (o *options) lookup(key string) (string, bool) {
	o.used[key] = true
	v, ok := o.m[key]
	return strings.TrimSpace(v), ok
}

func (o *options) required(key string) string {
	v, ok := o.lookup(key)
	if !ok || v == "" {
		o.fail("option '%s' is required (valid options: %s)", key, quoteKeys(o.valid))
	}
	return v
}

func (o *options) str(key, def string) string {
	if v, ok := o.lookup(key); ok {
		return v
	}
	return def
}

func (o *options) oneOf(key, def string, allowed ...string) string {
	v := strings.ToLower(o.str(key, def))
	if !slices.Contains(allowed, v) {
		o.fail("option '%s' must be one of %s, not '%s'", key, quoteKeys(allowed), v)
	}
	return v
}

func (o *options) int(key string, def, lo, hi int64) int64 {
	v, ok := o.lookup(key)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		o.fail("option '%s' must be an integer from %d to %d, not '%s'", key, lo, hi, v)
	}
	return n
}

func (o *options) float(key string, def float64) float64 {
	v, ok := o.lookup(key)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		o.fail("option '%s' must be a number, not '%s'", key, v)
	}
	return f
}

func (o *options) bool(key string, def bool) bool {
	v, ok := o.lookup(key)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "true":
		return true
	case "false":
		return false
	}
	o.fail("option '%s' must be 'true' or 'false', not '%s'", key, v)
	return def
}

func (o *options) duration(key string, def time.Duration) time.Duration {
	v, ok := o.lookup(key)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		o.fail("option '%s' must be a positive duration such as '500ms' or '2s', not '%s'", key, v)
	}
	return d
}

// check returns the first error of a read, or an error naming the keys
// nobody read.
func (o *options) check() error {
	if o.err != nil {
		return o.err
	}
	var unknown []string
	for k := range o.m {
		if !o.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("connector %s: unknown option %s (valid options: %s)", o.kind, quoteKeys(unknown), quoteKeys(o.valid))
	}
	return nil
}

// keysWithPrefix returns the option keys starting with prefix, sorted.
func (o *options) keysWithPrefix(prefix string) []string {
	var keys []string
	for _, k := range slices.Sorted(maps.Keys(o.m)) {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	return keys
}

func quoteKeys(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = "'" + k + "'"
	}
	return strings.Join(q, ", ")
}
