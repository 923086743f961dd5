package cdc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tide-data/tide/internal/cdc/pgvalue"
	"github.com/tide-data/tide/internal/transport"
)

// Capture streams one source's changes into its topics. Run it on one
// worker at a time (the slot admits one reader; the engine elects the
// worker through a consumer group).
type Capture struct {
	cfg Config
	log *slog.Logger
	reg *pgvalue.Registry

	mu     sync.Mutex
	status Status
	// lag follows the changes received and not yet durable (Lag).
	lag lagTracker
}

// Status is what a capture is doing, for SHOW and `tide status`.
type Status struct {
	State         string // "starting", "snapshot", "streaming", "retrying", "stopped"
	Err           string // the last error, while retrying
	SnapshotRows  int64  // rows copied by the current or last snapshot
	Changes       int64  // changes written since start
	FlushLSN      string // the slot position acknowledged last
	LastCommit    time.Time
	SnapshotTable string // the table being copied
}

// New checks cfg and returns a capture; nothing connects until Run.
func New(cfg Config) (*Capture, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return &Capture{cfg: cfg, log: cfg.Logger.With("source", cfg.Name), reg: pgvalue.NewRegistry(),
		status: Status{State: "starting"}}, nil
}

// Status returns a copy of the capture's status.
func (c *Capture) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

func (c *Capture) update(fn func(*Status)) {
	c.mu.Lock()
	fn(&c.status)
	c.mu.Unlock()
}

