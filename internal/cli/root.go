package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/log"
)

// Exit codes of the tide command.
const (
	ExitOK      = 0
	ExitFailure = 1 // I/O and other failures that are not the caller's fault
	ExitUsage   = 2 // bad flags or arguments, unknown topic or partition, invalid input
	// ExitInterrupted is the shell's code for death by SIGINT, returned when
	// a signal stops a command before it finished its input (produce).
	// Commands for which a signal is the normal way to stop (consume
	// --follow) exit 0 instead.
	ExitInterrupted = 130
)

// EnvDataDir names the environment variable that sets the default of
// --data-dir.
const EnvDataDir = "TIDE_DATA_DIR"

const defaultDataDir = "./data"

// Main runs the tide command line with args (without the program name) and
// returns the process exit code. Errors are printed to stderr as one line,
// "tide: <message>". SIGINT and SIGTERM cancel the running command, which
// then stops cleanly.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, restore the default action, so that a second
	// one kills a command that does not stop.
	context.AfterFunc(ctx, stop)
	return run(ctx, args, &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv})
}

// env is what a command may touch of the outside world; tests replace it.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func run(ctx context.Context, args []string, e *env) int {
	root := newRootCommand(e)
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(e.stderr, "tide: %s\n", oneLine(err.Error()))
	return exitCode(err)
}

// globals are the flags several commands share.
type globals struct {
	dataDir string
}

// addDataDirFlag adds --data-dir to cmd (and, persistent, its subcommands).
func (g *globals) addDataDirFlag(cmd *cobra.Command, e *env) {
	dataDir := defaultDataDir
	if v := e.getenv(EnvDataDir); v != "" {
		dataDir = v
	}
	cmd.PersistentFlags().StringVar(&g.dataDir, "data-dir", dataDir, "data `directory` ($"+EnvDataDir+" sets the default)")
}

func newRootCommand(e *env) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "tide",
		Short: "Tide: an event-driven data pipeline platform in one binary",
		Long: `Tide: an event-driven data pipeline platform in one binary.

The topic, produce and consume commands open a data directory directly,
or with --server host:port[,host:port] (or $TIDE_SERVER) talk to a running
server over the Kafka protocol instead; the group commands always talk to a
server. A data directory belongs to one process at a time: while "tide
serve" (or another tide command) has it open, opening it fails with "data
directory in use", so use --server. Giving both --server and --data-dir is
an error; --timeout (default 10s) bounds connecting and each answer.

Exit codes: 0 success, 1 failure (I/O, server unreachable or not
answering), 2 bad input (flags, arguments, unknown topic, partition or
group, invalid configuration, offset out of range, group not empty), 130
interrupted before the input was fully processed.`,
		SilenceUsage:  true, // errors are one line; --help shows usage
		SilenceErrors: true, // run prints them
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.AddCommand(newServeCommand(e), newTopicCommand(g, e), newProduceCommand(g, e), newConsumeCommand(g, e), newGroupCommand(e), newSQLCommand(e), newBenchCommand(e), newDLQCommand(g, e), newCDCCommand(e), newSchemaCommand(e), newStatusCommand(e), newViewCommand(e))
	return root
}

// groupCommand returns a command that only holds subcommands: run bare it
// prints its help; run with an unknown subcommand it fails with a usage
// error (cobra would print the help and exit 0).
func groupCommand(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
		},
	}
}

// runE marks the errors of a command's own work, as opposed to the errors
// cobra returns before the command runs (bad flags, wrong argument count,
// unknown command), which are all usage errors.
func runE(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := f(cmd, args); err != nil {
			return &commandError{err: err}
		}
		return nil
	}
}

type commandError struct{ err error }

func (e *commandError) Error() string { return e.err.Error() }
func (e *commandError) Unwrap() error { return e.err }

// exitError gives an error an explicit exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(err error) error { return &exitError{code: ExitUsage, err: err} }

func usageErrorf(format string, args ...any) error {
	return usageError(fmt.Errorf(format, args...))
}

// badInput lists the log's errors that mean the caller asked for something
// that cannot be, rather than that something failed.
var badInput = []error{
	log.ErrUnknownTopic,
	log.ErrUnknownPartition,
	log.ErrInvalidTopic,
	log.ErrInvalidPartitions,
	log.ErrInvalidConfig,
	log.ErrTopicExists,
	log.ErrOffsetOutOfRange,
	log.ErrMessageTooLarge,
}

func exitCode(err error) int {
	if ee, ok := errors.AsType[*exitError](err); ok {
		return ee.code
	}
	if _, ok := errors.AsType[*commandError](err); !ok {
		return ExitUsage // from cobra, before the command ran
	}
	for _, target := range badInput {
		if errors.Is(err, target) {
			return ExitUsage
		}
	}
	return ExitFailure
}

// oneLine joins a multi-line message (cobra's suggestions, errors.Join)
// into one line.
func oneLine(msg string) string {
	var parts []string
	for line := range strings.Lines(msg) {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, " ")
}

// openLog opens the data directory. Unless create is set, a directory that
// does not exist is a usage error rather than silently created empty. The
// background cleaner is off: a command line tool must not delete data as a
// side effect of looking at it.
func openLog(dir string, create bool) (*log.Log, error) {
	if !create {
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, usageErrorf("no data directory at %s (set --data-dir or $%s)", dir, EnvDataDir)
		case err != nil:
			return nil, err
		case !fi.IsDir():
			return nil, usageErrorf("data directory %s is not a directory", dir)
		}
	}
	l, err := log.Open(dir, log.WithCleanerInterval(0))
	if errors.Is(err, log.ErrDataDirInUse) {
		return nil, fmt.Errorf("%w (stop the process that has it open, e.g. tide serve)", err)
	}
	return l, err
}

// withLog opens the data directory, runs f and closes the directory,
// returning f's error or else the close error.
func withLog(dir string, create bool, f func(*log.Log) error) (err error) {
	l, err := openLog(dir, create)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := l.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close data directory %s: %w", dir, cerr)
		}
	}()
	return f(l)
}
