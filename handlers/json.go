package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/sessionchat/sessionchat/chat"
)

// maxBody bounds every request body: a message at its limit, JSON-escaped
// six bytes a character, fits with room to spare.
const maxBody = 64 << 10

// encode writes v as JSON with the given status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	// Nothing useful can be done if the client is gone.
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads exactly one JSON value of type T from a JSON request body.
func decode[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return v, errNotJSON
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return v, errTooLarge
		}
		return v, fmt.Errorf("%w: reading the body: %w", chat.ErrInvalid, err)
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD.
	if !utf8.Valid(body) {
		return v, fmt.Errorf("%w: the body is not valid UTF-8", chat.ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("%w: malformed JSON: %w", chat.ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return v, fmt.Errorf("%w: unexpected data after the JSON value", chat.ErrInvalid)
	}
	return v, nil
}
