package kafka

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// conn is one client connection.
type conn struct {
	s      *Server
	nc     net.Conn
	remote string
	// queue holds a slot per request awaiting its response, in request
	// order; its capacity is the connection's in-flight bound.
	queue chan *slot
	// handlers counts handler goroutines still running.
	handlers sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
}

// slot is a response place in the connection's queue.
type slot struct {
	done chan struct{}
	// frame is the whole response, size prefix included, in pieces that
	// go out with one writev (fetched record data is not copied into it).
	frame net.Buffers
	// release, if set, runs once the frame is written (or dropped), to
	// return fetch buffers to their pool.
	release func()
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, remote: nc.RemoteAddr().String(), queue: make(chan *slot, s.cfg.MaxInFlight)}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	return c
}

// stopReading makes the reader stop at the next request boundary (or now,
// if it is waiting for one), for a graceful shutdown.
func (c *conn) stopReading() { _ = c.nc.SetReadDeadline(time.Now()) }

func (c *conn) serve() {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	if err := c.readLoop(); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
		c.s.cfg.Logger.Info("kafka connection closed", "remote", c.remote, "reason", err)
	}
	// Nothing more will be read: end the waits of long polls and group
	// requests (they answer with what they have), then let every request
	// already read finish and its response go out. Produce waits for
	// durability do not depend on the context, so nothing acknowledged is
	// cut short.
	c.cancel()
	c.handlers.Wait()
	close(c.queue)
	<-writerDone
	_ = c.nc.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeLoop sends responses in request order. Responses that are ready
// together go out in one writev, and an idle connection holds no buffer.
func (c *conn) writeLoop() {
	failed := false
	var out net.Buffers
	var done []*slot
	for sl := range c.queue {
		<-sl.done // handlers always complete their slot
		out, done = append(out[:0], sl.frame...), append(done[:0], sl)
		for ready := true; ready && len(done) < 64; {
			select {
			case next, ok := <-c.queue:
				if !ok {
					ready = false
					break
				}
				<-next.done
				out, done = append(out, next.frame...), append(done, next)
			default:
				ready = false
			}
		}
		if !failed {
			if _, err := out.WriteTo(c.nc); err != nil {
				failed = true
				_ = c.nc.Close() // the reader sees the close and stops
			}
		}
		for _, d := range done {
			if d.release != nil {
				d.release()
			}
		}
	}
}

// requestHeader is Kafka's request header v1/v2.
type requestHeader struct {
	key           int16
	version       int16
	correlationID int32
	clientID      *string
}

