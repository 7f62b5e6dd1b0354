package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// With -h2 the streams are HTTP/2 streams in cleartext (h2c with prior
// knowledge, which the chat serves beside HTTP/1.1 on its port), many to a
// connection: the server then holds a descriptor per connection, not per
// stream, and one process may serve more streams than its open-file limit.
// Each stream is a goroutine reading its response body through Go's
// HTTP/2 client; latency is measured to when it read an event (there is no
// kernel timestamp per stream), so it includes the tool's queueing.

// h2Client is the client every stream of a run shares. Go's transport
// opens another connection whenever those it has carry the server's
// concurrent-stream limit (250 for Go servers).
func (b *bench) h2Client() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	n := 0
	var mu sync.Mutex
	tr := &http.Transport{
		Protocols: &p,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			n++
			idx := n
			mu.Unlock()
			d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: -1}
			if b.srcIPs > 0 {
				d.LocalAddr = &net.TCPAddr{IP: srcIP(idx, b.srcIPs)}
			}
			return d.DialContext(ctx, network, addr)
		},
		HTTP2: &http.HTTP2Config{
			// No pings: a stream idle between posts is fine.
			SendPingTimeout: 0,
		},
	}
	return &http.Client{Transport: tr}
}

// runH2 keeps the stream open over HTTP/2, reading it on this goroutine,
// until ctx ends or the run stops; like run, it resumes after a drop.
func (s *stream) runH2(ctx context.Context, client *http.Client, host string) {
	wait := 20 * time.Millisecond
	for {
		err := s.sessionH2(ctx, client, host)
		if ctx.Err() != nil || s.b.stopping.Load() {
			return
		}
		if fe := (*fatalError)(nil); errors.As(err, &fe) {
			s.b.fatal(err)
			return
		}
		if s.ready {
			wait = s.dropped()
		} else {
			s.b.noteError(err)
			wait = min(2*wait, time.Second)
		}
		if sleepCtx(ctx, wait) != nil {
			return
		}
	}
}

func (s *stream) sessionH2(ctx context.Context, client *http.Client, host string) error {
	b := s.b
	select {
	case b.dialSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	held := true
	defer func() {
		if held {
			<-b.dialSem
		}
	}()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.cancelH2 = cancel
	s.mu.Unlock()
	req, err := http.NewRequestWithContext(sctx, "GET", "http://"+host+"/api/rooms/"+b.room+"/events", nil)
	if err != nil {
		return &fatalError{err}
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", "chatbench")
	if len(s.lastID) > 0 {
		req.Header.Set("Last-Event-ID", string(s.lastID))
	}
	s.reset()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		err := fmt.Errorf("stream: %s", resp.Status)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 429 {
			return &fatalError{err}
		}
		return err
	}
	if !strings.HasPrefix(resp.Proto, "HTTP/2") {
		return &fatalError{fmt.Errorf("stream: the server answered %s, not HTTP/2 (does it serve h2c?)", resp.Proto)}
	}
	s.headDone = true
	s.markReady() // the chat subscribes before it sends the head
	<-b.dialSem
	held = false
	for {
		n, err := resp.Body.Read(s.raw)
		if n > 0 {
			now := b.now()
			s.readAt = now
			s.payload = append(s.payload, s.raw[:n]...)
			lerr := s.lines(now)
			if s.batch > 0 {
				b.delivered(s.batch)
				s.batch = 0
			}
			if lerr != nil {
				return lerr
			}
		}
		if err != nil {
			return err
		}
	}
}

// cutH2 ends the stream's current request (its connection stays: over
// HTTP/2 a cut is a stream reset).
func (s *stream) cutH2() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancelH2 != nil {
		s.cancelH2()
	}
}
