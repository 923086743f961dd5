package log

import (
	"container/list"
	"os"
	"sync"

	"github.com/tide-data/tide/internal/vfs"
)

// handleCache bounds the number of open segment files. Segments acquire a
// handle before each read or write and release it after; idle handles are
// closed least-recently-used first once the cache is over capacity, so ten
// thousand partitions fit in a small file-descriptor limit. A handle in use
// is never closed under its user.
type handleCache struct {
	fs       vfs.FS
	capacity int
	mu       struct {
		sync.Mutex
		lru  *list.List // of *handle, most recent at the front
		open map[*segment]*handle
	}
}

type handle struct {
	file vfs.File
	seg  *segment
	refs int
	elem *list.Element
	// closeWhenIdle is set when the segment was retired while the handle
	// was in use.
	closeWhenIdle bool
}

func newHandleCache(fsys vfs.FS, capacity int) *handleCache {
	c := &handleCache{fs: fsys, capacity: max(capacity, 2)}
	c.mu.lru = list.New()
	c.mu.open = make(map[*segment]*handle)
	return c
}

// acquire returns an open handle on seg's log file. The caller must call
// release exactly once.
func (c *handleCache) acquire(seg *segment) (*handle, error) {
	c.mu.Lock()
	if h, ok := c.mu.open[seg]; ok {
		h.refs++
		c.mu.lru.MoveToFront(h.elem)
		c.mu.Unlock()
		return h, nil
	}
	c.mu.Unlock()
	if seg.retired.Load() {
		return nil, errSegmentRetired
	}

	// Open outside the lock: opening can be slow and other segments' users
	// must not wait for it.
	f, err := c.fs.OpenFile(seg.logPath, os.O_RDWR, 0)
	if err != nil {
		if seg.retired.Load() {
			return nil, errSegmentRetired
		}
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.mu.open[seg]; ok { // lost a race with another opener
		_ = f.Close()
		h.refs++
		c.mu.lru.MoveToFront(h.elem)
		return h, nil
	}
	if seg.retired.Load() {
		_ = f.Close()
		return nil, errSegmentRetired
	}
	h := &handle{file: f, seg: seg, refs: 1}
	h.elem = c.mu.lru.PushFront(h)
	c.mu.open[seg] = h
	c.evictLocked()
	return h, nil
}

func (c *handleCache) release(h *handle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h.refs--
	if h.refs == 0 && h.closeWhenIdle {
		_ = h.file.Close()
		return
	}
	c.evictLocked()
}

func (c *handleCache) evictLocked() {
	for e := c.mu.lru.Back(); e != nil && len(c.mu.open) > c.capacity; {
		h := e.Value.(*handle)
		prev := e.Prev()
		if h.refs == 0 {
			c.removeLocked(h)
			_ = h.file.Close()
		}
		e = prev
	}
}

func (c *handleCache) removeLocked(h *handle) {
	c.mu.lru.Remove(h.elem)
	delete(c.mu.open, h.seg)
}

// forget drops seg's handle from the cache, closing it now if idle or when
// its last user releases it. Call after marking the segment retired.
func (c *handleCache) forget(seg *segment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.mu.open[seg]
	if !ok {
		return
	}
	c.removeLocked(h)
	if h.refs == 0 {
		_ = h.file.Close()
	} else {
		h.closeWhenIdle = true
	}
}

// openCount reports how many files the cache holds open.
func (c *handleCache) openCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.open)
}
