package kafka

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tide-data/tide/internal/log"
)

// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics
// (read-write) and this broker (read-only: its settings come from Tide's
// own configuration).
func init() {
	register(32, 0, 4, (*Server).handleDescribeConfigs)
	register(33, 0, 2, (*Server).handleAlterConfigs)
	register(44, 0, 1, (*Server).handleIncrementalAlterConfigs)
}

func (s *Server) handleDescribeConfigs(r *request) {
	req := r.req.(*kmsg.DescribeConfigsRequest)
	resp := kmsg.NewPtrDescribeConfigsResponse()
	for _, rr := range req.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []kmsg.DescribeConfigsResponseResourceConfig
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t, err := s.log.Topic(rr.ResourceName)
			if err != nil {
				res.ErrorCode, res.ErrorMessage = errorCode(err), errMessage(err)
				break
			}
			overrides := t.Overrides()
			for name, value := range t.Config().Map() {
				c := describedConfig(name, value, kmsg.ConfigSourceDefaultConfig)
				if _, ok := overrides[name]; ok {
					c.Source, c.IsDefault = kmsg.ConfigSourceDynamicTopicConfig, false
				}
				entries = append(entries, c)
			}
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(s.cfg.NodeID)) {
				res.ErrorCode = kerr.InvalidRequest.Code
				break
			}
			for name, value := range s.brokerConfigs() {
				c := describedConfig(name, value, kmsg.ConfigSourceStaticBrokerConfig)
				c.ReadOnly, c.IsDefault = true, false
				entries = append(entries, c)
			}
		default:
			res.ErrorCode = kerr.InvalidRequest.Code
		}
		slices.SortFunc(entries, func(a, b kmsg.DescribeConfigsResponseResourceConfig) int { return strings.Compare(a.Name, b.Name) })
		for _, c := range entries {
			if len(rr.ConfigNames) == 0 || slices.Contains(rr.ConfigNames, c.Name) {
				if req.Version >= 3 {
					c.ConfigType = configType(c.Name)
				}
				res.Configs = append(res.Configs, c)
			}
		}
		resp.Resources = append(resp.Resources, res)
	}
	r.respond(resp)
}

func describedConfig(name, value string, source kmsg.ConfigSource) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.Value, c.Source, c.IsDefault = name, &value, source, source == kmsg.ConfigSourceDefaultConfig
	return c
}

func configType(name string) kmsg.ConfigType {
	switch name {
	case log.ConfigCleanupPolicy:
		return kmsg.ConfigTypeList
	case log.ConfigFsync, log.ConfigSchemaValidation:
		return kmsg.ConfigTypeString
	case log.ConfigMaxMessageBytes:
		return kmsg.ConfigTypeInt
	}
	return kmsg.ConfigTypeLong
}

// brokerConfigs reports the broker settings clients commonly ask for.
func (s *Server) brokerConfigs() map[string]string {
	d := s.log.DefaultTopicConfig()
	return map[string]string{
		"broker.id":                  strconv.Itoa(int(s.cfg.NodeID)),
		"node.id":                    strconv.Itoa(int(s.cfg.NodeID)),
		"auto.create.topics.enable":  strconv.FormatBool(s.cfg.AutoCreateTopics),
		"num.partitions":             strconv.Itoa(int(s.cfg.DefaultPartitions)),
		"default.replication.factor": "1",
		"socket.request.max.bytes":   strconv.Itoa(int(s.cfg.MaxRequestBytes)),
		"log.retention.ms":           strconv.FormatInt(d.RetentionMs, 10),
		"log.segment.bytes":          strconv.FormatInt(d.SegmentBytes, 10),
		"message.max.bytes":          strconv.Itoa(int(d.MaxMessageBytes)),
	}
}

func (s *Server) handleAlterConfigs(r *request) {
	req := r.req.(*kmsg.AlterConfigsRequest)
	resp := kmsg.NewPtrAlterConfigsResponse()
	for _, rr := range req.Resources {
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		// AlterConfigs replaces the whole set of overrides.
		overrides := map[string]string{}
		for _, c := range rr.Configs {
			if c.Value != nil {
				overrides[c.Name] = *c.Value
			}
		}
		res.ErrorCode, res.ErrorMessage = s.setTopicConfig(rr.ResourceType, rr.ResourceName, overrides, req.ValidateOnly)
		resp.Resources = append(resp.Resources, res)
	}
	r.respond(resp)
}

func (s *Server) handleIncrementalAlterConfigs(r *request) {
	req := r.req.(*kmsg.IncrementalAlterConfigsRequest)
	resp := kmsg.NewPtrIncrementalAlterConfigsResponse()
	for _, rr := range req.Resources {
		res := kmsg.NewIncrementalAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var overrides map[string]string
		t, err := s.log.Topic(rr.ResourceName)
		if rr.ResourceType == kmsg.ConfigResourceTypeTopic && err == nil {
			if overrides, err = incrementalOverrides(t, rr); err != nil {
				res.ErrorCode, res.ErrorMessage = kerr.InvalidConfig.Code, errMessage(err)
				resp.Resources = append(resp.Resources, res)
				continue
			}
		}
		// Other resource types and unknown topics are refused here.
		res.ErrorCode, res.ErrorMessage = s.setTopicConfig(rr.ResourceType, rr.ResourceName, overrides, req.ValidateOnly)
		resp.Resources = append(resp.Resources, res)
	}
	r.respond(resp)
}

// incrementalOverrides applies SET, DELETE, APPEND and SUBTRACT to a
// topic's current overrides. APPEND and SUBTRACT apply to list settings
// (cleanup.policy) only, as in Kafka.
func incrementalOverrides(t *log.Topic, rr kmsg.IncrementalAlterConfigsRequestResource) (map[string]string, error) {
	overrides := maps.Clone(t.Overrides())
	if overrides == nil {
		overrides = map[string]string{}
	}
	effective := t.Config().Map()
	for _, c := range rr.Configs {
		value := ""
		if c.Value != nil {
			value = *c.Value
		}
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			overrides[c.Name] = value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(overrides, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if configType(c.Name) != kmsg.ConfigTypeList {
				return nil, fmt.Errorf("%s is not a list setting", c.Name)
			}
			items := strings.Split(effective[c.Name], ",")
			for _, v := range strings.Split(value, ",") {
				if c.Op == kmsg.IncrementalAlterConfigOpAppend && !slices.Contains(items, v) {
					items = append(items, v)
				}
				if c.Op == kmsg.IncrementalAlterConfigOpSubtract {
					items = slices.DeleteFunc(items, func(x string) bool { return x == v })
				}
			}
			overrides[c.Name] = strings.Join(items, ",")
		default:
			return nil, fmt.Errorf("unknown operation %d", c.Op)
		}
	}
	return overrides, nil
}

func (s *Server) setTopicConfig(typ kmsg.ConfigResourceType, name string, overrides map[string]string, validateOnly bool) (int16, *string) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
	case kmsg.ConfigResourceTypeBroker:
		m := "broker settings come from Tide's configuration and cannot be altered at run time"
		return kerr.InvalidRequest.Code, &m
	default:
		return kerr.InvalidRequest.Code, nil
	}
	if _, err := s.log.Topic(name); err != nil {
		return errorCode(err), errMessage(err)
	}
	if _, err := s.log.DefaultTopicConfig().With(overrides); err != nil {
		return kerr.InvalidConfig.Code, errMessage(err)
	}
	if validateOnly {
		return 0, nil
	}
	err := s.log.SetTopicConfig(name, overrides)
	return errorCode(err), errMessage(err)
}
