package connector

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tide-data/tide/internal/format"
	"github.com/tide-data/tide/internal/sql/types"
)

// Tables the postgres sink keeps its progress in, in the target
// database (the search_path's first schema). One row per sink and source
// partition: the offset of the last input whose outputs are applied.
// tide_sink_rejections remembers the outputs the database refused, so a
// replay after a crash reports them again (to the dead-letter topic)
// rather than skipping them with the rows that were applied.
const (
	pgOffsetsTable    = "tide_sink_offsets"
	pgRejectionsTable = "tide_sink_rejections"

	pgSetupSQL = `CREATE TABLE IF NOT EXISTS ` + pgOffsetsTable + ` (
	sink_id     text        NOT NULL,
	topic       text        NOT NULL,
	partition   integer     NOT NULL,
	sink        text        NOT NULL,
	last_offset bigint      NOT NULL,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (sink_id, topic, partition)
);
CREATE TABLE IF NOT EXISTS ` + pgRejectionsTable + ` (
	sink_id     text        NOT NULL,
	topic       text        NOT NULL,
	partition   integer     NOT NULL,
	"offset"    bigint      NOT NULL,
	seq         integer     NOT NULL,
	code        text        NOT NULL,
	message     text        NOT NULL,
	attempts    integer     NOT NULL,
	rejected_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (sink_id, topic, partition, "offset", seq)
)`

	// pgLockOffsetSQL makes sure a partition's progress row exists, locks
	// it for the transaction (a second writer of the same sink, such as
	// a process that has not noticed it was replaced, waits here) and
	// returns the stored offset, in one round trip.
	pgLockOffsetSQL = `INSERT INTO ` + pgOffsetsTable + ` AS o (sink_id, topic, partition, sink, last_offset)
VALUES ($1, $2, $3, $4, -1)
ON CONFLICT (sink_id, topic, partition) DO UPDATE SET last_offset = o.last_offset
RETURNING last_offset`
	pgStoreOffsetSQL   = `UPDATE ` + pgOffsetsTable + ` SET last_offset = $4, updated_at = now() WHERE sink_id = $1 AND topic = $2 AND partition = $3`
	pgRejectedSQL      = `SELECT "offset", seq, code, message, attempts FROM ` + pgRejectionsTable + ` WHERE sink_id = $1 AND topic = $2 AND partition = $3 AND "offset" BETWEEN $4 AND $5`
	pgStoreRejectedSQL = `INSERT INTO ` + pgRejectionsTable + ` (sink_id, topic, partition, "offset", seq, code, message, attempts)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`
)

// PostgresSinkOptions configures NewPostgresSink.
type PostgresSinkOptions struct {
	// URL is a libpq connection string or URL.
	URL string
	// Table is the target table, optionally schema-qualified
	// ("sales.paid_orders"); names are used as written (quoted).
	Table string
	// PrimaryKey names the output columns of the upsert key; the table
	// must have a primary key or unique index on exactly them.
	PrimaryKey []string
	// CreateTable creates the table if it does not exist, with the output
	// columns' types mapped as PostgresType says.
	CreateTable bool
	// BatchSize is the most rows one statement upserts.
	BatchSize int
	// PoolSize bounds the connections (one per concurrent Write).
	PoolSize int
	// MaxAttempts is how often a Write tries a transaction that fails
	// transiently (lost connection, serialization failure, deadlock)
	// before it hands the error to the runtime, which retries the batch.
	MaxAttempts int
	// Backoff is the first delay between attempts; it doubles, with
	// jitter, up to 5 s.
	Backoff time.Duration
}

// PostgresSink upserts outputs into a Postgres table by primary key, and
// deletes by it the rows of deletions (Output.Delete), exactly once per
// input record: each transaction that applies a batch also stores, per
// source partition, the offset of the last input it applied (in
// tide_sink_offsets, keyed by the sink's identity), and skips outputs
// whose input offset is not above the stored one. After a crash
// the runtime replays from its last committed offset; what the database
// already holds is skipped, not applied again.
//
// Each batch is one transaction: the progress row is locked, the rows
// are upserted with INSERT … SELECT FROM unnest($1::t[], …) ON CONFLICT
// DO UPDATE (one statement per BatchSize rows, parameters as binary
// arrays, the statement prepared once per connection), and the offset is
// stored. If the database refuses a row (a constraint, an invalid value:
// SQLSTATE classes 22 and 23), the batch is applied again in halves
// under savepoints, down to the refused rows, which are reported in a
// *RejectedError while every other row lands.
//
// A deletion is DELETE … USING unnest($1::t[], …) matching the key
// columns, in the same transaction: what a batch leaves is what applying
// its outputs in order would (an upsert after a deletion of its key
// leaves the row, a deletion after an upsert removes it), as Debezium's
// and Flink's JDBC sinks do with a changelog. Deleting a key that is not
// there is no error; a key with a NULL matches nothing.
//
// PostgresSink is a RowSink: the runtime hands it typed rows, so values
// are not encoded and decoded on the way. Write, for callers with
// encoded outputs, reads JSON values. Writes are safe concurrently; each
// holds one pooled connection.
type PostgresSink struct {
	o      PostgresSinkOptions
	cols   []format.Column
	pk     []int // columns of the key, in PrimaryKey order
	sinkID string
	name   string
	logger *slog.Logger
	pool   *pgPool

	table       string   // quoted
	names, keys []string // quoted: the columns; the key's columns
	upsertSQL   string   // set up again once the table's types are known (ensureSetup)
	deleteSQL   string
	createSQL   string
	copySQL     string

	// COPY first: a batch is written with a binary COPY into the table
	// when the table's column types are those the rows are encoded as
	// (ok); a COPY the database refuses (a key that exists: 23505) falls
	// back to the upsert, and COPY is then skipped for the next skip
	// batches, penalty doubling on each refusal up to 64, so streams of
	// updates pay for a failed COPY rarely.
	copyMode struct {
		sync.Mutex
		ok            bool
		skip, penalty int
	}

	setup struct {
		sync.Mutex
		done bool
	}
	decoders sync.Pool // format.Decoder for Write's JSON values
}

