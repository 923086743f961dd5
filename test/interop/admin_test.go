package interop

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func ptr(s string) *string { return &s }

// TestAdminTopics: create, grow and delete topics, and the error codes
// Kafka gives for each way of getting it wrong.
func TestAdminTopics(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		adm := newAdmin(t, c)
		ctx := testContext(t, 60*time.Second)
		topic := createTopic(t, adm, 2, nil)

		createErr := func(partitions int32, rf int16, name string) error {
			t.Helper()
			resp, err := adm.CreateTopic(ctx, partitions, rf, nil, name)
			if err != nil {
				return err
			}
			if resp.Err == nil {
				t.Cleanup(func() { _, _ = adm.DeleteTopic(context.Background(), name) })
			}
			return resp.Err
		}
		wantErr(t, "create an existing topic", createErr(2, 1, topic), kerr.TopicAlreadyExists)
		wantErr(t, "create a topic named with '/'", createErr(1, 1, "bad/name-"+topic), kerr.InvalidTopicException)
		wantErr(t, "create a topic with 0 partitions", createErr(0, 1, topic+"-zero"), kerr.InvalidPartitions)
		wantErr(t, "create a topic with replication factor 3 on one broker", createErr(1, 3, topic+"-rf3"), kerr.InvalidReplicationFactor)

		listed, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		td, ok := listed[topic]
		if !ok || td.IsInternal || len(td.Partitions) != 2 {
			t.Errorf("ListTopics: %s present %v, internal %v, %d partitions; want present, not internal, 2", topic, ok, td.IsInternal, len(td.Partitions))
		}
		for name, d := range listed {
			if d.IsInternal {
				t.Errorf("ListTopics lists internal topic %s", name)
			}
		}

		grow, err := adm.CreatePartitions(ctx, 3, topic)
		if err == nil {
			err = grow[topic].Err
		}
		wantErr(t, "add 3 partitions", err, nil)
		waitTopicReady(t, adm, topic, 5)
		shrink, err := adm.UpdatePartitions(ctx, 3, topic)
		if err == nil {
			err = shrink[topic].Err
		}
		wantErr(t, "set partitions 5 -> 3", err, kerr.InvalidPartitions)
		same, err := adm.UpdatePartitions(ctx, 5, topic)
		if err == nil {
			err = same[topic].Err
		}
		wantErr(t, "set partitions 5 -> 5", err, kerr.InvalidPartitions)
		unknown, err := adm.CreatePartitions(ctx, 1, topic+"-nosuch")
		if err == nil {
			err = unknown[topic+"-nosuch"].Err
		}
		wantErr(t, "add partitions to an unknown topic", err, kerr.UnknownTopicOrPartition)

		del, err := adm.DeleteTopic(ctx, topic)
		if err == nil {
			err = del.Err
		}
		wantErr(t, "delete topic", err, nil)
		waitFor(t, 20*time.Second, "deleted topic gone from metadata", func(ctx context.Context) (bool, string) {
			md, err := adm.Metadata(ctx, topic)
			if err != nil {
				return false, err.Error()
			}
			td := md.Topics[topic]
			return td.Err != nil, fmt.Sprintf("metadata error %v", td.Err)
		})
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, "metadata of a deleted topic", md.Topics[topic].Err, kerr.UnknownTopicOrPartition)
		again, err := adm.DeleteTopic(ctx, topic)
		if err == nil {
			err = again.Err
		}
		wantErr(t, "delete a deleted topic", err, kerr.UnknownTopicOrPartition)
	})
}

