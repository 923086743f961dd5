package cdc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tide-data/tide/internal/record"
	"github.com/tide-data/tide/internal/transport"
)

const (
	// statusInterval is how often the slot hears our position unasked.
	statusInterval = time.Second
	// linger is how long committed changes wait for more before they are
	// written: small against the fsync they share.
	linger = 2 * time.Millisecond
)

// streamer turns the slot's pgoutput messages into records.
type streamer struct {
	c       *Capture
	conn    *pgx.Conn // for type lookups when a relation changes
	enc     *encoder
	tables  map[uint32]*table
	skipped map[uint32]bool // relations outside the source, warned about once
	last    map[transport.TopicPartition]position
	w       *writer
	b       *batch
	flushAt time.Time // when the current batch must be written; zero if empty
	// submitted is the highest acknowledgeable position handed to w.
	submitted uint64
	epoch     uint64 // the slot's incarnation

	// The transaction being received.
	inTxn      bool
	xid        uint32
	commit     uint64
	prevCommit uint64
	commitTime time.Time
	seq        uint64
	row        []field
	mem        arena
	// With transaction metadata: the changes so far per table ("schema.table")
	// in order of first appearance.
	txnCounts map[string]int64
	txnOrder  []string
	txnTopic  string // "" when off
}

func (c *Capture) stream(ctx context.Context, conn *pgx.Conn, repl *pgconn.PgConn, tables []*table, enc *encoder, start pglogrepl.LSN, epoch uint64) error {
	s := &streamer{c: c, conn: conn, enc: enc, tables: map[uint32]*table{}, skipped: map[uint32]bool{},
		last: map[transport.TopicPartition]position{}, b: &batch{}, txnCounts: map[string]int64{}, epoch: epoch}
	topics := make([]string, 0, len(tables)+1)
	for _, t := range tables {
		s.tables[t.oid] = t
		topics = append(topics, t.topic)
	}
	if c.cfg.TransactionMetadata {
		s.txnTopic = TransactionTopic(c.cfg.TopicPrefix)
		topics = append(topics, s.txnTopic)
	}
	for _, topic := range topics {
		last, err := lastPositions(ctx, c.cfg.Transport, topic, epoch, c.log)
		if err != nil {
			return err
		}
		for p, pos := range last {
			s.last[transport.TopicPartition{Topic: topic, Partition: p}] = pos
		}
	}
	err := pglogrepl.StartReplication(ctx, repl, c.cfg.Slot, start, pglogrepl.StartReplicationOptions{
		// publication_names is a list of identifiers: quoted, a mixed-case name keeps its case.
		PluginArgs: []string{"proto_version '1'", "publication_names " + quoteLiteral(quoteIdent(c.cfg.Publication)), "messages 'true'"},
	})
	if err != nil {
		return explain(fmt.Errorf("cdc: starting replication from slot %s: %w", c.cfg.Slot, err))
	}
	c.log.Info("cdc: streaming", "slot", c.cfg.Slot, "from", start.String())
	c.update(func(st *Status) { st.State, st.Err, st.FlushLSN = "streaming", "", start.String() })

	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if c.cfg.Heartbeat > 0 {
		go c.heartbeat(streamCtx)
	}
	s.w = newWriter(streamCtx, c.cfg.Transport, uint64(start))
	c.lag.streaming(&s.w.durable)
	err = s.receive(streamCtx, repl)
	cancel()
	err = errors.Join(err, s.w.close())
	c.lag.stopped(time.Now())
	return err
}

