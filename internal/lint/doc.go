// Package lint holds Tide's own architectural rules as tests, the way
// pebble keeps its lint rules in internal/lint: run with go test like any
// other test, they fail the build when a change breaks the layering.
package lint
