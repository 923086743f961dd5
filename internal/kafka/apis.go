package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// api is one served API key: its version range and handler. A handler must
// eventually call request.respond exactly once.
type api struct {
	min, max int16
	serve    func(s *Server, r *request)
}

// apis is filled by each NN_name.go file's init.
var apis = map[int16]api{}

func register(key, minVersion, maxVersion int16, serve func(s *Server, r *request)) {
	if kmsg.RequestForKey(key).MaxVersion() < maxVersion {
		panic("kafka: kmsg cannot encode the advertised version of " + kmsg.NameForKey(key))
	}
	apis[key] = api{min: minVersion, max: maxVersion, serve: serve}
}

const (
	produceKey     = 0
	apiVersionsKey = 18
)
