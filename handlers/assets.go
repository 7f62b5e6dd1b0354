package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
)

// handleAssets serves the embedded files with strong ETags and
// Cache-Control: no-cache, so browsers revalidate cheaply and always get
// the current version (the pages link them by name, without a
// fingerprint, so a long max-age would keep a stale script after an
// upgrade). A textual file is also served compressed, brotli or gzip as
// Accept-Encoding prefers, each coding its own representation with its
// own ETag; each is encoded once, at the best level, when first asked for.
func handleAssets(fsys fs.FS) http.HandlerFunc {
	files := make(map[string]*asset)
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		a := &asset{identity: newRepresentation(b, "")}
		if len(b) >= minCompressSize && compressible(mime.TypeByExtension(path.Ext(name))) {
			a.br = sync.OnceValue(func() representation { return a.encode(codingBrotli) })
			a.gzip = sync.OnceValue(func() representation { return a.encode(codingGzip) })
		}
		files[name] = a
		return nil
	})
	if err != nil {
		// The files are compiled in: failing to read them is a build bug.
		panic("handlers: reading embedded assets: " + err.Error())
	}
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		rep := a.identity
		if a.br != nil {
			w.Header().Add("Vary", "Accept-Encoding")
			switch negotiate(r.Header.Values("Accept-Encoding")) {
			case codingBrotli:
				rep = a.br()
			case codingGzip:
				rep = a.gzip()
			}
		}
		h := w.Header()
		h.Set("ETag", rep.etag)
		h.Set("Cache-Control", "no-cache")
		if rep.coding != "" {
			h.Set("Content-Encoding", rep.coding)
			// ServeContent leaves it out when there is a coding, lest it be
			// an on-the-fly one; without it a HEAD would differ from GET.
			// A range's answer sets its own.
			h.Set("Content-Length", strconv.Itoa(len(rep.content)))
		}
		// ServeContent takes the type from the name, answers
		// If-None-Match with 304, and HEAD and ranges.
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(rep.content))
	}
}

// asset is one embedded file; br and gzip are nil for a file not worth
// compressing.
type asset struct {
	identity representation
	br, gzip func() representation
}

// representation is a file's bytes in one content coding.
type representation struct {
	content []byte
	etag    string
	coding  string // "" for identity
}

func newRepresentation(b []byte, coding string) representation {
	sum := sha256.Sum256(b)
	return representation{content: b, coding: coding, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
}

// encode compresses the file; should that not make it smaller, the file
// is served as it is.
func (a *asset) encode(coding string) representation {
	var buf bytes.Buffer
	var w io.WriteCloser
	if coding == codingBrotli {
		w = brotli.NewWriterLevel(&buf, brotli.BestCompression)
	} else {
		w, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	}
	// Writes to a bytes.Buffer do not fail.
	_, _ = w.Write(a.identity.content)
	_ = w.Close()
	if buf.Len() >= len(a.identity.content) {
		return a.identity
	}
	return newRepresentation(buf.Bytes(), coding)
}
