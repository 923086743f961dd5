package log

import (
	"context"

	"github.com/tide-data/tide/internal/record"
)

// Reads at isolation level read_committed.
//
// ReadStable is for the Kafka listener, whose clients filter for
// themselves: the batches as stored, up to the LSO, and the aborted
// transactions among them. ReadCommitted is for in-process readers: it
// does the filtering, so what it returns is exactly the committed data.

// ReadStable is ReadInto bounded by the last stable offset instead of the
// high watermark (Fetch with isolation_level=1): batches at or after the
// LSO are not returned, and a read at or past the LSO (up to the high
// watermark) returns no batches rather than an error. The batches are as
// stored, control batches and aborted transactions included; Aborted lists
// the aborted transactions overlapping [offset, NextOffset), from the
// same snapshot as the batches.
func (p *Partition) ReadStable(buf []byte, offset int64, maxBytes int) (ReadResult, error) {
	res, v, err := p.read(buf, offset, maxBytes, true)
	if err != nil || len(res.Batches) == 0 {
		return res, err
	}
	for _, sv := range v.segments {
		var done bool
		if res.Aborted, done = appendAborted(res.Aborted, sv.aborted, offset, res.NextOffset); done {
			break
		}
	}
	return res, nil
}

// ReadCommitted returns the committed data from offset on: ReadStable
// with the control batches and the batches of aborted transactions taken
// out, in place, so Batches holds whole data batches only (the first may
// begin before offset, as with Read) and Aborted is nil. When everything
// a read found was taken out it reads on, so an empty result means the
// reader has reached the LSO. Either way the next read starts at
// NextOffset, and a reader with an empty result waits there with
// WaitStable:
//
//	for {
//		res, err := p.ReadCommitted(buf, offset, maxBytes)
//		if err != nil { ... }
//		deliver(res.Batches) // records before offset dropped
//		offset = res.NextOffset
//		if len(res.Batches) == 0 {
//			if err := p.WaitStable(ctx, offset); err != nil { ... }
//		}
//	}
//
// It costs what Read costs plus a walk over the batch headers; nothing is
// decoded or copied beyond moving kept batches over dropped ones.
func (p *Partition) ReadCommitted(buf []byte, offset int64, maxBytes int) (ReadResult, error) {
	for {
		res, err := p.ReadStable(buf, offset, maxBytes)
		if err != nil || len(res.Batches) == 0 {
			return res, err
		}
		res.Batches = keepCommitted(res.Batches, newAbortedLookup(res.Aborted))
		res.Aborted = nil
		if len(res.Batches) > 0 || res.NextOffset >= res.LastStableOffset {
			return res, nil
		}
		offset = res.NextOffset
	}
}

// keepCommitted moves the data batches of b that no aborted transaction
// holds to the front of b and returns them.
func keepCommitted(b []byte, aborted abortedLookup) []byte {
	kept := 0
	for pos := 0; pos < len(b); {
		h, err := record.ParseHeader(b[pos:])
		if err != nil {
			break // cannot happen: the read parsed every header
		}
		size := h.Size()
		drop := h.Control() || h.Transactional() && aborted.aborted(h.ProducerID, h.BaseOffset)
		if !drop {
			if kept != pos {
				copy(b[kept:], b[pos:pos+size])
			}
			kept += size
		}
		pos += size
	}
	return b[:kept:kept]
}

// WaitStable blocks until offset is readable at read_committed (the LSO
// passes it), the context ends, or the partition closes. It never polls.
func (p *Partition) WaitStable(ctx context.Context, offset int64) error {
	for {
		p.mu.Lock()
		lso, closed, ch := p.lastStableLocked(), p.mu.closed, p.mu.newData
		p.mu.Unlock()
		switch {
		case lso > offset:
			return nil
		case closed:
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