func (s *streamer) receive(ctx context.Context, repl *pgconn.PgConn) error {
	var (
		lastStatus time.Time // when the slot last heard our position
		replyNow   bool      // the server asked for it
		acked      uint64    // the position it heard
	)
	for {
		if err := s.w.failed(); err != nil {
			// Noticed at once, not at the next change: until the capture
			// restarts, the failed changes wait, and a PostgreSQL shutdown
			// waits for their confirmation.
			return fmt.Errorf("cdc: writing changes: %w", err)
		}
		now := time.Now()
		if !s.flushAt.IsZero() && !now.Before(s.flushAt) || len(s.b.recs) >= s.c.cfg.BatchRecords || s.b.bytes >= 4<<20 {
			if err := s.flush(ctx); err != nil {
				return err
			}
		}
		durable := s.w.durable.Load()
		// A new durable position is reported within 100 ms; otherwise
		// once a second, or when the server asks.
		nextStatus := lastStatus.Add(statusInterval)
		if durable != acked {
			nextStatus = lastStatus.Add(100 * time.Millisecond)
		}
		if replyNow || !now.Before(nextStatus) {
			lsn := pglogrepl.LSN(durable)
			err := pglogrepl.SendStandbyStatusUpdate(ctx, repl, pglogrepl.StandbyStatusUpdate{
				WALWritePosition: lsn, WALFlushPosition: lsn, WALApplyPosition: lsn, ClientTime: now})
			if err != nil {
				return fmt.Errorf("cdc: acknowledging %s: %w", lsn, err)
			}
			acked, lastStatus, replyNow = durable, now, false
			s.c.update(func(st *Status) { st.FlushLSN = lsn.String(); st.Changes = s.w.records.Load() })
			nextStatus = now.Add(statusInterval)
		}
		if soon := now.Add(100 * time.Millisecond); (s.submitted > durable || durable != acked) && soon.Before(nextStatus) {
			// Batches in flight: look again soon to report them.
			nextStatus = soon
		}
		deadline := nextStatus
		if !s.flushAt.IsZero() && s.flushAt.Before(deadline) {
			deadline = s.flushAt
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		raw, err := repl.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil //nolint:nilerr // stopped, not failed
			}
			if pgconn.Timeout(err) {
				continue
			}
			return fmt.Errorf("cdc: receiving from slot %s: %w", s.c.cfg.Slot, err)
		}
		switch msg := raw.(type) {
		case *pgproto3.ErrorResponse:
			return explain(fmt.Errorf("cdc: slot %s: %w", s.c.cfg.Slot, pgconn.ErrorResponseToPgError(msg)))
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				continue
			}
			switch msg.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("cdc: keepalive: %w", err)
				}
				replyNow = replyNow || ka.ReplyRequested
				if !s.inTxn && len(s.b.recs) == 0 && s.b.ack == 0 && s.submitted <= s.w.durable.Load() {
					// Everything received is durable and no transaction is
					// open: the server's position can be confirmed. The
					// transactions that commit later commit after it.
					// Without this a quiet slot never confirms the end of
					// the WAL, and PostgreSQL's shutdown waits for it.
					s.w.advance(uint64(ka.ServerWALEnd))
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("cdc: XLogData: %w", err)
				}
				if err := s.handle(ctx, xld); err != nil {
					return err
				}
			}
		}
	}
}

// flush hands the batch to the writer.
func (s *streamer) flush(ctx context.Context) error {
	s.flushAt = time.Time{}
	if len(s.b.recs) == 0 && s.b.ack == 0 {
		return nil
	}
	if err := s.w.submit(ctx, s.b); err != nil {
		return fmt.Errorf("cdc: writing changes: %w", err)
	}
	s.submitted = max(s.submitted, s.b.ack)
	s.c.lag.submitted(s.b.ack, s.inTxn, s.commitTime)
	s.b = &batch{recs: make([]*transport.Record, 0, len(s.b.recs))}
	return nil
}

// due asks for the batch to be written within linger.
func (s *streamer) due() {
	if s.flushAt.IsZero() {
		s.flushAt = time.Now().Add(linger)
	}
}

func (s *streamer) handle(ctx context.Context, xld pglogrepl.XLogData) error {
	m, err := pglogrepl.Parse(xld.WALData)
	if err != nil {
		return fmt.Errorf("cdc: decoding pgoutput at %s: %w", xld.WALStart, err)
	}
	lsn := uint64(xld.WALStart)
	switch m := m.(type) {
	case *pglogrepl.RelationMessage:
		return s.relation(ctx, m)
	case *pglogrepl.BeginMessage:
		s.inTxn, s.xid, s.commit, s.commitTime, s.seq = true, m.Xid, uint64(m.FinalLSN), m.CommitTime, 0
		s.c.lag.begin(m.CommitTime)
		// Positions do not depend on options: BEGIN takes its index whether
		// it is written or not, so a restart with other options compares
		// like with like.
		if s.txnTopic != "" {
			clear(s.txnCounts)
			s.txnOrder = s.txnOrder[:0]
			s.addTo(s.txnTopic, 0, nil, appendTxnEvent(nil, "BEGIN", s.txnID(), nil, nil, s.commitTime))
		} else {
			s.seq++
		}
	case *pglogrepl.CommitMessage:
		s.inTxn = false
		if s.txnTopic != "" {
			s.addTo(s.txnTopic, 0, nil, appendTxnEvent(nil, "END", s.txnID(), s.txnCounts, s.txnOrder, s.commitTime))
		} else {
			s.seq++
		}
		s.prevCommit = s.commit
		s.b.ack = uint64(m.TransactionEndLSN)
		s.c.update(func(st *Status) { st.LastCommit = s.commitTime })
		s.due()
	case *pglogrepl.InsertMessage:
		t := s.table(m.RelationID)
		if t == nil {
			return nil
		}
		after := s.fields(m.Tuple)
		return s.emit(t, 'c', lsn, nil, after, after)
	case *pglogrepl.UpdateMessage:
		t := s.table(m.RelationID)
		if t == nil {
			return nil
		}
		after := s.fields(m.NewTuple)
		var before []field
		if m.OldTuple != nil {
			before = s.fieldsCopy(m.OldTuple)
			// A key column TOASTed and unchanged is not sent in the new row
			// ('u'); the old row has it.
			for _, i := range t.key {
				if i < len(after) && i < len(before) && after[i].kind == 'u' && before[i].kind == 't' {
					after[i] = before[i]
				}
			}
			if !s.sameKey(t, before, after) {
				// The key changed: as Debezium, a delete of the old key
				// (and its tombstone) and a create of the new one.
				if err := s.emit(t, 'd', lsn, before, nil, before); err != nil {
					return err
				}
				return s.emit(t, 'c', lsn, nil, after, after)
			}
			if m.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey {
				before = nil // only the key columns: Debezium leaves before empty
			}
		}
		return s.emit(t, 'u', lsn, before, after, after)
	case *pglogrepl.DeleteMessage:
		t := s.table(m.RelationID)
		if t == nil {
			return nil
		}
		before := s.fields(m.OldTuple)
		return s.emit(t, 'd', lsn, before, nil, before)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if t := s.table(id); t != nil {
				if err := s.truncate(t, lsn); err != nil {
					return err
				}
			}
		}
	case *pglogrepl.LogicalDecodingMessage:
		if !m.Transactional && !s.inTxn {
			// A heartbeat: every commit before it has been received, so
			// its position is acknowledgeable once the batch is durable.
			s.b.ack = max(s.b.ack, uint64(m.LSN))
			s.due()
		}
	}
	return nil
}

