package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/tide-data/tide/internal/vfs"
)

// The aborted-transaction index.
//
// Every segment whose batches include abort markers has a .txnindex file
// listing, in marker order, the transactions those markers aborted. The
// entry belongs to the segment holding the marker, so retention deletes it
// with the data it describes (a transaction's data always precedes its
// marker), and a sealed segment's list never changes except when
// compaction rewrites the segment. The layout, Kafka's, is drawn in doc.go.
// An entry's "last stable offset" is the LSO once the marker was written,
// not counting transactions still waiting for durability: no transaction
// aborted later starts before it, which lets a search stop early.
//
// We chose Kafka's per-segment files over one file per partition because
// they fit how this log already keeps state: a sealed segment's files are
// written once when it rolls and deleted with it, so nothing is ever
// rewritten to drop old entries, and the active segment's list lives in
// memory and reaches its file when the segment rolls or the log closes
// cleanly. After a crash the active segment's entries are rebuilt from its
// markers (producers.go, replay).

const txnIndexEntrySize = 34

// AbortedTxn is a transaction that an abort marker ended: a read_committed
// reader drops the records of ProducerID's transactional batches from
// FirstOffset up to LastOffset, the offset of the marker itself.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}

type abortedEntry struct {
	AbortedTxn
	lastStable int64
}

func encodeTxnIndex(entries []abortedEntry) []byte {
	b := make([]byte, 0, len(entries)*txnIndexEntrySize)
	for _, e := range entries {
		b = binary.BigEndian.AppendUint16(b, 0)
		b = binary.BigEndian.AppendUint64(b, uint64(e.ProducerID))
		b = binary.BigEndian.AppendUint64(b, uint64(e.FirstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(e.LastOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastStable))
	}
	return b
}

// decodeTxnIndex parses a .txnindex file of the segment [base, end):
// markers inside it and ascending, each after its transaction's start.
func decodeTxnIndex(b []byte, base, end int64) ([]abortedEntry, error) {
	if len(b)%txnIndexEntrySize != 0 {
		return nil, fmt.Errorf("%w: size %d is not a multiple of %d", errIndexInconsistent, len(b), txnIndexEntrySize)
	}
	entries := make([]abortedEntry, 0, len(b)/txnIndexEntrySize)
	for ; len(b) > 0; b = b[txnIndexEntrySize:] {
		if v := binary.BigEndian.Uint16(b); v != 0 {
			return nil, fmt.Errorf("%w: entry version %d", errIndexInconsistent, v)
		}
		e := abortedEntry{
			AbortedTxn: AbortedTxn{
				ProducerID:  int64(binary.BigEndian.Uint64(b[2:])),
				FirstOffset: int64(binary.BigEndian.Uint64(b[10:])),
				LastOffset:  int64(binary.BigEndian.Uint64(b[18:])),
			},
			lastStable: int64(binary.BigEndian.Uint64(b[26:])),
		}
		switch n := len(entries); {
		case e.LastOffset < base || e.LastOffset >= end:
			return nil, fmt.Errorf("%w: marker offset %d outside the segment [%d, %d)", errIndexInconsistent, e.LastOffset, base, end)
		case e.ProducerID < 0 || e.FirstOffset < 0 || e.FirstOffset > e.LastOffset || e.lastStable > e.LastOffset+1:
			return nil, fmt.Errorf("%w: entry %+v", errIndexInconsistent, e)
		case n > 0 && e.LastOffset <= entries[n-1].LastOffset:
			return nil, fmt.Errorf("%w: entries out of order", errIndexInconsistent)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// loadTxnIndex reads seg's .txnindex. A missing file is an empty list. The
// active segment's entries past its recovered end (a cut tail) are
// dropped; anything else wrong returns errIndexInconsistent.
func (l *Log) loadTxnIndex(seg *segment, active bool) error {
	b, err := l.fs.ReadFile(seg.txnIndexPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	end := seg.nextOffset
	if active {
		end = 1<<63 - 1
	}
	entries, err := decodeTxnIndex(b, seg.base, end)
	if err != nil {
		return err
	}
	n := len(entries)
	for n > 0 && entries[n-1].LastOffset >= seg.nextOffset {
		n--
	}
	seg.aborted = entries[:n:n]
	seg.abortedPersisted = len(entries)
	if n != len(entries) {
		seg.abortedPersisted = -1
	}
	return nil
}

// persistAborted writes seg's .txnindex if its list changed since the
// file was written, or removes the file when the list is empty.
func (l *Log) persistAborted(seg *segment) error {
	if seg.abortedPersisted == len(seg.aborted) {
		return nil
	}
	if len(seg.aborted) == 0 {
		if err := l.fs.Remove(seg.txnIndexPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	} else if err := vfs.WriteFileAtomic(l.fs, seg.txnIndexPath, encodeTxnIndex(seg.aborted)); err != nil {
		return err
	}
	seg.abortedPersisted = len(seg.aborted)
	return nil
}

// appendAborted appends to dst the transactions of entries (one segment's,
// in marker order) that overlap [from, to). done says no later segment
// can hold one: an entry's lastStable bounds where every transaction
// aborted after it starts.
func appendAborted(dst []AbortedTxn, entries []abortedEntry, from, to int64) ([]AbortedTxn, bool) {
	for _, e := range entries {
		if e.LastOffset >= from && e.FirstOffset < to {
			dst = append(dst, e.AbortedTxn)
		}
		if e.lastStable >= to {
			return dst, true
		}
	}
	return dst, false
}

// abortedLookup answers whether a transactional batch belongs to one of a
// set of aborted transactions.
type abortedLookup map[int64][]AbortedTxn

func newAbortedLookup(aborted []AbortedTxn) abortedLookup {
	if len(aborted) == 0 {
		return nil
	}
	m := make(abortedLookup)
	for _, a := range aborted {
		m[a.ProducerID] = append(m[a.ProducerID], a) // marker order, so sorted both ways
	}
	return m
}

// aborted reports whether producer's batch at base lies in an aborted
// transaction. A producer's transactions in a partition never overlap, so
// the one whose marker is the first at or after base is the only candidate.
func (m abortedLookup) aborted(producer, base int64) bool {
	txns := m[producer]
	lo, hi := 0, len(txns)
	for lo < hi {
		mid := (lo + hi) / 2
		if txns[mid].LastOffset < base {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(txns) && txns[lo].FirstOffset <= base
}
