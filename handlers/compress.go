package handlers

import (
	"io"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/andybalholm/brotli/matchfinder"
	"github.com/klauspost/compress/gzip"
)

// minCompressSize is the smallest body worth compressing: below about a
// kilobyte a response fits in one TCP segment either way, and the coding's
// framing eats much of what it would save.
const minCompressSize = 1024

// Content codings, as Accept-Encoding and Content-Encoding name them.
const (
	codingBrotli = "br"
	codingGzip   = "gzip"
)

// Levels for responses compressed on the fly: brotli's newer encoder at 4
// and gzip at 5 compress an 80 KB room history to about a fifth in about a
// millisecond; the higher levels cost several times that for a few percent.
const (
	brotliLevel = 4
	gzipLevel   = 5
)

// compress encodes responses of a textual type (HTML, CSS, JavaScript,
// JSON, plain text; never text/event-stream) whose body is at least
// minCompressSize bytes, with brotli or gzip as the request's
// Accept-Encoding prefers, and marks them Vary: Accept-Encoding. It holds
// the first bytes of a body until it knows the size; a response that is
// flushed before then, that has a Content-Encoding, an ETag (a strong
// validator names one representation, and the handler answers its
// conditional requests) or a Content-Range, or that is a 1xx, 204 or 304,
// passes as it is; so does one that finds every encoder busy (see
// encoders).
//
// It is for pages and JSON, never for an event stream (see routes): once
// compressing with brotli, it sends 64 KB blocks and the rest when the
// handler returns, whatever Flush says.
func compress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &compressWriter{ResponseWriter: w, coding: negotiate(r.Header.Values("Accept-Encoding"))}
		next.ServeHTTP(cw, r)
		// Not deferred: after a panic, recoverer answers instead.
		cw.finish()
	})
}

// negotiate returns the coding an Accept-Encoding header (its field
// values) prefers among brotli and gzip, by their q-values (RFC 9110
// 12.5.3), or "" for none: when neither is acceptable, or identity is
// listed with a higher q. On a tie brotli wins, being the smaller.
func negotiate(values []string) string {
	br, gz, star, identity := -1.0, -1.0, -1.0, -1.0 // -1: not listed
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(item, ";")
			q := qvalue(params)
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case codingBrotli:
				br = q
			case codingGzip, "x-gzip":
				gz = q
			case "*":
				star = q
			case "identity":
				identity = q
			}
		}
	}
	if br < 0 {
		br = max(star, 0)
	}
	if gz < 0 {
		gz = max(star, 0)
	}
	best, q := codingBrotli, br
	if gz > br {
		best, q = codingGzip, gz
	}
	if q <= 0 || identity > q {
		return ""
	}
	return best
}

// qvalue reads the weight among an Accept-Encoding item's parameters: 1
// when there is none, 0 when it is malformed (a coding whose weight cannot
// be read is not taken as wanted).
func qvalue(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}

// compressible reports whether a response of media type ctype is text
// that compresses well. An event stream is not: it must reach the client
// event by event.
func compressible(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil {
		return false
	}
	switch {
	case mt == "text/event-stream":
		return false
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", mt == "application/javascript", mt == "application/xml",
		mt == "image/svg+xml", strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	return false
}

// encoder is a pooled brotli or gzip writer.
type encoder interface {
	io.WriteCloser
	Reset(io.Writer)
}

var (
	brotliWriters = sync.Pool{New: func() any { return brotli.NewWriterV2(nil, brotliLevel) }}
	gzipWriters   = sync.Pool{New: func() any {
		z, _ := gzip.NewWriterLevel(nil, gzipLevel) // the level is valid
		return z
	}}
	// encoders bounds the encoders in use at once: a brotli writer holds
	// about 4 MB of tables, a gzip one about 1 MB, so that a burst of page
	// loads (a class opening its room) would otherwise take hundreds of
	// MB. A slot is held while the body is written, to a slow client too,
	// so a response that finds none free is not kept waiting: it goes out
	// uncompressed.
	encoders = make(chan struct{}, max(4, 2*runtime.GOMAXPROCS(0)))
)

// getEncoder returns a writer of coding onto w, or nil when all the
// encoder slots are in use.
func getEncoder(coding string, w io.Writer) encoder {
	select {
	case encoders <- struct{}{}:
	default:
		return nil
	}
	var e encoder
	if coding == codingBrotli {
		e = brotliWriters.Get().(*matchfinder.Writer)
	} else {
		e = gzipWriters.Get().(*gzip.Writer)
	}
	e.Reset(w)
	return e
}

// putEncoder gives back what getEncoder returned.
func putEncoder(e encoder) {
	e.Reset(nil) // let go of the connection
	switch e := e.(type) {
	case *matchfinder.Writer:
		brotliWriters.Put(e)
	case *gzip.Writer:
		gzipWriters.Put(e)
	}
	<-encoders
}

type compressState int

const (
	pending     compressState = iota // holding the status and the first bytes
	passing                          // sending as it is
	compressing                      // sending through enc
)

// compressWriter is the ResponseWriter of compress.
type compressWriter struct {
	http.ResponseWriter
	coding string // negotiated; "" for none
	state  compressState
	status int    // held while pending; 0 until WriteHeader
	held   []byte // the body's first bytes, while pending
	enc    encoder
}

func (cw *compressWriter) WriteHeader(code int) {
	if cw.state != pending || code < 200 {
		// Informational responses go at once; a late call is the
		// server's to complain about.
		cw.ResponseWriter.WriteHeader(code)
		return
	}
	if cw.status != 0 {
		return // superfluous, as net/http would have it
	}
	cw.status = code
	if !cw.mayCompress() {
		cw.pass()
	}
}

// mayCompress reports whether the headers and status so far leave room
// for compressing.
func (cw *compressWriter) mayCompress() bool {
	h := cw.Header()
	switch {
	case cw.status == http.StatusNoContent, cw.status == http.StatusNotModified, cw.status == http.StatusPartialContent,
		h.Get("Content-Encoding") != "", h.Get("ETag") != "", h.Get("Content-Range") != "":
		return false
	case h.Get("Content-Type") != "" && !compressible(h.Get("Content-Type")):
		return false
	}
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < minCompressSize {
			return false
		}
	}
	return true
}

