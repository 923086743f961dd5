package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvServer names the environment variable that sets the default of
// --server.
const EnvServer = "TIDE_SERVER"

const defaultTimeout = 10 * time.Second

// kafkaClientID is the client id of tide's Kafka clients: what group
// describe shows as CLIENT-ID for a tide consume --group.
const kafkaClientID = "tide"

// serverFlags are --server and --timeout, the flags of every command that
// can talk to a running server over the Kafka protocol.
type serverFlags struct {
	servers string
	timeout time.Duration
}

// addFlags adds --server and --timeout to cmd and, persistent, its
// subcommands.
func (s *serverFlags) addFlags(cmd *cobra.Command, e *env) {
	f := cmd.PersistentFlags()
	f.StringVar(&s.servers, "server", e.getenv(EnvServer),
		"talk Kafka to the server at `host:port[,host:port]` instead of opening a data directory ($"+EnvServer+" sets the default)")
	f.DurationVar(&s.timeout, "timeout", defaultTimeout, "with --server: how long to wait to connect and for each answer")
}

// useServer reports whether cmd talks to a server rather than opening a
// data directory: --server wins over $TIDE_DATA_DIR, --data-dir over
// $TIDE_SERVER, and giving both flags is a usage error.
func (s *serverFlags) useServer(cmd *cobra.Command) (bool, error) {
	flags := cmd.Flags()
	switch {
	case flags.Changed("server") && flags.Changed("data-dir"):
		return false, usageErrorf("give either --server or --data-dir, not both")
	case flags.Changed("data-dir"):
		return false, nil
	case s.servers == "" && !flags.Changed("server"):
		return false, nil
	}
	return true, s.validate()
}

// requireServer is useServer for the commands that only talk to a server.
func (s *serverFlags) requireServer() error {
	if s.servers == "" {
		return usageErrorf("no server: give --server host:port or set $%s", EnvServer)
	}
	return s.validate()
}

func (s *serverFlags) validate() error {
	if s.timeout <= 0 {
		return usageErrorf("--timeout %s: must be positive", s.timeout)
	}
	_, err := s.seeds()
	return err
}

// seeds parses --server.
func (s *serverFlags) seeds() ([]string, error) {
	var seeds []string
	for addr := range strings.SplitSeq(s.servers, ",") {
		addr = strings.TrimSpace(addr)
		_, port, err := net.SplitHostPort(addr)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n <= 0 || n > 65535 {
			return nil, usageErrorf("--server %q: want host:port[,host:port]", s.servers)
		}
		seeds = append(seeds, addr)
	}
	return seeds, nil
}

// connect returns a client of the servers once one of them has answered,
// or an error saying that none could be reached within --timeout. The
// client's connections are bounded by --timeout too: dialing, and waiting
// for each answer beyond the time a request itself asks the server to
// wait (a fetch's max wait, a join's rebalance timeout). The caller closes
// the client.
func (s *serverFlags) connect(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, error) {
	seeds, err := s.seeds()
	if err != nil {
		return nil, err
	}
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID(kafkaClientID),
		kgo.DialTimeout(s.timeout),
		kgo.RequestTimeoutOverhead(s.timeout),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if pctx.Err() != nil {
			return nil, fmt.Errorf("cannot reach Kafka server %s: no answer within %s", s.servers, s.timeout)
		}
		return nil, fmt.Errorf("cannot reach Kafka server %s: %w", s.servers, err)
	}
	return cl, nil
}

// admin is a connected client for administrative requests, each bounded
// by --timeout.
type admin struct {
	*kadm.Client
	cl    *kgo.Client
	flags *serverFlags
}

func (s *serverFlags) connectAdmin(ctx context.Context) (*admin, error) {
	// A failed request is retried (the coordinator is loading, a
	// connection broke) until --timeout has passed.
	cl, err := s.connect(ctx, kgo.RetryTimeout(s.timeout))
	if err != nil {
		return nil, err
	}
	return &admin{Client: kadm.NewClient(cl), cl: cl, flags: s}, nil
}

func (a *admin) Close() { a.cl.Close() }