// readLoop reads and dispatches requests until the connection fails or
// is told to stop; it always returns the reason.
func (c *conn) readLoop() error {
	// A small buffer: request bodies are read straight into their own
	// slice, and idle connections should cost little.
	r := bufio.NewReaderSize(c.nc, 4<<10)
	var sizeBuf [4]byte
	for {
		if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 || size > c.s.cfg.MaxRequestBytes {
			return fmt.Errorf("request of %d bytes outside [8, %d]", size, c.s.cfg.MaxRequestBytes)
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		if err := c.dispatch(buf); err != nil {
			return err
		}
	}
}

// errUnsupportedAPIVersions marks an ApiVersions request of a version this
// server does not serve, which is answered rather than refused.
var errUnsupportedAPIVersions = errors.New("unsupported ApiVersions version")

// parseRequest decodes one request frame (without its size prefix). An
// error means the connection must close, except errUnsupportedAPIVersions.
func parseRequest(buf []byte) (requestHeader, kmsg.Request, error) {
	var h requestHeader
	if len(buf) < 10 {
		return h, nil, errors.New("request header truncated")
	}
	h.key = int16(binary.BigEndian.Uint16(buf))
	h.version = int16(binary.BigEndian.Uint16(buf[2:]))
	h.correlationID = int32(binary.BigEndian.Uint32(buf[4:]))
	idLen := int16(binary.BigEndian.Uint16(buf[8:]))
	body := buf[10:]
	if idLen >= 0 {
		if int(idLen) > len(body) {
			return h, nil, errors.New("client id truncated")
		}
		id := string(body[:idLen])
		h.clientID = &id
		body = body[idLen:]
	}
	api, ok := apis[h.key]
	if !ok {
		return h, nil, fmt.Errorf("unknown api key %d", h.key)
	}
	if h.version < api.min || h.version > api.max {
		if h.key == apiVersionsKey {
			return h, nil, errUnsupportedAPIVersions
		}
		return h, nil, fmt.Errorf("%s v%d is not supported (v%d to v%d are)", kmsg.NameForKey(h.key), h.version, api.min, api.max)
	}
	req := kmsg.RequestForKey(h.key)
	req.SetVersion(h.version)
	if req.IsFlexible() {
		var err error
		if body, err = skipTags(body); err != nil {
			return h, nil, err
		}
	}
	if err := req.ReadFrom(body); err != nil {
		return h, nil, fmt.Errorf("%s v%d: %w", kmsg.NameForKey(h.key), h.version, err)
	}
	return h, req, nil
}

// dispatch parses one request and starts its handler. An error closes the
// connection.
func (c *conn) dispatch(buf []byte) error {
	start := c.s.observeStart()
	h, req, err := parseRequest(buf)
	if errors.Is(err, errUnsupportedAPIVersions) {
		resp := unsupportedAPIVersions(h.version)
		c.s.observe(h.key, start, resp)
		c.reply(c.enqueue(), h, resp)
		return nil
	}
	if err != nil {
		return err
	}
	rq := &request{conn: c, header: h, req: req, start: start}
	if h.key != produceKey || req.(*kmsg.ProduceRequest).Acks != 0 {
		rq.slot = c.enqueue()
	}
	apis[h.key].serve(c.s, rq)
	return nil
}

// enqueue reserves the next response place; it blocks while the
// connection has MaxInFlight responses pending.
func (c *conn) enqueue() *slot {
	sl := &slot{done: make(chan struct{})}
	c.queue <- sl
	return sl
}

// skipTags skips the request header's tagged fields.
func skipTags(b []byte) ([]byte, error) {
	n, used := binary.Uvarint(b)
	if used <= 0 {
		return nil, errors.New("bad tagged field count")
	}
	b = b[used:]
	for range n {
		if _, used = binary.Uvarint(b); used <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[used:]
		size, used := binary.Uvarint(b)
		if used <= 0 || size > uint64(len(b)-used) {
			return nil, errors.New("bad tag size")
		}
		b = b[used+int(size):]
	}
	return b, nil
}

// reply encodes resp into sl. The response header is v0 (correlation id)
// or, for flexible versions, v1 with an empty tag buffer — except
// ApiVersions, whose response header is always v0 so that a client can read
// it before it knows what the broker speaks.
func (c *conn) reply(sl *slot, h requestHeader, resp kmsg.Response) {
	resp.SetVersion(h.version)
	if fetch, ok := resp.(*kmsg.FetchResponse); ok {
		sl.frame = encodeFetch(h, fetch)
	} else {
		sl.frame = net.Buffers{encodeFrame(h, resp)}
	}
	close(sl.done)
}

func encodeFrame(h requestHeader, resp kmsg.Response) []byte {
	frame := make([]byte, 8, 512)
	binary.BigEndian.PutUint32(frame[4:], uint32(h.correlationID))
	if resp.IsFlexible() && h.key != apiVersionsKey {
		frame = append(frame, 0)
	}
	frame = resp.AppendTo(frame)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	return frame
}

// request is one request being served.
type request struct {
	conn   *conn
	header requestHeader
	req    kmsg.Request
	slot   *slot     // nil for acks=0 produce
	start  time.Time // when it was read; zero without an observer
}

// respond sends resp (a no-op for requests that take no response).
func (r *request) respond(resp kmsg.Response) { r.respondThen(resp, nil) }

// respondThen sends resp and runs release once it is written, or at once
// when the request takes no response.
func (r *request) respondThen(resp kmsg.Response, release func()) {
	r.conn.s.observe(r.header.key, r.start, resp)
	if r.slot == nil {
		if release != nil {
			release()
		}
		return
	}
	r.slot.release = release
	r.conn.reply(r.slot, r.header, resp)
}

// async runs fn on its own goroutine, owned by the connection, which waits
// for it before closing.
func (r *request) async(fn func(ctx context.Context)) {
	r.conn.handlers.Add(1)
	go func() {
		defer r.conn.handlers.Done()
		fn(r.conn.ctx)
	}()
}
