package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Observer is told what the listener serves, for metrics; the server
// implements it with Prometheus collectors, so this package needs none.
// Its methods are called on the connections' goroutines, concurrently, and
// must be quick: they run on the request path.
type Observer interface {
	// ConnectionAccepted is called for every connection the listener
	// accepts. (Open connections are Server.ConnCount.)
	ConnectionAccepted()
	// RequestServed is called once per request served, when its response
	// is ready to be written (for a produce with acks=0, which takes no
	// response, when it is done): api is Kafka's name of the request
	// ("Produce", "Fetch"), elapsed the time since it was read. A frame
	// the listener cannot parse closes its connection and is not counted.
	RequestServed(api string, elapsed time.Duration)
	// ResponseError is called for every error code in the response other
	// than NONE: once per partition, topic, group or resource that failed
	// and once for the response's own error, as Kafka's ErrorsPerSec
	// counts them. code is Kafka's name for it
	// ("UNKNOWN_TOPIC_OR_PARTITION").
	ResponseError(api, code string)
}

// observeStart is when a request's time starts: the zero time when there
// is no observer, which spares the clock.
func (s *Server) observeStart() time.Time {
	if s.cfg.Observer == nil {
		return time.Time{}
	}
	return time.Now()
}

// observe reports a request served with resp.
func (s *Server) observe(key int16, start time.Time, resp kmsg.Response) {
	o := s.cfg.Observer
	if o == nil {
		return
	}
	api := kmsg.NameForKey(key)
	o.RequestServed(api, time.Since(start))
	responseErrors(resp, func(code int16) { o.ResponseError(api, errorName(code)) })
}

// errorName is Kafka's name of a non-zero error code; codes kerr does
// not know are UNKNOWN_SERVER_ERROR, which keeps the label's values
// bounded.
func errorName(code int16) string {
	if err := kerr.TypedErrorForCode(code); err != nil {
		return err.Message
	}
	return "NONE"
}

// responseErrors calls fn with every non-zero error code of resp. Every
// response type the listener serves is listed (TestResponseErrorsComplete
// fails when one is served without being listed here, or a field is
// missed); a walk by reflection would find them itself but costs the
// Fetch and Produce paths a reflective walk per partition.
func responseErrors(resp kmsg.Response, fn func(int16)) {
	e := func(code int16) {
		if code != 0 {
			fn(code)
		}
	}
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				e(p.ErrorCode)
			}
		}
	case *kmsg.FetchResponse:
		e(r.ErrorCode)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				e(p.ErrorCode)
			}
		}
	case *kmsg.ListOffsetsResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				e(p.ErrorCode)
			}
		}
	case *kmsg.MetadataResponse:
		e(r.ErrorCode)
		for _, t := range r.Topics {
			e(t.ErrorCode)
			for _, p := range t.Partitions {
				e(p.ErrorCode)
			}
		}
	case *kmsg.OffsetCommitResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				e(p.ErrorCode)
			}
		}
	case *kmsg.OffsetFetchResponse:
		e(r.ErrorCode)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				e(p.ErrorCode)
			}
		}
		for _, g := range r.Groups {
			e(g.ErrorCode)
			for _, t := range g.Topics {
				for _, p := range t.Partitions {
					e(p.ErrorCode)
				}
			}
		}
	case *kmsg.FindCoordinatorResponse:
		e(r.ErrorCode)
		for _, c := range r.Coordinators {
			e(c.ErrorCode)
		}
	case *kmsg.JoinGroupResponse:
		e(r.ErrorCode)
	case *kmsg.HeartbeatResponse:
		e(r.ErrorCode)
	case *kmsg.LeaveGroupResponse:
		e(r.ErrorCode)
		for _, m := range r.Members {
			e(m.ErrorCode)
		}
	case *kmsg.SyncGroupResponse:
		e(r.ErrorCode)
	case *kmsg.DescribeGroupsResponse:
		for _, g := range r.Groups {
			e(g.ErrorCode)
		}
	case *kmsg.ListGroupsResponse:
		e(r.ErrorCode)
	case *kmsg.ApiVersionsResponse:
		e(r.ErrorCode)
	case *kmsg.CreateTopicsResponse:
		for _, t := range r.Topics {
			e(t.ErrorCode)
		}
	case *kmsg.DeleteTopicsResponse:
		for _, t := range r.Topics {
			e(t.ErrorCode)
		}
	case *kmsg.DeleteRecordsResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				e(p.ErrorCode)
			}
		}
	case *kmsg.InitProducerIDResponse:
		e(r.ErrorCode)
	case *kmsg.OffsetForLeaderEpochResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				e(p.ErrorCode)
			}
		}
	case *kmsg.DescribeConfigsResponse:
		for _, res := range r.Resources {
			e(res.ErrorCode)
		}
	case *kmsg.AlterConfigsResponse:
		for _, res := range r.Resources {
			e(res.ErrorCode)
		}
	case *kmsg.CreatePartitionsResponse:
		for _, t := range r.Topics {
			e(t.ErrorCode)
		}
	case *kmsg.DeleteGroupsResponse:
		for _, g := range r.Groups {
			e(g.ErrorCode)
		}
	case *kmsg.IncrementalAlterConfigsResponse:
		for _, res := range r.Resources {
			e(res.ErrorCode)
		}
	case *kmsg.OffsetDeleteResponse:
		e(r.ErrorCode)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				e(p.ErrorCode)
			}
		}
	case *kmsg.DescribeClusterResponse:
		e(r.ErrorCode)
	case *kmsg.AddPartitionsToTxnResponse:
		e(r.ErrorCode)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				e(p.ErrorCode)
			}
		}
		for _, tx := range r.Transactions {
			for _, t := range tx.Topics {
				for _, p := range t.Partitions {
					e(p.ErrorCode)
				}
			}
		}
	case *kmsg.AddOffsetsToTxnResponse:
		e(r.ErrorCode)
	case *kmsg.EndTxnResponse:
		e(r.ErrorCode)
	case *kmsg.TxnOffsetCommitResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				e(p.ErrorCode)
			}
		}
	}
}