// Run captures until ctx is done, reconnecting with backoff after errors
// (the database restarting, the slot held by another reader, a table
// without a key): each is logged and shown in Status, and the capture
// resumes from the slot's acknowledged position.
func (c *Capture) Run(ctx context.Context) error {
	delay := time.Second
	c.lag.running(time.Now())
	for {
		started := time.Now()
		err := c.runOnce(ctx)
		if ctx.Err() != nil {
			c.update(func(s *Status) { s.State = "stopped" })
			return nil //nolint:nilerr // the error of a capture being stopped is not a failure
		}
		if time.Since(started) > time.Minute {
			delay = time.Second
		}
		c.log.Warn("cdc: capture stopped; retrying", "err", err, "retry_in", delay)
		c.update(func(s *Status) { s.State, s.Err = "retrying", err.Error() })
		select {
		case <-ctx.Done():
			c.update(func(s *Status) { s.State = "stopped" })
			return nil
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

func (c *Capture) runOnce(ctx context.Context) error {
	conn, err := connect(ctx, c.cfg.DSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	srv, err := checkServer(ctx, conn)
	if err != nil {
		return err
	}
	// Fence: one capture per slot, for the whole run. The slot admits one
	// reader only while streaming; during a snapshot it is idle, and a
	// second capture (a worker that lost its lease without noticing) would
	// take it for an interrupted snapshot and drop it. This session lock is
	// held until the connection closes, also if the process dies.
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('tide-cdc'), hashtext($1))`, c.cfg.Slot).Scan(&locked); err != nil {
		return fmt.Errorf("cdc: taking the capture lock of slot %s: %w", c.cfg.Slot, err)
	}
	if !locked {
		return fmt.Errorf("cdc: another capture of slot %s is running (another Tide worker, or one that has not stopped yet)", c.cfg.Slot)
	}
	tables, err := describeTables(ctx, conn, c.cfg.Tables)
	if err != nil {
		return err
	}
	if err := c.ensureTopics(ctx, tables); err != nil {
		return err
	}
	created, err := ensurePublication(ctx, conn, c.cfg.Publication, tables)
	if err != nil {
		return err
	}
	if created {
		c.log.Info("cdc: created publication", "publication", c.cfg.Publication, "tables", len(tables))
	}
	if err := EnsureStateTopic(ctx, c.cfg.Transport); err != nil {
		return err
	}
	for _, t := range tables {
		oids := make([]uint32, len(t.columns))
		for i, col := range t.columns {
			oids[i] = col.typ
		}
		if err := c.reg.Resolve(ctx, conn, oids...); err != nil {
			return fmt.Errorf("cdc: column types of %s: %w", t.TableName, err)
		}
	}
	repl, err := connectReplication(ctx, c.cfg.DSN)
	if err != nil {
		return err
	}
	defer repl.Close(context.Background())

	enc := &encoder{reg: c.reg, name: c.cfg.TopicPrefix, db: srv.database}
	start, epoch, err := c.prepare(ctx, conn, repl, srv, tables, enc, created)
	if err != nil {
		return err
	}
	return c.stream(ctx, conn, repl, tables, enc, start, epoch)
}

func (c *Capture) ensureTopics(ctx context.Context, tables []*table) error {
	if c.cfg.TransactionMetadata {
		err := c.cfg.Transport.CreateTopic(ctx, transport.TopicSpec{Name: TransactionTopic(c.cfg.TopicPrefix), Partitions: 1})
		if err != nil && !errors.Is(err, transport.ErrTopicExists) {
			return fmt.Errorf("cdc: creating topic %s: %w", TransactionTopic(c.cfg.TopicPrefix), err)
		}
	}
	for _, t := range tables {
		t.topic = TopicName(c.cfg.TopicPrefix, t.TableName)
		err := c.cfg.Transport.CreateTopic(ctx, transport.TopicSpec{Name: t.topic, Partitions: c.cfg.TopicPartitions})
		if err != nil && !errors.Is(err, transport.ErrTopicExists) {
			return fmt.Errorf("cdc: creating topic %s: %w", t.topic, err)
		}
		info, err := c.cfg.Transport.Topic(ctx, t.topic)
		if err != nil {
			return fmt.Errorf("cdc: topic %s: %w", t.topic, err)
		}
		t.partitions = info.Partitions
	}
	return nil
}

// prepare makes sure the slot exists and its snapshot was taken, and
// returns the position to stream from and the slot's epoch.
func (c *Capture) prepare(ctx context.Context, conn *pgx.Conn, repl *pgconn.PgConn, srv server, tables []*table, enc *encoder, pubCreated bool) (pglogrepl.LSN, uint64, error) {
	tr := c.cfg.Transport
	st, found, err := loadState(ctx, tr, c.cfg.Name)
	if err != nil {
		return 0, 0, err
	}
	slot, exists, err := lookupSlot(ctx, conn, c.cfg.Slot)
	if err != nil {
		return 0, 0, err
	}
	if exists && (slot.Plugin != "pgoutput" || slot.Database != srv.database) {
		return 0, 0, fmt.Errorf("cdc: slot %s exists but is a %q slot of database %q, not a pgoutput slot of %q: choose another slot name",
			c.cfg.Slot, slot.Plugin, slot.Database, srv.database)
	}
	ours := found && st.Slot == c.cfg.Slot
	current := ours && st.SourceID == c.cfg.SourceID
	if exists && ours && slot.WALStatus == "lost" {
		c.log.Warn("cdc: the replication slot was invalidated (max_slot_wal_keep_size): the WAL it needed is gone, so the source starts over",
			"slot", c.cfg.Slot)
		if err := dropSlot(ctx, conn, c.cfg.Slot); err != nil {
			return 0, 0, err
		}
		exists = false
	}
	switch {
	case current && st.SnapshotDone && exists:
		for _, t := range tables {
			if was, ok := st.Partitions[t.topic]; ok && was != t.partitions {
				return 0, 0, fmt.Errorf("cdc: topic %s has %d partitions but had %d when the capture began: keys would move between "+
					"partitions and stale values would stay behind; restore the partition count, or drop the source (slot.drop) and "+
					"its topics and create it again", t.topic, t.partitions, was)
			}
		}
		lsn, err := pglogrepl.ParseLSN(slot.FlushLSN)
		if err != nil {
			return 0, 0, fmt.Errorf("cdc: slot %s: confirmed_flush_lsn %q: %w", c.cfg.Slot, slot.FlushLSN, err)
		}
		c.log.Info("cdc: resuming from the slot", "slot", c.cfg.Slot, "lsn", slot.FlushLSN)
		return lsn, st.Epoch, nil
	case exists && !ours:
		return 0, 0, fmt.Errorf("cdc: replication slot %s already exists and was not made by this source: "+
			"drop it (SELECT pg_drop_replication_slot('%s')) or choose another with the option 'slot'", c.cfg.Slot, c.cfg.Slot)
	case current && st.SnapshotDone && !exists:
		c.log.Warn("cdc: the replication slot is gone (dropped, or invalidated by max_slot_wal_keep_size); changes made since it was lost "+
			"cannot be streamed, so the source starts over", "slot", c.cfg.Slot, "snapshot", c.cfg.Snapshot)
	case ours && exists:
		c.log.Info("cdc: dropping the slot of an unfinished snapshot or an earlier source of this name", "slot", c.cfg.Slot)
		if err := dropSlot(ctx, conn, c.cfg.Slot); err != nil {
			return 0, 0, err
		}
	}

	// A new slot, a new epoch: no position of an earlier slot is compared
	// with this one's.
	epoch := st.Epoch + 1
	st = state{SourceID: c.cfg.SourceID, Slot: c.cfg.Slot, Publication: c.cfg.Publication,
		PublicationCreated: pubCreated || (current && st.PublicationCreated), Epoch: epoch, Partitions: map[string]int32{}}
	for _, t := range tables {
		st.Partitions[t.topic] = t.partitions
	}
	if err := saveState(ctx, tr, c.cfg.Name, st); err != nil {
		return 0, 0, err
	}
	action := "NOEXPORT_SNAPSHOT"
	if c.cfg.Snapshot == SnapshotInitial {
		action = "EXPORT_SNAPSHOT"
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, repl, c.cfg.Slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: action})
	if err != nil {
		return 0, 0, explain(fmt.Errorf("cdc: creating replication slot %s: %w", c.cfg.Slot, err))
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return 0, 0, fmt.Errorf("cdc: slot %s: consistent point %q: %w", c.cfg.Slot, res.ConsistentPoint, err)
	}
	c.log.Info("cdc: created replication slot", "slot", c.cfg.Slot, "consistent_point", res.ConsistentPoint, "epoch", epoch)
	if c.cfg.Snapshot == SnapshotInitial {
		if err := c.snapshot(ctx, conn, res.SnapshotName, tables, enc, epoch); err != nil {
			return 0, 0, err
		}
	}
	st.SnapshotDone, st.SnapshotLSN = true, res.ConsistentPoint
	if err := saveState(ctx, tr, c.cfg.Name, st); err != nil {
		return 0, 0, err
	}
	return lsn, epoch, nil
}

// Drop removes what the source made in the database: its slot, and its
// publication if it created it; and forgets its progress. The capture
// must be stopped first. Used by DROP SOURCE with slot.drop = 'true'.
func Drop(ctx context.Context, cfg Config) error {
	if err := cfg.check(); err != nil {
		return err
	}
	st, found, err := loadState(ctx, cfg.Transport, cfg.Name)
	if err != nil && !errors.Is(err, transport.ErrTopicNotFound) {
		return err
	}
	conn, err := connect(ctx, cfg.DSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	// The stopped capture's walsender may take a moment to release the slot.
	for attempt := 0; ; attempt++ {
		err = dropSlot(ctx, conn, cfg.Slot)
		var pgErr *pgconn.PgError
		if err == nil || attempt >= 20 || !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	if err != nil {
		return err
	}
	if found && st.PublicationCreated {
		if _, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+quoteIdent(cfg.Publication)); err != nil {
			return fmt.Errorf("cdc: dropping publication %s: %w", cfg.Publication, err)
		}
	}
	return DeleteState(ctx, cfg.Transport, cfg.Name)
}