// TestAdminConfigs: describe and alter a topic's configs, incrementally
// (IncrementalAlterConfigs) and wholesale (the legacy AlterConfigs, which
// replaces every dynamic config of the topic).
func TestAdminConfigs(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		adm := newAdmin(t, c)
		ctx := testContext(t, 60*time.Second)
		topic := createTopic(t, adm, 1, map[string]*string{"max.message.bytes": ptr("200000")})

		type want struct {
			value  string
			source kmsg.ConfigSource
		}
		// Kafka applies an alter on its controller and answers before the
		// broker's metadata image has it: a describe right after an alter
		// may still show the old value. Hence poll.
		check := func(when string, wants map[string]want) {
			t.Helper()
			waitFor(t, 10*time.Second, "configs "+when, func(ctx context.Context) (bool, string) {
				rcs, err := adm.DescribeTopicConfigs(ctx, topic)
				if err != nil {
					return false, err.Error()
				}
				rc, err := rcs.On(topic, nil)
				if err == nil {
					err = rc.Err
				}
				if err != nil {
					return false, err.Error()
				}
				got := map[string]kadm.Config{}
				for _, cfg := range rc.Configs {
					got[cfg.Key] = cfg
				}
				var diffs []string
				for key, w := range wants {
					cfg, ok := got[key]
					if !ok {
						diffs = append(diffs, key+" not described")
					} else if cfg.MaybeValue() != w.value || cfg.Source != w.source {
						diffs = append(diffs, fmt.Sprintf("%s = %q (source %v), want %q (source %v)", key, cfg.MaybeValue(), cfg.Source, w.value, w.source))
					}
				}
				return len(diffs) == 0, strings.Join(diffs, "; ")
			})
		}
		const (
			dflt    = kmsg.ConfigSourceDefaultConfig
			dynamic = kmsg.ConfigSourceDynamicTopicConfig
		)
		check("after create", map[string]want{
			"retention.ms":      {"604800000", dflt},
			"max.message.bytes": {"200000", dynamic},
			"cleanup.policy":    {"delete", dflt},
			"compression.type":  {"producer", dflt},
		})

		alter := func(what string, state bool, configs []kadm.AlterConfig, wantErrCode error) {
			t.Helper()
			var resps kadm.AlterConfigsResponses
			var err error
			if state {
				resps, err = adm.AlterTopicConfigsState(ctx, configs, topic)
			} else {
				resps, err = adm.AlterTopicConfigs(ctx, configs, topic)
			}
			if err == nil {
				var r kadm.AlterConfigsResponse
				if r, err = resps.On(topic, nil); err == nil {
					err = r.Err
				}
			}
			wantErr(t, what, err, wantErrCode)
		}
		alter("incremental set retention.ms", false, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("3600000")}}, nil)
		check("after incremental set", map[string]want{
			"retention.ms":      {"3600000", dynamic},
			"max.message.bytes": {"200000", dynamic},
		})
		alter("incremental delete retention.ms", false, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "retention.ms"}}, nil)
		check("after incremental delete", map[string]want{
			"retention.ms":      {"604800000", dflt},
			"max.message.bytes": {"200000", dynamic},
		})
		alter("legacy alter retention.ms", true, []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("7200000")}}, nil)
		check("after legacy alter (replaces all dynamic configs)", map[string]want{
			"retention.ms":      {"7200000", dynamic},
			"max.message.bytes": {"1048588", dflt},
		})
		alter("incremental set retention.ms to a non-number", false, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("forever")}}, kerr.InvalidConfig)
		alter("incremental set an unknown config", false, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "no.such.config", Value: ptr("1")}}, kerr.InvalidConfig)
		check("after rejected alters", map[string]want{"retention.ms": {"7200000", dynamic}})

		rcs, err := adm.DescribeTopicConfigs(ctx, topic+"-nosuch")
		if err == nil {
			var rc kadm.ResourceConfig
			if rc, err = rcs.On(topic+"-nosuch", nil); err == nil {
				err = rc.Err
			}
		}
		wantErr(t, "describe configs of an unknown topic", err, kerr.UnknownTopicOrPartition)
	})
}

