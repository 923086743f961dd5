package plan

import (
	"testing"

	"github.com/tide-data/tide/internal/sql/ast"
)

const chainSources = testSources + `
CREATE SOURCE events (id bigint, label text) WITH (connector = 'topic', topic = 'events');
CREATE SOURCE regions (region text, label text) WITH (connector = 'topic', topic = 'regions', 'primary-key' = 'region');
CREATE SOURCE tiers (tier text, discount int) WITH (connector = 'topic', topic = 'tiers', 'primary-key' = 'tier');
`

func analyzeChain(t *testing.T, sql string) (*Pipeline, error) {
	t.Helper()
	return AnalyzeSink(parseOne(t, sink+sql).(*ast.CreateSink), catalogOf(t, chainSources), sinkConnectors, testOptions)
}

// The ON of the first join sees the stream and that join's table only
// (Postgres' scope for FROM a JOIN b ON … JOIN c ON …): a bare name the
// stream has and a table joined later also has is the stream's there,
// also when the stream is a subquery merged into the joins.
func TestMergedChainOnScope(t *testing.T) {
	direct := "SELECT e.id, r.region FROM events e JOIN customers c ON label = c.name LEFT JOIN regions r ON c.tier = r.region"
	if _, err := analyzeChain(t, direct); err != nil {
		t.Fatalf("the stream itself: %v", err)
	}
	merged := "SELECT e.id, r.region FROM (SELECT id, label FROM events) e JOIN customers c ON label = c.name LEFT JOIN regions r ON c.tier = r.region"
	if _, err := analyzeChain(t, merged); err != nil {
		t.Errorf("the stream as a subquery selecting its columns: %v, want it planned as the stream is", err)
	}
}

// A bare name two joined tables have (and the stream not) is ambiguous,
// whether or not the stream is a subquery.
func TestChainBareNameTwoTables(t *testing.T) {
	direct := "SELECT tier FROM orders o JOIN customers c ON o.customer = c.name JOIN tiers t ON c.tier = t.tier"
	merged := "SELECT tier FROM (SELECT id, customer FROM orders) o JOIN customers c ON o.customer = c.name JOIN tiers t ON c.tier = t.tier"
	_, errDirect := analyzeChain(t, direct)
	_, errMerged := analyzeChain(t, merged)
	if (errDirect == nil) != (errMerged == nil) {
		t.Errorf("bare tier (customers and tiers both have it): over the stream %v; over a subquery of it %v — want one resolution", errDirect, errMerged)
	}
}
