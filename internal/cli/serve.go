package cli

import (
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/gctune"
	"github.com/tide-data/tide/internal/server"
)

func newServeCommand(e *env) *cobra.Command {
	var configFile string
	values := map[string]*string{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Tide node: the log, the Kafka listener and the HTTP server",
		Long: `Run a Tide node over a data directory: the Kafka listener (any Kafka client
or tool can produce and consume), and the HTTP server (/healthz, /readyz).

Configuration: defaults, then the YAML file given with --config, then
TIDE_<KEY> environment variables, then flags; each overrides the one before.
Flags win over the environment because they are the most specific thing a
user typed. "tide serve --print-config" shows the result as a config file.

SIGINT or SIGTERM shuts down cleanly: every produce already received is
either durable and acknowledged or answered with an error.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			cfg := server.DefaultConfig()
			if configFile != "" {
				if err := cfg.LoadFile(configFile); err != nil {
					return usageError(err)
				}
			}
			if err := cfg.LoadEnv(os.Environ()); err != nil {
				return usageError(err)
			}
			for _, s := range server.Settings() {
				if cmd.Flags().Changed(s.Flag()) {
					if err := s.Set(&cfg, *values[s.Key]); err != nil {
						return usageError(err)
					}
				}
			}
			if err := cfg.Validate(); err != nil {
				return usageError(err)
			}
			if printOnly, _ := cmd.Flags().GetBool("print-config"); printOnly {
				_, err := e.stdout.Write(cfg.YAML())
				return err
			}
			logger := newLogger(e, cfg)
			defer gctune.Start(uint64(cfg.GCMinHeap)).Stop()
			srv, err := server.Start(cfg, logger)
			if err != nil {
				return err
			}
			return srv.Wait(cmd.Context())
		}),
	}
	defaults := server.DefaultConfig()
	for _, s := range server.Settings() {
		values[s.Key] = cmd.Flags().String(s.Flag(), s.Get(&defaults), s.Help+" ($"+s.Env()+")")
	}
	cmd.Flags().StringVar(&configFile, "config", "", "YAML configuration `file`")
	cmd.Flags().Bool("print-config", false, "print the effective configuration as YAML and exit")
	return cmd
}

func newLogger(e *env, cfg server.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}
