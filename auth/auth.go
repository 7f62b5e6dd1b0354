// Package auth mints and verifies the tokens of private rooms: JWTs signed
// with HS256 and a shared secret, naming the holder's display name and the
// rooms it may read and post to.
//
// It knows nothing of HTTP or of the chat's rules (room and name syntax);
// it imports only the standard library and the JWT library.
package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretLen is the shortest secret accepted, in bytes: HS256 wants a key
// at least as long as its hash.
const MinSecretLen = 32

// Leeway is the clock skew tolerated between the minting site and this
// server, on exp, nbf and iat.
const Leeway = 30 * time.Second

// Errors of Verify and Mint. Their text is safe to show to a person.
var (
	ErrInvalid     = errors.New("the token is not valid")
	ErrExpired     = errors.New("the token has expired")
	ErrShortSecret = fmt.Errorf("the secret must be at least %d bytes", MinSecretLen)
)

// Claims is the content of a token. Name and an expiry (RegisteredClaims
// ExpiresAt) are required; IssuedAt, NotBefore and Subject are optional.
type Claims struct {
	Name  string `json:"name"`  // display name; wins over any name a request carries
	Rooms Rooms  `json:"rooms"` // what the holder may do where
	jwt.RegisteredClaims
}

// Rooms lists room patterns per permission. A pattern is a room name,
// "*" for every room, or a prefix ending in "*" ("game-*"). The
// permissions are independent: write does not imply read, nor host
// either.
type Rooms struct {
	Read  []string `json:"read,omitempty"`
	Write []string `json:"write,omitempty"`
	// Host makes the holder the room's host, as its host key does: it
	// may start the room, delete its messages, lock, extend and end it.
	Host []string `json:"host,omitempty"`
}

// CanRead says whether the token lets its holder read room: open its page
// or embed, fetch its history, follow its stream.
func (c Claims) CanRead(room string) bool { return match(c.Rooms.Read, room) }

// CanWrite says whether the token lets its holder post to room.
func (c Claims) CanWrite(room string) bool { return match(c.Rooms.Write, room) }

// CanHost says whether the token makes its holder room's host.
func (c Claims) CanHost(room string) bool { return match(c.Rooms.Host, room) }

func match(patterns []string, room string) bool {
	for _, p := range patterns {
		if p == room {
			return true
		}
		if prefix, wild := strings.CutSuffix(p, "*"); wild && strings.HasPrefix(room, prefix) {
			return true
		}
	}
	return false
}

// Mint signs c with secret. c must have a name and an expiry.
func Mint(secret []byte, c Claims) (string, error) {
	if len(secret) < MinSecretLen {
		return "", ErrShortSecret
	}
	if c.Name == "" {
		return "", fmt.Errorf("%w: no name", ErrInvalid)
	}
	if c.ExpiresAt == nil {
		return "", fmt.Errorf("%w: no expiry", ErrInvalid)
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

// Verify checks token's signature (HS256 with secret, no other algorithm)
// and its times, and returns its claims. The error wraps ErrExpired for an
// expired token and ErrInvalid for anything else; it never contains the
// token.
func Verify(secret []byte, token string) (Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c,
		func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, fmt.Errorf("%w: %w", ErrExpired, err)
	case err != nil:
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	case c.Name == "":
		return Claims{}, fmt.Errorf("%w: no name", ErrInvalid)
	}
	return c, nil
}
