package cdc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// runtimeParams fix the text forms of values (pgvalue relies on them) on
// both the query and the replication connection: the walsender formats
// pgoutput's values with its session's settings.
var runtimeParams = map[string]string{
	"DateStyle":          "ISO, MDY",
	"IntervalStyle":      "iso_8601",
	"TimeZone":           "UTC",
	"extra_float_digits": "3",
	"bytea_output":       "hex",
}

// setParams sets runtimeParams, and an application_name unless the dsn
// names one.
func setParams(params map[string]string) {
	for k, v := range runtimeParams {
		params[k] = v
	}
	if params["application_name"] == "" {
		params["application_name"] = "tide-cdc"
	}
}

// connect opens a query connection.
func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("cdc: dsn: %w", err)
	}
	setParams(cfg.RuntimeParams)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, explain(fmt.Errorf("cdc: connect: %w", err))
	}
	return conn, nil
}

// connectReplication opens a logical replication connection.
func connectReplication(ctx context.Context, dsn string) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("cdc: dsn: %w", err)
	}
	setParams(cfg.RuntimeParams)
	cfg.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, explain(fmt.Errorf("cdc: replication connection: %w", err))
	}
	return conn, nil
}

// explain adds what to do about the errors users meet first.
func explain(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case "42501": // insufficient_privilege
		if strings.Contains(pgErr.Message, "replication") {
			return fmt.Errorf("%w (the role needs the REPLICATION attribute: ALTER ROLE <role> REPLICATION)", err)
		}
		return fmt.Errorf("%w (grant the role what is missing, or use the table owner or a superuser)", err)
	case "55006": // object_in_use
		return fmt.Errorf("%w (another Tide worker or another tool is reading this slot; Tide retries)", err)
	case "53400": // configuration_limit_exceeded
		return fmt.Errorf("%w (raise max_replication_slots or max_wal_senders, or drop unused slots: tide cdc slots)", err)
	}
	return err
}

// server is what a capture learns of the database at start.
type server struct {
	database string
	version  int // server_version_num
}

func checkServer(ctx context.Context, conn *pgx.Conn) (server, error) {
	var s server
	var walLevel string
	err := conn.QueryRow(ctx, `SELECT current_database(), current_setting('server_version_num')::int, current_setting('wal_level')`).
		Scan(&s.database, &s.version, &walLevel)
	if err != nil {
		return s, fmt.Errorf("cdc: reading server settings: %w", err)
	}
	if s.version < 140000 {
		return s, fmt.Errorf("cdc: PostgreSQL %d is too old: change data capture needs 14 or later (pgoutput's logical messages, which heartbeats use)", s.version/10000)
	}
	if walLevel != "logical" {
		return s, fmt.Errorf("cdc: the server runs with wal_level = %s; change data capture needs wal_level = logical: "+
			"run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL", walLevel)
	}
	return s, nil
}

// column is one column of a captured table.
type column struct {
	name string
	typ  uint32
}

// table is a captured table as the capture currently knows it.
type table struct {
	TableName
	oid      uint32
	columns  []column
	keyNames []string // primary key columns, in key order
	key      []int    // keyNames' indexes into columns
	identity byte     // pg_class.relreplident: d default, f full, i index, n nothing
	// partitioned tables publish their partitions' changes under their own
	// name (publish_via_partition_root); others are read and published
	// without their inheritance children (ONLY), as they are captured alone.
	partitioned bool
	topic       string
	partitions  int32
}

// setColumns replaces the columns (a schema change) and finds the key
// columns among them.
func (t *table) setColumns(cols []column) {
	t.columns = cols
	t.key = t.key[:0]
	for _, k := range t.keyNames {
		if i := slices.IndexFunc(cols, func(c column) bool { return c.name == k }); i >= 0 {
			t.key = append(t.key, i)
		}
	}
}