// do runs one request (or a few that belong together) bounded by
// --timeout, naming what failed in the error.
func (a *admin) do(ctx context.Context, what string, f func(ctx context.Context) error) error {
	rctx, cancel := context.WithTimeout(ctx, a.flags.timeout)
	defer cancel()
	err := f(rctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() == nil && rctx.Err() != nil:
		return fmt.Errorf("%s: no answer from %s within %s", what, a.flags.servers, a.flags.timeout)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// topicPartitions returns the partitions of topic in order, or an error
// wrapping kerr.UnknownTopicOrPartition.
func (a *admin) topicPartitions(ctx context.Context, topic string) ([]int32, error) {
	var details kadm.TopicDetails
	err := a.do(ctx, "metadata", func(ctx context.Context) (err error) {
		details, err = a.ListTopics(ctx, topic)
		return err
	})
	if err != nil {
		return nil, err
	}
	d, ok := details[topic]
	switch {
	case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
		return nil, &answerError{err: kerr.UnknownTopicOrPartition, message: "unknown topic: " + topic}
	case d.Err != nil:
		return nil, fmt.Errorf("metadata of topic %s: %w", topic, d.Err)
	}
	partitions := d.Partitions.Numbers()
	slices.Sort(partitions)
	return partitions, nil
}

// unknownPartition is the error for a partition a topic does not have.
func unknownPartition(topic string, partition int32) error {
	return &answerError{err: kerr.UnknownTopicOrPartition, message: fmt.Sprintf("unknown partition: %s-%d", topic, partition)}
}

// listedOffsets checks every partition of one listing for an error.
func listedOffsets(what string, l kadm.ListedOffsets) (kadm.ListedOffsets, error) {
	for _, ps := range l {
		for _, o := range ps {
			if o.Err != nil {
				if errors.Is(o.Err, kerr.UnknownTopicOrPartition) && o.Partition < 0 {
					return nil, &answerError{err: o.Err, message: "unknown topic: " + o.Topic}
				}
				return nil, fmt.Errorf("%s of %s-%d: %w", what, o.Topic, o.Partition, o.Err)
			}
		}
	}
	return l, nil
}

// answerError is an error code a Kafka server answered with, with the
// server's message or one of ours saying what was wrong.
type answerError struct {
	err     error // usually a *kerr.Error
	message string
}

func (e *answerError) Error() string {
	if e.message == "" {
		return e.err.Error()
	}
	name := e.err.Error()
	if ke, ok := errors.AsType[*kerr.Error](e.err); ok {
		name = ke.Message
	}
	return e.message + " (" + name + ")"
}

func (e *answerError) Unwrap() error { return e.err }

// answer pairs an error code with the server's message, if it sent one.
// bounds lists topic's start and end offsets, refusing partitions whose
// listing failed.
func (a *admin) bounds(ctx context.Context, topic string) (starts, ends kadm.ListedOffsets, err error) {
	if starts, err = a.ListStartOffsets(ctx, topic); err != nil {
		return nil, nil, err
	}
	if starts, err = listedOffsets("start offset", starts); err != nil {
		return nil, nil, err
	}
	if ends, err = a.ListEndOffsets(ctx, topic); err != nil {
		return nil, nil, err
	}
	if ends, err = listedOffsets("end offset", ends); err != nil {
		return nil, nil, err
	}
	return starts, ends, nil
}

// adminAction connects, runs one admin request bounded by --timeout, and
// reports done on stderr.
func adminAction(cmd *cobra.Command, s *serverFlags, what, done string, f func(ctx context.Context, adm *admin) error) error {
	ctx := cmd.Context()
	adm, err := s.connectAdmin(ctx)
	if err != nil {
		return err
	}
	defer adm.Close()
	if err := adm.do(ctx, what, func(ctx context.Context) error { return f(ctx, adm) }); err != nil {
		return err
	}
	fmt.Fprintln(cmd.ErrOrStderr(), done)
	return nil
}

func answer(err error, message string) error {
	if err == nil {
		return nil
	}
	return &answerError{err: err, message: message}
}

// kafkaBadInput lists the Kafka errors that mean the caller asked for
// something that cannot be: exit code 2, as badInput for the log's errors.
var kafkaBadInput = []error{
	kerr.UnknownTopicOrPartition,
	kerr.InvalidTopicException,
	kerr.TopicAlreadyExists,
	kerr.InvalidPartitions,
	kerr.InvalidReplicationFactor,
	kerr.InvalidConfig,
	kerr.GroupIDNotFound,
	kerr.NonEmptyGroup,
	kerr.InvalidGroupID,
	kerr.OffsetOutOfRange,
	kerr.MessageTooLarge,
	kerr.RecordListTooLarge,
}

// kafkaExit gives the errors of a command run against a server their exit
// code. Everything else, an unreachable server included, exits 1.
func kafkaExit(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*exitError](err); ok {
		return err
	}
	for _, target := range kafkaBadInput {
		if errors.Is(err, target) {
			return &exitError{code: ExitUsage, err: err}
		}
	}
	return err
}
