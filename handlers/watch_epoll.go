//go:build linux && !closereader

package handlers

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"math"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// closeWatcher tells streams that took over their connections when their
// clients close them (FIN or RST), at once: such a connection is never
// read, so without a watch a close shows only when a later write fails,
// a heartbeat or more away, and the stream's slot, goroutine, descriptor
// and subscription stay held until then.
//
// On Linux one epoll instance watches every connection for EPOLLRDHUP
// (and the HUP and ERR it always reports), read by one goroutine, which
// lives while connections are watched: a watch costs a map entry, not a
// goroutine or a buffer. The build tag closereader selects the portable
// watcher instead (a reading goroutine per connection), as on other
// systems.
//
// A watch names its connection by descriptor number, which the kernel
// reuses once the connection is closed: epoll_ctl is only ever called
// inside RawConn.Control, which keeps the descriptor open meanwhile, and
// the events carry a token, not the number, so an event that names a
// connection no longer watched is ignored. A connection closed without
// unwatching leaves the epoll set with its descriptor.
type closeWatcher struct {
	log *slog.Logger

	mu    sync.Mutex
	poll  *epoller         // nil while nothing is watched
	gone  map[int32]func() // by token
	token int32            // the last token given
}

// epoller is one run of the watching goroutine: its epoll instance and
// the eventfd that stops it.
type epoller struct {
	epfd, wake int
}

// errNoDescriptor: the connection is not a socket of this process.
var errNoDescriptor = errors.New("connection has no descriptor to watch")

// wakeToken marks the eventfd's events; connections get tokens from 1.
const wakeToken = 0

func newCloseWatcher(log *slog.Logger) *closeWatcher {
	return &closeWatcher{log: log, gone: make(map[int32]func())}
}

// watch arranges for gone to run, once, soon after the client closes c;
// it runs on the watcher's goroutine and must be quick. Call stop before
// closing c.
func (w *closeWatcher) watch(c net.Conn, gone func()) (stop func(), err error) {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = nc.NetConn() // TLS: the close shows on the socket beneath
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, errNoDescriptor
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.poll == nil {
		if w.poll, err = w.start(); err != nil {
			return nil, err
		}
	}
	token := w.nextToken()
	var ctlErr error
	err = raw.Control(func(fd uintptr) {
		// One-shot: a connection is reported once; stop removes it.
		ev := unix.EpollEvent{Events: unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: token}
		ctlErr = unix.EpollCtl(w.poll.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil {
		err = ctlErr
	}
	if err != nil {
		w.stopIfIdle()
		return nil, err
	}
	w.gone[token] = gone
	return func() { w.unwatch(raw, token) }, nil
}

func (w *closeWatcher) unwatch(raw syscall.RawConn, token int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.gone[token]; !ok {
		return
	}
	delete(w.gone, token)
	// A connection closed already has left the set; Control then fails.
	_ = raw.Control(func(fd uintptr) {
		_ = unix.EpollCtl(w.poll.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
	w.stopIfIdle()
}

// nextToken returns a token no watched connection has. w.mu is held.
func (w *closeWatcher) nextToken() int32 {
	for {
		if w.token == math.MaxInt32 {
			w.token = wakeToken
		}
		w.token++
		if _, taken := w.gone[w.token]; !taken {
			return w.token
		}
	}
}

// start makes an epoll instance and starts its goroutine. w.mu is held.
func (w *closeWatcher) start() (*epoller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeToken}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(wake)
		unix.Close(epfd)
		return nil, err
	}
	p := &epoller{epfd: epfd, wake: wake}
	go w.loop(p)
	return p, nil
}

// stopIfIdle stops the goroutine when nothing is watched. w.mu is held.
func (w *closeWatcher) stopIfIdle() {
	if len(w.gone) > 0 || w.poll == nil {
		return
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	if _, err := unix.Write(w.poll.wake, one[:]); err != nil {
		w.log.Error("stream close watch: stop", "err", err)
	}
	w.poll = nil // the loop closes its descriptors as it ends
}

// loop reports closed connections until it is woken to stop.
func (w *closeWatcher) loop(p *epoller) {
	defer unix.Close(p.epfd)
	defer unix.Close(p.wake)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// Streams still end, at the first write that fails.
			w.log.Error("stream close watch: epoll_wait", "err", err)
			w.mu.Lock()
			if w.poll == p {
				w.poll = nil
			}
			w.mu.Unlock()
			return
		}
		stop := false
		for _, ev := range events[:n] {
			if ev.Fd == wakeToken {
				stop = true
				continue
			}
			w.mu.Lock()
			gone := w.gone[ev.Fd]
			w.mu.Unlock()
			if gone != nil {
				gone()
			}
		}
		if stop {
			return
		}
	}
}
