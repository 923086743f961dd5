package group

import "errors"

// Errors returned by the coordinator's Go API. Errors inside Kafka
// responses are Kafka error codes (kerr) and never these.
var (
	// ErrClosed: the coordinator was closed.
	ErrClosed = errors.New("group: coordinator closed")
	// ErrUnsupportedRequest: Handle was given a request that is not a
	// classic group request.
	ErrUnsupportedRequest = errors.New("group: unsupported request")
	// ErrUnsupportedVersion: the request's version is above what the
	// coordinator serves (see Handle).
	ErrUnsupportedVersion = errors.New("group: unsupported request version")
	// ErrGroupNotEmpty: ResetOffsets was called for a group with active
	// members.
	ErrGroupNotEmpty = errors.New("group: group has active members")
	// ErrInvalidOffset: ResetOffsets was given a negative offset.
	ErrInvalidOffset = errors.New("group: invalid offset")
	// ErrCorruptOffsets marks an offsets-topic record that passed the
	// log's CRC check but cannot be decoded: a bug or a foreign writer,
	// never a torn write (the log cuts those).
	ErrCorruptOffsets = errors.New("group: corrupt offsets record")
	// ErrOffsetsTopic: the offsets topic exists but is not usable
	// (for example, not compacted).
	ErrOffsetsTopic = errors.New("group: unusable offsets topic")
)

// errNoGroup is internal: the group does not exist and the request does not
// create one.
var errNoGroup = errors.New("group: no such group")