// TestAdminListOffsets: earliest, latest, max-timestamp and by-timestamp
// offsets, with one record's timestamp out of order, as Kafka answers them:
// by timestamp is the first offset whose timestamp is at or after the target,
// and -1 (no error) when there is none.
func TestAdminListOffsets(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		adm := newAdmin(t, c)
		ctx := testContext(t, 60*time.Second)
		topic := createTopic(t, adm, 1, nil)

		empty, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := empty.Lookup(topic, 0); o.Err != nil || o.Offset != 0 {
			t.Errorf("empty topic: end offset %d (err %v), want 0", o.Offset, o.Err)
		}

		base := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
		ts := func(i int) time.Time {
			if i == 5 {
				return base.Add(20 * time.Second) // the newest record sits in the middle
			}
			return base.Add(time.Duration(i) * time.Second)
		}
		prod := newClient(t, c)
		var recs []*kgo.Record
		for i := 0; i < 10; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i)), Timestamp: ts(i)})
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}

		one := func(l kadm.ListedOffsets, err error) kadm.ListedOffset {
			t.Helper()
			if err != nil {
				t.Fatalf("list offsets: %v", err)
			}
			o, ok := l.Lookup(topic, 0)
			if !ok || o.Err != nil {
				t.Fatalf("list offsets: partition 0 present %v, err %v", ok, o.Err)
			}
			return o
		}
		if o := one(adm.ListStartOffsets(ctx, topic)); o.Offset != 0 {
			t.Errorf("earliest: %d, want 0", o.Offset)
		}
		if o := one(adm.ListEndOffsets(ctx, topic)); o.Offset != 10 {
			t.Errorf("latest: %d, want 10", o.Offset)
		}
		if o := one(adm.ListMaxTimestampOffsets(ctx, topic)); o.Offset != 5 || o.Timestamp != ts(5).UnixMilli() {
			t.Errorf("max timestamp: offset %d at %d, want 5 at %d", o.Offset, o.Timestamp, ts(5).UnixMilli())
		}
		for _, tc := range []struct {
			at         time.Time
			wantOffset int64
			wantTS     time.Time
		}{
			{base.Add(-time.Hour), 0, ts(0)},
			{base, 0, ts(0)},
			{base.Add(2500 * time.Millisecond), 3, ts(3)},
			{base.Add(4 * time.Second), 4, ts(4)},
			{base.Add(4001 * time.Millisecond), 5, ts(5)}, // 5 is out of order, and first at or after
			{base.Add(9 * time.Second), 5, ts(5)},
			{base.Add(20 * time.Second), 5, ts(5)},
		} {
			o := one(adm.ListOffsetsAfterMilli(ctx, tc.at.UnixMilli(), topic))
			if o.Offset != tc.wantOffset || o.Timestamp != tc.wantTS.UnixMilli() {
				t.Errorf("at or after %+dms: offset %d at %+dms, want %d at %+dms", tc.at.Sub(base).Milliseconds(),
					o.Offset, o.Timestamp-base.UnixMilli(), tc.wantOffset, tc.wantTS.Sub(base).Milliseconds())
			}
		}

		// Past the newest timestamp, Kafka answers offset -1 and timestamp
		// -1 without error (kadm then asks for the end offset; ask raw).
		cl := newClient(t, c)
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = 0
		rp.CurrentLeaderEpoch = -1
		rp.Timestamp = ts(5).UnixMilli() + 1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := request[*kmsg.ListOffsetsResponse](t, ctx, cl, req)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("ListOffsets response %+v", resp)
		}
		p := resp.Topics[0].Partitions[0]
		wantErrCode(t, "ListOffsets past the newest timestamp", p.ErrorCode, nil)
		if p.Offset != -1 || p.Timestamp != -1 {
			t.Errorf("ListOffsets past the newest timestamp: offset %d timestamp %d, want -1 -1", p.Offset, p.Timestamp)
		}
	})
}

