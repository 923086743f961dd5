package kafka

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(apiVersionsKey, 0, 4, (*Server).handleAPIVersions) }

func (s *Server) handleAPIVersions(r *request) {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.ApiKeys = apiVersionKeys()
	r.respond(resp)
}

// unsupportedAPIVersions answers an ApiVersions request of a version this
// server does not know: a v0 body with UNSUPPORTED_VERSION and the full key
// list, so the client retries with a version both sides speak.
func unsupportedAPIVersions(int16) kmsg.Response {
	resp := &versionPinned{ApiVersionsResponse: kmsg.NewPtrApiVersionsResponse()}
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = apiVersionKeys()
	return resp
}

// versionPinned is an ApiVersions response that encodes as v0 whatever
// version the request had.
type versionPinned struct{ *kmsg.ApiVersionsResponse }

func (v *versionPinned) SetVersion(int16) { v.Version = 0 }

func apiVersionKeys() []kmsg.ApiVersionsResponseApiKey {
	keys := make([]kmsg.ApiVersionsResponseApiKey, 0, len(apis))
	for key, a := range apis {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = key, a.min, a.max
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b kmsg.ApiVersionsResponseApiKey) int { return int(a.ApiKey) - int(b.ApiKey) })
	return keys
}
