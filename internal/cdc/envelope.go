package cdc

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tide-data/tide/internal/cdc/pgvalue"
	"github.com/tide-data/tide/internal/format"
)

// field is one column's value in a row: kind 'n' NULL, 'u' unchanged
// TOAST value (not sent), 't' text; pgoutput's TupleDataColumn kinds.
type field struct {
	kind byte
	data []byte
}

// event is one change to encode.
type event struct {
	op            byte // 'r' read (snapshot), 'c', 'u', 'd', 't' truncate
	table         *table
	before, after []field // nil: JSON null
	beforeJSON    []byte  // when set, the before image as JSON (a key object)
	lsn           uint64  // the change's own WAL position
	commitLSN     uint64  // its transaction's commit
	prevCommitLSN uint64  // the commit before it, for source.sequence
	xid           uint32
	commitTime    time.Time
	snapshot      bool
	txn           *txnOrder // with transaction metadata on
}

// txnOrder places a change in its transaction, for Debezium's
// "transaction" block.
type txnOrder struct {
	id              string // "<txId>:<commit LSN>"
	total           int64  // the change's order in the transaction, from 1
	collectionOrder int64  // its order among the changes of its table
}

// encoder writes Debezium envelopes for one source.
type encoder struct {
	reg  *pgvalue.Registry
	name string // source.name: the topic prefix, as Debezium's topic.prefix
	db   string
}

// appendKey appends the key object of row ({"id": 1}); ok is false when
// the table has no key (its records are unkeyed).
func (e *encoder) appendKey(dst []byte, t *table, row []field) (_ []byte, ok bool, err error) {
	if len(t.key) == 0 || row == nil {
		return dst, false, nil
	}
	dst = append(dst, '{')
	for n, i := range t.key {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = format.AppendJSONString(dst, t.columns[i].name)
		dst = append(dst, ':')
		if i >= len(row) {
			dst = append(dst, "null"...)
			continue
		}
		if dst, err = e.appendField(dst, t.columns[i].typ, row[i]); err != nil {
			return dst, false, fmt.Errorf("key column %s: %w", t.columns[i].name, err)
		}
	}
	return append(dst, '}'), true, nil
}

