package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tide-data/tide/internal/cdc"
)

// tide cdc: looking at a database's replication slots, the resource a
// forgotten change data capture leaks (a slot keeps WAL until it is read).

func newCDCCommand(e *env) *cobra.Command {
	cmd := groupCommand("cdc", "Inspect Postgres change data capture")
	cmd.AddCommand(newCDCSlotsCommand(e))
	return cmd
}

func newCDCSlotsCommand(e *env) *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "slots",
		Short: "List a database's replication slots and the WAL each retains",
		Long: `List the replication slots of the PostgreSQL server at --dsn (or $TIDE_CDC_DSN):
their plugin, database, whether a reader is attached, the positions they
have confirmed, and how much WAL each keeps from being recycled. A slot no
source reads any more (inactive, retained WAL growing) should be dropped:
DROP SOURCE with slot.drop = 'true', or SELECT pg_drop_replication_slot('name').`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if dsn == "" {
				dsn = e.getenv("TIDE_CDC_DSN")
			}
			if dsn == "" {
				return usageErrorf("--dsn (or TIDE_CDC_DSN) is required")
			}
			slots, err := cdc.ListSlots(cmd.Context(), dsn)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SLOT\tPLUGIN\tDATABASE\tACTIVE\tRESTART_LSN\tCONFIRMED_FLUSH_LSN\tRETAINED_WAL")
			for _, s := range slots {
				active := "no"
				if s.Active {
					active = fmt.Sprintf("yes (pid %d)", s.ActivePID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Plugin, s.Database, active, s.RestartLSN, s.FlushLSN, humanBytes(s.RetainedBytes))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&dsn, "dsn", "", "the database's connection string or URL")
	return cmd
}

// humanBytes prints n in the largest binary unit that keeps it >= 1.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
