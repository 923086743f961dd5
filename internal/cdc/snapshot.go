package cdc

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tide-data/tide/internal/cdc/pgvalue"
	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/transport"
)

// snapshot copies every table as of the slot's exported snapshot.
func (c *Capture) snapshot(ctx context.Context, conn *pgx.Conn, name string, tables []*table, enc *encoder, epoch uint64) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("cdc: snapshot: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(name)); err != nil {
		return fmt.Errorf("cdc: snapshot: importing %s: %w", name, err)
	}
	started := time.Now()
	w := newWriter(ctx, c.cfg.Transport, 0)
	c.update(func(s *Status) { s.State, s.Err, s.SnapshotRows = "snapshot", "", 0 })
	var total int64
	for _, t := range tables {
		n, err := c.snapshotTable(ctx, tx, t, enc, w, epoch)
		total += n
		if err != nil {
			_ = w.close()
			return err
		}
	}
	if err := w.close(); err != nil {
		return fmt.Errorf("cdc: snapshot: writing: %w", err)
	}
	elapsed := time.Since(started)
	c.log.Info("cdc: snapshot complete", "rows", total, "tables", len(tables), "elapsed", elapsed.Round(time.Millisecond),
		"rows_per_sec", int64(float64(total)/max(elapsed.Seconds(), 1e-9)))
	return tx.Commit(ctx)
}

