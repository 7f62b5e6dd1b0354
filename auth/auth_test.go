package auth_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/sessionchat/sessionchat/auth"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func claims(name string, exp time.Duration) auth.Claims {
	now := time.Now()
	return auth.Claims{
		Name:  name,
		Rooms: auth.Rooms{Read: []string{"lobby", "game-42"}, Write: []string{"game-42"}},
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   "user-7",
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(exp)),
		},
	}
}

func mint(t *testing.T, c auth.Claims) string {
	t.Helper()
	tok, err := auth.Mint(secret, c)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return tok
}

// signed builds a token by hand: any header, any payload, an HS256
// signature with key.
func signed(header, payload string, key []byte) string {
	enc := base64.RawURLEncoding
	s := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(s))
	return s + "." + enc.EncodeToString(mac.Sum(nil))
}

func TestVerifyRoundTrip(t *testing.T) {
	want := claims("alice", time.Hour)
	got, err := auth.Verify(secret, mint(t, want))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
}

func TestVerifyRejects(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	payload := `{"name":"alice","rooms":{"read":["lobby"]},"exp":` + itoa(exp) + `}`
	otherAlg := func(m jwt.SigningMethod, key any) string {
		tok, err := jwt.NewWithClaims(m, claims("alice", time.Hour)).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", auth.ErrInvalid},
		{"garbage", "not.a.token", auth.ErrInvalid},
		{"expired", mint(t, claims("alice", -time.Minute)), auth.ErrExpired},
		{"wrong signature", func() string {
			tok, _ := auth.Mint([]byte("another secret, also 32 bytes long"), claims("alice", time.Hour))
			return tok
		}(), auth.ErrInvalid},
		{"tampered payload", func() string {
			parts := strings.Split(mint(t, claims("alice", time.Hour)), ".")
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"name":"mallory","rooms":{"write":["*"]},"exp":` + itoa(exp) + `}`))
			return strings.Join(parts, ".")
		}(), auth.ErrInvalid},
		{"alg none", otherAlg(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType), auth.ErrInvalid},
		{"alg HS384", otherAlg(jwt.SigningMethodHS384, secret), auth.ErrInvalid},
		{"alg HS512", otherAlg(jwt.SigningMethodHS512, secret), auth.ErrInvalid},
		{"alg RS256 with an HMAC signature", signed(`{"alg":"RS256","typ":"JWT"}`, payload, secret), auth.ErrInvalid},
		{"no exp", signed(`{"alg":"HS256","typ":"JWT"}`, `{"name":"alice","rooms":{"read":["lobby"]}}`, secret), auth.ErrInvalid},
		{"no name", signed(`{"alg":"HS256","typ":"JWT"}`, `{"rooms":{"read":["lobby"]},"exp":`+itoa(exp)+`}`, secret), auth.ErrInvalid},
		{"rooms not lists", signed(`{"alg":"HS256","typ":"JWT"}`, `{"name":"alice","rooms":{"read":"lobby"},"exp":`+itoa(exp)+`}`, secret), auth.ErrInvalid},
		{"issued in the future", func() string {
			c := claims("alice", time.Hour)
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(10 * time.Minute))
			return mint(t, c)
		}(), auth.ErrInvalid},
		{"not valid yet", func() string {
			c := claims("alice", time.Hour)
			c.NotBefore = jwt.NewNumericDate(time.Now().Add(10 * time.Minute))
			return mint(t, c)
		}(), auth.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.Verify(secret, tt.token)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify: got %v, want %v", err, tt.want)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("the error %q contains the token", err)
			}
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	// Expired a moment ago, within the tolerated clock skew.
	if _, err := auth.Verify(secret, mint(t, claims("alice", -auth.Leeway/2))); err != nil {
		t.Errorf("Verify of a token expired %s ago: %v", auth.Leeway/2, err)
	}
}

func TestMintRefuses(t *testing.T) {
	noExp := claims("alice", time.Hour)
	noExp.ExpiresAt = nil
	tests := []struct {
		name   string
		secret []byte
		c      auth.Claims
		want   error
	}{
		{"short secret", secret[:31], claims("alice", time.Hour), auth.ErrShortSecret},
		{"no name", secret, claims("", time.Hour), auth.ErrInvalid},
		{"no expiry", secret, noExp, auth.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := auth.Mint(tt.secret, tt.c); !errors.Is(err, tt.want) {
				t.Errorf("Mint: got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestPermissions(t *testing.T) {
	c := auth.Claims{Rooms: auth.Rooms{
		Read:  []string{"lobby", "game-*"},
		Write: []string{"game-42"},
	}}
	tests := []struct {
		room              string
		canRead, canWrite bool
	}{
		{"lobby", true, false},
		{"lobby2", false, false},
		{"Lobby", false, false},
		{"game-42", true, true},
		{"game-7", true, false},
		{"game-", true, false},
		{"game", false, false},
		{"support", false, false},
	}
	for _, tt := range tests {
		if got := c.CanRead(tt.room); got != tt.canRead {
			t.Errorf("CanRead(%q) = %v, want %v", tt.room, got, tt.canRead)
		}
		if got := c.CanWrite(tt.room); got != tt.canWrite {
			t.Errorf("CanWrite(%q) = %v, want %v", tt.room, got, tt.canWrite)
		}
	}

	all := auth.Claims{Rooms: auth.Rooms{Read: []string{"*"}}}
	if !all.CanRead("anything") || all.CanWrite("anything") {
		t.Errorf(`read ["*"]: CanRead %v, CanWrite %v; want true, false`, all.CanRead("anything"), all.CanWrite("anything"))
	}
	var none auth.Claims
	if none.CanRead("lobby") || none.CanWrite("lobby") || none.CanHost("lobby") {
		t.Error("a token without rooms may do something")
	}
	host := auth.Claims{Rooms: auth.Rooms{Host: []string{"game-*"}, Read: []string{"*"}}}
	if !host.CanHost("game-1") || host.CanHost("lobby") || host.CanWrite("game-1") {
		t.Errorf(`host ["game-*"]: CanHost(game-1) %v, CanHost(lobby) %v, CanWrite(game-1) %v; want true, false, false`,
			host.CanHost("game-1"), host.CanHost("lobby"), host.CanWrite("game-1"))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
