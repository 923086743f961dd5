package lint

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/tide-data/tide/"

// allowed lists, for every package under internal/ and cmd/, the Tide
// packages it may import. Lower layers never import upper ones: the
// storage engine knows nothing of the CLI, the Kafka listener or SQL. A new
// package must be added here, which is the moment to decide its layer.
var allowed = map[string][]string{
	"internal/vfs":    {},
	"internal/gctune": {},
	"internal/record": {},
	"internal/lint":   {},
	"internal/log":    {"internal/vfs", "internal/record"},
	"internal/bench":  {"internal/sql/types", "internal/log", "internal/record", "internal/vfs", "internal/group", "internal/transport", "internal/transport/embedded", "internal/cdc", "internal/engine", "internal/connector", "internal/format", "internal/sql/ast", "internal/sql/parser", "internal/sql/plan", "internal/server", "internal/schema", "internal/schema/avro", "internal/schema/jsonschema", "internal/tracing", "internal/tracing/tracingtest", "examples/nexmark", "internal/nexmark"},
	"internal/group":  {"internal/log", "internal/record"},
	"internal/kafka":  {"internal/log", "internal/record", "internal/group", "internal/txn"},
	// The transaction coordinator: over the log and the group coordinator,
	// under the Kafka listener and the embedded transport, which share it.
	"internal/txn": {"internal/log", "internal/record", "internal/group"},
	// The transport seam: the engine and connectors reach the log only
	// through it. Implementations' tests stand up the log and listener.
	"internal/transport":                       {},
	"internal/transport/transporttest":         {"internal/transport", "internal/record"},
	"internal/transport/embedded/embeddedtest": {"internal/transport", "internal/transport/embedded", "internal/log", "internal/group", "internal/record"},
	"internal/transport/embedded":              {"internal/transport", "internal/transport/transporttest", "internal/log", "internal/record", "internal/group", "internal/txn"},
	"internal/transport/kafkatransport":        {"internal/transport", "internal/transport/transporttest", "internal/log", "internal/record", "internal/group", "internal/kafka"},
	// SQL: syntax, values, expressions, plans. None of it knows of logs.
	"internal/sql/ast":    {},
	"internal/sql/parser": {"internal/sql/ast"},
	"internal/sql/types":  {},
	"internal/sql/expr":   {"internal/sql/ast", "internal/sql/types", "internal/sql/parser"},
	"internal/sql/plan":   {"internal/sql/ast", "internal/sql/types", "internal/sql/expr", "internal/sql/parser", "internal/eventtime"},
	"internal/format":     {"internal/sql/types"},
	"internal/eventtime":  {},
	"internal/nexmark":    {},
	// A materialized view's rows, tailed from its topic through the
	// transport; the engine keeps one per view, the server serves them.
	"internal/view":        {"internal/transport", "internal/transport/embedded/embeddedtest"},
	"internal/aggregate":   {"internal/eventtime", "internal/sql/expr", "internal/sql/types"},
	"internal/join":        {},
	"internal/topn":        {"internal/sql/types"},
	"internal/cdc/pgvalue": {"internal/format", "internal/sql/types"},
	"internal/cdc":         {"internal/transport/embedded/embeddedtest", "internal/cdc/pgvalue", "internal/transport", "internal/record", "internal/format", "internal/sql/types", "internal/transport/embedded", "internal/transport/kafkatransport", "internal/log", "internal/group"},
	"internal/connector":   {"internal/cdc", "internal/cdc/pgvalue", "internal/transport", "internal/record", "internal/sql/types", "internal/format", "internal/transport/embedded", "internal/log", "internal/group", "internal/nexmark"},
	// HTTP ingestion writes through the transport only; its tests stand
	// up the log under an embedded transport.
	// Lag objectives watch the pipelines' groups through the lag monitor;
	// the server hands them the pipelines, so they know nothing of the engine.
	"internal/alert":   {"internal/lag", "internal/transport"},
	"internal/lag":     {"internal/transport", "internal/transport/embedded/embeddedtest", "internal/transport/embedded", "internal/log", "internal/group", "internal/record"},
	"internal/ingest":  {"internal/format", "internal/transport", "internal/transport/embedded", "internal/log", "internal/group", "internal/vfs", "internal/tracing", "internal/tracing/tracingtest"},
	"internal/catalog": {"internal/transport/embedded/embeddedtest", "internal/transport", "internal/sql/ast", "internal/sql/parser", "internal/transport/embedded", "internal/log", "internal/group"},
	// The schema registry keeps its state in a topic, through the transport
	// only (its tests run it on the embedded log and on Tide's Kafka
	// listener); the languages and the HTTP API sit on its core.
	"internal/schema":     {"internal/transport/embedded/embeddedtest", "internal/transport", "internal/transport/embedded", "internal/transport/kafkatransport", "internal/kafka", "internal/log", "internal/group"},
	"internal/schema/api": {"internal/schema", "internal/schema/avro", "internal/schema/jsonschema", "internal/schema/protobuf", "internal/transport/embedded", "internal/log", "internal/group"},
	"internal/engine":     {"internal/state", "internal/aggregate", "internal/join", "internal/topn", "internal/eventtime", "internal/cdc", "internal/cdc/pgvalue", "internal/transport", "internal/connector", "internal/format", "internal/catalog", "internal/sql/ast", "internal/sql/parser", "internal/sql/types", "internal/sql/expr", "internal/sql/plan", "internal/transport/embedded", "internal/log", "internal/group", "internal/tracing", "internal/tracing/tracingtest", "internal/view"},
	"internal/server":     {"internal/alert", "internal/lag", "internal/format", "internal/record", "internal/log", "internal/kafka", "internal/group", "internal/transport", "internal/transport/embedded", "internal/transport/kafkatransport", "internal/engine", "internal/catalog", "internal/ingest", "internal/schema", "internal/schema/api", "internal/schema/avro", "internal/schema/jsonschema", "internal/schema/protobuf", "internal/tracing", "internal/tracing/tracingtest", "internal/txn", "internal/view", "internal/sql/types", "internal/gctune"},
	"test/interop":        {},
	"internal/cli":        {"internal/cdc", "internal/format", "internal/log", "internal/record", "internal/bench", "internal/vfs", "internal/server", "internal/kafka", "internal/engine", "internal/sql/parser", "internal/sql/ast", "internal/group", "internal/transport", "internal/transport/embedded", "internal/transport/kafkatransport", "internal/gctune"},
	"cmd/tide":            {"internal/cli"},

	// A schema language knows only the registry's contract.
	"internal/schema/jsonschema": {"internal/schema"},
	"internal/schema/avro":       {"internal/schema"},
	"internal/schema/protobuf":   {"internal/schema"},

	// W3C trace context and OpenTelemetry spans: a leaf every layer that
	// traces (ingestion, the engine, the server) may use.
	"internal/tracing":             {"internal/tracing/tracingtest"}, // its tests export to the receiver
	"internal/tracing/tracingtest": {},

	// A stateful task's operator state in pebble, mirrored by a changelog
	// topic through the transport only, below the engine; its tests replay
	// changelogs on the embedded log and run the GROUP BY operator on it.
	"internal/state": {"internal/transport", "internal/transport/embedded/embeddedtest", "internal/aggregate", "internal/eventtime", "internal/sql/expr", "internal/sql/types"},
}

