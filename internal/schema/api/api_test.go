package api_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tide-data/tide/internal/group"
	"github.com/tide-data/tide/internal/log"
	"github.com/tide-data/tide/internal/schema"
	"github.com/tide-data/tide/internal/schema/api"
	"github.com/tide-data/tide/internal/schema/avro"
	"github.com/tide-data/tide/internal/schema/jsonschema"
	"github.com/tide-data/tide/internal/transport/embedded"
)

// fixture is a registry over an embedded log, served by httptest, and
// franz-go's client pointed at it.
type fixture struct {
	url string
	cl  *sr.Client
	reg *schema.Registry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	l, err := log.Open(t.TempDir(), log.WithCleanerInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	g, err := group.NewCoordinator(l, group.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := embedded.New(l, g)
	reg, err := schema.Open(ctx(t), tr, []schema.Format{avro.Format(), jsonschema.Format()}, schema.Options{WorkerID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler(reg))
	t.Cleanup(func() {
		srv.Close()
		if err := errors.Join(reg.Close(context.Background()), tr.Close(), g.Close(), l.Close()); err != nil {
			t.Error(err)
		}
	})
	cl, err := sr.NewClient(sr.URLs(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{url: srv.URL, cl: cl, reg: reg}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// wantCode fails unless err is the registry's answer with code and status.
func wantCode(t *testing.T, err error, code, status int) {
	t.Helper()
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.ErrorCode != code || re.StatusCode != status {
		t.Fatalf("error %v (%+v), want code %d status %d", err, re, code, status)
	}
}

// do sends a request outside the client and returns the status and body.
func (f *fixture) do(t *testing.T, method, path, contentType, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, f.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

const (
	orderV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"item","type":"string"}]}`
	// v2 adds a field with a default: backward compatible.
	orderV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"item","type":"string"},{"name":"qty","type":"int","default":1}]}`
	// v3 adds one without: a v3 reader cannot read v2 data.
	orderV3 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"item","type":"string"},{"name":"qty","type":"int","default":1},{"name":"price","type":"double"}]}`
)

func TestRegisterFetchAndList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := ctx(t)

	ss, err := f.cl.CreateSchema(c, "orders-value", sr.Schema{Schema: orderV1})
	if err != nil {
		t.Fatal(err)
	}
	if ss.ID != 1 || ss.Version != 1 || ss.Subject != "orders-value" || ss.Type != sr.TypeAvro {
		t.Fatalf("created %+v", ss)
	}
	// The same schema again, even with other whitespace: the same id, no
	// new version.
	spaced := strings.ReplaceAll(orderV1, ",", ", ")
	if id, err := f.cl.RegisterSchema(c, "orders-value", sr.Schema{Schema: spaced}, -1, -1); err != nil || id != 1 {
		t.Fatalf("re-register: %d, %v", id, err)
	}
	ss2, err := f.cl.CreateSchema(c, "orders-value", sr.Schema{Schema: orderV2})
	if err != nil || ss2.ID != 2 || ss2.Version != 2 {
		t.Fatalf("v2: %+v, %v", ss2, err)
	}
	// Under another subject the schema keeps its id.
	if ss, err := f.cl.CreateSchema(c, "archive-value", sr.Schema{Schema: orderV1}); err != nil || ss.ID != 1 || ss.Version != 1 {
		t.Fatalf("under another subject: %+v, %v", ss, err)
	}

	byID, err := f.cl.SchemaByID(c, 1)
	if err != nil || byID.Schema != orderV1 || byID.Type != sr.TypeAvro {
		t.Errorf("by id: %+v, %v", byID, err)
	}
	if text, err := f.cl.SchemaTextByID(c, 2); err != nil || text != orderV2 {
		t.Errorf("text by id: %q, %v", text, err)
	}
	latest, err := f.cl.SchemaByVersion(c, "orders-value", -1)
	if err != nil || latest.Version != 2 || latest.ID != 2 || latest.Schema.Schema != orderV2 {
		t.Errorf("latest: %+v, %v", latest, err)
	}
	if text, err := f.cl.SchemaTextByVersion(c, "orders-value", 1); err != nil || text != orderV1 {
		t.Errorf("text of v1: %q, %v", text, err)
	}
	if v, err := f.cl.SubjectVersions(c, "orders-value"); err != nil || !slices.Equal(v, []int{1, 2}) {
		t.Errorf("versions: %v, %v", v, err)
	}
	if s, err := f.cl.Subjects(c); err != nil || !slices.Equal(s, []string{"archive-value", "orders-value"}) {
		t.Errorf("subjects: %v, %v", s, err)
	}
	if s, err := f.cl.SubjectsByID(c, 1); err != nil || !slices.Equal(s, []string{"archive-value", "orders-value"}) {
		t.Errorf("subjects of id 1: %v, %v", s, err)
	}
	if v, err := f.cl.SchemaVersionsByID(c, 1); err != nil || len(v) != 2 || v[0] != (sr.SubjectVersion{Subject: "archive-value", Version: 1}) {
		t.Errorf("versions of id 1: %v, %v", v, err)
	}
	found, err := f.cl.LookupSchema(c, "orders-value", sr.Schema{Schema: spaced})
	if err != nil || found.Version != 1 || found.ID != 1 || found.Subject != "orders-value" {
		t.Errorf("lookup: %+v, %v", found, err)
	}
	all, err := f.cl.AllSchemas(sr.WithParams(c, sr.LatestOnly))
	if err != nil || len(all) != 2 || all[1].Version != 2 {
		t.Errorf("latest of every subject: %+v, %v", all, err)
	}
	if types, err := f.cl.SupportedTypes(c); err != nil || !slices.Equal(types, []sr.SchemaType{sr.TypeAvro, sr.TypeJSON}) {
		t.Errorf("types: %v, %v", types, err)
	}

	// JSON Schema: schemaType in every answer; AVRO's is omitted.
	js := `{"type":"object","properties":{"id":{"type":"integer"}}}`
	jss, err := f.cl.CreateSchema(c, "events-value", sr.Schema{Schema: js, Type: sr.TypeJSON})
	if err != nil || jss.Type != sr.TypeJSON || jss.ID != 3 {
		t.Fatalf("JSON schema: %+v, %v", jss, err)
	}
	status, body, header := f.do(t, "GET", "/schemas/ids/3", "", "")
	if status != 200 || !strings.Contains(body, `"schemaType":"JSON"`) || header.Get("Content-Type") != "application/vnd.schemaregistry.v1+json" {
		t.Errorf("JSON by id: %d %s %v", status, body, header)
	}
	status, body, _ = f.do(t, "GET", "/subjects/orders-value/versions/1", "", "")
	if status != 200 || strings.Contains(body, "schemaType") || !strings.HasPrefix(body, `{"subject":"orders-value","version":1,"id":1,"schema":`) {
		t.Errorf("Avro version: %d %s", status, body)
	}

	// Any character in a subject name: the client escapes it, the server
	// decodes it.
	odd := "a/b c%?&é"
	if ss, err := f.cl.CreateSchema(c, odd, sr.Schema{Schema: orderV1}); err != nil || ss.Subject != odd || ss.Version != 1 {
		t.Fatalf("odd subject: %+v, %v", ss, err)
	}
	if v, err := f.cl.SubjectVersions(c, odd); err != nil || !slices.Equal(v, []int{1}) {
		t.Errorf("odd subject's versions: %v, %v", v, err)
	}
}

func TestCompatibility(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := ctx(t)
	for _, s := range []string{orderV1, orderV2} {
		if _, err := f.cl.CreateSchema(c, "orders-value", sr.Schema{Schema: s}); err != nil {
			t.Fatal(err)
		}
	}

	res, err := f.cl.CheckCompatibility(sr.WithParams(c, sr.Verbose), "orders-value", -1, sr.Schema{Schema: orderV3})
	if err != nil || res.Is || len(res.Messages) == 0 || !strings.Contains(strings.Join(res.Messages, " "), "price") {
		t.Errorf("v3 against latest, verbose: %+v, %v", res, err)
	}
	res, err = f.cl.CheckCompatibility(c, "orders-value", -1, sr.Schema{Schema: orderV3})
	if err != nil || res.Is || len(res.Messages) != 0 {
		t.Errorf("v3 against latest: %+v, %v", res, err)
	}
	if res, err := f.cl.CheckCompatibility(c, "orders-value", 1, sr.Schema{Schema: orderV2}); err != nil || !res.Is {
		t.Errorf("v2 against v1: %+v, %v", res, err)
	}
	if res, err := f.cl.CheckCompatibility(c, "orders-value", -2, sr.Schema{Schema: orderV2}); err != nil || !res.Is {
		t.Errorf("v2 against all: %+v, %v", res, err)
	}
	_, err = f.cl.CheckCompatibility(c, "orders-value", 7, sr.Schema{Schema: orderV2})
	wantCode(t, err, 40402, 404)
	_, err = f.cl.CheckCompatibility(c, "orders-value", -1, sr.Schema{Schema: "{"})
	wantCode(t, err, 42201, 422)

	// Registering the incompatible schema: 409 with the reasons.
	_, err = f.cl.CreateSchema(c, "orders-value", sr.Schema{Schema: orderV3})
	wantCode(t, err, 409, 409)
	if !strings.Contains(err.Error(), "price") {
		t.Errorf("409 without the reason: %v", err)
	}
	// At NONE it goes in.
	if r := f.cl.SetCompatibility(c, sr.SetCompatibility{Level: sr.CompatNone}, "orders-value"); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if ss, err := f.cl.CreateSchema(c, "orders-value", sr.Schema{Schema: orderV3}); err != nil || ss.Version != 3 {
		t.Errorf("v3 at NONE: %+v, %v", ss, err)
	}
}

func TestConfigAndMode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := ctx(t)

	if r := f.cl.Compatibility(c); r[0].Err != nil || r[0].Level != sr.CompatBackward {
		t.Errorf("default global: %+v", r[0])
	}
	if r := f.cl.SetCompatibility(c, sr.SetCompatibility{Level: sr.CompatFull}); r[0].Err != nil || r[0].Level != sr.CompatFull {
		t.Errorf("set global: %+v", r[0])
	}
	r := f.cl.Compatibility(c, "s")
	wantCode(t, r[0].Err, 40408, 404)
	if r := f.cl.Compatibility(sr.WithParams(c, sr.DefaultToGlobal), "s"); r[0].Err != nil || r[0].Level != sr.CompatFull {
		t.Errorf("defaultToGlobal: %+v", r[0])
	}
	if r := f.cl.SetCompatibility(c, sr.SetCompatibility{Level: sr.CompatForwardTransitive}, "s"); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if r := f.cl.Compatibility(c, "s"); r[0].Err != nil || r[0].Level != sr.CompatForwardTransitive {
		t.Errorf("subject level: %+v", r[0])
	}
	// DELETE answers the level removed, as Confluent's {"compatibilityLevel"}.
	status, body, _ := f.do(t, "DELETE", "/config/s", "", "")
	if status != 200 || body != "{\"compatibilityLevel\":\"FORWARD_TRANSITIVE\"}\n" {
		t.Errorf("delete subject level: %d %s", status, body)
	}
	r = f.cl.ResetCompatibility(c, "s")
	wantCode(t, r[0].Err, 40401, 404)
	status, body, _ = f.do(t, "PUT", "/config", "application/json", `{"compatibility":"SIDEWAYS"}`)
	if status != 422 || !strings.Contains(body, `"error_code":42203`) {
		t.Errorf("invalid level: %d %s", status, body)
	}
	status, body, _ = f.do(t, "PUT", "/config/s", "application/vnd.schemaregistry.v1+json", `{"compatibility":"none"}`)
	if status != 200 || body != "{\"compatibility\":\"NONE\"}\n" {
		t.Errorf("lower-case level: %d %s", status, body)
	}

	// Modes.
	if m := f.cl.Mode(c); m[0].Err != nil || m[0].Mode != sr.ModeReadWrite {
		t.Errorf("default mode: %+v", m[0])
	}
	if _, err := f.cl.CreateSchema(c, "s", sr.Schema{Schema: orderV1}); err != nil {
		t.Fatal(err)
	}
	if m := f.cl.SetMode(c, sr.ModeReadOnly, "s"); m[0].Err != nil || m[0].Mode != sr.ModeReadOnly {
		t.Fatalf("set mode: %+v", m[0])
	}
	_, err := f.cl.CreateSchema(c, "s", sr.Schema{Schema: orderV2})
	wantCode(t, err, 42205, 422)
	err = f.cl.DeleteSchema(c, "s", 1, sr.SoftDelete)
	wantCode(t, err, 42205, 422)
	m := f.cl.Mode(c, "other")
	wantCode(t, m[0].Err, 40409, 404)
	if m := f.cl.Mode(sr.WithParams(c, sr.DefaultToGlobal), "other"); m[0].Err != nil || m[0].Mode != sr.ModeReadWrite {
		t.Errorf("mode defaultToGlobal: %+v", m[0])
	}
	if m := f.cl.ResetMode(c, "s"); m[0].Err != nil || m[0].Mode != sr.ModeReadOnly {
		t.Errorf("reset mode: %+v", m[0])
	}
	if _, err := f.cl.CreateSchema(c, "s", sr.Schema{Schema: orderV2}); err != nil {
		t.Errorf("after reset: %v", err)
	}
	m = f.cl.SetMode(c, sr.ModeImport)
	wantCode(t, m[0].Err, 42205, 422)
	if m := f.cl.SetMode(sr.WithParams(c, sr.Force), sr.ModeImport); m[0].Err != nil {
		t.Fatal(m[0].Err)
	}
	// IMPORT: registrations keep the id and version they name.
	if id, err := f.cl.RegisterSchema(c, "imported", sr.Schema{Schema: orderV3}, 42, 5); err != nil || id != 42 {
		t.Errorf("import: %d, %v", id, err)
	}
	if ss, err := f.cl.SchemaByVersion(c, "imported", 5); err != nil || ss.ID != 42 {
		t.Errorf("imported version: %+v, %v", ss, err)
	}
	_, err = f.cl.RegisterSchema(c, "imported", sr.Schema{Schema: orderV1}, -1, -1)
	wantCode(t, err, 42205, 422)
	status, body, _ = f.do(t, "PUT", "/mode", "application/json", `{"mode":"SOMETIMES"}`)
	if status != 422 || !strings.Contains(body, `"error_code":42204`) {
		t.Errorf("invalid mode: %d %s", status, body)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := ctx(t)
	if r := f.cl.SetCompatibility(c, sr.SetCompatibility{Level: sr.CompatNone}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	for _, s := range []string{orderV1, orderV2, orderV3} {
		if _, err := f.cl.CreateSchema(c, "s", sr.Schema{Schema: s}); err != nil {
			t.Fatal(err)
		}
	}
	err := f.cl.DeleteSchema(c, "s", 1, sr.HardDelete)
	wantCode(t, err, 40407, 404)
	if err := f.cl.DeleteSchema(c, "s", 1, sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	err = f.cl.DeleteSchema(c, "s", 1, sr.SoftDelete)
	wantCode(t, err, 40406, 404)
	if v, err := f.cl.SubjectVersions(c, "s"); err != nil || !slices.Equal(v, []int{2, 3}) {
		t.Errorf("live versions: %v, %v", v, err)
	}
	if v, err := f.cl.SubjectVersions(sr.WithParams(c, sr.ShowDeleted), "s"); err != nil || !slices.Equal(v, []int{1, 2, 3}) {
		t.Errorf("versions with deleted: %v, %v", v, err)
	}
	_, err = f.cl.SchemaByVersion(c, "s", 1)
	wantCode(t, err, 40402, 404)
	if ss, err := f.cl.SchemaByVersion(sr.WithParams(c, sr.ShowDeleted), "s", 1); err != nil || ss.ID != 1 {
		t.Errorf("soft-deleted v1 with deleted: %+v, %v", ss, err)
	}
	// The id still decodes.
	if _, err := f.cl.SchemaByID(c, 1); err != nil {
		t.Errorf("id of a soft-deleted version: %v", err)
	}
	if err := f.cl.DeleteSchema(c, "s", 1, sr.HardDelete); err != nil {
		t.Fatal(err)
	}
	_, err = f.cl.SchemaByID(c, 1)
	wantCode(t, err, 40403, 404)
	// "latest" deletes the latest.
	status, body, _ := f.do(t, "DELETE", "/subjects/s/versions/latest", "", "")
	if status != 200 || body != "3\n" {
		t.Errorf("delete latest: %d %s", status, body)
	}

	_, err = f.cl.DeleteSubject(c, "s", sr.HardDelete)
	wantCode(t, err, 40405, 404)
	if v, err := f.cl.DeleteSubject(c, "s", sr.SoftDelete); err != nil || !slices.Equal(v, []int{2}) {
		t.Errorf("soft delete subject: %v, %v", v, err)
	}
	_, err = f.cl.DeleteSubject(c, "s", sr.SoftDelete)
	wantCode(t, err, 40404, 404)
	if s, err := f.cl.Subjects(c); err != nil || len(s) != 0 {
		t.Errorf("subjects: %v, %v", s, err)
	}
	if s, err := f.cl.Subjects(sr.WithParams(c, sr.ShowDeleted)); err != nil || !slices.Equal(s, []string{"s"}) {
		t.Errorf("subjects with deleted: %v, %v", s, err)
	}
	_, err = f.cl.SubjectVersions(c, "s")
	wantCode(t, err, 40401, 404)
	if v, err := f.cl.DeleteSubject(c, "s", sr.HardDelete); err != nil || !slices.Equal(v, []int{2, 3}) {
		t.Errorf("hard delete subject: %v, %v", v, err)
	}
	_, err = f.cl.DeleteSubject(c, "s", sr.SoftDelete)
	wantCode(t, err, 40401, 404)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := ctx(t)
	if _, err := f.cl.CreateSchema(c, "s", sr.Schema{Schema: orderV1}); err != nil {
		t.Fatal(err)
	}
	_, err := f.cl.SubjectVersions(c, "nope")
	wantCode(t, err, 40401, 404)
	_, err = f.cl.SchemaByVersion(c, "nope", 1)
	wantCode(t, err, 40401, 404)
	_, err = f.cl.SchemaByVersion(c, "s", 9)
	wantCode(t, err, 40402, 404)
	_, err = f.cl.SchemaByID(c, 99)
	wantCode(t, err, 40403, 404)
	_, err = f.cl.LookupSchema(c, "s", sr.Schema{Schema: orderV2})
	wantCode(t, err, 40403, 404)
	_, err = f.cl.LookupSchema(c, "nope", sr.Schema{Schema: orderV1})
	wantCode(t, err, 40401, 404)
	_, err = f.cl.CreateSchema(c, "s", sr.Schema{Schema: `{"type":"record","name":"X","fields":[{"name":"a","type":"nosuchtype"}]}`})
	wantCode(t, err, 42201, 422)
	_, err = f.cl.CreateSchema(c, "s", sr.Schema{Schema: "syntax = \"proto3\";", Type: sr.TypeProtobuf})
	wantCode(t, err, 42201, 422)

	for _, tc := range []struct {
		method, path, contentType, body string
		status                          int
		code                            string
	}{
		{"GET", "/subjects/s/versions/0", "", "", 422, `"error_code":42202`},
		{"GET", "/subjects/s/versions/abc", "", "", 422, `"error_code":42202`},
		{"GET", "/subjects/s/versions/2147483648", "", "", 422, `"error_code":42202`},
		{"DELETE", "/subjects/s/versions/-2", "", "", 422, `"error_code":42202`},
		{"GET", "/subjects/s/versions/-1", "", "", 200, `"version":1`},
		{"GET", "/subjects/s/versions/LATEST", "", "", 200, `"version":1`},
		{"GET", "/schemas/ids/abc", "", "", 404, `"error_code":40403`},
		{"GET", "/nothing/here", "", "", 404, `"error_code":404`},
		{"PUT", "/subjects/s/versions", "", "", 405, `"error_code":405`},
		{"POST", "/subjects/s/versions", "text/plain", `{"schema":"x"}`, 415, `"error_code":415`},
		{"POST", "/subjects/s/versions", "application/json", `{"schema":`, 400, `"error_code":400`},
		{"POST", "/subjects/s/versions", "application/json", `{"schema":7}`, 422, `"error_code":422`},
		{"POST", "/subjects/s/versions", "application/octet-stream", `{"schema":""}`, 422, `"error_code":42201`},
		{"POST", "/subjects/s/versions", "application/json", `{"schema":"{\"type\":\"string\"}","schemaType":"XML"}`, 422, `"error_code":42201`},
	} {
		status, body, _ := f.do(t, tc.method, tc.path, tc.contentType, tc.body)
		if status != tc.status || !strings.Contains(body, tc.code) {
			t.Errorf("%s %s %s: %d %s, want %d %s", tc.method, tc.path, tc.body, status, body, tc.status, tc.code)
		}
	}
	// Empty lists are [], not null.
	if status, body, _ := f.do(t, "GET", "/subjects/s/versions/1/referencedby", "", ""); status != 200 || body != "[]\n" {
		t.Errorf("referencedby: %d %s", status, body)
	}
	if status, body, _ := f.do(t, "GET", "/subjects?deleted=true&subjectPrefix=zz", "", ""); status != 200 || body != "[]\n" {
		t.Errorf("no subjects: %d %s", status, body)
	}
	// Raw schema endpoints answer the text itself.
	status, body, _ := f.do(t, "GET", "/subjects/s/versions/1/schema", "", "")
	if status != 200 || body != orderV1 {
		t.Errorf("raw schema: %d %s", status, body)
	}
	// Answers in application/json when that is all the client accepts.
	req, _ := http.NewRequestWithContext(c, "GET", f.url+"/subjects", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type for application/json: %q", ct)
	}
}

func TestReferences(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := ctx(t)
	item := `{"type":"record","name":"Item","namespace":"shop","fields":[{"name":"sku","type":"string"}]}`
	if _, err := f.cl.CreateSchema(c, "item", sr.Schema{Schema: item}); err != nil {
		t.Fatal(err)
	}
	order := `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"item","type":"shop.Item"}]}`
	ref := sr.SchemaReference{Name: "shop.Item", Subject: "item", Version: 1}
	ss, err := f.cl.CreateSchema(c, "order", sr.Schema{Schema: order, References: []sr.SchemaReference{ref}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss.References) != 1 || ss.References[0] != ref {
		t.Errorf("references: %+v", ss.References)
	}
	refs, err := f.cl.SchemaReferences(c, "item", 1)
	if err != nil || len(refs) != 1 || refs[0].ID != ss.ID {
		t.Errorf("referenced by: %+v, %v", refs, err)
	}
	err = f.cl.DeleteSchema(c, "item", 1, sr.SoftDelete)
	wantCode(t, err, 42206, 422)
	_, err = f.cl.CreateSchema(c, "order2", sr.Schema{Schema: order})
	wantCode(t, err, 42201, 422)
}

// TestSerdeRoundTrip encodes and decodes a value with franz-go's Serde and
// hamba/avro, the schema and its id coming from the registry.
func TestSerdeRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := ctx(t)
	// Something before it, so that the id is not 1.
	if _, err := f.cl.CreateSchema(c, "other", sr.Schema{Schema: `"string"`}); err != nil {
		t.Fatal(err)
	}
	ss, err := f.cl.CreateSchema(c, "orders-value", sr.Schema{Schema: orderV2})
	if err != nil {
		t.Fatal(err)
	}
	fetched, err := f.cl.SchemaByID(c, ss.ID)
	if err != nil {
		t.Fatal(err)
	}
	s, err := hamba.Parse(fetched.Schema)
	if err != nil {
		t.Fatal(err)
	}
	type order struct {
		ID   int64  `avro:"id"`
		Item string `avro:"item"`
		Qty  int    `avro:"qty"`
	}
	var serde sr.Serde
	serde.Register(ss.ID, order{},
		sr.EncodeFn(func(v any) ([]byte, error) { return hamba.Marshal(s, v) }),
		sr.DecodeFn(func(b []byte, v any) error { return hamba.Unmarshal(s, b, v) }))
	in := order{ID: 7, Item: "kettle", Qty: 2}
	b, err := serde.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || int(binary.BigEndian.Uint32(b[1:5])) != ss.ID {
		t.Fatalf("frame % x, want magic 0 and id %d", b[:5], ss.ID)
	}
	var out order
	if err := serde.Decode(b, &out); err != nil || out != in {
		t.Fatalf("decoded %+v, %v; want %+v", out, err, in)
	}
	// The payload is valid for the registered schema, as the registry's
	// own Avro format reads it.
	reg, err := f.reg.SchemaByID(ss.ID)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := avro.Format().Parse(reg.Text, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := avro.Format().(schema.Validator); ok {
		if err := v.Validate(parsed, b[5:]); err != nil {
			t.Errorf("validate: %v", err)
		}
	}
}
