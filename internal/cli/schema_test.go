package cli

import (
	"strings"
	"testing"
)

func TestSchemaCommands(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	schema := func(stdin string, args ...string) result {
		t.Helper()
		return tide(t, stdin, append([]string{"schema", "--url", ts.sqlURL()}, args...)...)
	}
	v1 := `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}`
	v2 := `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"note","type":"string","default":""}]}`
	bad := `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}`

	if r := schema(v1, "register", "orders-value", "--file", "-").ok(t); r.stdout != "subject orders-value version 1 id 1\n" {
		t.Errorf("register printed %q", r.stdout)
	}
	// Again: the same version and id, no new version.
	if r := schema(v1, "register", "orders-value", "-f", "-").ok(t); r.stdout != "subject orders-value version 1 id 1\n" {
		t.Errorf("register again printed %q", r.stdout)
	}
	if r := schema(v2, "check", "orders-value", "-f", "-").ok(t); r.stdout != "compatible\n" {
		t.Errorf("check of a compatible schema printed %q", r.stdout)
	}
	r := schema(bad, "check", "orders-value", "-f", "-")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "incompatible:\n  ") {
		t.Errorf("check of an incompatible schema: exit %d, %q", r.code, r.stdout)
	}
	if r := schema(v2, "register", "orders-value", "-f", "-").ok(t); r.stdout != "subject orders-value version 2 id 2\n" {
		t.Errorf("register v2 printed %q", r.stdout)
	}
	if r := schema(bad, "register", "orders-value", "-f", "-"); r.code == 0 || !strings.Contains(r.stderr, "(error 409)") {
		t.Errorf("registering an incompatible schema: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := schema("", "get", "orders-value").ok(t); !strings.HasPrefix(r.stdout, "subject orders-value version 2 id 2 type AVRO\n") {
		t.Errorf("get printed %q", r.stdout)
	}
	if r := schema("", "get", "--id", "1").ok(t); r.stdout != "id 1 type AVRO\n"+v1+"\n" {
		t.Errorf("get --id printed %q", r.stdout)
	}
	if r := schema("", "list").ok(t); r.stdout != "orders-value\n" {
		t.Errorf("list printed %q", r.stdout)
	}
	if r := schema("", "list", "orders-value").ok(t); !strings.Contains(r.stdout, "1        1   AVRO") || !strings.Contains(r.stdout, "2        2   AVRO") {
		t.Errorf("list orders-value printed %q", r.stdout)
	}
	if r := schema("", "delete", "orders-value", "--version", "2").ok(t); r.stdout != "deleted orders-value version 2\n" {
		t.Errorf("delete printed %q", r.stdout)
	}
	if r := schema("", "get", "missing-value"); r.code == 0 || !strings.Contains(r.stderr, "(error 40401)") {
		t.Errorf("get of a missing subject: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := schema("{", "register", "x-value", "-f", "-"); r.code == 0 || !strings.Contains(r.stderr, "(error 42201)") {
		t.Errorf("an invalid schema: exit %d, stderr %q", r.code, r.stderr)
	}
}