func TestLayering(t *testing.T) {
	root := filepath.Join("..", "..")
	imports := map[string]map[string]bool{} // package dir -> Tide imports
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if imports[rel] == nil {
			imports[rel] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if dep, ok := strings.CutPrefix(p, module); ok {
				imports[rel][dep] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg, deps := range imports {
		if !strings.HasPrefix(pkg, "internal/") && !strings.HasPrefix(pkg, "cmd/") && !strings.HasPrefix(pkg, "test/") {
			continue
		}
		ok, known := allowed[pkg]
		if !known {
			t.Errorf("%s is not in internal/lint's layer table: add it with the packages it may import", pkg)
			continue
		}
		for dep := range deps {
			if dep != pkg && !slices.Contains(ok, dep) {
				t.Errorf("%s imports %s, which its layer does not allow", pkg, dep)
			}
		}
	}
}

// TestEveryPackageHasDoc: each package explains its job in a doc.go.
func TestEveryPackageHasDoc(t *testing.T) {
	root := filepath.Join("..", "..")
	for pkg := range allowed {
		if _, err := os.Stat(filepath.Join(root, pkg)); err != nil {
			continue // listed ahead of being written
		}
		if pkg == "cmd/tide" {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, pkg, "doc.go")); err != nil {
			t.Errorf("%s has no doc.go", pkg)
		}
	}
}