// TestAdminDeleteRecords: deleting records moves the log start offset;
// fetching below it is out of range and a client resets to the new start.
func TestAdminDeleteRecords(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		adm := newAdmin(t, c)
		ctx := testContext(t, 60*time.Second)
		topic := createTopic(t, adm, 1, nil)
		prod := newClient(t, c, kgo.DefaultProduceTopic(topic))
		for i := 0; i < 10; i++ {
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}

		deleteBefore := func(what string, offset int64, wantErrCode error, wantLow int64) {
			t.Helper()
			var os kadm.Offsets
			os.AddOffset(topic, 0, offset, -1)
			resps, err := adm.DeleteRecords(ctx, os)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			r, ok := resps.Lookup(topic, 0)
			if !ok {
				t.Fatalf("%s: no response for partition 0", what)
			}
			wantErr(t, what, r.Err, wantErrCode)
			if wantErrCode == nil && r.LowWatermark != wantLow {
				t.Errorf("%s: low watermark %d, want %d", what, r.LowWatermark, wantLow)
			}
		}
		deleteBefore("delete records before 4", 4, nil, 4)
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := starts.Lookup(topic, 0); o.Offset != 4 {
			t.Errorf("earliest after delete: %d, want 4", o.Offset)
		}
		deleteBefore("delete records before 2 (already gone)", 2, nil, 4)
		deleteBefore("delete records past the high watermark", 20, kerr.OffsetOutOfRange, 0)

		// Asking for offset 2 is out of range; the client resets to the start.
		cons := newClient(t, c,
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(2)}}),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(250*time.Millisecond))
		got := pollN(t, ctx, cons, 6)
		if len(got) != 6 || got[0].Offset != 4 || string(got[0].Value) != "4" {
			t.Errorf("after reset: %d records from offset %d, want 6 from 4", len(got), got[0].Offset)
		}

		deleteBefore("delete records up to the high watermark (-1)", -1, nil, 10)
		starts, err = adm.ListStartOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := starts.Lookup(topic, 0); o.Offset != 10 {
			t.Errorf("earliest after deleting everything: %d, want 10", o.Offset)
		}
	})
}

// TestAdminDescribeCluster: DescribeCluster and Metadata agree on the
// cluster id and on one broker at the address the client dialed.
func TestAdminDescribeCluster(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		ctx := testContext(t, 30*time.Second)
		cl := newClient(t, c)
		host, portStr, err := net.SplitHostPort(c.bootstrap)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(portStr)

		req := kmsg.NewPtrDescribeClusterRequest()
		dc := request[*kmsg.DescribeClusterResponse](t, ctx, cl, req)
		wantErrCode(t, "DescribeCluster", dc.ErrorCode, nil)
		if dc.ClusterID == "" {
			t.Errorf("DescribeCluster: empty cluster id")
		}
		if len(dc.Brokers) != 1 {
			t.Fatalf("DescribeCluster: %d brokers, want 1: %+v", len(dc.Brokers), dc.Brokers)
		}
		b := dc.Brokers[0]
		if b.Host != host || b.Port != int32(port) {
			t.Errorf("DescribeCluster: broker at %s:%d, want %s", b.Host, b.Port, c.bootstrap)
		}
		if dc.ControllerID != b.NodeID {
			t.Errorf("DescribeCluster: controller %d, want the only broker %d", dc.ControllerID, b.NodeID)
		}
		t.Logf("DescribeCluster v%d: cluster %s, controller %d, broker %d at %s:%d", dc.Version, dc.ClusterID, dc.ControllerID, b.NodeID, b.Host, b.Port)

		md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if md.Cluster != dc.ClusterID {
			t.Errorf("Metadata cluster id %q, DescribeCluster %q", md.Cluster, dc.ClusterID)
		}
		if md.Controller != b.NodeID {
			t.Errorf("Metadata controller %d, want %d", md.Controller, b.NodeID)
		}
		if len(md.Brokers) != 1 || md.Brokers[0].NodeID != b.NodeID || md.Brokers[0].Host != host || md.Brokers[0].Port != int32(port) {
			t.Errorf("Metadata brokers %+v, want node %d at %s", md.Brokers, b.NodeID, c.bootstrap)
		}
	})
}

