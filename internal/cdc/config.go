package cdc

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tide-data/tide/internal/transport"
)

// SnapshotMode says whether a new source first copies the tables' rows.
type SnapshotMode string

// The snapshot modes.
const (
	// SnapshotInitial copies every row once, then streams changes.
	SnapshotInitial SnapshotMode = "initial"
	// SnapshotNever streams only the changes committed after the slot was
	// created.
	SnapshotNever SnapshotMode = "never"
)

// TableName is a schema-qualified table name.
type TableName struct {
	Schema, Name string
}

func (t TableName) String() string { return t.Schema + "." + t.Name }

// quoted is the name as an SQL identifier pair.
func (t TableName) quoted() string { return quoteIdent(t.Schema) + "." + quoteIdent(t.Name) }

// Config configures a Capture.
type Config struct {
	// Name is the source's name: the default slot, publication and topic
	// prefix derive from it, and its progress is kept under it.
	Name string
	// SourceID identifies this incarnation of the source (the catalog
	// entry's id): a source dropped and created again under the same name
	// starts afresh instead of resuming the old one's progress.
	SourceID string
	// DSN is a libpq connection string or URL of the database.
	DSN    string
	Tables []TableName
	// Slot and Publication name the replication slot and publication;
	// both are created when missing.
	Slot        string
	Publication string
	Snapshot    SnapshotMode
	// TopicPrefix starts each table's topic name: <prefix>.<schema>.<table>.
	TopicPrefix     string
	TopicPartitions int32
	// Heartbeat is how often a message is written to the WAL
	// (pg_logical_emit_message) so that an idle slot still advances; 0
	// disables heartbeats.
	Heartbeat time.Duration
	// BatchRecords bounds the records written to the log at once.
	BatchRecords int
	// TransactionMetadata writes a BEGIN and an END event per transaction
	// to the topic <prefix>.transaction and a "transaction" block in each
	// change, as Debezium's provide.transaction.metadata.
	TransactionMetadata bool
	// SkippedOperations lists the operations not written: any of c, u, d
	// and t (Debezium's skipped.operations).
	SkippedOperations string
	// NoTombstones leaves out the tombstone after each delete (Debezium's
	// tombstones.on.delete = false).
	NoTombstones bool
	Transport    transport.Transport
	Logger       *slog.Logger
}

// DefaultBatchRecords is Config.BatchRecords' default.
const DefaultBatchRecords = 4096

// ParseTables reads a comma-separated list of tables; a name without a
// schema is in public. Names are taken as Postgres folds unquoted
// identifiers (lower case) unless double-quoted.
func ParseTables(list string) ([]TableName, error) {
	var out []TableName
	seen := map[TableName]bool{}
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts, err := splitQualified(item)
		if err != nil {
			return nil, err
		}
		t := TableName{Schema: "public", Name: parts[0]}
		if len(parts) == 2 {
			t = TableName{Schema: parts[0], Name: parts[1]}
		}
		if seen[t] {
			return nil, fmt.Errorf("table %s is listed twice", t)
		}
		seen[t] = true
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, errors.New("no table listed")
	}
	return out, nil
}

// splitQualified splits "schema.table" into its identifiers, folding
// unquoted ones to lower case and keeping quoted ones as written.
func splitQualified(s string) ([]string, error) {
	var parts []string
	for s != "" {
		var id string
		if s[0] == '"' {
			end := 1
			var b strings.Builder
			for ; end < len(s); end++ {
				if s[end] == '"' {
					if end+1 < len(s) && s[end+1] == '"' {
						b.WriteByte('"')
						end++
						continue
					}
					break
				}
				b.WriteByte(s[end])
			}
			if end >= len(s) {
				return nil, fmt.Errorf("unterminated quoted identifier in %q", s)
			}
			id, s = b.String(), s[end+1:]
		} else {
			end := strings.IndexByte(s, '.')
			if end < 0 {
				end = len(s)
			}
			id, s = strings.ToLower(strings.TrimSpace(s[:end])), s[end:]
		}
		if id == "" {
			return nil, fmt.Errorf("empty identifier in table name")
		}
		parts = append(parts, id)
		if s == "" {
			break
		}
		if s[0] != '.' {
			return nil, fmt.Errorf("unexpected %q after an identifier", s)
		}
		s = s[1:]
		if s == "" {
			return nil, fmt.Errorf("table name ends with '.'")
		}
	}
	if len(parts) < 1 || len(parts) > 2 {
		return nil, fmt.Errorf("a table is 'table' or 'schema.table', not %d names", len(parts))
	}
	return parts, nil
}

// DefaultObjectName turns a source name into a slot or publication name:
// Postgres allows lower-case letters, digits and '_' in slot names.
func DefaultObjectName(source string) string {
	var b strings.Builder
	b.WriteString("tide_")
	for _, r := range strings.ToLower(source) {
		if slotRune(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 63 { // NAMEDATALEN-1
		s = s[:63]
	}
	return s
}

// ValidSlotName reports whether Postgres accepts name for a replication
// slot.
func ValidSlotName(name string) bool {
	if name == "" || len(name) > 63 {
		return false
	}
	for _, r := range name {
		if !slotRune(r) {
			return false
		}
	}
	return true
}

// slotRune reports whether a slot name may hold r.
func slotRune(r rune) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' }

// TransactionTopic is where transaction metadata events go.
func TransactionTopic(prefix string) string { return prefix + ".transaction" }

// TopicName is where changes of table t go.
func TopicName(prefix string, t TableName) string {
	return prefix + "." + t.Schema + "." + t.Name
}

func (c *Config) check() error {
	switch {
	case c.Name == "":
		return errors.New("cdc: no source name")
	case c.DSN == "":
		return errors.New("cdc: no dsn")
	case len(c.Tables) == 0:
		return errors.New("cdc: no tables")
	case !ValidSlotName(c.Slot):
		return fmt.Errorf("cdc: slot name %q: use lower-case letters, digits and '_', at most 63", c.Slot)
	case c.Publication == "":
		return errors.New("cdc: no publication name")
	case c.Snapshot != SnapshotInitial && c.Snapshot != SnapshotNever:
		return fmt.Errorf("cdc: snapshot mode %q", c.Snapshot)
	case c.Transport == nil:
		return errors.New("cdc: no transport")
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = c.Name
	}
	if c.TopicPartitions <= 0 {
		c.TopicPartitions = 1
	}
	if c.BatchRecords <= 0 {
		c.BatchRecords = DefaultBatchRecords
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func quoteLiteral(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}