// appendRow appends a row as an object of its columns, or null.
func (e *encoder) appendRow(dst []byte, t *table, row []field) ([]byte, error) {
	if row == nil {
		return append(dst, "null"...), nil
	}
	if len(row) != len(t.columns) {
		return dst, fmt.Errorf("table %s: a row of %d columns, %d known", t.TableName, len(row), len(t.columns))
	}
	dst = append(dst, '{')
	for i, c := range t.columns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = format.AppendJSONString(dst, c.name)
		dst = append(dst, ':')
		var err error
		if dst, err = e.appendField(dst, c.typ, row[i]); err != nil {
			return dst, fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	return append(dst, '}'), nil
}

func (e *encoder) appendField(dst []byte, typ uint32, f field) ([]byte, error) {
	switch f.kind {
	case 'n':
		return append(dst, "null"...), nil
	case 'u':
		return format.AppendJSONString(dst, pgvalue.Unavailable), nil
	case 't':
		return e.reg.AppendJSON(dst, typ, f.data)
	}
	return dst, fmt.Errorf("value of kind %q (binary values are not requested)", f.kind)
}

// appendValue appends the envelope of ev, stamped now.
func (e *encoder) appendValue(dst []byte, ev *event, now time.Time) ([]byte, error) {
	var err error
	dst = append(dst, `{"before":`...)
	if ev.beforeJSON != nil {
		dst = append(dst, ev.beforeJSON...)
	} else if dst, err = e.appendRow(dst, ev.table, ev.before); err != nil {
		return dst, err
	}
	dst = append(dst, `,"after":`...)
	if dst, err = e.appendRow(dst, ev.table, ev.after); err != nil {
		return dst, err
	}
	dst = append(dst, `,"source":{"version":"tide","connector":"postgresql","name":`...)
	dst = format.AppendJSONString(dst, e.name)
	dst = append(dst, `,"ts_ms":`...)
	dst = strconv.AppendInt(dst, ev.commitTime.UnixMilli(), 10)
	if ev.snapshot {
		dst = append(dst, `,"snapshot":"true"`...)
	} else {
		dst = append(dst, `,"snapshot":"false"`...)
	}
	dst = append(dst, `,"db":`...)
	dst = format.AppendJSONString(dst, e.db)
	dst = append(dst, `,"sequence":"[`...)
	if ev.snapshot {
		dst = append(dst, `null,`...)
	} else {
		dst = append(dst, `\"`...)
		dst = strconv.AppendUint(dst, ev.prevCommitLSN, 10)
		dst = append(dst, `\",`...)
	}
	dst = append(dst, `\"`...)
	dst = strconv.AppendUint(dst, ev.lsn, 10)
	dst = append(dst, `\"]","schema":`...)
	dst = format.AppendJSONString(dst, ev.table.Schema)
	dst = append(dst, `,"table":`...)
	dst = format.AppendJSONString(dst, ev.table.Name)
	dst = append(dst, `,"txId":`...)
	if ev.xid == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendUint(dst, uint64(ev.xid), 10)
	}
	dst = append(dst, `,"lsn":`...)
	dst = strconv.AppendUint(dst, ev.lsn, 10)
	dst = append(dst, `,"xmin":null},"op":"`...)
	dst = append(dst, ev.op)
	dst = append(dst, `","ts_ms":`...)
	dst = strconv.AppendInt(dst, now.UnixMilli(), 10)
	if t := ev.txn; t != nil {
		dst = append(dst, `,"transaction":{"id":`...)
		dst = format.AppendJSONString(dst, t.id)
		dst = append(dst, `,"total_order":`...)
		dst = strconv.AppendInt(dst, t.total, 10)
		dst = append(dst, `,"data_collection_order":`...)
		dst = strconv.AppendInt(dst, t.collectionOrder, 10)
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

// appendTxnEvent appends a transaction metadata event: BEGIN (counts nil)
// or END with the number of changes per table.
func appendTxnEvent(dst []byte, status, id string, counts map[string]int64, order []string, ts time.Time) []byte {
	dst = append(dst, `{"status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","id":`...)
	dst = format.AppendJSONString(dst, id)
	if counts == nil {
		dst = append(dst, `,"event_count":null,"data_collections":null`...)
	} else {
		var total int64
		for _, n := range counts {
			total += n
		}
		dst = append(dst, `,"event_count":`...)
		dst = strconv.AppendInt(dst, total, 10)
		dst = append(dst, `,"data_collections":[`...)
		for i, c := range order {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"data_collection":`...)
			dst = format.AppendJSONString(dst, c)
			dst = append(dst, `,"event_count":`...)
			dst = strconv.AppendInt(dst, counts[c], 10)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"ts_ms":`...)
	dst = strconv.AppendInt(dst, ts.UnixMilli(), 10)
	return append(dst, '}')
}

// appendDeleteOfKey appends a snapshot's delete of a key that an earlier
// snapshot attempt wrote and the table no longer has: before holds the
// key columns only, as for a delete under REPLICA IDENTITY DEFAULT.
func (e *encoder) appendDeleteOfKey(dst []byte, t *table, key []byte, now time.Time) ([]byte, error) {
	return e.appendValue(dst, &event{op: 'd', table: t, beforeJSON: key, snapshot: true, commitTime: now}, now)
}

// position orders the records of one incarnation of a slot (its epoch,
// counted in the source's state: each new slot starts a new one, so
// positions of a lost slot, or of another server whose LSNs differ, are
// never compared with the current ones): a transaction's commit LSN, then
// the record's index in it. Snapshot records have commit 0.
type position struct {
	epoch  uint64
	commit uint64
	seq    uint64
}

func (p position) less(q position) bool {
	return p.commit < q.commit || p.commit == q.commit && p.seq < q.seq
}

// positionHeader is the record header carrying a change's position.
const positionHeader = "tide.cdc.position"

func (p position) appendTo(dst []byte) []byte {
	dst = strconv.AppendUint(dst, p.epoch, 10)
	dst = append(dst, '/')
	dst = strconv.AppendUint(dst, p.commit, 10)
	dst = append(dst, '/')
	return strconv.AppendUint(dst, p.seq, 10)
}

func parsePosition(b []byte) (position, error) {
	parts := strings.Split(string(b), "/")
	var n [3]uint64
	if len(parts) != 3 {
		return position{}, fmt.Errorf("cdc: malformed %s header %q", positionHeader, b)
	}
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return position{}, fmt.Errorf("cdc: malformed %s header %q", positionHeader, b)
		}
		n[i] = v
	}
	return position{epoch: n[0], commit: n[1], seq: n[2]}, nil
}
