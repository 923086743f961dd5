package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzParseRequest feeds arbitrary frames to the request parser: it must
// return a request or an error, never panic or allocate without bound.
func FuzzParseRequest(f *testing.F) {
	for key, a := range apis {
		for v := a.min; v <= a.max; v++ {
			req := kmsg.RequestForKey(key)
			req.SetVersion(v)
			f.Add(kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz")).AppendRequest(nil, req, 1)[4:])
		}
	}
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 255, 255})
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, req, err := parseRequest(frame)
		if err == nil && (req == nil || req.Key() != h.key || req.GetVersion() != h.version) {
			t.Fatalf("parsed %v into %T", h, req)
		}
	})
}