// describeTables looks up each configured table: its oid, columns, key
// and replica identity.
func describeTables(ctx context.Context, conn *pgx.Conn, names []TableName) ([]*table, error) {
	var out []*table
	for _, n := range names {
		t := &table{TableName: n}
		var kind byte
		err := conn.QueryRow(ctx, `SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
			WHERE ns.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, n.Schema, n.Name).Scan(&t.oid, &kind)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("cdc: table %s does not exist (names are case-sensitive when quoted)", n)
		}
		if err != nil {
			return nil, fmt.Errorf("cdc: looking up table %s: %w", n, err)
		}
		t.partitioned = kind == 'p'
		cols, err := tableColumns(ctx, conn, t.oid)
		if err != nil {
			return nil, fmt.Errorf("cdc: columns of %s: %w", n, err)
		}
		if t.keyNames, t.identity, err = describeKey(ctx, conn, t.oid, n); err != nil {
			return nil, err
		}
		t.setColumns(cols)
		out = append(out, t)
	}
	return out, nil
}

// describeKey returns the columns that key a table's changes, in key
// order, and its replica identity; an identity under which deletes could
// not be keyed is an error saying what to change.
func describeKey(ctx context.Context, conn *pgx.Conn, oid uint32, n TableName) (key []string, identity byte, err error) {
	if err := conn.QueryRow(ctx, `SELECT relreplident FROM pg_class WHERE oid = $1`, oid).Scan(&identity); err != nil {
		return nil, 0, fmt.Errorf("cdc: replica identity of %s: %w", n, err)
	}
	indexColumns := func(which string) ([]string, error) {
		rows, err := conn.Query(ctx, `SELECT a.attname FROM pg_index i
			CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
			WHERE i.indrelid = $1 AND i.`+which+` ORDER BY k.ord`, oid)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
	pk, err := indexColumns("indisprimary")
	if err != nil {
		return nil, 0, fmt.Errorf("cdc: primary key of %s: %w", n, err)
	}
	switch identity {
	case 'n':
		return nil, 0, fmt.Errorf("cdc: table %s has REPLICA IDENTITY NOTHING: once published, its updates and deletes would fail; "+
			"run ALTER TABLE %s REPLICA IDENTITY DEFAULT (with a primary key) or FULL", n, n.quoted())
	case 'i':
		// The old row of an update or delete holds the index's columns only:
		// they must be the key.
		idx, err := indexColumns("indisreplident")
		if err != nil {
			return nil, 0, fmt.Errorf("cdc: replica identity index of %s: %w", n, err)
		}
		if len(pk) > 0 && !slices.Equal(pk, idx) {
			return nil, 0, fmt.Errorf("cdc: table %s has REPLICA IDENTITY USING INDEX on (%s), not its primary key (%s): deletes would "+
				"carry no primary key; run ALTER TABLE %s REPLICA IDENTITY DEFAULT (or FULL)",
				n, strings.Join(idx, ", "), strings.Join(pk, ", "), n.quoted())
		}
		return idx, identity, nil
	case 'd':
		if len(pk) == 0 {
			return nil, 0, fmt.Errorf("cdc: table %s has no primary key, so its changes cannot be keyed and its updates and deletes "+
				"cannot be replicated: add a primary key, or run ALTER TABLE %s REPLICA IDENTITY FULL (changes are then unkeyed)", n, n.quoted())
		}
	}
	return pk, identity, nil
}

// relationKey returns the key columns of a Relation message's table: under
// REPLICA IDENTITY DEFAULT the columns pgoutput flags as the identity,
// which are the primary key as of that change (a key column renamed since
// still matches); otherwise those the catalog names now.
func relationKey(identity byte, catalog []string, m []column, flagged []bool) []string {
	if identity != 'd' && identity != 'i' {
		return catalog
	}
	var key []string
	for i, c := range m {
		if flagged[i] {
			key = append(key, c.name)
		}
	}
	if len(key) == 0 {
		return catalog
	}
	return key
}

// fromClause names the table for FROM and FOR TABLE: without its
// inheritance children unless it is partitioned.
func (t *table) fromClause() string {
	if t.partitioned {
		return t.quoted()
	}
	return "ONLY " + t.quoted()
}

func tableColumns(ctx context.Context, conn *pgx.Conn, oid uint32) ([]column, error) {
	rows, err := conn.Query(ctx, `SELECT attname, atttypid FROM pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`, oid)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (column, error) {
		var c column
		err := r.Scan(&c.name, &c.typ)
		return c, err
	})
}

// ensurePublication creates the publication for the tables when it is
// missing; an existing one must publish every table. It reports whether
// it created it.
func ensurePublication(ctx context.Context, conn *pgx.Conn, name string, tables []*table) (created bool, err error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("cdc: looking up publication %s: %w", name, err)
	}
	if !exists {
		list := make([]string, len(tables))
		for i, t := range tables {
			list[i] = t.fromClause()
		}
		if _, err := conn.Exec(ctx, "CREATE PUBLICATION "+quoteIdent(name)+" FOR TABLE "+strings.Join(list, ", ")+
			" WITH (publish_via_partition_root = true)"); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "42710" { // created meanwhile by another worker
				return false, nil
			}
			return false, explain(fmt.Errorf("cdc: creating publication %s: %w", name, err))
		}
		return true, nil
	}
	var viaRoot bool
	if err := conn.QueryRow(ctx, `SELECT pubviaroot FROM pg_publication WHERE pubname = $1`, name).Scan(&viaRoot); err != nil {
		return false, fmt.Errorf("cdc: reading publication %s: %w", name, err)
	}
	for _, t := range tables {
		if t.partitioned && !viaRoot {
			return false, fmt.Errorf("cdc: publication %s publishes the partitioned table %s under its partitions' names: "+
				"ALTER PUBLICATION %s SET (publish_via_partition_root = true)", name, t.TableName, quoteIdent(name))
		}
		// Row filters and column lists (PostgreSQL 15) would make the stream
		// differ from the snapshot, which copies whole tables.
		var in, filtered bool
		err := conn.QueryRow(ctx, `SELECT count(*) > 0, coalesce(bool_or(
				(to_jsonb(pt) ->> 'rowfilter') IS NOT NULL OR
				coalesce(jsonb_array_length(to_jsonb(pt) -> 'attnames'), -1) NOT IN (-1, $4)), false)
			FROM pg_publication_tables pt WHERE pubname = $1 AND schemaname = $2 AND tablename = $3`,
			name, t.Schema, t.Name, len(t.columns)).Scan(&in, &filtered)
		if err != nil {
			return false, fmt.Errorf("cdc: reading publication %s: %w", name, err)
		}
		if !in {
			return false, fmt.Errorf("cdc: publication %s exists but does not publish %s: ALTER PUBLICATION %s ADD TABLE %s",
				name, t.TableName, quoteIdent(name), t.fromClause())
		}
		if filtered {
			return false, fmt.Errorf("cdc: publication %s filters the rows or columns of %s, which the snapshot would copy whole: "+
				"use a publication without a WHERE clause or column list", name, t.TableName)
		}
	}
	return false, nil
}

// Slot describes a replication slot.
type Slot struct {
	Name      string
	Plugin    string
	Database  string
	Active    bool
	ActivePID int32
	// WALStatus is reserved, extended, unreserved or lost (the slot was
	// invalidated by max_slot_wal_keep_size and cannot be read).
	WALStatus  string
	RestartLSN string
	FlushLSN   string // confirmed_flush_lsn
	// RetainedBytes is the WAL the slot keeps from being recycled: from
	// its restart_lsn to the server's current position.
	RetainedBytes int64
}

const slotQuery = `SELECT slot_name, coalesce(plugin, ''), coalesce(database, ''), active, coalesce(active_pid, 0), coalesce(wal_status, ''),
	coalesce(restart_lsn::text, ''), coalesce(confirmed_flush_lsn::text, ''),
	coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint
	FROM pg_replication_slots`

func scanSlot(r pgx.CollectableRow) (Slot, error) {
	var s Slot
	err := r.Scan(&s.Name, &s.Plugin, &s.Database, &s.Active, &s.ActivePID, &s.WALStatus, &s.RestartLSN, &s.FlushLSN, &s.RetainedBytes)
	return s, err
}

// ListSlots lists the server's replication slots (for `tide cdc slots`).
func ListSlots(ctx context.Context, dsn string) ([]Slot, error) {
	conn, err := connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, slotQuery+` ORDER BY slot_name`)
	if err != nil {
		return nil, fmt.Errorf("cdc: listing slots: %w", err)
	}
	return pgx.CollectRows(rows, scanSlot)
}

func lookupSlot(ctx context.Context, conn *pgx.Conn, name string) (Slot, bool, error) {
	rows, err := conn.Query(ctx, slotQuery+` WHERE slot_name = $1`, name)
	if err != nil {
		return Slot{}, false, fmt.Errorf("cdc: looking up slot %s: %w", name, err)
	}
	slots, err := pgx.CollectRows(rows, scanSlot)
	if err != nil || len(slots) == 0 {
		return Slot{}, false, err
	}
	return slots[0], true, nil
}

// dropSlot drops a slot, waiting for its reader to go if it is active
// (the caller has stopped its own).
func dropSlot(ctx context.Context, conn *pgx.Conn, name string) error {
	if _, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, name); err != nil {
		return explain(fmt.Errorf("cdc: dropping slot %s: %w", name, err))
	}
	return nil
}
