package engine

import (
	"strings"
	"testing"
	"time"
)

// Pipelines describes what runs: the group a pipeline commits as (its lag
// is the pipeline's), the topic it reads and its lag objective; lag_slo
// must be a positive duration.
func TestPipelinesAndLagSLO(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir())
	defer n.close(t)
	e := openEngine(t, n)
	defer closeEngine(t, e)
	mustExec(t, e, `CREATE SOURCE clicks (url text) WITH (connector = 'topic', topic = 'clicks');
	  CREATE SINK pages WITH (connector = 'topic', topic = 'pages', lag_slo = '5s') AS SELECT url FROM clicks;
	  CREATE SINK plain WITH (connector = 'blackhole') AS SELECT url FROM clicks;`)
	ps := e.Pipelines()
	if len(ps) != 2 || ps[0].Name != "pages" || ps[1].Name != "plain" {
		t.Fatalf("pipelines %+v", ps)
	}
	p := ps[0]
	if p.LagSLO != 5*time.Second || !strings.HasPrefix(p.Group, "tide-sink-pages-") || len(p.Topics) != 1 || p.Topics[0] != "clicks" ||
		p.Source != "clicks" || p.DeadLetterTopic != "pages.dlq" || p.State != stateRunning {
		t.Errorf("pages: %+v", p)
	}
	if ps[1].LagSLO != 0 {
		t.Errorf("plain has lag_slo %v", ps[1].LagSLO)
	}
	for _, bad := range []string{"'fast'", "'-1s'", "'0s'"} {
		_, err := execError(t, e, `CREATE SINK bad WITH (connector = 'blackhole', lag_slo = `+bad+`) AS SELECT url FROM clicks`, ExecOptions{})
		if err == nil || !strings.Contains(err.Message, "lag_slo") {
			t.Errorf("lag_slo = %s: %v", bad, err)
		}
	}
}
