package handlers

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// bigText is a handler of a text body well above the compression threshold.
var bigText = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, strings.Repeat("all work and no play ", 500))
})

func fetchPage(t *testing.T, srv *httptest.Server, accept string) *http.Response {
	t.Helper()
	return fetchPageAt(t, srv, "/", accept)
}

// With every encoder in use a response is not kept waiting for one: it
// goes out as it is, still marked as negotiated.
func TestCompressPassesWhenEveryEncoderIsBusy(t *testing.T) {
	srv := httptest.NewServer(compress(bigText))
	t.Cleanup(srv.Close)
	for range cap(encoders) {
		encoders <- struct{}{}
	}
	resp := fetchPage(t, srv, "br, gzip")
	body, _ := io.ReadAll(resp.Body)
	if ce := resp.Header.Get("Content-Encoding"); ce != "" || !strings.HasPrefix(string(body), "all work") {
		t.Errorf("all encoders busy: Content-Encoding %q, body %.20q; want none, the text", ce, body)
	}
	if !slices.Contains(resp.Header.Values("Vary"), "Accept-Encoding") {
		t.Errorf("Vary %q, want Accept-Encoding", resp.Header.Values("Vary"))
	}
	for range cap(encoders) {
		<-encoders
	}
	if ce := fetchPage(t, srv, "br, gzip").Header.Get("Content-Encoding"); ce != "br" {
		t.Errorf("encoders free again: Content-Encoding %q, want br", ce)
	}
	if n := len(encoders); n != 0 {
		t.Errorf("%d encoder slots still held after the responses", n)
	}
}

// A response flushed before it reaches the threshold is streaming: it
// goes out uncompressed at once. One flushed while gzipping sends what it
// has encoded.
func TestCompressHonoursFlush(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, r.URL.Query().Get("first")+"\n")
		http.NewResponseController(w).Flush()
		<-release
		_, _ = io.WriteString(w, "end\n")
	})))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	small := fetchPageAt(t, srv, "/?first=hello", "gzip")
	if ce := small.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("flushed below the threshold: Content-Encoding %q, want none", ce)
	}
	if line, err := bufio.NewReader(small.Body).ReadString('\n'); err != nil || line != "hello\n" {
		t.Errorf("first line %q, %v; want it before the handler returns", line, err)
	}

	long := strings.Repeat("x", 4096)
	big := fetchPageAt(t, srv, "/?first="+long, "gzip")
	if ce := big.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", ce)
	}
	z, err := gzip.NewReader(big.Body)
	if err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(z).ReadString('\n'); err != nil || line != long+"\n" {
		t.Errorf("first line %d bytes, %v; want it before the handler returns", len(line), err)
	}
}

func fetchPageAt(t *testing.T, srv *httptest.Server, path, accept string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", accept)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
