package cli

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/bench"
)

func newBenchKafkaCommand(e *env) *cobra.Command {
	opts := bench.DefaultKafkaOptions()
	var tide, compare string
	var tidePID, comparePID int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "kafka",
		Short: "Measure produce and consume through the Kafka protocol, against Apache Kafka in the same run",
		Long: `Measure a Tide server through the Kafka protocol with franz-go, and the same
workload against a peer (Apache Kafka) in the same run as the baseline.

For each record size and target: --producers clients produce to a fresh topic
of --partitions partitions for --duration with acks=-1 (idempotent); one
client consumes everything back; then the producers run again paced at half
the measured rate, and produce latency (send to acknowledgement) is sampled.
Ratios are Tide's over the peer's. With --pid and --compare-pid the brokers'
CPU time per record is reported too (from /proc), which compares their
efficiency even when the client saturates the machine.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			opts.Targets = []bench.KafkaTarget{{Name: "tide", Bootstrap: tide, PID: tidePID}}
			if compare != "" {
				opts.Targets = append(opts.Targets, bench.KafkaTarget{Name: "kafka", Bootstrap: compare, PID: comparePID})
			}
			results, err := bench.RunKafka(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(results)
			}
			return bench.WriteKafkaReport(e.stdout, results)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&tide, "brokers", "127.0.0.1:9092", "Tide's Kafka address")
	f.StringVar(&compare, "compare", "", "a peer's bootstrap address (Apache Kafka) measured in the same run")
	f.IntVar(&tidePID, "pid", 0, "the Tide server's process id, to report its CPU time per record")
	f.IntVar(&comparePID, "compare-pid", 0, "the peer's process id, to report its CPU time per record")
	f.IntSliceVar(&opts.RecordSizes, "record-sizes", opts.RecordSizes, "record value sizes in bytes")
	f.IntVar(&opts.Partitions, "partitions", opts.Partitions, "partitions of each benchmark topic")
	f.IntVar(&opts.Producers, "producers", opts.Producers, "concurrent producer clients")
	f.DurationVar(&opts.Duration, "duration", opts.Duration, "how long each produce phase runs")
	f.BoolVar(&asJSON, "json", false, "print results as JSON")
	return cmd
}
