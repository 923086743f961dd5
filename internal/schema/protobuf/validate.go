package protobuf

import (
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/tide-data/tide/internal/schema"
)

// ErrPayload marks a payload its schema does not accept: the strict check
// of a topic's schema failed.
var ErrPayload = errors.New("protobuf: payload does not match its schema")

// maxIndexes bounds the message indexes of a frame: a message nested that
// deep is not a schema anyone writes, and the count comes from the wire.
const maxIndexes = 100

// MessageIndexes reads the message indexes at the start of a framed
// Protobuf payload (after the 5-byte frame): a count, then that many
// indexes, each a zig-zag variable-length integer, as Confluent's
// serializers write them; a count of 0 stands for the single index 0, the
// file's first message. It returns the indexes and the message bytes that
// follow. The error wraps ErrPayload.
func MessageIndexes(payload []byte) (indexes []int, rest []byte, err error) {
	count, n := binary.Varint(payload)
	if n <= 0 {
		return nil, nil, fmt.Errorf("%w: the message indexes are cut short", ErrPayload)
	}
	payload = payload[n:]
	switch {
	case count == 0:
		return []int{0}, payload, nil
	case count < 0 || count > maxIndexes:
		return nil, nil, fmt.Errorf("%w: message index count %d is out of range", ErrPayload, count)
	}
	indexes = make([]int, count)
	for i := range indexes {
		idx, n := binary.Varint(payload)
		if n <= 0 {
			return nil, nil, fmt.Errorf("%w: the message indexes are cut short", ErrPayload)
		}
		if idx < 0 || idx > 1<<31 {
			return nil, nil, fmt.Errorf("%w: message index %d is out of range", ErrPayload, idx)
		}
		indexes[i] = int(idx)
		payload = payload[n:]
	}
	return indexes, payload, nil
}

// AppendMessageIndexes appends the message indexes of a frame, writing
// [0] as the single byte 0 as Confluent's serializers do.
func AppendMessageIndexes(dst []byte, indexes []int) []byte {
	if len(indexes) == 1 && indexes[0] == 0 {
		return append(dst, 0)
	}
	dst = binary.AppendVarint(dst, int64(len(indexes)))
	for _, i := range indexes {
		dst = binary.AppendVarint(dst, int64(i))
	}
	return dst
}

// Validate checks payload (the bytes after the 5-byte frame: message
// indexes, then the message) against p: the indexes must designate a
// message of the schema, and the message must decode as it, with every
// required field set, valid UTF-8 in proto3 strings, and no field the
// schema does not declare (an unknown field means the producer wrote with
// another schema than the frame names). The error wraps ErrPayload.
func (format) Validate(p schema.Parsed, payload []byte) error {
	s, ok := p.(*Schema)
	if !ok || s == nil {
		return fmt.Errorf("protobuf: Validate needs a Protobuf schema, got %T", p)
	}
	return s.Validate(payload)
}

// Validate is Format().Validate for s.
func (s *Schema) Validate(payload []byte) error {
	indexes, rest, err := MessageIndexes(payload)
	if err != nil {
		return err
	}
	md, err := s.Message(indexes)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPayload, err)
	}
	return s.ValidateMessage(md, rest)
}

// ValidateMessage checks that msg (no frame, no indexes) decodes as md,
// which must belong to s.
func (s *Schema) ValidateMessage(md protoreflect.MessageDescriptor, msg []byte) error {
	m := dynamicpb.NewMessage(md)
	opts := proto.UnmarshalOptions{Resolver: s.types}
	if err := unmarshal(opts, msg, m); err != nil {
		return fmt.Errorf("%w: message %s: %w", ErrPayload, md.FullName(), err)
	}
	if u := unknownField(m, ""); u.num != 0 {
		if fd := u.in.Fields().ByNumber(u.num); fd != nil {
			return fmt.Errorf("%w: message %s: field %s = %d at %s has wire type %d, not that of %s",
				ErrPayload, md.FullName(), fd.Name(), u.num, pathOrRoot(u.path), u.wire, fd.Kind())
		}
		return fmt.Errorf("%w: message %s: field number %d at %s is not in the schema", ErrPayload, md.FullName(), u.num, pathOrRoot(u.path))
	}
	return nil
}

func pathOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// unknown is a field of a decoded message that its descriptor does not
// explain.
type unknown struct {
	path string // field names and indexes from the top message
	in   protoreflect.MessageDescriptor
	num  protowire.Number // 0: none
	wire protowire.Type
}

// unknownField finds a field the schema does not declare (or declares
// with another wire type) in m or the messages it holds.
func unknownField(m protoreflect.Message, path string) unknown {
	if u := m.GetUnknown(); len(u) > 0 {
		num, wire, n := protowire.ConsumeTag(u)
		if n < 0 {
			num = -1
		}
		return unknown{path: path, in: m.Descriptor(), num: num, wire: wire}
	}
	var found unknown
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fpath := path + "/" + string(fd.Name())
		switch {
		case fd.IsMap():
			if !isMessage(fd.MapValue()) {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				found = unknownField(mv.Message(), fpath+"/"+k.String())
				return found.num == 0
			})
		case fd.IsList():
			if !isMessage(fd) {
				return true
			}
			l := v.List()
			for i := range l.Len() {
				if found = unknownField(l.Get(i).Message(), fmt.Sprintf("%s/%d", fpath, i)); found.num != 0 {
					break
				}
			}
		case isMessage(fd):
			found = unknownField(v.Message(), fpath)
		}
		return found.num == 0
	})
	return found
}

func isMessage(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind
}

// unmarshal is opts.Unmarshal with its panics made errors: payloads come
// from any producer, and google.golang.org/protobuf's dynamic messages
// panic on some malformed map entries ("cannot convert nil to map key",
// found by FuzzValidate) instead of failing.
func unmarshal(opts proto.UnmarshalOptions, msg []byte, m proto.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the payload does not decode: %v", r)
		}
	}()
	return opts.Unmarshal(msg, m)
}