func (s *streamer) table(id uint32) *table {
	t := s.tables[id]
	if t == nil && !s.skipped[id] {
		s.skipped[id] = true
		s.c.log.Warn("cdc: ignoring changes of a relation the source does not capture (the publication publishes more tables)", "relation_id", id)
	}
	return t
}

// relation follows a table's description, sent before its first change
// and again after each schema change (ALTER TABLE ADD/DROP COLUMN).
func (s *streamer) relation(ctx context.Context, m *pglogrepl.RelationMessage) error {
	t := s.tables[m.RelationID]
	if t == nil {
		return nil
	}
	cols := make([]column, len(m.Columns))
	oids := make([]uint32, len(m.Columns))
	flagged := make([]bool, len(m.Columns))
	for i, c := range m.Columns {
		cols[i] = column{name: c.Name, typ: c.DataType}
		oids[i] = c.DataType
		flagged[i] = c.Flags&1 != 0 // part of the replica identity
	}
	if err := s.c.reg.Resolve(ctx, s.conn, oids...); err != nil {
		return fmt.Errorf("cdc: column types of %s: %w", t.TableName, err)
	}
	// The key may have changed too (a key column renamed, a new primary
	// key, another replica identity).
	keyNames, identity, err := describeKey(ctx, s.conn, t.oid, t.TableName)
	if err != nil {
		return err
	}
	t.identity = identity
	t.keyNames = relationKey(identity, keyNames, cols, flagged)
	if len(t.columns) > 0 && !sameColumns(t.columns, cols) {
		s.c.log.Info("cdc: table schema changed", "table", t.String(), "columns", len(cols), "key", t.keyNames)
	}
	t.setColumns(cols)
	return nil
}