// pass sends the status and what is held as they are.
func (cw *compressWriter) pass() error {
	cw.state = passing
	if cw.status != 0 {
		cw.ResponseWriter.WriteHeader(cw.status)
	}
	held := cw.held
	cw.held = nil
	if len(held) > 0 {
		_, err := cw.ResponseWriter.Write(held)
		return err
	}
	return nil
}

func (cw *compressWriter) Write(p []byte) (int, error) {
	switch cw.state {
	case passing:
		return cw.ResponseWriter.Write(p)
	case compressing:
		return cw.enc.Write(p)
	}
	if cw.status == 0 {
		cw.WriteHeader(http.StatusOK)
		if cw.state == passing {
			return cw.ResponseWriter.Write(p)
		}
	}
	if len(cw.held)+len(p) < minCompressSize {
		cw.held = append(cw.held, p...)
		return len(p), nil
	}
	if err := cw.start(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// start ends the wait once the body is known to be large enough: it
// chooses between compressing and passing, and sends the held bytes and
// then p.
func (cw *compressWriter) start(p []byte) error {
	h := cw.Header()
	ctype := h.Get("Content-Type")
	if ctype == "" {
		// What net/http would say, before the bytes are encoded.
		sniff := append(cw.held[:len(cw.held):len(cw.held)], p[:min(len(p), 512)]...)
		ctype = http.DetectContentType(sniff)
		h.Set("Content-Type", ctype)
	}
	if !compressible(ctype) {
		return cw.passWith(p)
	}
	// The body is negotiated from here on, even when sent as it is.
	h.Add("Vary", "Accept-Encoding")
	if cw.coding == "" {
		return cw.passWith(p)
	}
	cw.enc = getEncoder(cw.coding, cw.ResponseWriter)
	if cw.enc == nil {
		return cw.passWith(p)
	}
	h.Set("Content-Encoding", cw.coding)
	h.Del("Content-Length")
	h.Del("Accept-Ranges")
	cw.ResponseWriter.WriteHeader(cw.status)
	cw.state = compressing
	if _, err := cw.enc.Write(cw.held); err != nil {
		return err
	}
	cw.held = nil
	_, err := cw.enc.Write(p)
	return err
}

// passWith sends the status, what is held and p as they are.
func (cw *compressWriter) passWith(p []byte) error {
	if err := cw.pass(); err != nil {
		return err
	}
	_, err := cw.ResponseWriter.Write(p)
	return err
}

// finish sends what is still held, or the end of the encoding, once the
// handler has returned.
func (cw *compressWriter) finish() {
	switch cw.state {
	case pending:
		if cw.status != 0 || len(cw.held) > 0 {
			if cw.status == 0 {
				cw.status = http.StatusOK
			}
			_ = cw.pass() // the client is gone if it fails
		}
	case compressing:
		_ = cw.enc.Close()
		putEncoder(cw.enc)
		cw.enc = nil
	}
}

// FlushError sends what is held at once, uncompressed if no coding has
// been chosen yet; see compress for brotli.
func (cw *compressWriter) FlushError() error {
	switch cw.state {
	case pending:
		if cw.status == 0 {
			cw.status = http.StatusOK
		}
		if err := cw.pass(); err != nil {
			return err
		}
	case compressing:
		if z, ok := cw.enc.(*gzip.Writer); ok {
			if err := z.Flush(); err != nil {
				return err
			}
		}
	}
	return http.NewResponseController(cw.ResponseWriter).Flush()
}

// Flush implements http.Flusher.
func (cw *compressWriter) Flush() { _ = cw.FlushError() }

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (cw *compressWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }
