package kafka

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/tide-data/tide/internal/log"
)

// canSendfile reports whether a region's file can be sent with sendfile.
func canSendfile(f any) bool {
	_, ok := f.(syscall.Conn)
	return ok
}

// sendRegion sends a file region to the connection with sendfile(2): the
// kernel copies from the page cache to the socket, and the bytes never
// enter this process, as Kafka serves fetches.
func sendRegion(nc net.Conn, r *log.FileRegion) error {
	sock, ok := nc.(syscall.Conn)
	file, fok := r.File.(syscall.Conn)
	if !ok || !fok {
		return errors.New("kafka: sendfile needs a socket and an os file")
	}
	sockRaw, err := sock.SyscallConn()
	if err != nil {
		return err
	}
	fileRaw, err := file.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	ctlErr := fileRaw.Control(func(ffd uintptr) {
		off, remain := r.Offset, r.Length
		werr := sockRaw.Write(func(sfd uintptr) bool {
			for remain > 0 {
				n, err := unix.Sendfile(int(sfd), int(ffd), &off, int(min(remain, 1<<30)))
				if n > 0 {
					remain -= int64(n)
				}
				switch {
				case errors.Is(err, unix.EINTR):
					continue
				case errors.Is(err, unix.EAGAIN):
					return false // wait until the socket is writable
				case err != nil:
					sendErr = fmt.Errorf("kafka: sendfile: %w", err)
					return true
				case n == 0:
					sendErr = fmt.Errorf("kafka: sendfile: %w", io.ErrUnexpectedEOF)
					return true
				}
			}
			return true
		})
		if sendErr == nil {
			sendErr = werr
		}
	})
	if ctlErr != nil {
		return ctlErr
	}
	return sendErr
}