var (
	_ Sink    = (*PostgresSink)(nil)
	_ RowSink = (*PostgresSink)(nil)
)

// Postgres sink option defaults.
const (
	pgDefaultBatchSize   = 1000
	pgDefaultPoolSize    = 4
	pgDefaultMaxAttempts = 5
	pgDefaultBackoff     = 100 * time.Millisecond
	pgMaxBackoff         = 5 * time.Second
)

// newPostgresSinkFromOptions reads the WITH options:
//
//	url                 required: postgres://user@host:port/db?...
//	table               required: the target table, [schema.]name
//	primary-key         required: the key columns, comma-separated
//	table.create        'true' creates the table if missing; default 'false'
//	batch.size          rows per statement; default 1000
//	pool.size           connections at most; default 4
//	retry.max-attempts  tries of a transiently failing transaction; default 5
//	retry.backoff       first delay between tries; default '100ms'
func newPostgresSinkFromOptions(opts map[string]string, env Env) (Sink, error) {
	o, err := parsePostgresSinkOptions(opts)
	if err != nil {
		return nil, err
	}
	return NewPostgresSink(env, o)
}

func parsePostgresSinkOptions(opts map[string]string) (PostgresSinkOptions, error) {
	o := newOptions("postgres", opts, "url", "table", "primary-key", "table.create", "batch.size", "pool.size",
		"retry.max-attempts", "retry.backoff")
	po := PostgresSinkOptions{
		URL:         o.required("url"),
		Table:       o.required("table"),
		CreateTable: o.bool("table.create", false),
		BatchSize:   int(o.int("batch.size", pgDefaultBatchSize, 1, 1_000_000)),
		PoolSize:    int(o.int("pool.size", pgDefaultPoolSize, 1, 256)),
		MaxAttempts: int(o.int("retry.max-attempts", pgDefaultMaxAttempts, 1, 1000)),
		Backoff:     o.duration("retry.backoff", pgDefaultBackoff),
	}
	for k := range strings.SplitSeq(o.required("primary-key"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			po.PrimaryKey = append(po.PrimaryKey, k)
		}
	}
	if err := o.check(); err != nil {
		return po, err
	}
	if len(po.PrimaryKey) == 0 {
		return po, errors.New("connector postgres: option 'primary-key' names no column")
	}
	if _, err := pgx.ParseConfig(po.URL); err != nil {
		return po, fmt.Errorf("connector postgres: option 'url': %w", err)
	}
	return po, nil
}

