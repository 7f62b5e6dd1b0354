package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"

	"github.com/sessionchat/sessionchat/chat"
)

// authorCookie holds a browser's own random author key, from which each
// room derives the tag its messages and presence carry (chat.AuthorTag).
// HttpOnly: no script, and so no other site's embed of it, reads it.
const authorCookie = "chat_author"

// authorHeader lets an API client that keeps no cookies name its key.
const authorHeader = "X-Author-Key"

// authorKey is the key r says it is: in a private room the token's
// subject (else its name), which no one else can claim; otherwise the
// X-Author-Key header or the author cookie. "" when it has none.
func authorKey(r *http.Request) string {
	if c, ok := tokenClaims(r); ok {
		if c.Subject != "" {
			return "sub:" + c.Subject
		}
		return "name:" + c.Name
	}
	if k := r.Header.Get(authorHeader); k != "" && len(k) <= chat.MaxAuthorKey {
		return "key:" + k
	}
	if c, err := r.Cookie(authorCookie); err == nil && c.Value != "" && len(c.Value) <= chat.MaxAuthorKey {
		return "key:" + c.Value
	}
	return ""
}

// ensureAuthor is authorKey, giving a browser without a key a new one
// (the cookie) on the way: a page view or a post.
func ensureAuthor(w http.ResponseWriter, r *http.Request) string {
	if k := authorKey(r); k != "" {
		return k
	}
	var b [24]byte
	rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{
		Name:     authorCookie,
		Value:    v,
		Path:     "/",
		MaxAge:   365 * 24 * 3600,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   r.TLS != nil,
	})
	return "key:" + v
}

// author is who posts by r: its key, with the name rule of public rooms
// (in private rooms the token names its holder). A browser's form post
// without a key (no page view before it) gets one; an API client without
// one posts untagged, claiming no name, as before tags.
func author(w http.ResponseWriter, r *http.Request, form bool) chat.Author {
	_, private := tokenClaims(r)
	if k := authorKey(r); k != "" {
		return chat.Author{Key: k, Unique: !private}
	}
	if form {
		// A key just made has posted nothing: it cannot be refused a
		// name, and a client that keeps no cookies is not refused its own.
		return chat.Author{Key: ensureAuthor(w, r)}
	}
	return chat.Author{}
}

// visitor is who a stream of r is: the token's name, else ?name= or the
// name cookie the room page keeps (none: a watcher), and its key.
func visitor(r *http.Request) chat.Visitor {
	v := chat.Visitor{Key: authorKey(r)}
	if c, ok := tokenClaims(r); ok {
		v.Name = c.Name
		return v
	}
	v.Name = readName(r)
	if q := r.URL.Query().Get("name"); q != "" {
		if n, err := chat.ParseName(q); err == nil {
			v.Name = n
		}
	}
	return v
}
