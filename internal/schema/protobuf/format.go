package protobuf

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/tide-data/tide/internal/schema"
)

// Format returns the Protobuf schema language. The value also implements
// schema.Validator. It holds no state and is safe for concurrent use.
func Format() schema.Format { return format{} }

type format struct{}

var (
	_ schema.Format    = format{}
	_ schema.Validator = format{}
	_ schema.Parsed    = (*Schema)(nil)
)

func (format) Type() schema.Type { return schema.Protobuf }

// Parse compiles text as one .proto file. refs holds the files it imports,
// by import path (the reference's name, "acme/money.proto"); each must be a
// Schema this package parsed, and brings the files it imports in turn. The
// well-known files (google/protobuf/timestamp.proto, ...) need no
// reference. An invalid schema is an error wrapping schema.ErrInvalid with
// the compiler's message, which starts with file:line:col; the schema
// itself is called schema.proto there.
func (format) Parse(text string, refs map[string]schema.Parsed) (schema.Parsed, error) {
	return Parse(text, refs)
}

// mainFile is the name the schema being parsed compiles under.
const mainFile = "schema.proto"

// Parse is Format().Parse returning the concrete type.
func Parse(text string, refs map[string]schema.Parsed) (*Schema, error) {
	deps := make(map[string]*Schema, len(refs))
	for name, p := range refs {
		s, ok := p.(*Schema)
		if !ok || s == nil {
			return nil, fmt.Errorf("%w: reference %q is not a Protobuf schema", schema.ErrInvalid, name)
		}
		deps[name] = s
	}
	sources := map[string]string{}
	if err := collectSources(deps, sources); err != nil {
		return nil, err
	}
	name := mainFile
	for i := 1; sources[name] != ""; i++ {
		name = fmt.Sprintf("schema_%d.proto", i)
	}
	sources[name] = text

	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(sources),
		}),
		MaxParallelism: 1,
	}
	files, err := compiler.Compile(context.Background(), name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", schema.ErrInvalid, err)
	}
	fd := files[0]

	registry := new(protoregistry.Files)
	if err := registerAll(registry, fd); err != nil {
		return nil, fmt.Errorf("%w: %w", schema.ErrInvalid, err)
	}
	return &Schema{
		source:    text,
		canonical: strings.TrimSpace(text),
		deps:      deps,
		file:      fd,
		types:     dynamicpb.NewTypes(registry),
	}, nil
}

// collectSources gathers the text of every file deps import, transitively,
// by import path.
func collectSources(deps map[string]*Schema, sources map[string]string) error {
	names := make([]string, 0, len(deps))
	for name := range deps {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		d := deps[name]
		if prev, ok := sources[name]; ok {
			if prev != d.source {
				return fmt.Errorf("%w: two references give different files for import %q", schema.ErrInvalid, name)
			}
			continue
		}
		sources[name] = d.source
		if err := collectSources(d.deps, sources); err != nil {
			return err
		}
	}
	return nil
}

// registerAll registers fd and the files it imports, transitively.
func registerAll(r *protoregistry.Files, fd protoreflect.FileDescriptor) error {
	if _, err := r.FindFileByPath(fd.Path()); err == nil {
		return nil
	}
	imports := fd.Imports()
	for i := range imports.Len() {
		if err := registerAll(r, imports.Get(i).FileDescriptor); err != nil {
			return err
		}
	}
	return r.RegisterFile(fd)
}

// Schema is a compiled .proto file. It is immutable and safe for
// concurrent use.
type Schema struct {
	source    string
	canonical string
	deps      map[string]*Schema // direct references, by import path
	file      protoreflect.FileDescriptor
	types     *dynamicpb.Types // the file's and its imports' types, for extensions
}

// Type is schema.Protobuf.
func (*Schema) Type() schema.Type { return schema.Protobuf }

// Canonical is the text with surrounding white space trimmed: see the
// package doc.
func (s *Schema) Canonical() string { return s.canonical }

// Source is the text as given to Parse.
func (s *Schema) Source() string { return s.source }

// File is the compiled file descriptor; its Path is schema.proto (or
// schema_N.proto when a reference took that name).
func (s *Schema) File() protoreflect.FileDescriptor { return s.file }

// Message returns the message the indexes of a frame designate: the first
// index among the file's top-level messages, each next one among the
// nested messages of the previous (map entries count, as in Confluent's
// serializers).
func (s *Schema) Message(indexes []int) (protoreflect.MessageDescriptor, error) {
	if len(indexes) == 0 {
		return nil, errors.New("protobuf: no message index")
	}
	msgs := s.file.Messages()
	var md protoreflect.MessageDescriptor
	for depth, i := range indexes {
		if i < 0 || i >= msgs.Len() {
			where := "the file"
			if md != nil {
				where = "message " + string(md.FullName())
			}
			return nil, fmt.Errorf("protobuf: message index %d at depth %d is out of range: %s has %d messages", i, depth, where, msgs.Len())
		}
		md = msgs.Get(i)
		msgs = md.Messages()
	}
	return md, nil
}

// Indexes returns the message indexes that designate the message of the
// given full name ("acme.Order.Line"), for a serializer's frame.
func (s *Schema) Indexes(fullName string) ([]int, error) {
	var find func(msgs protoreflect.MessageDescriptors, path []int) []int
	find = func(msgs protoreflect.MessageDescriptors, path []int) []int {
		for i := range msgs.Len() {
			md := msgs.Get(i)
			p := append(path[:len(path):len(path)], i)
			if string(md.FullName()) == fullName {
				return p
			}
			if r := find(md.Messages(), p); r != nil {
				return r
			}
		}
		return nil
	}
	if p := find(s.file.Messages(), nil); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("protobuf: no message %s in the schema", fullName)
}
