package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proxy is a TCP proxy on loopback that streams pass through on their way
// to one or more servers, so that the tool can play the proxy in front of
// a chat that restarts: cut closes every connection at once, as a proxy's
// restart or a load balancer's reload does, and the streams come back
// through the same listener. With several upstreams a new connection goes
// to the next in turn that accepts it, so that the streams of a server
// that went away land on the others.
type proxy struct {
	ln        net.Listener
	upstreams []string
	next      atomic.Uint64
	wg        sync.WaitGroup

	// logf, if set, hears of the first few upstreams that refused.
	logf    func(format string, args ...any)
	refused atomic.Int64

	mu     sync.Mutex
	conns  map[*proxyConn]struct{}
	closed bool
}

// proxyConn is one proxied connection: the client's and the upstream's.
type proxyConn struct {
	client, up net.Conn
	once       sync.Once
}

// close ends both sides. The client side gets a FIN, as from a proxy that
// closes its sockets when it restarts; the upstream side a reset, so that
// thousands of cut connections leave no TIME_WAIT on the proxy's
// ephemeral ports (the server sees the client gone either way).
func (c *proxyConn) close() {
	c.once.Do(func() {
		c.client.Close()
		if tc, ok := c.up.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.up.Close()
	})
}

// startProxy listens on 127.0.0.1 and proxies every connection to one of
// upstreams (host:port, loopback).
func startProxy(upstreams []string) (*proxy, error) {
	if len(upstreams) == 0 {
		return nil, errors.New("proxy: no upstream")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, upstreams: upstreams, conns: map[*proxyConn]struct{}{}}
	p.wg.Go(p.accept)
	return p, nil
}

// addr is the proxy's host:port.
func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: wait instead of spinning.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

// dialUp connects to the next upstream in turn that accepts.
func (p *proxy) dialUp() (net.Conn, error) {
	var errs []error
	start := p.next.Add(1)
	for i := range uint64(len(p.upstreams)) {
		addr := p.upstreams[(start+i)%uint64(len(p.upstreams))]
		d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: -1}
		c, err := d.Dial("tcp", addr)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("proxy: no upstream accepts: %w", errors.Join(errs...))
}

func (p *proxy) serve(client net.Conn) {
	up, err := p.dialUp()
	if err != nil {
		if n := p.refused.Add(1); n <= 3 && p.logf != nil {
			p.logf("chatbench proxy: %v", err)
		}
		// The client sees its connection end before any answer, and
		// retries: a proxy with no server behind it.
		client.Close()
		return
	}
	c := &proxyConn{client: client, up: up}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close()
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.close()
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyPlain(up, client, make([]byte, 1024)) // the request, then nothing until the client goes
		c.close()
	}()
	copyPlain(client, up, make([]byte, 4096))
	c.close()
	<-done
}

// copyPlain copies with read and write, not io.Copy: between two TCP
// connections that splices through a pipe held for the connection's
// life, two more descriptors each way per stream.
func copyPlain(dst io.Writer, src io.Reader, buf []byte) {
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut closes every connection the proxy holds at this moment and
// returns how many there were; new connections are accepted as before.
func (p *proxy) cut() int {
	p.mu.Lock()
	cs := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	for _, c := range cs {
		c.close()
	}
	return len(cs)
}

// held is the number of connections the proxy holds.
func (p *proxy) held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// close stops the proxy: its listener and every connection, and waits for
// its goroutines.
func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// proxyStreamsPerProcess is how many streams one proxy process takes: two descriptors
// each, under a hard open-file limit that may be as low as 20,000.
const proxyStreamsPerProcess = 8_000

// serveProxy is the tool run as a proxy process (-proxy-serve): it proxies
// to upstreams, prints its address on stdout, cuts every connection on
// SIGUSR1 and ends on SIGTERM or when stdin closes (the tool gone).
func serveProxy(upstreams []string, stdout io.Writer, cut <-chan os.Signal, done <-chan struct{}) error {
	raiseNoFile(2*proxyStreamsPerProcess + 1024)
	px, err := startProxy(upstreams)
	if err != nil {
		return err
	}
	px.logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	defer px.close()
	fmt.Fprintln(stdout, px.addr())
	for {
		select {
		case <-cut:
			px.cut()
		case <-done:
			return nil
		}
	}
}

// proxyProcs are proxy processes the tool started, for more streams than
// its own descriptors allow beside them.
type proxyProcs struct {
	cmds  []*exec.Cmd
	addrs []string
}

// startProxyProcs starts enough proxy processes (this binary with
// -proxy-serve) for streams, each in front of upstreams.
func startProxyProcs(ctx context.Context, streams int, upstreams []string) (*proxyProcs, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	pp := &proxyProcs{}
	for range (streams + proxyStreamsPerProcess - 1) / proxyStreamsPerProcess {
		cmd := exec.Command(self, "-proxy-serve", strings.Join(upstreams, ","))
		cmd.SysProcAttr = childAttr()
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			pp.stop()
			return nil, err
		}
		if _, err := cmd.StdinPipe(); err != nil { // closed when the tool ends
			pp.stop()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			pp.stop()
			return nil, err
		}
		pp.cmds = append(pp.cmds, cmd)
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			pp.stop()
			return nil, fmt.Errorf("proxy process: %w", err)
		}
		pp.addrs = append(pp.addrs, strings.TrimSpace(line))
	}
	return pp, nil
}

// cut makes every proxy process close all its connections at once.
func (pp *proxyProcs) cut() {
	for _, c := range pp.cmds {
		c.Process.Signal(syscall.SIGUSR1)
	}
}

func (pp *proxyProcs) stop() {
	for _, c := range pp.cmds {
		c.Process.Signal(syscall.SIGTERM)
		c.Wait()
	}
}
