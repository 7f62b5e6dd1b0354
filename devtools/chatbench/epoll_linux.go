package main

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const epollSupported = true

// poller reads many streams from one epoll set on one goroutine. Compared
// with a goroutine per stream blocked in net.Conn.Read it saves, for each
// burst of events, the read that returns EAGAIN and the park and wake-up
// of a goroutine: the tool shares the machine with the server it
// measures, so its own CPU matters.
//
// A stream belongs to the poller while its descriptor is in the set, and
// to a connect goroutine while it is between connections; the two hand
// it over through the adds channel and a go statement, never sharing it.
type poller struct {
	b      *bench
	epfd   int
	wake   [2]int // a pipe whose read end is in the set, to wake the loop
	adds   chan *stream
	live   map[*stream]struct{}
	events []syscall.EpollEvent
	oob    [64]byte // control messages of a read: its receive timestamp
	cutReq atomic.Bool
}

// cutAll asks the poller to shut down every connection it reads, at once;
// the streams then reconnect as from any drop.
func (p *poller) cutAll() {
	p.cutReq.Store(true)
	p.wakeUp()
}

// rxTimestamp finds the SCM_TIMESTAMPNS control message among oob and
// returns its time, in nanoseconds since the Unix epoch (CLOCK_REALTIME).
func rxTimestamp(oob []byte) (int64, bool) {
	const hdr = 16 // struct cmsghdr on 64-bit Linux: len uint64, level, type int32
	for len(oob) >= hdr {
		l := int(binary.NativeEndian.Uint64(oob))
		level := int32(binary.NativeEndian.Uint32(oob[8:]))
		typ := int32(binary.NativeEndian.Uint32(oob[12:]))
		if l < hdr || l > len(oob) {
			return 0, false
		}
		if level == syscall.SOL_SOCKET && typ == syscall.SCM_TIMESTAMPNS && l >= hdr+16 {
			sec := int64(binary.NativeEndian.Uint64(oob[hdr:]))
			nsec := int64(binary.NativeEndian.Uint64(oob[hdr+8:]))
			return sec*1e9 + nsec, true
		}
		oob = oob[(l+7)&^7:]
	}
	return 0, false
}

func newPoller(b *bench, capacity int) (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{b: b, epfd: epfd, adds: make(chan *stream, capacity), live: map[*stream]struct{}{}, events: make([]syscall.EpollEvent, 512)}
	if err := syscall.Pipe2(p.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.wake[0]), Pad: -1}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		p.closeFDs()
		return nil, err
	}
	return p, nil
}

func (p *poller) closeFDs() {
	syscall.Close(p.wake[0])
	syscall.Close(p.wake[1])
	syscall.Close(p.epfd)
}

func (p *poller) wakeUp() { syscall.Write(p.wake[1], []byte{1}) }

// loop reads the poller's streams until the run stops, then closes them.
func (p *poller) loop(ctx context.Context, wg *sync.WaitGroup) {
	defer func() {
		for s := range p.live {
			closeFD(s.pollFD)
		}
	}()
	var buf [64]byte
	for {
		n, err := syscall.EpollWait(p.epfd, p.events, 200)
		if p.b.stopping.Load() || ctx.Err() != nil {
			p.drainAdds()
			return
		}
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			p.b.fatal(err)
			return
		}
		for _, ev := range p.events[:n] {
			if ev.Pad < 0 {
				for {
					if k, _ := syscall.Read(p.wake[0], buf[:]); k <= 0 {
						break
					}
				}
				p.register(ctx, wg)
				if p.cutReq.Swap(false) {
					// Shut down, not closed: each socket reports the end
					// on its next readiness and leaves the set the usual
					// way, and no descriptor is reused under the loop.
					for s := range p.live {
						syscall.Shutdown(s.pollFD, syscall.SHUT_RDWR)
					}
				}
				continue
			}
			s := p.b.streams[ev.Pad]
			if s.pollFD != int(ev.Fd) {
				continue
			}
			p.read(ctx, wg, s)
		}
	}
}

// register adds the streams handed over by connect goroutines to the set.
func (p *poller) register(ctx context.Context, wg *sync.WaitGroup) {
	for {
		select {
		case s := <-p.adds:
			s.pollFD = s.fd
			ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(s.fd), Pad: int32(s.idx)}
			if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
				closeFD(s.fd)
				p.ended(ctx, wg, s, err)
				continue
			}
			p.live[s] = struct{}{}
		default:
			return
		}
	}
}

// drainAdds closes the streams handed over after the loop stopped.
func (p *poller) drainAdds() {
	for {
		select {
		case s := <-p.adds:
			closeFD(s.fd)
		default:
			return
		}
	}
}

