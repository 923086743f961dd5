// Package jsonschema is the registry's JSON Schema language: Format
// parses and compiles schemas (github.com/santhosh-tekuri/jsonschema),
// validates payloads against them and decides whether two versions are
// compatible by Confluent's rules. It implements schema.Format and
// schema.Validator; it imports nothing of Tide but internal/schema.
//
// # Parsing
//
// The draft is the one "$schema" names — 4, 6, 7, 2019-09 or 2020-12 —
// and draft 7 when it names none, as Confluent does. A schema.Reference's
// Name is how the "$ref"s spell the referenced schema: an absolute URL, or
// a name relative to the schema's location or its "$id". The referenced
// documents (and theirs, transitively) are handed to the compiler under
// those names and under their own absolute "$id"s; nothing is ever
// fetched, from the network or the file system, so a "$ref" to anything
// else makes the schema invalid. Errors wrap schema.ErrInvalid with the
// compiler's reason on one line. Patterns are Go regular expressions
// (RE2): a pattern using look-around, which Confluent's Java accepts, is
// invalid here.
//
// Canonical() is the document as compact JSON with object keys sorted and
// no HTML escaping, so layout and key order do not make new ids. It does
// not include the references: the same text over different references has
// the same canonical form.
//
// # Validation
//
// Validate checks the payload with the fast path below and, when that
// does not accept it, decodes it (numbers kept exact) and validates it
// with the library. A payload that breaks the schema gives a *Failure: the JSON pointer of
// the failing value and the validator's reason, one line, e.g.
//
//	/amount: got string, want number
//
// When several places fail, the one at the smallest pointer (compared as
// strings) is reported, so the answer does not depend on map order. A
// failing anyOf/oneOf is one failure listing each branch's reason.
// FirstFailure returns the same as a value. Every *Failure wraps
// ErrPayload; a payload that is not one JSON document is a failure at the
// root that also wraps ErrMalformed. A number literal over 256 characters
// or with an exponent beyond ±400 is a failure of its own: the validator
// makes exact rationals of numbers, which for such literals takes
// milliseconds to seconds each. A list of additional properties in a
// reason is sorted (the library gives it in map order).
//
// # The fast path
//
// Decoding a payload into interface{} values is most of the library's
// cost (some 60 allocations for a small event), so Parse also compiles the
// schema for a fast path that validates straight from the payload's bytes:
// a recursive descent that checks the JSON grammar exactly as
// encoding/json does (strings with their escapes, invalid UTF-8 allowed,
// numbers, nesting) and each value against its subschema, allocating
// nothing. It is compiled from the library's own compiled schema, so the
// draft's rules (draft 4's boolean exclusiveMinimum, items and
// additionalItems before 2020-12, prefixItems from it, format asserted up
// to draft 7 and an annotation from 2019-09 unless the metaschema's
// vocabulary asserts it) are the library's. The keywords it implements:
//
//   - true and false schemas, type (one or a list; "integer" is a number
//     whose exact value has no fraction, 1.0 and 1e2 included);
//   - enum and const whose values are null, booleans, strings or numbers
//     (numbers compared by exact value, 1 == 1.0);
//   - minimum, maximum, exclusiveMinimum, exclusiveMaximum, compared
//     exactly as decimals; multipleOf when its digits fit 64 bits (a
//     payload number of more than 19 significant digits under it goes to
//     the library);
//   - minLength and maxLength in code points; pattern, matched by the
//     very Go regexp the library compiled; format, with the library's own
//     checker (it gets the string, so a formatted field costs two small
//     allocations);
//   - properties, required (up to 64 names), additionalProperties
//     (boolean or schema);
//   - items (a schema, or an array with additionalItems), prefixItems,
//     minItems, maxItems.
//
// Strings with escapes or invalid UTF-8 are unescaped as encoding/json
// does (a lone surrogate or invalid byte becomes U+FFFD) before being
// compared, counted or matched. Every number is held to the size limits
// above, as the library path holds them.
//
// A subschema with any other keyword ($ref and the other references,
// allOf, anyOf, oneOf, not, if/then/else, dependencies and the dependent
// keywords, patternProperties, propertyNames, min/maxProperties,
// unevaluated*, uniqueItems, contains, content keywords, vocabulary
// extensions, an enum or const holding an object or an array) is left to
// the library: a payload whose validation reaches it is decoded and
// validated by the library whole, as is one nested over 1,000 levels. A
// schema whose root is such a subschema never takes the fast path.
//
// The fast path only ever decides to accept. A payload it rejects is
// validated again by the library, so the *Failure of a rejected payload
// is the library's, exactly as without the fast path. Its verdicts equal
// the library's (FuzzValidateDifferential and FuzzParseCompatible check
// them against each other), with one known difference on the reject side
// only: an object repeating a key, where encoding/json keeps the last
// value and the fast path checks every one, so a bad earlier value makes
// it reject what the library accepts; the library's rerun then accepts
// it.
//
// # Compatibility
//
// Compatible(reader, writer) asks whether every document the writer's
// schema allows is one the reader's schema allows, and lists why not: one
// message per problem, each starting with the JSON pointer of the schema
// location, e.g.
//
//	#/properties/amount: type narrowed from [number string] to [number]
//
// BACKWARD is Compatible(new, latest), FORWARD Compatible(latest, new),
// FULL both. Compared with Confluent's JsonSchemaDiff the verdicts agree
// on the rules below (Confluent's difference names in parentheses); the
// messages are our own.
//
// Rules analysed:
//
//   - $ref (local definitions/$defs, other documents, recursion) is
//     followed; the path stays the path of the referring schema. A pair of
//     schemas met again while being compared (a recursive schema) is
//     taken as compatible there: any difference is reported where it is
//     first met.
//   - true/{} accept everything and false nothing (SCHEMA_ADDED/REMOVED).
//   - type: the reader must accept every type the writer allows; integer
//     fits number, not the reverse (TYPE_EXTENDED, TYPE_NARROWED,
//     TYPE_CHANGED). No "type" allows every type. Keywords of one type
//     (minLength, minimum, properties, items...) are compared only when
//     the writer can write values of that type.
//   - enum and const: a writer with a finite set of values (its enum or
//     const, up to 256 values) has each value validated against the
//     reader, which is exact (ENUM_ARRAY_EXTENDED, ENUM_ARRAY_NARROWED,
//     ENUM_ARRAY_CHANGED); larger enums are compared as sets. A reader enum
//     over a writer without one is incompatible.
//   - numbers: minimum, maximum, exclusiveMinimum, exclusiveMaximum (draft
//     4's boolean form included) may only loosen; multipleOf must divide
//     the writer's (MAXIMUM_*, MINIMUM_*, EXCLUSIVE_*, MULTIPLE_OF_*).
//   - strings: minLength, maxLength may only loosen; pattern and format
//     (where asserted: draft 7 and earlier) must be unchanged or removed
//     (MAX_LENGTH_*, MIN_LENGTH_*, PATTERN_*).
//   - objects, by property name, under open, closed and partially open
//     content models (additionalProperties absent/true, false, a schema;
//     patternProperties): a property added to the reader is fine when the
//     writer's model was closed or its additional/pattern schema fits, and
//     incompatible when the writer's model was open
//     (PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL,
//     OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL,
//     PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL); a
//     property removed from the reader is fine when the reader's model is
//     open or its additional/pattern schema fits, incompatible when closed
//     (PROPERTY_REMOVED_FROM_OPEN/CLOSED_CONTENT_MODEL); properties in
//     both are compared recursively; additionalProperties may only loosen
//     (ADDITIONAL_PROPERTIES_REMOVED, _NARROWED, _EXTENDED).
//   - required: a property the reader requires must be required by the
//     writer (REQUIRED_ATTRIBUTE_ADDED,
//     REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL), except, as in
//     Confluent, when the reader's property schema has a default
//     (REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED) — strictly, such a reader
//     rejects the old documents that lack the property. dependentRequired
//     and the array form of dependencies likewise.
//   - minProperties, maxProperties, minItems, maxItems may only loosen;
//     uniqueItems may not be added.
//   - arrays: items, by position for tuples (items arrays and
//     additionalItems before 2020-12, prefixItems and items from it, the
//     two forms compared with each other), with open and closed content
//     models as for properties (ITEM_ADDED_TO_OPEN_CONTENT_MODEL,
//     ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL, ...); contains with the same
//     schema whose minContains/maxContains only loosen.
//   - anyOf and oneOf: every branch of the writer must fit some branch of
//     the reader, so branches may be added to the reader and reordered
//     (SUM_TYPE_EXTENDED, SUM_TYPE_NARROWED); a writer of several types is
//     matched one type at a time, so {"type": ["string", "null"]} and an
//     anyOf of the two are interchangeable; a plain schema may become one
//     branch of a union. When nothing fits, the closest branch's problems
//     are reported.
//   - allOf (and $ref with siblings, 2019-09 on): the writer must satisfy
//     every part of the reader; a writer that is a conjunction needs one
//     of its parts to satisfy the reader part on its own (parts are not
//     merged).
//   - not: the reader's may only exclude what the writer's already
//     excludes, or values of types the writer does not write.
//   - Annotations (title, description, default, examples, $comment,
//     readOnly, ...) and $id are not changes.
//
// Not analysed: if/then/else, dependentSchemas and the schema form of
// dependencies, propertyNames, unevaluatedProperties, unevaluatedItems,
// $recursiveRef, $dynamicRef, content keywords and vocabulary extensions.
// Each is a pure assertion, so a reader without it is fine; a reader with
// it is fine when the writer has exactly the same subschema (compared
// keyword by keyword, annotations ignored), and otherwise the change is
// reported as incompatible with a message ending "(not analysed)". A
// "not" the rules above cannot settle is reported the same way.
//
// Approximations, all on the safe side (they can only call a compatible
// change incompatible): oneOf's "exactly one" is read as anyOf, as in
// Confluent; a pattern new to the reader is assumed to overlap every
// pattern of the writer; a writer's maxItems does not excuse a reader's
// tuple positions past it. Comparing more than 100,000 pairs of
// subschemas in one call stops the analysis with an incompatible verdict.
//
// # Concurrency
//
// Format() is stateless; a parsed schema, its fast path included, is
// immutable. Parse, Validate, FirstFailure and Compatible are safe for
// concurrent use, including on the same schemas.
package jsonschema