// NewPostgresSink returns a sink for env.Columns. It does not connect:
// the first Write does (creating the progress tables, and the target
// table if asked), so a database that is down when a pipeline starts
// makes it retry rather than fail. Without env.Columns (checking options
// only) the sink can be closed but not written to.
func NewPostgresSink(env Env, o PostgresSinkOptions) (*PostgresSink, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = pgDefaultBatchSize
	}
	if o.PoolSize <= 0 {
		o.PoolSize = pgDefaultPoolSize
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = pgDefaultMaxAttempts
	}
	if o.Backoff <= 0 {
		o.Backoff = pgDefaultBackoff
	}
	cfg, err := pgx.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("connector postgres: option 'url': %w", err)
	}
	s := &PostgresSink{
		o: o, cols: env.Columns, sinkID: env.Group, name: env.Pipeline, logger: env.Logger,
		pool: newPGPool(cfg, o.PoolSize),
	}
	// The consumer group names one incarnation of the pipeline (a dropped
	// and re-created sink has a new one, and starts over); the sink's
	// name stands in outside the runtime.
	if s.sinkID == "" {
		s.sinkID = env.Pipeline
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.cols != nil {
		if err := s.plan(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// plan works out the key columns and the statements.
func (s *PostgresSink) plan() error {
	if len(s.cols) == 0 {
		return errors.New("connector postgres: the sink has no columns")
	}
	for _, k := range s.o.PrimaryKey {
		i := slices.IndexFunc(s.cols, func(c format.Column) bool { return c.Name == k })
		if i < 0 {
			i = slices.IndexFunc(s.cols, func(c format.Column) bool { return strings.EqualFold(c.Name, k) })
		}
		if i < 0 {
			return fmt.Errorf("connector postgres: primary-key column %q is not an output column (outputs: %s)", k, columnNames(s.cols))
		}
		if slices.Contains(s.pk, i) {
			return fmt.Errorf("connector postgres: primary-key column %q named twice", k)
		}
		s.pk = append(s.pk, i)
	}
	table := pgx.Identifier(strings.Split(s.o.Table, ".")).Sanitize()
	names := make([]string, len(s.cols))
	for i, c := range s.cols {
		names[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	keys := make([]string, len(s.pk))
	for i, c := range s.pk {
		keys[i] = names[c]
	}

	s.table, s.names, s.keys = table, names, keys
	s.upsertSQL = s.upsertStatement(nil)
	var b strings.Builder

	s.deleteSQL = s.deleteStatement(table, keys)

	s.copySQL = fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", table, strings.Join(names, ", "))
	if s.o.CreateTable {
		b.Reset()
		fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", table)
		for i, c := range s.cols {
			fmt.Fprintf(&b, "%s %s, ", names[i], PostgresType(c.Type))
		}
		fmt.Fprintf(&b, "PRIMARY KEY (%s))", strings.Join(keys, ", "))
		s.createSQL = b.String()
	}
	return nil
}

// deleteStatement is the deletion of the rows whose key columns (keys,
// quoted) equal those of an element of the parameter arrays, one array
// per key column as pgColumns.buildKeys makes them.
func (s *PostgresSink) deleteStatement(table string, keys []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "DELETE FROM %s AS t USING unnest(", table)
	for j, c := range s.pk {
		if j > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d::%s[]", j+1, pgArrayElement(s.cols[c].Type))
	}
	b.WriteString(") AS u(")
	for j := range s.pk {
		if j > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "k%d", j)
	}
	b.WriteString(") WHERE ")
	for j, c := range s.pk {
		if j > 0 {
			b.WriteString(" AND ")
		}
		fmt.Fprintf(&b, "t.%s = u.k%d%s", keys[j], j, pgArrayCast(s.cols[c].Type))
	}
	return b.String()
}

// PostgresType is the Postgres column type of a SQL kind, as a created
// table declares it. A NULL literal's column (no type) becomes text.
func PostgresType(k types.Kind) string {
	switch k {
	case types.KindBool:
		return "boolean"
	case types.KindInt2:
		return "smallint"
	case types.KindInt4:
		return "integer"
	case types.KindInt8:
		return "bigint"
	case types.KindFloat8:
		return "double precision"
	case types.KindNumeric:
		return "numeric"
	case types.KindBytea:
		return "bytea"
	case types.KindTimestamp:
		return "timestamp"
	case types.KindTimestampTZ:
		return "timestamptz"
	case types.KindDate:
		return "date"
	case types.KindInterval:
		return "interval"
	case types.KindJSON:
		return "jsonb"
	}
	return "text"
}

// pgArrayElement is the type a column's values travel as (an array of
// it, in binary): the column's own type, except numeric and json, sent as
// their text (exact, and cheap for the server to read) and cast.
func pgArrayElement(k types.Kind) string {
	switch k {
	case types.KindNumeric, types.KindJSON:
		return "text"
	}
	return PostgresType(k)
}

func pgArrayCast(k types.Kind) string {
	switch k {
	case types.KindNumeric:
		return "::numeric"
	case types.KindJSON:
		return "::jsonb"
	}
	return ""
}

// Write reads outputs' values as JSON objects of the sink's columns (the
// default format) and writes them as WriteRows does; a value that does
// not decode is rejected, and so is a deletion without a value (a
// tombstone names no key columns). The runtime calls WriteRows instead.
func (s *PostgresSink) Write(ctx context.Context, outputs []Output) error {
	if len(outputs) == 0 {
		return nil
	}
	if s.cols == nil {
		return errors.New("connector postgres: the sink was made without columns")
	}
	dec, _ := s.decoders.Get().(format.Decoder)
	if dec == nil {
		var err error
		if dec, err = format.NewDecoder("json", s.cols, nil, format.Env{}); err != nil {
			return err
		}
	}
	defer s.decoders.Put(dec)
	rows := make([]types.Row, len(outputs))
	vals := make([]types.Value, len(outputs)*len(s.cols))
	var rejected []Rejection
	for i := range outputs {
		rows[i] = vals[i*len(s.cols) : (i+1)*len(s.cols) : (i+1)*len(s.cols)]
		err := errPGDeletionWithoutValues
		if !outputs[i].Delete || outputs[i].Value != nil {
			err = dec.Decode(outputs[i].Value, rows[i])
		}
		if err != nil {
			rows[i] = nil
			rejected = append(rejected, Rejection{Index: i, Err: err, Code: errorCode(err), Attempts: 1})
		}
	}
	return s.writeRows(ctx, rows, outputs, rejected)
}

var errPGDeletionWithoutValues = errors.New("connector postgres: a deletion without the row's values")

// WriteRows upserts rows and deletes those of deletions; see RowSink and
// PostgresSink.
func (s *PostgresSink) WriteRows(ctx context.Context, rows []types.Row, outputs []Output) error {
	if len(outputs) == 0 {
		return nil
	}
	if s.cols == nil {
		return errors.New("connector postgres: the sink was made without columns")
	}
	if len(rows) != len(outputs) {
		return fmt.Errorf("connector postgres: %d rows for %d outputs", len(rows), len(outputs))
	}
	// Values of another kind than their column's (an int4 in a bigint
	// column) are converted here; one that cannot be is the row's
	// rejection, before the database sees it. A deletion reads only its
	// key columns.
	var rejected []Rejection
	converted := false
	for i, row := range rows {
		if len(row) < len(s.cols) {
			return fmt.Errorf("connector postgres: row %d has %d values for %d columns", i, len(row), len(s.cols))
		}
		for c, col := range s.cols {
			if outputs[i].Delete && !slices.Contains(s.pk, c) {
				continue
			}
			v, kind := row[c], col.Type
			if kind == types.KindNull { // a column of NULL literals: text
				kind = types.KindText
			}
			if v.IsNull() || v.Kind() == kind {
				continue
			}
			if !converted {
				rows, converted = slices.Clone(rows), true
			}
			if &rows[i][0] == &row[0] {
				rows[i] = slices.Clone(row)
			}
			cv, err := convertValue(v, kind)
			if err != nil {
				rows[i] = nil
				rejected = append(rejected, Rejection{Index: i, Err: fmt.Errorf("column %q: %w", col.Name, err), Code: errorCode(err), Attempts: 1})
				break
			}
			rows[i][c] = cv
		}
	}
	return s.writeRows(ctx, rows, outputs, rejected)
}

// convertValue converts v to kind k as an assignment would.
func convertValue(v types.Value, k types.Kind) (types.Value, error) {
	switch {
	case k.IsInteger() && v.Kind().IsInteger():
		if err := types.CheckIntRange(k, v.Int()); err != nil {
			return v, err
		}
		return types.NewInt(k, v.Int()), nil
	case k == types.KindFloat8 && v.Kind().IsInteger():
		return types.NewFloat8(float64(v.Int())), nil
	case k == types.KindText:
		return types.NewText(v.String()), nil
	case k == types.KindJSON && v.Kind() == types.KindText:
		return types.ParseJSON(v.Text())
	}
	return types.ParseText(k, v.String())
}

// errorCode is err's SQLSTATE, or "".
func errorCode(err error) string {
	var te *types.Error
	if errors.As(err, &te) {
		return te.Code
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// writeRows runs the batch's transaction, again after transient errors
// (each try on a connection that works: a lost one is dropped), and once
// more, row-isolating, after the database refused a row.
func (s *PostgresSink) writeRows(ctx context.Context, rows []types.Row, outputs []Output, rejected []Rejection) error {
	if err := s.ensureSetup(ctx); err != nil {
		return err
	}
	delay := s.o.Backoff
	mode := pgUpsert
	if s.useCopy() {
		mode = pgCopy
	}
	for attempt := 1; ; attempt++ {
		rej, err := s.transact(ctx, rows, outputs, rejected, mode, attempt)
		if err == nil {
			if mode == pgCopy {
				s.copyWorked()
			}
			if len(rej) > 0 {
				return &RejectedError{Rejected: rej}
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("connector postgres: %w", ctx.Err())
		}
		var copyErr *pgCopyError
		if errors.As(err, &copyErr) && !IsPostgresTransient(copyErr.err) {
			s.copyRefused(copyErr.err)
			mode = pgUpsert
			attempt--
			continue
		}
		if mode != pgIsolate && IsPostgresDataError(err) { // a refused row (or a deletion a foreign key refuses)
			mode = pgIsolate
			attempt--
			continue
		}
		if !IsPostgresTransient(err) || attempt >= s.o.MaxAttempts {
			return fmt.Errorf("connector postgres: writing %d rows to %s (attempt %d): %w", len(outputs), s.o.Table, attempt, err)
		}
		s.logger.Warn("postgres sink: transaction failed; retrying", "table", s.o.Table, "attempt", attempt, "err", err)
		d := delay/2 + rand.N(delay/2+1) // jitter: [delay/2, delay]
		delay = min(2*delay, pgMaxBackoff)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("connector postgres: %w", ctx.Err())
		}
	}
}

// upsertStatement is INSERT … SELECT FROM unnest($1::t[], …) ON CONFLICT
// (key) DO UPDATE. A column of NULL literals travels as text, which has
// no assignment cast to most types: it is cast to the table column's
// type, when nullTypes (by column) knows it.
func (s *PostgresSink) upsertStatement(nullTypes map[int]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s AS t (%s) SELECT ", s.table, strings.Join(s.names, ", "))
	for i, c := range s.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		cast := pgArrayCast(c.Type)
		if t, ok := nullTypes[i]; ok && c.Type == types.KindNull {
			cast = "::" + t
		}
		fmt.Fprintf(&b, "u.c%d%s", i, cast)
	}
	b.WriteString(" FROM unnest(")
	for i, c := range s.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d::%s[]", i+1, pgArrayElement(c.Type))
	}
	b.WriteString(") AS u(")
	for i := range s.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "c%d", i)
	}
	fmt.Fprintf(&b, ") ON CONFLICT (%s) DO ", strings.Join(s.keys, ", "))
	var sets []string
	for i, n := range s.names {
		if !slices.Contains(s.pk, i) {
			sets = append(sets, n+" = EXCLUDED."+n)
		}
	}
	if len(sets) == 0 {
		b.WriteString("NOTHING")
	} else {
		b.WriteString("UPDATE SET " + strings.Join(sets, ", "))
	}
	return b.String()
}

// ensureSetup creates the progress tables (and the target table when
// asked) once; a failure is retried by the next Write.
func (s *PostgresSink) ensureSetup(ctx context.Context) error {
	s.setup.Lock()
	defer s.setup.Unlock()
	if s.setup.done {
		return nil
	}
	conn, err := s.pool.acquire(ctx)
	if err != nil {
		return fmt.Errorf("connector postgres: connecting: %w", err)
	}
	defer s.pool.release(conn)
	if _, err := conn.Exec(ctx, pgSetupSQL); err != nil && !isDuplicateObject(err) {
		return fmt.Errorf("connector postgres: creating the progress tables: %w", err)
	}
	if s.createSQL != "" {
		if _, err := conn.Exec(ctx, s.createSQL); err != nil && !isDuplicateObject(err) {
			return fmt.Errorf("connector postgres: creating table %s: %w", s.o.Table, err)
		}
	}
	ok, nullTypes, err := s.copyCompatible(ctx, conn)
	if err != nil {
		return fmt.Errorf("connector postgres: reading the columns of %s: %w", s.o.Table, err)
	}
	if len(nullTypes) > 0 {
		s.upsertSQL = s.upsertStatement(nullTypes)
	}
	s.copyMode.Lock()
	s.copyMode.ok = ok
	s.copyMode.Unlock()
	s.setup.done = true
	return nil
}

// copyCompatible reports whether every output column is a column of the
// table with the type the binary COPY path encodes it as, and returns the
// table's types of the output columns of NULL literals.
func (s *PostgresSink) copyCompatible(ctx context.Context, conn *pgx.Conn) (bool, map[int]string, error) {
	rs, err := conn.Query(ctx, `SELECT attname, atttypid, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
		pgx.Identifier(strings.Split(s.o.Table, ".")).Sanitize())
	if err != nil {
		return false, nil, err
	}
	typeOf, nameOf := map[string]uint32{}, map[string]string{}
	for rs.Next() {
		var name, typ string
		var oid uint32
		if err := rs.Scan(&name, &oid, &typ); err != nil {
			rs.Close()
			return false, nil, err
		}
		typeOf[name], nameOf[name] = oid, typ
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return false, nil, err
	}
	var nullTypes map[int]string
	for i, c := range s.cols {
		if t, ok := nameOf[c.Name]; ok && c.Type == types.KindNull {
			if nullTypes == nil {
				nullTypes = map[int]string{}
			}
			nullTypes[i] = t
		}
	}
	for _, c := range s.cols {
		if !slices.Contains(pgCopyOID(c.Type), typeOf[c.Name]) {
			s.logger.Info("postgres sink: the table's column types differ from the outputs'; writing with INSERT only",
				"table", s.o.Table, "column", c.Name, "type", PostgresType(c.Type))
			return false, nullTypes, nil
		}
	}
	return true, nullTypes, nil
}

// useCopy says whether the next batch tries COPY.
func (s *PostgresSink) useCopy() bool {
	s.copyMode.Lock()
	defer s.copyMode.Unlock()
	if !s.copyMode.ok {
		return false
	}
	if s.copyMode.skip > 0 {
		s.copyMode.skip--
		return false
	}
	return true
}

// copyRefused records a COPY the database refused: for data (a key that
// exists), skip COPY for a while; for anything else (the table is not
// what it seemed), for good.
func (s *PostgresSink) copyRefused(err error) {
	s.copyMode.Lock()
	defer s.copyMode.Unlock()
	if !IsPostgresDataError(err) {
		s.copyMode.ok = false
		s.logger.Info("postgres sink: COPY failed; writing with INSERT only", "table", s.o.Table, "err", err)
		return
	}
	s.copyMode.penalty = min(max(1, 2*s.copyMode.penalty), 64)
	s.copyMode.skip = s.copyMode.penalty
}

func (s *PostgresSink) copyWorked() {
	s.copyMode.Lock()
	s.copyMode.penalty = 0
	s.copyMode.Unlock()
}

// isDuplicateObject reports the error of two concurrent CREATE TABLE IF
// NOT EXISTS of one table (the loser trips over the catalog's unique
// index): the table exists, as wanted.
func isDuplicateObject(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "42P07" || pe.Code == "42710")
}

// pgWriteMode is how a transaction writes its rows.
type pgWriteMode int

const (
	pgCopy    pgWriteMode = iota // the deletions, then a binary COPY of the upserts: new keys only
	pgUpsert                     // DELETE, INSERT … ON CONFLICT DO UPDATE, BatchSize rows a statement
	pgIsolate                    // pgUpsert under savepoints, halving down to the refused rows
)

// pgCopyError is a failed COPY, for writeRows to fall back to the upsert.
type pgCopyError struct{ err error }

func (e *pgCopyError) Error() string { return "COPY: " + e.err.Error() }
func (e *pgCopyError) Unwrap() error { return e.err }

// partitionRun is the outputs of one source partition in a batch.
type partitionRun struct {
	topic     string // the origin's Stream: its topic, qualified by its input
	partition int32
	idx       []int // into outputs, in order
	stored    int64 // the stored offset (-1: none), read under lock
	last      int64 // the highest offset among the outputs
}

// transact applies one batch in one transaction; see PostgresSink. It
// returns the rejected outputs: those given, those the database refused
// now, and those it refused before a crash (found among the skipped).
func (s *PostgresSink) transact(ctx context.Context, rows []types.Row, outputs []Output, given []Rejection, mode pgWriteMode, attempt int) ([]Rejection, error) {
	conn, err := s.pool.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer s.pool.release(conn)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }() // after Commit, a no-op

	runs := partitionRuns(outputs)
	seqs := outputSeqs(outputs)
	skip := make([]bool, len(outputs))
	var rejections []Rejection
	for _, r := range runs {
		if err := tx.QueryRow(ctx, pgLockOffsetSQL, s.sinkID, r.topic, r.partition, s.name).Scan(&r.stored); err != nil {
			return nil, err
		}
		lo, hi := int64(-1), int64(-1)
		for _, i := range r.idx {
			if off := outputs[i].Origin.Offset; off <= r.stored {
				skip[i] = true
				if lo < 0 {
					lo = off
				}
				hi = off
			}
		}
		if lo >= 0 { // a replay: report again what was refused then
			again, err := s.rejectedBefore(ctx, tx, r, lo, hi, outputs, seqs)
			if err != nil {
				return nil, err
			}
			rejections = append(rejections, again...)
		}
	}
	fresh := make([]Rejection, 0, len(given))
	for _, g := range given {
		if !skip[g.Index] {
			skip[g.Index] = true
			fresh = append(fresh, g)
		}
	}
	pending := make([]int, 0, len(outputs))
	for i := range outputs {
		if !skip[i] {
			pending = append(pending, i)
		}
	}
	st := &pgStatements{s: s, tx: tx, rows: rows, outputs: outputs}
	if err := st.apply(ctx, pending, mode, attempt, &fresh); err != nil {
		return nil, err
	}

	batch := &pgx.Batch{}
	for _, r := range runs {
		if r.last > r.stored {
			batch.Queue(pgStoreOffsetSQL, s.sinkID, r.topic, r.partition, r.last)
		}
	}
	for _, rj := range fresh {
		o := outputs[rj.Index].Origin
		batch.Queue(pgStoreRejectedSQL, s.sinkID, o.Stream(), o.Partition, o.Offset, seqs[rj.Index], rj.Code, rj.Err.Error(), rj.Attempts)
	}
	if batch.Len() > 0 {
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	rejections = append(rejections, fresh...)
	slices.SortFunc(rejections, func(a, b Rejection) int { return a.Index - b.Index })
	return rejections, nil
}

// pgStatements writes one batch's outputs in its transaction. Its
// argument buffers are reused from one statement to the next.
type pgStatements struct {
	s         *PostgresSink
	tx        pgx.Tx
	rows      []types.Row
	outputs   []Output
	upserted  pgColumns // the arguments of the last upsert
	deleteArg pgColumns // the arguments of the last deletion
}

// apply writes the pending outputs (indexes, in order) in mode. The fast
// modes write each key's last output only (lastPerKey): the keys of a
// statement are then distinct, so its deletions and upserts touch
// different rows and may run as two statements, deletions first.
// pgIsolate keeps every output and applies them in order, in runs of
// one kind, so that of several outputs of a key the last is the one
// that lands even when an earlier one is refused.
func (w *pgStatements) apply(ctx context.Context, pending []int, mode pgWriteMode, attempt int, rejected *[]Rejection) error {
	switch mode {
	case pgCopy:
		deletions, upserts := w.splitDeletions(w.s.lastPerKey(w.rows, pending))
		for chunk := range slices.Chunk(deletions, w.s.o.BatchSize) {
			if err := w.delete(ctx, chunk); err != nil {
				return err
			}
		}
		if len(upserts) == 0 {
			return nil
		}
		r := newPGCopyReader(w.s.cols, w.rows, upserts)
		if _, err := w.tx.Conn().PgConn().CopyFrom(ctx, r, w.s.copySQL); err != nil {
			return &pgCopyError{err}
		}
	case pgUpsert:
		for chunk := range slices.Chunk(pending, w.s.o.BatchSize) {
			deletions, upserts := w.splitDeletions(w.s.lastPerKey(w.rows, chunk))
			if len(deletions) > 0 {
				if err := w.delete(ctx, deletions); err != nil {
					return err
				}
			}
			if len(upserts) > 0 {
				if err := w.upsert(ctx, upserts); err != nil {
					return err
				}
			}
		}
	case pgIsolate:
		for chunk := range slices.Chunk(pending, w.s.o.BatchSize) {
			for run := range w.runsOfOneKind(chunk) {
				write := w.upsert
				if w.outputs[run[0]].Delete {
					write = w.delete
				}
				if err := w.isolate(ctx, write, run, attempt, rejected); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (w *pgStatements) upsert(ctx context.Context, idx []int) error {
	_, err := w.tx.Exec(ctx, w.s.upsertSQL, w.upserted.build(w.s.cols, w.rows, idx)...)
	return err
}

func (w *pgStatements) delete(ctx context.Context, idx []int) error {
	_, err := w.tx.Exec(ctx, w.s.deleteSQL, w.deleteArg.buildKeys(w.s.cols, w.s.pk, w.rows, idx)...)
	return err
}

// splitDeletions splits idx into the deletions and the upserts, each in
// order.
func (w *pgStatements) splitDeletions(idx []int) (deletions, upserts []int) {
	for _, i := range idx {
		if w.outputs[i].Delete {
			deletions = append(deletions, i)
		} else {
			upserts = append(upserts, i)
		}
	}
	return deletions, upserts
}

// runsOfOneKind yields idx cut into maximal runs of deletions or of
// upserts, in order.
func (w *pgStatements) runsOfOneKind(idx []int) iter.Seq[[]int] {
	return func(yield func([]int) bool) {
		for start := 0; start < len(idx); {
			end := start + 1
			for end < len(idx) && w.outputs[idx[end]].Delete == w.outputs[idx[start]].Delete {
				end++
			}
			if !yield(idx[start:end]) {
				return
			}
			start = end
		}
	}
}

// isolate writes the rows idx with write under a savepoint; if the
// database refuses one, it rolls back to the savepoint and tries each
// half, down to single rows, which are rejected. Rows are applied in
// order, so the last of several with one key wins, as in the fast path.
func (w *pgStatements) isolate(ctx context.Context, write func(context.Context, []int) error, idx []int, attempt int, rejected *[]Rejection) error {
	if _, err := w.tx.Exec(ctx, "SAVEPOINT tide_rows"); err != nil {
		return err
	}
	err := write(ctx, idx)
	if err == nil {
		_, err = w.tx.Exec(ctx, "RELEASE SAVEPOINT tide_rows")
		return err
	}
	if !IsPostgresDataError(err) {
		return err
	}
	if _, rerr := w.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT tide_rows; RELEASE SAVEPOINT tide_rows"); rerr != nil {
		return rerr
	}
	if len(idx) == 1 {
		*rejected = append(*rejected, Rejection{Index: idx[0], Err: err, Code: errorCode(err), Attempts: attempt})
		return nil
	}
	mid := len(idx) / 2
	if err := w.isolate(ctx, write, idx[:mid], attempt, rejected); err != nil {
		return err
	}
	return w.isolate(ctx, write, idx[mid:], attempt, rejected)
}

// rejectedBefore returns the rejections stored for run's outputs with
// offsets in [lo, hi], for a replay of outputs applied before.
func (s *PostgresSink) rejectedBefore(ctx context.Context, tx pgx.Tx, r *partitionRun, lo, hi int64, outputs []Output, seqs []int32) ([]Rejection, error) {
	type key struct {
		offset int64
		seq    int32
	}
	stored := map[key]Rejection{}
	rs, err := tx.Query(ctx, pgRejectedSQL, s.sinkID, r.topic, r.partition, lo, hi)
	if err != nil {
		return nil, err
	}
	for rs.Next() {
		var k key
		var code, msg string
		var attempts int
		if err := rs.Scan(&k.offset, &k.seq, &code, &msg, &attempts); err != nil {
			rs.Close()
			return nil, err
		}
		stored[k] = Rejection{Err: fmt.Errorf("%s (SQLSTATE %s; rejected before a restart)", msg, code), Code: code, Attempts: attempts}
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, err
	}
	var out []Rejection
	for _, i := range r.idx {
		o := outputs[i].Origin
		if rj, ok := stored[key{o.Offset, seqs[i]}]; ok && o.Offset <= r.stored {
			rj.Index = i
			out = append(out, rj)
		}
	}
	return out, nil
}

// partitionRuns groups outputs by source partition, in order of first
// appearance (a batch from the runtime has one).
func partitionRuns(outputs []Output) []*partitionRun {
	var runs []*partitionRun
	for i := range outputs {
		o := &outputs[i].Origin
		var r *partitionRun
		for _, c := range runs {
			if c.topic == o.Stream() && c.partition == o.Partition {
				r = c
				break
			}
		}
		if r == nil {
			r = &partitionRun{topic: o.Stream(), partition: o.Partition, idx: make([]int, 0, len(outputs)), last: -1}
			runs = append(runs, r)
		}
		r.idx = append(r.idx, i)
		r.last = max(r.last, o.Offset)
	}
	return runs
}

// outputSeqs numbers the outputs of one input record 0, 1, ...: with the
// record's origin they name an output across replays.
func outputSeqs(outputs []Output) []int32 {
	seqs := make([]int32, len(outputs))
	for i := 1; i < len(outputs); i++ {
		if outputs[i].Origin == outputs[i-1].Origin {
			seqs[i] = seqs[i-1] + 1
		}
	}
	return seqs
}

// lastPerKey drops from idx the rows a later row (an upsert or a
// deletion) of the same key overwrites: one statement may not update a
// row twice (SQLSTATE 21000), and the deletions and upserts left have
// distinct keys, so they can be applied in either order. Keys compare by
// text form, numerics without trailing zeros (1.0 is 1.00, as in
// Postgres). Keys Postgres finds equal but spelled differently otherwise
// (a jsonb's key order) stay apart: two upserts of them trip the
// database, and the batch is applied again row-isolating, in order; a
// deletion and an upsert of them apply deletion first.
func (s *PostgresSink) lastPerKey(rows []types.Row, idx []int) []int {
	if len(idx) < 2 {
		return idx
	}
	if len(s.pk) == 1 && s.cols[s.pk[0]].Type.IsInteger() {
		c := s.pk[0]
		seen := make(map[int64]struct{}, len(idx))
		dup := false
		for _, i := range idx {
			k := rows[i][c].Int()
			if _, ok := seen[k]; ok {
				dup = true
				break
			}
			seen[k] = struct{}{}
		}
		if !dup {
			return idx
		}
	}
	last := make(map[string]int, len(idx))
	var buf []byte
	for _, i := range idx {
		buf = s.appendKey(buf[:0], i, rows[i])
		last[string(buf)] = i
	}
	if len(last) == len(idx) {
		return idx
	}
	kept := make([]int, 0, len(last))
	for _, i := range idx {
		buf = s.appendKey(buf[:0], i, rows[i])
		if last[string(buf)] == i {
			kept = append(kept, i)
		}
	}
	return kept
}

// appendKey appends the key of row i of a batch, as lastPerKey compares
// it. A key with a NULL equals no other (NULLs never conflict in a unique
// index, nor match a deletion), so it carries the row's index.
func (s *PostgresSink) appendKey(dst []byte, i int, row types.Row) []byte {
	for _, c := range s.pk {
		v := row[c]
		switch {
		case v.IsNull():
			dst = strconv.AppendInt(append(dst, 'N'), int64(i), 10)
		case v.Kind() == types.KindNumeric && v.Decimal().Form == apd.Finite:
			var d apd.Decimal
			d.Reduce(v.Decimal())
			dst = d.Append(append(dst, 'V'), 'f')
		default:
			dst = v.AppendText(append(dst, 'V'))
		}
		dst = append(dst, 0)
	}
	return dst
}

// IsPostgresDataError reports whether err is the database refusing
// data: a data exception (SQLSTATE class 22), an integrity constraint
// violation (23), or one statement updating a row twice (21000). The
// sink isolates and rejects the rows that cause it.
func IsPostgresDataError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23") || pe.Code == "21000"
}

// IsPostgresTransient reports whether a transaction that failed with err
// may succeed if tried again: a lost or refused connection (class 08,
// but 08P01, and errors without a SQLSTATE, which are the network's), a
// serialization failure (40001), a deadlock (40P01), a server shutting
// down or starting (57P01-57P03), too many connections (53300), a lock
// not available (55P03).
func IsPostgresTransient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return pgconn.Timeout(err) // a connect timeout, not the caller's context
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return true
	}
	switch pe.Code {
	case "40001", "40P01", "57P01", "57P02", "57P03", "53300", "55P03":
		return true
	}
	return strings.HasPrefix(pe.Code, "08") && pe.Code != "08P01" // but a protocol violation is a bug
}

// Close closes the idle connections; call it after the last Write.
func (s *PostgresSink) Close(ctx context.Context) error {
	s.pool.close(ctx)
	return nil
}
