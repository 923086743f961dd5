package format

import (
	"strings"
	"testing"

	"github.com/tide-data/tide/internal/sql/types"
)

// A projected JSON decoder builds the columns read and leaves the others
// NULL, skipping their values whatever they hold — but not bad syntax,
// and not with json.fail-on-missing-field, which still sees every field.
func TestJSONProject(t *testing.T) {
	cols := []Column{{Name: "a", Type: types.KindInt4}, {Name: "b", Type: types.KindText}, {Name: "c", Type: types.KindTimestamp}}
	d := mustDecoder(t, cols, nil).(ProjectingDecoder)
	d.Project([]bool{true, false, true})
	row := make(types.Row, 3)
	for _, doc := range []string{
		`{"a":1,"b":"x","c":"2026-01-02 03:04:05"}`,
		`{"b":{"not":"text"},"c":"2026-01-02T03:04:05","a":1}`, // b's value is never converted
		`{"a":1,"c":"2026-01-02 03:04:05","b":17}`,
	} {
		row[1] = types.NewText("stale")
		if err := d.Decode([]byte(doc), row); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if row[0].Int() != 1 || !row[1].IsNull() || row[1].Kind() != types.KindText || row[2].IsNull() {
			t.Errorf("%s: got %s, %s, %s", doc, show(row[0]), show(row[1]), show(row[2]))
		}
	}
	// A read column's bad value is still an error; bad JSON anywhere too.
	if err := d.Decode([]byte(`{"a":"x","b":"y"}`), row); err == nil || !strings.Contains(err.Error(), `column "a"`) {
		t.Errorf("a bad value of a read column: %v", err)
	}
	if err := d.Decode([]byte(`{"a":1,"b":[1,}`), row); err == nil {
		t.Error("bad syntax in an unread column's value is still an error")
	}
	// Reading everything again.
	d.Project([]bool{true, true, true})
	if err := d.Decode([]byte(`{"a":1,"b":"x"}`), row); err != nil || row[1].Text() != "x" {
		t.Errorf("after projecting every column: %v, b = %s", err, show(row[1]))
	}

	strict := mustDecoder(t, cols, map[string]string{"json.fail-on-missing-field": "true"}).(ProjectingDecoder)
	strict.Project([]bool{true, false, false})
	if err := strict.Decode([]byte(`{"a":1,"c":null}`), row); err == nil || !strings.Contains(err.Error(), `column "b": field missing`) {
		t.Errorf("fail-on-missing-field with a projection: %v", err)
	}
	if err := strict.Decode([]byte(`{"a":1,"b":"x","c":"2026-01-02 03:04:05"}`), row); err != nil || row[1].Text() != "x" {
		t.Errorf("fail-on-missing-field decodes every column: %v, b = %s", err, show(row[1]))
	}
}
