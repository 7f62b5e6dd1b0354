package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"time"
)

// postTimeout bounds one post, from write to the end of the response: long,
// because an overloaded server may hold a post for many seconds, and a
// post given up on may still be stored and delivered.
const postTimeout = 60 * time.Second

// poster sends posts one after another over one keep-alive connection,
// opening a new one only after an error.
type poster struct {
	b    *bench
	idx  int
	conn net.Conn
	br   *bufio.Reader
	text []byte
	req  []byte
	resp bytes.Buffer
}

// post sends post number n and waits for the answer.
func (p *poster) post(ctx context.Context, n int) {
	b := p.b
	b.attempted.Add(1)
	if p.conn == nil {
		c, err := b.dialPost(ctx)
		if err != nil {
			b.postFailed(err)
			return
		}
		p.conn = c
		if p.br == nil {
			p.br = bufio.NewReaderSize(c, 4096)
		} else {
			p.br.Reset(c)
		}
	}
	sent := b.now()
	p.text = appendStamp(p.text[:0], n, p.idx, sent, b.cfg.Size)
	p.req = b.appendPostRequest(p.req[:0], p.text)
	p.conn.SetDeadline(time.Now().Add(postTimeout))
	status, err := p.roundTrip()
	if err != nil {
		p.close()
		b.postFailed(err)
		return
	}
	if err := b.accepted(status, p.resp.Bytes()); err != nil {
		b.postFailed(err)
		return
	}
	b.postAccepted(n, sent)
}

// roundTrip writes the request and reads the response into p.resp.
func (p *poster) roundTrip() (status int, err error) {
	if _, err := p.conn.Write(p.req); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		return 0, err
	}
	p.resp.Reset()
	_, err = p.resp.ReadFrom(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.Close {
		p.close()
	}
	return resp.StatusCode, nil
}

func (p *poster) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}
