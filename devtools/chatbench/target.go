package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
)

// What differs between the servers the tool drives: how a stream is
// opened and resumed, what a post looks like, and how an event is read.
const (
	targetChat       = "chat"       // sessionchat: GET /api/rooms/{room}/events, POST /api/rooms/{room}/messages
	targetCentrifugo = "centrifugo" // Centrifugo v6: GET /connection/uni_sse, POST /api/publish
)

// Every message the tool posts carries a stamp in its text,
// "~b<post>.<poster>.<sent>~" then padding, where post numbers the post
// in the run, poster the connection that sent it, and sent is the send
// time in nanoseconds since the run began (monotonic clock).
var stampMark = []byte("~b")

// appendStamp appends a message text of at least size bytes.
func appendStamp(dst []byte, post, poster int, sent int64, size int) []byte {
	start := len(dst)
	dst = append(dst, stampMark...)
	dst = strconv.AppendInt(dst, int64(post), 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, int64(poster), 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, sent, 10)
	dst = append(dst, '~')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// parseStamp finds the stamp in b, an event's data.
func parseStamp(b []byte) (post, poster int, sent int64, ok bool) {
	i := bytes.Index(b, stampMark)
	if i < 0 {
		return 0, 0, 0, false
	}
	b = b[i+len(stampMark):]
	var v [3]int64
	for k := range v {
		n, rest, ok := parseUint(b)
		end := byte('.')
		if k == len(v)-1 {
			end = '~'
		}
		if !ok || len(rest) == 0 || rest[0] != end {
			return 0, 0, 0, false
		}
		v[k] = int64(n)
		b = rest[1:]
	}
	return int(v[0]), int(v[1]), v[2], true
}

// parseUint reads the decimal digits at the start of b.
func parseUint(b []byte) (n uint64, rest []byte, ok bool) {
	i := 0
	for ; i < len(b) && i < 19 && '0' <= b[i] && b[i] <= '9'; i++ {
		n = n*10 + uint64(b[i]-'0')
	}
	return n, b[i:], i > 0
}

// streamRequest is the GET that opens s, resuming it if it has a position.
func (b *bench) streamRequest(s *stream) []byte {
	var path string
	var extra string
	switch b.target {
	case targetChat:
		path = "/api/rooms/" + b.room + "/events"
		if len(s.lastID) > 0 {
			extra = "Last-Event-ID: " + string(s.lastID) + "\r\n"
		}
	case targetCentrifugo:
		// Uni SSE takes the connect request in the cf_connect parameter;
		// its subs name the channel, and on a reconnect ask for recovery
		// from the last offset seen in the epoch seen.
		sub := map[string]any{}
		if s.hasPos {
			sub = map[string]any{"recover": true, "epoch": s.epoch, "offset": s.offset}
		}
		cf, _ := json.Marshal(map[string]any{"subs": map[string]any{b.channel: sub}})
		path = "/connection/uni_sse?cf_connect=" + url.QueryEscape(string(cf))
	}
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + b.host +
		"\r\nAccept: text/event-stream\r\nUser-Agent: chatbench\r\n" + extra + "\r\n")
}

// appendPostRequest appends the whole HTTP request that posts text.
func (b *bench) appendPostRequest(dst, text []byte) []byte {
	var body []byte
	switch b.target {
	case targetChat:
		body = append(body, `{"username":"bench","message":"`...)
		body = append(body, text...)
		body = append(body, `"}`...)
		dst = append(dst, "POST /api/rooms/"...)
		dst = append(dst, b.room...)
		dst = append(dst, "/messages HTTP/1.1\r\n"...)
	case targetCentrifugo:
		// The same payload as a chat message, so that both servers carry
		// events of about the same size.
		body = append(body, `{"channel":"`...)
		body = append(body, b.channel...)
		body = append(body, `","data":{"username":"bench","message":"`...)
		body = append(body, text...)
		body = append(body, `"}}`...)
		dst = append(dst, "POST /api/publish HTTP/1.1\r\nX-API-Key: "...)
		dst = append(dst, b.cfg.APIKey...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Host: "...)
	dst = append(dst, b.host...)
	dst = append(dst, "\r\nUser-Agent: chatbench\r\nContent-Type: application/json\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

// accepted tells whether a post's response means the message was taken.
func (b *bench) accepted(status int, body []byte) error {
	switch b.target {
	case targetChat:
		if status == 201 {
			return nil
		}
	case targetCentrifugo:
		// The API answers 200 with {"error": …} for a refused command.
		if status == 200 && !bytes.Contains(body, []byte(`"error"`)) {
			return nil
		}
	}
	return fmt.Errorf("post: status %d: %.200s", status, body)
}

// cfConnect is the part of Centrifugo's connect push the tool reads.
type cfConnect struct {
	Connect *struct {
		Subs map[string]struct {
			Epoch         string `json:"epoch"`
			Offset        uint64 `json:"offset"`
			Recovered     bool   `json:"recovered"`
			WasRecovering bool   `json:"was_recovering"`
			Publications  []struct {
				Data   json.RawMessage `json:"data"`
				Offset uint64          `json:"offset"`
			} `json:"publications"`
		} `json:"subs"`
	} `json:"connect"`
}