// TestAdminGroups: list, describe and delete consumer groups, delete a
// group's offsets, and commit offsets from outside any group generation.
func TestAdminGroups(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		adm := newAdmin(t, c)
		ctx := testContext(t, 60*time.Second)
		topic := createTopic(t, adm, 2, nil)
		prod := newClient(t, c, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err := prod.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("x")}, &kgo.Record{Partition: 1, Value: []byte("y")}).FirstErr(); err != nil {
			t.Fatal(err)
		}

		group := uniqueName(t, "g")
		member := newClient(t, c, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
		pollN(t, ctx, member, 2)
		if err := member.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}

		waitFor(t, 20*time.Second, "group listed as Stable", func(ctx context.Context) (bool, string) {
			lg, err := adm.ListGroups(ctx)
			if err != nil {
				return false, err.Error()
			}
			g, ok := lg[group]
			return ok && g.State == "Stable" && g.ProtocolType == "consumer", fmt.Sprintf("%+v (present %v)", g, ok)
		})
		dg, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		d := dg[group]
		if d.Err != nil || d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol != "cooperative-sticky" || len(d.Members) != 1 {
			t.Errorf("describe active group: err %v, state %q, protocol type %q, protocol %q, %d members; want Stable consumer cooperative-sticky 1",
				d.Err, d.State, d.ProtocolType, d.Protocol, len(d.Members))
		} else {
			m := d.Members[0]
			if m.ClientID != "tide-interop-franz" || m.MemberID == "" {
				t.Errorf("member: client id %q, member id %q", m.ClientID, m.MemberID)
			}
			if a, ok := m.Assigned.AsConsumer(); !ok || len(a.Topics) != 1 || len(a.Topics[0].Partitions) != 2 {
				t.Errorf("member assignment %+v, want both partitions of %s", m.Assigned, topic)
			}
		}

		dr, err := adm.DeleteGroup(ctx, group)
		if err == nil {
			err = dr.Err
		}
		wantErr(t, "delete a group with a member", err, kerr.NonEmptyGroup)

		member.Close() // leaves
		waitFor(t, 20*time.Second, "group Empty", func(ctx context.Context) (bool, string) {
			dg, err := adm.DescribeGroups(ctx, group)
			if err != nil {
				return false, err.Error()
			}
			return dg[group].State == "Empty" && len(dg[group].Members) == 0, fmt.Sprintf("state %q, %d members", dg[group].State, len(dg[group].Members))
		})
		lg, err := adm.ListGroups(ctx, "Empty")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := lg[group]; !ok {
			t.Errorf("ListGroups(Empty) does not list %s", group)
		}

		// Delete one topic's offsets, then the group.
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil || len(offs[topic]) != 2 {
			t.Fatalf("committed offsets %v (err %v), want 2 partitions", offs, err)
		}
		dor, err := adm.DeleteOffsets(ctx, group, kadm.TopicsSet{topic: {0: {}, 1: {}}})
		if err != nil {
			t.Fatal(err)
		}
		for p, e := range dor[topic] {
			wantErr(t, fmt.Sprintf("delete offsets of partition %d", p), e, nil)
		}
		offs, err = adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic == topic && o.At >= 0 {
				t.Errorf("after OffsetDelete: %s/%d still committed at %d", o.Topic, o.Partition, o.At)
			}
		})

		dr, err = adm.DeleteGroup(ctx, group)
		if err == nil {
			err = dr.Err
		}
		wantErr(t, "delete an empty group", err, nil)
		dr, err = adm.DeleteGroup(ctx, group)
		if err == nil {
			err = dr.Err
		}
		wantErr(t, "delete a deleted group", err, kerr.GroupIDNotFound)
		lg, err = adm.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g, ok := lg[group]; ok {
			t.Errorf("deleted group still listed: %+v", g)
		}

		// An admin commit (generation -1, no member) creates a group with
		// no protocol type, in state Empty.
		simple := uniqueName(t, "g")
		var os kadm.Offsets
		os.AddOffset(topic, 0, 1, -1)
		os.AddOffset(topic, 1, 0, -1)
		if err := adm.CommitAllOffsets(ctx, simple, os); err != nil {
			t.Fatalf("commit outside a generation: %v", err)
		}
		lg, err = adm.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g, ok := lg[simple]; !ok || g.State != "Empty" || g.ProtocolType != "" {
			t.Errorf("group made by an admin commit: %+v (present %v), want state Empty, no protocol type", g, ok)
		}
		fetched, err := adm.FetchOffsets(ctx, simple)
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := fetched.Lookup(topic, 0); !ok || o.At != 1 {
			t.Errorf("admin-committed offset of partition 0: %d (present %v), want 1", o.At, ok)
		}
		dr, err = adm.DeleteGroup(ctx, simple)
		if err == nil {
			err = dr.Err
		}
		wantErr(t, "delete the admin-made group", err, nil)
	})
}

