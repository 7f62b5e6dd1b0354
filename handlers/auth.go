package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sessionchat/sessionchat/auth"
	"github.com/sessionchat/sessionchat/chat"
)

// tokenCookie holds a private room's token once a page has exchanged it
// from ?token=. HttpOnly, so no script reads it; SameSite=None, Secure and
// Partitioned, so a browser sends it inside a third-party iframe, keyed to
// the embedding site.
const tokenCookie = "chat_token"

// tokenParam brings a token to a page or an embed, once (gate.exchange).
const tokenParam = "token"

// gate guards the room routes of private rooms. A nil *gate means the
// rooms are public: its middlewares return the handler unchanged.
type gate struct {
	log    *slog.Logger
	secret []byte
}

// newGate returns the gate for secret, nil (public rooms) when it is empty.
func newGate(log *slog.Logger, secret string) *gate {
	if secret == "" {
		return nil
	}
	return &gate{log: log, secret: []byte(secret)}
}

type claimsKey struct{}

// tokenClaims returns the verified claims of r's token; ok is false when
// the rooms are public.
func tokenClaims(r *http.Request) (c auth.Claims, ok bool) {
	c, ok = r.Context().Value(claimsKey{}).(auth.Claims)
	return c, ok
}

// canRead lets through requests whose token may read the route's room.
// The request's context ends when the token does (plus the leeway of the
// check), with auth.ErrExpired as its cause, so a stream ends with its
// token and cannot resume without a new one.
func (g *gate) canRead(next http.Handler) http.Handler {
	if g == nil {
		return next
	}
	return g.require(auth.Claims.CanRead, errCannotRead, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := tokenClaims(r)
		ctx, cancel := context.WithDeadlineCause(r.Context(), c.ExpiresAt.Add(auth.Leeway), auth.ErrExpired)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	}))
}

// canWrite lets through requests whose token may post to the route's room.
func (g *gate) canWrite(next http.Handler) http.Handler {
	if g == nil {
		return next
	}
	return g.require(auth.Claims.CanWrite, errCannotWrite, next)
}

// require answers 401 without a valid token, 403 when the token does not
// allow the request on the route's room, and otherwise serves next with
// the claims in the request's context.
func (g *gate) require(allowed func(auth.Claims, string) bool, denied error, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := requestToken(r)
		if !ok {
			g.reject(w, r, errNoToken)
			return
		}
		c, err := g.verify(r, raw)
		if err != nil {
			g.reject(w, r, err)
			return
		}
		room, err := roomParam(r)
		if err != nil {
			writeFor(g.log, w, r, err)
			return
		}
		if !allowed(c, string(room)) {
			g.reject(w, r, denied)
			return
		}
		w.Header().Set("Cache-Control", "private, no-store")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
	})
}

// exchange turns ?token= on a page into the token cookie, then redirects
// (303) to the same URL without it, so that the token lingers in no
// address bar, history or Referer. The cookie lives as long as the token.
func (g *gate) exchange(next http.Handler) http.Handler {
	if g == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !q.Has(tokenParam) {
			next.ServeHTTP(w, r)
			return
		}
		raw := q.Get(tokenParam)
		c, err := g.verify(r, raw)
		if err != nil {
			g.reject(w, r, err)
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name:        tokenCookie,
			Value:       raw,
			Path:        "/",
			MaxAge:      max(1, int(time.Until(c.ExpiresAt.Time)/time.Second)),
			HttpOnly:    true,
			Secure:      true,
			SameSite:    http.SameSiteNoneMode,
			Partitioned: true,
		})
		q.Del(tokenParam)
		loc := r.URL.EscapedPath()
		if len(q) > 0 {
			loc += "?" + q.Encode()
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, loc, http.StatusSeeOther)
	})
}

// requestToken finds r's token: in Authorization: Bearer, else in the
// token cookie. Other Authorization schemes (say, a proxy's Basic) are
// not ours and are ignored.
func requestToken(r *http.Request) (string, bool) {
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok), true
	}
	if c, err := r.Cookie(tokenCookie); err == nil {
		return c.Value, true
	}
	return "", false
}

// verify checks r's token raw and the display name it carries. It logs
// why a token is refused, never the token.
func (g *gate) verify(r *http.Request, raw string) (auth.Claims, error) {
	c, err := auth.Verify(g.secret, raw)
	if err == nil {
		// %v, not %w: this is the token's fault (401), not the request's (400).
		if c.Name, err = chat.ParseName(c.Name); err != nil {
			err = fmt.Errorf("%w: %v", auth.ErrInvalid, err)
		}
	}
	if err != nil {
		g.log.Info("token refused", "method", r.Method, "path", r.URL.Path, "err", err)
		return auth.Claims{}, err
	}
	return c, nil
}

// reject answers a request the gate refuses: 401 (with a Bearer
// challenge) or 403, as JSON under /api/ and as a page elsewhere.
func (g *gate) reject(w http.ResponseWriter, r *http.Request, err error) {
	if code, _, _ := status(err); code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sessionchat"`)
	}
	writeFor(g.log, w, r, err)
}