func sameColumns(a, b []column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// fields views a tuple's columns as fields; valid until the next call.
func (s *streamer) fields(tuple *pglogrepl.TupleData) []field {
	if tuple == nil {
		return nil
	}
	s.row = s.row[:0]
	for _, c := range tuple.Columns {
		s.row = append(s.row, field{kind: c.DataType, data: c.Data})
	}
	return s.row
}

// fieldsCopy is fields into a slice of its own (an update's old tuple,
// used beside the new one).
func (s *streamer) fieldsCopy(tuple *pglogrepl.TupleData) []field {
	out := make([]field, len(tuple.Columns))
	for i, c := range tuple.Columns {
		out[i] = field{kind: c.DataType, data: c.Data}
	}
	return out
}

func (s *streamer) sameKey(t *table, a, b []field) bool {
	for _, i := range t.key {
		if i >= len(a) || i >= len(b) {
			return false
		}
		if b[i].kind == 'u' {
			continue // an unchanged TOASTed key column
		}
		if a[i].kind != b[i].kind || string(a[i].data) != string(b[i].data) {
			return false
		}
	}
	return true
}

// emit writes a change of t (and a tombstone after a delete), keyed by
// the key columns of keyRow, unless a run before a crash wrote it.
func (s *streamer) emit(t *table, op byte, lsn uint64, before, after, keyRow []field) error {
	if strings.IndexByte(s.c.cfg.SkippedOperations, op) >= 0 {
		s.seq += 2 // the change and a tombstone's indexes: positions do not depend on options
		return nil
	}
	key, keyed, err := s.enc.appendKey(s.mem.start(64), t, keyRow)
	if err != nil {
		return fmt.Errorf("cdc: %s: %w", t.TableName, err)
	}
	key = s.mem.finish(key)
	if !keyed {
		key = nil
	}
	var part int32
	if key != nil && t.partitions > 1 {
		part = record.PartitionForKey(key, t.partitions)
	}
	now := time.Now()
	ev := event{op: op, table: t, before: before, after: after, lsn: lsn, commitLSN: s.commit, prevCommitLSN: s.prevCommit,
		xid: s.xid, commitTime: s.commitTime}
	if s.txnTopic != "" {
		ev.txn = s.countInTxn(t)
	}
	value, err := s.enc.appendValue(s.mem.start(1024), &ev, now)
	if err != nil {
		return fmt.Errorf("cdc: %s: %w", t.TableName, err)
	}
	value = s.mem.finish(value)
	s.add(t, part, key, value)
	if op == 'd' && key != nil && !s.c.cfg.NoTombstones {
		s.add(t, part, key, nil)
	} else {
		s.seq++
	}
	return nil
}

func (s *streamer) add(t *table, part int32, key, value []byte) { s.addTo(t.topic, part, key, value) }

// addTo adds a record at the next position of the transaction, unless a
// run before a crash wrote it.
func (s *streamer) addTo(topic string, part int32, key, value []byte) {
	pos := position{s.epoch, s.commit, s.seq}
	s.seq++
	tp := transport.TopicPartition{Topic: topic, Partition: part}
	if last, ok := s.last[tp]; ok && !last.less(pos) {
		return // written before a restart
	}
	s.b.add(&transport.Record{Topic: topic, Partition: part, Key: key, Value: value, Timestamp: s.commitTime,
		Headers: []transport.Header{{Key: positionHeader, Value: pos.appendTo(nil)}}})
}

// txnID is Debezium's transaction id for Postgres: "<txId>:<commit LSN>".
func (s *streamer) txnID() string {
	return strconv.FormatUint(uint64(s.xid), 10) + ":" + strconv.FormatUint(s.commit, 10)
}

// countInTxn counts a change of t in the transaction and returns its order.
func (s *streamer) countInTxn(t *table) *txnOrder {
	name := t.String()
	if _, ok := s.txnCounts[name]; !ok {
		s.txnOrder = append(s.txnOrder, name)
	}
	s.txnCounts[name]++
	var total int64
	for _, n := range s.txnCounts {
		total += n
	}
	return &txnOrder{id: s.txnID(), total: total, collectionOrder: s.txnCounts[name]}
}

// truncate writes a 't' event to every partition of t's topic, so each
// partition's readers see it in order with that partition's changes.
func (s *streamer) truncate(t *table, lsn uint64) error {
	if strings.IndexByte(s.c.cfg.SkippedOperations, 't') >= 0 {
		s.seq += uint64(t.partitions)
		return nil
	}
	ev := event{op: 't', table: t, lsn: lsn, commitLSN: s.commit, prevCommitLSN: s.prevCommit, xid: s.xid, commitTime: s.commitTime}
	value, err := s.enc.appendValue(nil, &ev, time.Now())
	if err != nil {
		return err
	}
	for p := range t.partitions {
		s.add(t, p, nil, value)
	}
	return nil
}

// heartbeat writes a logical message to the WAL every interval, so the
// slot advances (and Postgres may recycle WAL) even when no captured
// table changes while others do.
func (c *Capture) heartbeat(ctx context.Context) {
	tick := time.NewTicker(c.cfg.Heartbeat)
	defer tick.Stop()
	var (
		conn    *pgx.Conn
		failing bool // warned already: later failures are logged at debug level
	)
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	warn := func(msg string, err error) {
		if failing {
			c.log.Debug(msg, "err", err)
		} else {
			c.log.Warn(msg+" (repeats are logged at debug level)", "err", err)
		}
		failing = true
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if conn == nil {
			var err error
			if conn, err = connect(ctx, c.cfg.DSN); err != nil {
				warn("cdc: heartbeat connection", err)
				continue
			}
		}
		if _, err := conn.Exec(ctx, `SELECT pg_logical_emit_message(false, 'tide_heartbeat', '')`); err != nil {
			if ctx.Err() == nil {
				warn("cdc: heartbeat", err)
			}
			_ = conn.Close(context.Background())
			conn = nil
			continue
		}
		failing = false
	}
}
