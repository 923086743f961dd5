//go:build linux && (amd64 || arm64)

package vfs

import (
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sync fsyncs the file through Linux AIO (IOCB_CMD_FSYNC, kernel 4.18 and
// later): the kernel runs the fsync on one of its workers while the
// goroutine waits for an eventfd in the Go netpoller, holding no P.
//
// A plain fsync holds its P (the scheduler's processor) for as long as it
// lasts: the runtime hands a P in a system call to other goroutines only
// once its monitor notices. With fsync=always a busy partition fsyncs back
// to back, so on a 2-core machine one of the two Ps sat in fsync most of
// the time, and single-record HTTP ingestion ran at half the rate it ran
// with a third P (docs/BENCHMARKS.md). The fsync itself is the same
// (vfs_fsync), so durability is unchanged. Where AIO is unavailable (no
// io_setup, or a kernel without AIO fsync) Sync is the plain fsync.
func (f osFile) Sync() error {
	a := aioSyncerOnce()
	if a == nil {
		return f.File.Sync()
	}
	err := a.fsync(f.File)
	if errors.Is(err, errAIOUnavailable) {
		return f.File.Sync()
	}
	if err != nil {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: err}
	}
	return nil
}

// aioSyncs counts the fsyncs AIO completed (tests).
var aioSyncs atomic.Int64

// errAIOUnavailable: fall back to the plain fsync.
var errAIOUnavailable = errors.New("vfs: AIO fsync unavailable")

// iocb is struct iocb of linux/aio_abi.h (64 bytes, little-endian
// layout: aio_key before aio_rw_flags); an fsync sets only these.
type iocb struct {
	data   uint64 // aio_data
	_      uint32 // aio_key
	_      uint32 // aio_rw_flags
	opcode uint16 // aio_lio_opcode
	_      int16  // aio_reqprio
	fildes uint32 // aio_fildes
	_      uint64 // aio_buf
	_      uint64 // aio_nbytes
	_      int64  // aio_offset
	_      uint64 // aio_reserved2
	flags  uint32 // aio_flags
	resfd  uint32 // aio_resfd
}

// ioEvent is struct io_event.
type ioEvent struct {
	data, obj uint64
	res, res2 int64
}

const (
	iocbCmdFsync  = 2
	iocbFlagResfd = 1 << 0
	// aioEvents bounds the fsyncs in flight; past it io_submit answers
	// EAGAIN and that fsync is a plain one.
	aioEvents = 1024
)

// aioSyncer submits fsyncs to one AIO context, whose completions signal
// an eventfd that one reaper goroutine reads through the netpoller and
// hands to the waiting callers.
type aioSyncer struct {
	ctx     uint64   // aio_context_t
	efd     *os.File // non-blocking: reads park in the netpoller
	efdNum  int
	mu      sync.Mutex
	off     bool // plain fsyncs from now on: the kernel refused AIO fsync, or the eventfd failed
	next    uint64
	waiting map[uint64]chan int64 // by iocb data: the fsync's result
}

var aioSyncerOnce = sync.OnceValue(newAIOSyncer)

// newAIOSyncer sets up the AIO context, the eventfd and the reaper; nil
// when the system refuses any of it.
func newAIOSyncer() *aioSyncer {
	var ctx uint64
	if _, _, e := unix.Syscall(unix.SYS_IO_SETUP, aioEvents, uintptr(unsafe.Pointer(&ctx)), 0); e != 0 {
		return nil
	}
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_, _, _ = unix.Syscall(unix.SYS_IO_DESTROY, uintptr(ctx), 0, 0)
		return nil
	}
	a := &aioSyncer{ctx: ctx, efd: os.NewFile(uintptr(fd), "aio-fsync-eventfd"), efdNum: fd, waiting: map[uint64]chan int64{}}
	go a.reap()
	return a
}

// fsync submits an fsync of f and waits for its result.
func (a *aioSyncer) fsync(f *os.File) error {
	done := make(chan int64, 1)
	a.mu.Lock()
	if a.off {
		a.mu.Unlock()
		return errAIOUnavailable
	}
	a.next++
	id := a.next
	a.waiting[id] = done
	a.mu.Unlock()
	raw, err := f.SyscallConn()
	if err != nil {
		a.forget(id)
		return errAIOUnavailable
	}
	// The kernel takes its own reference to the file at submission: a
	// Close after it cannot redirect the fsync to another file.
	var errno syscall.Errno
	cerr := raw.Control(func(fd uintptr) {
		cb := iocb{data: id, opcode: iocbCmdFsync, fildes: uint32(fd), flags: iocbFlagResfd, resfd: uint32(a.efdNum)}
		cbs := [1]*iocb{&cb}
		_, _, errno = unix.Syscall(unix.SYS_IO_SUBMIT, uintptr(a.ctx), 1, uintptr(unsafe.Pointer(&cbs[0])))
	})
	switch {
	case cerr != nil:
		a.forget(id)
		return errAIOUnavailable
	case errno == unix.EINVAL: // no AIO fsync in this kernel, or for this file system
		a.forget(id)
		a.mu.Lock()
		a.off = true
		a.mu.Unlock()
		return errAIOUnavailable
	case errno != 0: // EAGAIN (the context is full), ...: a plain fsync this time
		a.forget(id)
		return errAIOUnavailable
	}
	if res := <-done; res < 0 {
		return syscall.Errno(-res)
	}
	aioSyncs.Add(1)
	return nil
}

func (a *aioSyncer) forget(id uint64) {
	a.mu.Lock()
	delete(a.waiting, id)
	a.mu.Unlock()
}

// reap reads the eventfd's count of completions and collects as many
// events, handing each result to its waiter.
func (a *aioSyncer) reap() {
	var count [8]byte
	events := make([]ioEvent, 64)
	for {
		if _, err := a.efd.Read(count[:]); err != nil {
			// Not expected while the process runs: plain fsyncs from now
			// on, and those in flight answered by waiting in the kernel.
			a.mu.Lock()
			a.off = true
			a.mu.Unlock()
			for a.inFlight() > 0 {
				a.collect(1, events)
			}
			return
		}
		a.collect(binary.LittleEndian.Uint64(count[:]), events)
	}
}

// collect hands n completed events to their waiters. The eventfd counts
// an event once it is in the ring, so they are there; io_getevents would
// wait for them otherwise (no timeout) rather than leave a waiter behind.
func (a *aioSyncer) collect(n uint64, events []ioEvent) {
	for n > 0 {
		got, _, e := unix.Syscall6(unix.SYS_IO_GETEVENTS, uintptr(a.ctx), 1, uintptr(min(n, uint64(len(events)))),
			uintptr(unsafe.Pointer(&events[0])), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 { // not expected: the context is ours and valid
			a.failAll(e)
			return
		}
		a.mu.Lock()
		for _, ev := range events[:got] {
			if done, ok := a.waiting[ev.data]; ok {
				delete(a.waiting, ev.data)
				done <- ev.res
			}
		}
		a.mu.Unlock()
		n -= uint64(got)
	}
}

func (a *aioSyncer) inFlight() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.waiting)
}

// failAll answers every fsync in flight with errno, whose outcome is
// unknown, and turns AIO off.
func (a *aioSyncer) failAll(errno syscall.Errno) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.off = true
	for id, done := range a.waiting {
		delete(a.waiting, id)
		done <- -int64(errno)
	}
}