// snapshotTable copies one table. When its topic already holds records
// (an interrupted snapshot, a lost slot), the keys found there but no
// longer in the table are deleted afterwards, so that the topic's final
// state is the table's.
func (c *Capture) snapshotTable(ctx context.Context, tx pgx.Tx, t *table, enc *encoder, w *writer, epoch uint64) (int64, error) {
	prior, err := c.priorKeys(ctx, t)
	if err != nil {
		return 0, err
	}
	// Columns as of the snapshot (the table may have changed since it was
	// described).
	cols, err := tableColumns(ctx, tx.Conn(), t.oid)
	if err != nil {
		return 0, fmt.Errorf("cdc: snapshot of %s: %w", t.TableName, err)
	}
	t.setColumns(cols)
	var estimate float64
	_ = tx.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = $1`, t.oid).Scan(&estimate)
	c.log.Info("cdc: snapshot of a table", "table", t.String(), "estimated_rows", int64(max(estimate, 0)), "topic", t.topic)
	c.update(func(s *Status) { s.SnapshotTable = t.String() })

	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = quoteIdent(col.name)
	}
	sw := &snapshotWriter{c: c, ctx: ctx, t: t, enc: enc, w: w, prior: prior, now: time.Now(), epoch: epoch,
		lastLog: time.Now(), estimate: int64(estimate)}
	sw.b = &batch{}
	_, err = tx.Conn().PgConn().CopyTo(ctx, sw, "COPY (SELECT "+strings.Join(names, ", ")+" FROM "+t.fromClause()+") TO STDOUT")
	if err == nil {
		err = sw.finish()
	}
	if err != nil {
		return sw.rows, fmt.Errorf("cdc: snapshot of %s: %w", t.TableName, err)
	}
	return sw.rows, nil
}

// priorKeys returns the keys present in t's topic (nil when it is empty).
func (c *Capture) priorKeys(ctx context.Context, t *table) (map[string]bool, error) {
	tr := c.cfg.Transport
	ends, err := tr.EndOffsets(ctx, t.topic)
	if err != nil {
		return nil, err
	}
	starts, err := tr.StartOffsets(ctx, t.topic)
	if err != nil {
		return nil, err
	}
	empty := true
	for p, end := range ends {
		if end > starts[p] {
			empty = false
		}
	}
	if empty {
		return nil, nil
	}
	keys := map[string]bool{}
	err = readAll(ctx, tr, t.topic, func(r *transport.Record) {
		if r.Key == nil {
			return
		}
		if r.Value == nil {
			delete(keys, string(r.Key))
		} else {
			keys[string(r.Key)] = true
		}
	})
	if err != nil {
		return nil, fmt.Errorf("cdc: reading %s before its snapshot: %w", t.topic, err)
	}
	c.log.Info("cdc: the topic holds rows of an earlier attempt; keys no longer in the table will be deleted",
		"topic", t.topic, "keys", len(keys))
	return keys, nil
}

// snapshotWriter receives COPY's text-format data and writes a change
// ('r') per row.
type snapshotWriter struct {
	c        *Capture
	ctx      context.Context
	t        *table
	enc      *encoder
	w        *writer
	prior    map[string]bool // keys to delete unless the snapshot has them
	now      time.Time
	partial  []byte // the start of a row split across writes
	fields   [][]byte
	nulls    []bool
	buf      []byte
	row      []field
	mem      arena
	b        *batch
	rows     int64
	seq      uint64
	lastLog  time.Time
	estimate int64
	epoch    uint64 // the slot's incarnation, in every position
}

func (s *snapshotWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(s.partial) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.partial = append(s.partial, p...)
			return n, nil
		}
		s.partial = append(s.partial, p[:i]...)
		if err := s.row1(s.partial); err != nil {
			return 0, err
		}
		s.partial = s.partial[:0]
		p = p[i+1:]
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.partial = append(s.partial, p...)
			break
		}
		if err := s.row1(p[:i]); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

func (s *snapshotWriter) row1(line []byte) error {
	var err error
	s.fields, s.nulls, s.buf, err = pgvalue.SplitCopyRow(line, s.fields[:0], s.nulls[:0], s.buf[:0])
	if err != nil {
		return err
	}
	if len(s.fields) != len(s.t.columns) {
		return fmt.Errorf("COPY row of %d fields for %d columns", len(s.fields), len(s.t.columns))
	}
	s.row = s.row[:0]
	for i, f := range s.fields {
		if s.nulls[i] {
			s.row = append(s.row, field{kind: 'n'})
		} else {
			s.row = append(s.row, field{kind: 't', data: f})
		}
	}
	key, keyed, err := s.enc.appendKey(s.mem.start(64), s.t, s.row)
	if err != nil {
		return err
	}
	key = s.mem.finish(key)
	if !keyed {
		key = nil
	} else if s.prior != nil {
		delete(s.prior, string(key))
	}
	// The envelope: the row's text, column names, quoting, the source block.
	value, err := s.enc.appendValue(s.mem.start(len(line)+32*len(s.row)+512), &event{op: 'r', table: s.t, after: s.row, snapshot: true, commitTime: s.now}, s.now)
	if err != nil {
		return err
	}
	value = s.mem.finish(value)
	s.rows++
	return s.add(key, value)
}

func (s *snapshotWriter) add(key, value []byte) error {
	s.seq++
	var part int32
	if key != nil && s.t.partitions > 1 {
		part = record.PartitionForKey(key, s.t.partitions)
	}
	s.b.add(&transport.Record{Topic: s.t.topic, Partition: part, Key: key, Value: value, Timestamp: s.now,
		Headers: []transport.Header{{Key: positionHeader, Value: position{s.epoch, 0, s.seq}.appendTo(nil)}}})
	if len(s.b.recs) >= s.c.cfg.BatchRecords || s.b.bytes >= 4<<20 {
		return s.flush()
	}
	return nil
}

func (s *snapshotWriter) flush() error {
	if len(s.b.recs) == 0 {
		return nil
	}
	if err := s.w.submit(s.ctx, s.b); err != nil {
		return err
	}
	s.b = &batch{recs: make([]*transport.Record, 0, len(s.b.recs))}
	rows := s.rows
	s.c.update(func(st *Status) { st.SnapshotRows = rows })
	if time.Since(s.lastLog) >= 10*time.Second {
		s.lastLog = time.Now()
		s.c.log.Info("cdc: snapshot progress", "table", s.t.String(), "rows", rows, "estimated_rows", s.estimate)
	}
	return nil
}

// finish deletes the prior keys the table no longer has and flushes.
func (s *snapshotWriter) finish() error {
	if len(s.partial) > 0 {
		return fmt.Errorf("COPY data ends inside a row")
	}
	for key := range s.prior {
		value, err := s.enc.appendDeleteOfKey(nil, s.t, []byte(key), s.now)
		if err != nil {
			return err
		}
		if err := s.add([]byte(key), value); err != nil {
			return err
		}
		if err := s.add([]byte(key), nil); err != nil {
			return err
		}
	}
	return s.flush()
}
