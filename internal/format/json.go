package format

// jsonFormat is format='json'; see the package doc for its rules.
var jsonFormat = Format{
	Name: "json",
	Options: map[string]string{
		"json.fail-on-missing-field": "'true' makes a declared column missing from a record an error; default 'false': NULL",
		"json.ignore-parse-errors":   "'true' decodes a field that does not convert as NULL and skips records that are not JSON objects; default 'false': an error",
	},
	NewDecoder: func(cols []Column, options map[string]string, _ Env) (Decoder, error) {
		return newJSONDecoder(cols, options)
	},
	NewEncoder: func(cols []Column, options map[string]string, _ Env) (Encoder, error) {
		return newJSONEncoder(cols, options)
	},
}