// TestApiVersions: the target advertises every API key the common clients
// need (shared/notes/kafka-protocol.md), Produce from version 0 (librdkafka
// before 2.11.1 turns compression off otherwise), and answers an ApiVersions
// request of a version it does not know with UNSUPPORTED_VERSION in a v0
// body. The full table is logged.
func TestApiVersions(t *testing.T) {
	forEachTarget(t, func(t *testing.T, c *cluster) {
		ctx := testContext(t, 30*time.Second)
		cl := newClient(t, c)
		resp := request[*kmsg.ApiVersionsResponse](t, ctx, cl, kmsg.NewPtrApiVersionsRequest())
		wantErrCode(t, "ApiVersions", resp.ErrorCode, nil)
		have := map[int16]kmsg.ApiVersionsResponseApiKey{}
		for _, k := range resp.ApiKeys {
			have[k.ApiKey] = k
			t.Logf("%3d %-28s v%d-v%d", k.ApiKey, kmsg.NameForKey(k.ApiKey), k.MinVersion, k.MaxVersion)
		}
		needed := []int16{18, 3, 0, 22, 1, 2, 23, 10, 11, 14, 12, 13, 8, 9, 19, 20, 37, 32, 33, 44, 15, 16, 42, 47, 21, 60}
		for _, key := range needed {
			if _, ok := have[key]; !ok {
				t.Errorf("ApiVersions does not advertise %s (%d)", kmsg.NameForKey(key), key)
			}
		}
		if p, ok := have[0]; ok && p.MinVersion != 0 {
			t.Errorf("Produce advertised from v%d, want v0", p.MinVersion)
		}

		// A client newer than the broker asks ApiVersions at a version the
		// broker does not know; the answer is a v0 body with error
		// UNSUPPORTED_VERSION that lists at least ApiVersions' own range
		// (Kafka 4.4 lists only that key; the full list is fine too).
		v0 := apiVersionsAtUnknownVersion(t, ctx, c.bootstrap, 99)
		wantErrCode(t, "ApiVersions v99", v0.ErrorCode, kerr.UnsupportedVersion)
		var listed []string
		found := false
		for _, k := range v0.ApiKeys {
			listed = append(listed, fmt.Sprintf("%d:v%d-v%d", k.ApiKey, k.MinVersion, k.MaxVersion))
			if k.ApiKey == 18 && k.MinVersion == 0 && k.MaxVersion >= 3 {
				found = true
			}
		}
		t.Logf("ApiVersions v99 answer: error %d, keys %v", v0.ErrorCode, listed)
		if !found {
			t.Errorf("ApiVersions v99: keys %v, want ApiVersions (18) from v0 to at least v3", listed)
		}
	})
}

// apiVersionsAtUnknownVersion sends, on a raw connection, an ApiVersions
// request of the given version (header v1, empty body) and decodes the
// answer as a v0 ApiVersions response.
func apiVersionsAtUnknownVersion(t *testing.T, ctx context.Context, addr string, version int16) *kmsg.ApiVersionsResponse {
	t.Helper()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)

	const corrID = 7
	clientID := "tide-interop-raw"
	req := binary.BigEndian.AppendUint16(nil, 18) // ApiVersions
	req = binary.BigEndian.AppendUint16(req, uint16(version))
	req = binary.BigEndian.AppendUint32(req, corrID)
	req = binary.BigEndian.AppendUint16(req, uint16(len(clientID)))
	req = append(req, clientID...)
	req = append(req, 0, 0, 0) // what a flexible body would start with: empty tags, client name, version
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(req)))
	if _, err := conn.Write(append(frame, req...)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		t.Fatalf("ApiVersions v%d: reading the answer: %v", version, err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		t.Fatalf("ApiVersions v%d: reading the answer: %v", version, err)
	}
	if len(body) < 4 || binary.BigEndian.Uint32(body) != corrID {
		t.Fatalf("ApiVersions v%d: answer does not start with correlation id %d: % x", version, corrID, body[:min(len(body), 16)])
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := resp.ReadFrom(body[4:]); err != nil { // response header v0: correlation id only
		t.Fatalf("ApiVersions v%d: answer is not a v0 body: %v", version, err)
	}
	return resp
}