// read reads once from a ready stream: the set is level-triggered, so
// whatever does not fit comes back in the next wait. The kernel stamps
// what it receives (SO_TIMESTAMPNS): latency is measured to the arrival
// of the event in the socket, not to when this busy loop got to it.
func (p *poller) read(ctx context.Context, wg *sync.WaitGroup, s *stream) {
	n, oobn, _, _, err := syscall.Recvmsg(s.pollFD, s.raw, p.oob[:], syscall.MSG_CMSG_CLOEXEC)
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
		return
	}
	if n > 0 {
		now := p.b.now()
		s.readAt = now
		if ts, ok := rxTimestamp(p.oob[:oobn]); ok {
			now = min(now, ts-p.b.baseWall)
		}
		err = s.feed(s.raw[:n], now)
		if s.batch > 0 {
			p.b.delivered(s.batch)
			s.batch = 0
		}
		if s.ready && s.semHeld {
			<-p.b.dialSem
			s.semHeld = false
		}
		if err == nil {
			return
		}
	} else if err == nil {
		err = errEndOfStream
	}
	delete(p.live, s)
	closeFD(s.pollFD) // also takes it out of the set
	s.pollFD = -1
	p.ended(ctx, wg, s, err)
}

// ended accounts for a connection that ended with err and, unless the run
// is stopping, reconnects the stream.
func (p *poller) ended(ctx context.Context, wg *sync.WaitGroup, s *stream, err error) {
	if s.semHeld {
		<-p.b.dialSem
		s.semHeld = false
	}
	if p.b.stopping.Load() || ctx.Err() != nil {
		return
	}
	if fe := (*fatalError)(nil); errors.As(err, &fe) {
		p.b.fatal(err)
		return
	}
	wait := 20 * time.Millisecond
	if s.ready {
		wait = s.dropped()
	} else {
		p.b.noteError(err)
		wait = time.Second
	}
	wg.Go(func() { p.connect(ctx, s, wait) })
}

// connect opens a connection for s, sends its request and hands it to the
// poller; it retries with backoff until the run stops.
func (p *poller) connect(ctx context.Context, s *stream, wait time.Duration) {
	b := p.b
	for {
		if wait > 0 && sleepCtx(ctx, wait) != nil {
			return
		}
		wait = min(max(2*wait, 20*time.Millisecond), time.Second)
		select {
		case b.dialSem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if b.stopping.Load() {
			<-b.dialSem
			return
		}
		fd, err := p.open(ctx, s)
		if err != nil {
			<-b.dialSem
			if b.stopping.Load() || ctx.Err() != nil {
				return
			}
			b.noteError(err)
			continue
		}
		s.fd, s.semHeld = fd, true
		p.adds <- s
		p.wakeUp()
		return
	}
}

// open dials with the standard dialer (timeouts, source address), writes
// the request, and keeps a duplicate of the socket's descriptor, leaving
// Go's poller; the duplicate shares the non-blocking mode.
func (p *poller) open(ctx context.Context, s *stream) (int, error) {
	conn, err := p.b.dial(ctx, s.idx)
	if err != nil {
		return -1, err
	}
	defer conn.Close()
	s.reset()
	if _, err := conn.Write(p.b.streamRequest(s)); err != nil {
		return -1, err
	}
	rc, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	cerr := rc.Control(func(sfd uintptr) {
		fd, err = syscall.Dup(int(sfd))
		if err == nil {
			syscall.CloseOnExec(fd)
			err = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
		}
	})
	if cerr != nil {
		err = cerr
	}
	if err != nil && fd >= 0 {
		syscall.Close(fd)
		fd = -1
	}
	return fd, err
}

// closeFD closes a stream's socket with a reset, leaving no TIME_WAIT.
func closeFD(fd int) {
	syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
	syscall.Close(fd)
}

// runPollers reads every stream with n pollers until ctx ends or the run
// stops; stop ends them and waits. ctx must end when the run stops.
func runPollers(ctx context.Context, b *bench, n int) (stop func(), err error) {
	ps := make([]*poller, n)
	for i := range ps {
		if ps[i], err = newPoller(b, len(b.streams)/n+1); err != nil {
			for _, p := range ps[:i] {
				p.closeFDs()
			}
			return nil, err
		}
	}
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() { p.loop(ctx, &wg) })
	}
	for _, s := range b.streams {
		p := ps[s.idx%n]
		wg.Go(func() { p.connect(ctx, s, 0) })
	}
	b.cutStreams = func() {
		for _, p := range ps {
			p.cutAll()
		}
	}
	return func() {
		b.stopping.Store(true)
		for _, p := range ps {
			p.wakeUp()
		}
		wg.Wait()
		for _, p := range ps {
			p.drainAdds() // handed over after the loop stopped
			p.closeFDs()
		}
	}, nil
}
