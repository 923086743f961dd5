package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(60, 0, 1, (*Server).handleDescribeCluster) }

func (s *Server) handleDescribeCluster(r *request) {
	resp := kmsg.NewPtrDescribeClusterResponse()
	resp.EndpointType = r.req.(*kmsg.DescribeClusterRequest).EndpointType
	resp.ClusterID = s.cfg.ClusterID
	resp.ControllerID = s.cfg.NodeID
	host, port := s.advertised()
	b := kmsg.NewDescribeClusterResponseBroker()
	b.NodeID, b.Host, b.Port = s.cfg.NodeID, host, port
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{b}
	r.respond(resp)
}
