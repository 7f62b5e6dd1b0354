package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"net/http"
	"time"
)

// handleAssets serves the embedded files with strong ETags, so browsers
// revalidate cheaply and always get the current version.
func handleAssets(fsys fs.FS) http.HandlerFunc {
	type file struct {
		content []byte
		etag    string
	}
	files := make(map[string]file)
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		files[path] = file{content: b, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		// The files are compiled in: failing to read them is a build bug.
		panic("handlers: reading embedded assets: " + err.Error())
	}
	return func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", f.etag)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(f.content))
	}
}
